#!/usr/bin/env python3
"""A failing mail server never slows the policy service.

Three kinds of outage: nothing listens (connection refused), a server that accepts and never
says a word, and a server that stalls after the message was sent (where libcurl 7.88 waits
synchronously; geopol sends from its own thread for that reason). In each, every policy reply
is timed while mails are failing; each must come well under 100 ms. Failures are retried,
then logged; the service keeps answering; a server that comes back gets the mails; a full
queue drops and warns; a hung server does not hold up geopold's exit.
"""

import sys
import time
import types

import geopol_harness as h
import smtp_harness as s

REJECT = "REJECT " + h.REJECT_TEXT
MAX_REPLY_SECONDS = 0.100


class OutageTestCase(h.GeopolTestCase):
    def setUp(self):
        h.geopold_binary()
        h.geolite_city()

    def hammer(self, client, seconds: float, blocked=(), prefix="fine"):
        """Policy requests for `seconds`, a few hundred a second like a busy Postfix: fresh
        accounts (DUNNO) and the blocked ones (REJECT). Returns the reply times.
        Paced rather than flat out, so that on a shared 2-core machine the test's own load
        does not make the noise it measures."""
        times = []
        deadline = time.monotonic() + seconds
        i = 0
        while time.monotonic() < deadline or len(times) < 50:
            time.sleep(0.002)
            i += 1
            action, dt = s.timed_request(client, f"{prefix}{i}@example.com", "DE")
            self.assertEqual(action, "DUNNO")
            times.append(dt)
            for account in blocked:
                action, dt = s.timed_request(client, account, "JP")
                self.assertEqual(action, REJECT)
                times.append(dt)
        return times

    def assertFast(self, times, what):
        summary = s.latency_summary(times)
        sys.stderr.write(f"\n{self.id()}: policy reply times {what}: {summary}\n")
        self.assertLess(max(times), MAX_REPLY_SECONDS, f"a reply took too long {what}: {summary}")


class ConnectionRefused(OutageTestCase):
    def test_replies_stay_fast_failures_are_retried_and_a_returning_server_gets_the_mails(self):
        s.require_aiosmtpd()
        port = h.free_port()  # nothing listens here (yet)
        server = types.SimpleNamespace(host="127.0.0.1", port=port)
        d = self.start_geopold(s.geopol_config(s.mail_section(
            server, retries=6, **{"retry-delay": "300ms", "connect-timeout": "1s",
                                  "timeout": "3s"})))
        c = self.connect(d)
        times = []
        blocked = [f"user{i}@example.com" for i in range(8)]
        for account in blocked:
            for country in ("US", "GB"):
                times.append(s.timed_request(c, account, country)[1])
        times += self.hammer(c, 1.5, blocked)
        d.wait_for_log(r"operator_mail\.send_failed account=user\d@example\.com .*attempt=1/7 "
                       r"error=\"[^\"]*(Connection refused|Couldn't connect)[^\"]*\" retry_in=300ms")
        self.assertFast(times, "while the mail server refuses connections")

        # The server comes back on its port: the retries deliver every mail, once.
        sink = s.start_sink(self, port=port)
        msgs = sink.wait_for_messages(len(blocked), timeout=30)
        time.sleep(1)
        self.assertEqual(sink.count(), len(blocked))
        mailed = sorted(m.body.split("account ")[1].split(":")[0] for m in msgs)
        self.assertEqual(mailed, sorted(blocked))
        self.assertRegex(d.log_text(), r"operator_mail\.sent account=user\d@example\.com .* "
                                       r"attempt=[2-7]/7")
        self.assertEqual(c.policy_request(sender="after@example.com",
                                          client_address=h.GEO_IPS["DE"]), "DUNNO")


class SilentServer(OutageTestCase):
    def test_a_server_that_never_answers_does_not_slow_replies(self):
        silent = s.start_thread_server(self, s.SilentServer)
        d = self.start_geopold(s.geopol_config(s.mail_section(
            silent, retries=1, **{"retry-delay": "200ms", "timeout": "2s",
                                  "connect-timeout": "1s"})))
        c = self.connect(d)
        times = []
        blocked = [f"user{i}@example.com" for i in range(4)]
        for account in blocked:
            for country in ("US", "GB"):
                times.append(s.timed_request(c, account, country)[1])
        times += self.hammer(c, 3.0, blocked)
        self.assertGreaterEqual(silent.accepted, 1)
        self.assertFast(times, "while the mail server accepts and never answers")
        for account in blocked:
            d.wait_for_log(r"operator_mail\.gave_up account=" + account.replace(".", r"\.") +
                           r" .*attempts=2 error=\"[^\"]*(timed out|Timeout)[^\"]*\"", timeout=20)
        self.assertEqual(c.policy_request(sender="after@example.com",
                                          client_address=h.GEO_IPS["DE"]), "DUNNO")

    def test_a_full_queue_drops_mails_and_warns_once(self):
        silent = s.start_thread_server(self, s.SilentServer)
        d = self.start_geopold(s.geopol_config(s.mail_section(
            silent, parallel=1, retries=0, **{"queue-size": 2, "timeout": "5s"})))
        c = self.connect(d)
        times = []
        for i in range(6):
            for country in ("US", "GB"):
                times.append(s.timed_request(c, f"user{i}@example.com", country)[1])
        d.wait_for_log(r"operator_mail\.dropped request=\d+ account=user2@example\.com: the queue "
                       r"is full \(2 mails\)")
        self.assertEqual(d.log_text().count("operator_mail.dropped"), 1, "warned once per burst")
        self.assertEqual(d.log_text().count("operator_mail.queued"), 2)
        self.assertFast(times, "while the queue is full")

    def test_a_hung_mail_does_not_hold_up_the_exit(self):
        # Silent: curl waits for the greeting. Stalled after the message: libcurl 7.88 waits
        # synchronously for the reply, inside the mail thread; close() must still end it.
        for cls in (s.SilentServer, s.StallAfterDataServer):
            with self.subTest(server=cls.__name__):
                server = s.start_thread_server(self, cls)
                d = self.start_geopold(s.geopol_config(s.mail_section(
                    server, **{"timeout": "60s", "drain-timeout": "1s"})))
                c = self.connect(d)
                s.block_account(c, "alice@example.com")
                h.wait_for(lambda: server.accepted >= 1, 5, what="the mail connection")
                if cls is s.StallAfterDataServer:
                    h.wait_for(lambda: server.stalled >= 1, 5, what="the message to be sent")
                c.close()
                self.assertEqual(d.stop(), 0)
                sys.stderr.write(f"\n{self.id()} [{cls.__name__}]: stopped in "
                                 f"{d.stop_seconds:.2f}s\n")
                self.assertLess(d.stop_seconds, 3.5)
                self.assertRegex(d.log_text(), r"operator_mail\.draining letters=1 for_at_most=1s")
                self.assertRegex(d.log_text(), r"error \[operator-mail\] operator_mail\.abandoned "
                                               r"account=alice@example\.com .*attempts=1: geopold "
                                               r"stopped or reloaded")


class StallAfterData(OutageTestCase):
    def test_a_server_that_stalls_after_the_message_does_not_slow_replies(self):
        stall = s.start_thread_server(self, s.StallAfterDataServer)
        d = self.start_geopold(s.geopol_config(s.mail_section(
            stall, retries=0, **{"timeout": "2s", "drain-timeout": "0s"})))
        c = self.connect(d)
        times = []
        blocked = ["alice@example.com", "bob@example.com"]
        for account in blocked:
            for country in ("US", "GB"):
                times.append(s.timed_request(c, account, country)[1])
        times += self.hammer(c, 3.0, blocked)
        self.assertGreaterEqual(stall.stalled, 1, "the server got the message and stalled")
        self.assertFast(times, "while the mail server stalls after the message")
        d.wait_for_log(r"operator_mail\.gave_up account=alice@example\.com", timeout=15)
        c.close()
        self.assertEqual(d.stop(), 0)
        self.assertLess(d.stop_seconds, 5.0)


if __name__ == "__main__":
    h.main()
