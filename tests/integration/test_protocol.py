#!/usr/bin/env python3
"""geopold's policy protocol, listeners, limits on input, idle timeout, reload and stop.

Most tests run with an empty module list, where every well-formed request gets DUNNO; the
tests that need a visible decision use memory-store + limits (no GeoIP needed: a public
address that is not located still counts as an IP).
"""

import os
import socket
import stat
import time

import geopol_harness as h

DUNNO = "DUNNO"
MAX_LINE = 512
MAX_ATTRS = 20


def core_config(**server):
    cfg = {
        "server": {"listen": ["inet:127.0.0.1:0"], "idle-timeout": "600s"},
        "log": {"level": "debug"},
        "modules": [],
    }
    cfg["server"].update(server)
    return cfg


def strict_config(**server):
    """Small input limits (a full Postfix request has ~29 attributes: too many here)."""
    server.setdefault("max-line-length", MAX_LINE)
    server.setdefault("max-attributes", MAX_ATTRS)
    return core_config(**server)


def limits_config(max_ips=1, max_countries=3, **server):
    cfg = core_config(**server)
    cfg["modules"] = [
        {"name": "memory-store", "state-file": "{dir}/state.json"},
        {"name": "limits", "max-countries": max_countries, "max-ips": max_ips},
    ]
    return cfg


def small_request(**kw):
    """Few attributes, so it stays under max-attributes."""
    attrs = {
        "request": "smtpd_access_policy",
        "protocol_state": "RCPT",
        "sender": "alice@example.com",
        "client_address": "8.8.8.8",
    }
    attrs.update(kw)
    return attrs


class ProtocolTestCase(h.GeopolTestCase):
    def setUp(self):
        h.geopold_binary()  # fails (never skips) with a hint when it is missing

    def start(self, config=None, args=()):
        return self.start_geopold(config if config is not None else core_config(), args)

    def assertServes(self, d, listener=None, msg=""):
        with d.client(listener) as c:
            self.assertEqual(c.request(small_request()), DUNNO, msg)


class ListenerTest(ProtocolTestCase):
    def test_status_file_lists_bound_listeners(self):
        d = self.start(core_config(listen=["inet:127.0.0.1:0", "inet:[::1]:0",
                                           "unix:{dir}/policy.sock"]))
        self.assertEqual(d.status["pid"], d.pid)
        self.assertEqual(len(d.listeners), 3, d.listeners)
        for lst in d.listeners:
            self.assertRegex(lst, r"^(inet:127\.0\.0\.1:[1-9]\d*|inet:\[::1\]:[1-9]\d*|unix:/.+)$")

    def test_inet_ipv4(self):
        d = self.start()
        host, port = d.inet_address(ipv6=False)
        self.assertEqual(host, "127.0.0.1")
        self.assertGreater(port, 0)
        with d.client() as c:
            self.assertEqual(c.policy_request(), DUNNO)

    def test_inet_ipv6(self):
        d = self.start(core_config(listen=["inet:[::1]:0"]))
        host, port = d.inet_address(ipv6=True)
        self.assertEqual(host, "::1")
        with d.client(d.inet_listener(ipv6=True)) as c:
            self.assertEqual(c.sock.family, socket.AF_INET6)
            self.assertEqual(c.policy_request(client_address="2a00:1450:4001:80b::200e"), DUNNO)

    def test_unix_socket_with_mode(self):
        d = self.start(core_config(listen=["unix:{dir}/policy.sock"], **{"socket-mode": "0660"}))
        path = d.unix_path()
        self.assertEqual(path, os.path.join(d.dir, "policy.sock"))
        st = os.stat(path)
        self.assertTrue(stat.S_ISSOCK(st.st_mode))
        self.assertEqual(oct(stat.S_IMODE(st.st_mode)), oct(0o660))
        with d.client("unix:" + path) as c:
            self.assertEqual(c.sock.family, socket.AF_UNIX)
            for _ in range(3):
                self.assertEqual(c.policy_request(), DUNNO)

    def test_all_listeners_serve_at_once(self):
        d = self.start(core_config(listen=["inet:127.0.0.1:0", "inet:[::1]:0",
                                           "unix:{dir}/policy.sock"]))
        clients = [self.connect(d, lst) for lst in d.listeners]
        for round_ in range(3):
            for c in clients:
                self.assertEqual(c.policy_request(), DUNNO, f"{c.listener} round {round_}")


class FramingTest(ProtocolTestCase):
    def test_many_requests_on_one_connection(self):
        d = self.start()
        c = self.connect(d)
        for i in range(200):
            self.assertEqual(c.policy_request(sender=f"user{i}@example.com",
                                              client_address=f"198.51.100.{i % 250 + 1}"), DUNNO)
        self.assertTrue(c.is_open())

    def test_pipelined_requests_answered_in_order(self):
        d = self.start()
        c = self.connect(d)
        n = 25
        c.send_raw(b"".join(h.encode_request(small_request(sender=f"p{i}@example.com"))
                            for i in range(n)))
        for i in range(n):
            self.assertEqual(c.read_reply(), DUNNO, f"reply {i}")
        # Exactly n replies: nothing else is pending.
        c.sock.settimeout(0.3)
        with self.assertRaises(socket.timeout):
            c.sock.recv(1)
        self.assertEqual(c.request(small_request()), DUNNO)

    def test_request_split_across_many_writes(self):
        d = self.start()
        c = self.connect(d)
        c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        data = h.encode_request(small_request())
        for i in range(0, len(data), 7):
            c.send_raw(data[i:i + 7])
            time.sleep(0.005)
        self.assertEqual(c.read_reply(), DUNNO)

    def test_reply_is_one_action_line_and_an_empty_line(self):
        d = self.start()
        c = self.connect(d)
        self.assertEqual(c.policy_request(), DUNNO)
        self.assertEqual(c.last_raw, b"action=DUNNO\n\n")

    def test_crlf_line_endings(self):
        d = self.start()
        c = self.connect(d)
        self.assertEqual(c.request(h.policy_attrs("alice@example.com", "8.8.8.8"),
                                   line_end=b"\r\n"), DUNNO)
        # ... and the connection is still in step afterwards, with either ending.
        self.assertEqual(c.request(small_request(), line_end=b"\r\n"), DUNNO)
        self.assertEqual(c.request(small_request()), DUNNO)

    def test_value_split_at_first_equals_sign(self):
        d = self.start()
        c = self.connect(d)
        self.assertEqual(c.request(small_request(sender="a=b=c@example.com",
                                                 helo_name="x==y")), DUNNO)

    def test_unknown_attributes_ignored(self):
        d = self.start()
        c = self.connect(d)
        self.assertEqual(c.policy_request(**{"x_future_attribute": "1", "tls_sni": "mx.example",
                                             "compatibility_level": "3.6",
                                             "mail_version": "3.7.11"}), DUNNO)

    def test_empty_values_kept(self):
        d = self.start()
        c = self.connect(d)
        self.assertEqual(c.request(small_request(sender="", helo_name="", queue_id="")), DUNNO)
        self.assertEqual(c.policy_request(sender="", client_address=""), DUNNO)
        self.assertTrue(c.is_open())

    def test_other_request_types_get_dunno(self):
        d = self.start()
        c = self.connect(d)
        self.assertEqual(c.request(small_request(request="junk_policy")), DUNNO)
        self.assertEqual(c.request(small_request(request="")), DUNNO)
        attrs = small_request()
        del attrs["request"]
        self.assertEqual(c.request(attrs), DUNNO)
        self.assertEqual(c.request(small_request()), DUNNO)

    def test_exactly_max_attributes_is_accepted(self):
        d = self.start(strict_config())
        c = self.connect(d)
        attrs = small_request()
        for i in range(MAX_ATTRS - len(attrs)):
            attrs[f"x{i}"] = str(i)
        self.assertEqual(len(attrs), MAX_ATTRS)
        self.assertEqual(c.request(attrs), DUNNO)

    def test_line_of_exactly_max_length_is_accepted(self):
        d = self.start(strict_config())
        c = self.connect(d)
        prefix = "helo_name="
        line = prefix + "h" * (MAX_LINE - len(prefix))
        self.assertEqual(len(line), MAX_LINE)
        c.send_raw(b"request=smtpd_access_policy\n" + line.encode() + b"\n\n")
        self.assertEqual(c.read_reply(), DUNNO)


class MalformedInputTest(ProtocolTestCase):
    """Each case: no reply, the connection closed by the server, a log line naming the peer,
    and the daemon keeps serving other connections (including one opened before)."""

    def check_dropped(self, payload: bytes, what: str):
        d = self.start(strict_config())
        bystander = self.connect(d)
        self.assertEqual(bystander.request(small_request()), DUNNO)
        offset = d.log_size()
        bad = self.connect(d)
        peer_port = bad.local_port()
        # A normal request first: the connection was fine until the bad input.
        self.assertEqual(bad.request(small_request()), DUNNO)
        try:
            bad.send_raw(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may already have closed it; that is fine
        self.assertTrue(bad.wait_closed(timeout=5), f"{what}: connection not closed by the server")
        d.wait_for_log(rf"(?<!\d){peer_port}(?!\d)", timeout=5, since=offset)
        self.assertTrue(d.running(), f"{what}: geopold died")
        self.assertEqual(bystander.request(small_request()), DUNNO, f"{what}: bystander")
        self.assertServes(d, msg=f"{what}: new connection")

    def test_line_without_equals(self):
        self.check_dropped(b"request=smtpd_access_policy\ngarbage\nsender=a@example.com\n\n",
                           "line without '='")

    def test_line_longer_than_max_line_length(self):
        line = b"sender=" + b"a" * (MAX_LINE + 1 - len(b"sender="))
        self.assertEqual(len(line), MAX_LINE + 1)
        self.check_dropped(b"request=smtpd_access_policy\n" + line + b"\n\n", "over-long line")

    def test_very_long_line_without_newline(self):
        # Never terminated: the server must not buffer it forever.
        self.check_dropped(b"sender=" + b"a" * 200_000, "endless line")

    def test_more_than_max_attributes(self):
        attrs = small_request()
        for i in range(MAX_ATTRS + 1 - len(attrs)):
            attrs[f"x{i}"] = str(i)
        self.assertEqual(len(attrs), MAX_ATTRS + 1)
        self.check_dropped(h.encode_request(attrs), "too many attributes")

    def test_nul_byte(self):
        self.check_dropped(b"request=smtpd_access_policy\nsender=a\x00b@example.com\n\n", "NUL byte")

    def test_client_disconnecting_mid_request_is_harmless(self):
        d = self.start()
        for _ in range(5):
            c = d.client()
            c.send_raw(b"request=smtpd_access_policy\nsender=half")
            c.close()
        self.assertTrue(d.running())
        self.assertServes(d)


class IdleTimeoutTest(ProtocolTestCase):
    def test_idle_connection_closed_active_one_kept(self):
        d = self.start(core_config(**{"idle-timeout": "1s"}))
        idle = self.connect(d)
        active = self.connect(d)
        self.assertEqual(idle.request(small_request()), DUNNO)
        t0 = time.monotonic()
        closed_at = None
        # Keep `active` busy for 3 s (a request every 0.25 s) while `idle` does nothing.
        while time.monotonic() - t0 < 3.0:
            self.assertEqual(active.request(small_request()), DUNNO,
                             f"active connection at {time.monotonic() - t0:.2f}s")
            if closed_at is None and not idle.is_open():
                closed_at = time.monotonic() - t0
            time.sleep(0.25)
        if closed_at is None and idle.wait_closed(timeout=2):
            closed_at = time.monotonic() - t0
        self.assertIsNotNone(closed_at, "idle connection was not closed")
        self.assertGreaterEqual(closed_at, 0.8, "idle connection closed too early")
        self.assertEqual(active.request(small_request()), DUNNO)

    def test_stalled_half_request_is_closed(self):
        # A request that stops half-way is bounded by server.read-timeout.
        d = self.start(core_config(**{"idle-timeout": "600s", "read-timeout": "1s"}))
        c = self.connect(d)
        c.send_raw(b"request=smtpd_access_policy\nsender=a@example.com\n")
        self.assertTrue(c.wait_closed(timeout=4), "stalled connection was not closed")
        self.assertServes(d)


class ReloadTest(ProtocolTestCase):
    def test_broken_yaml_keeps_old_config(self):
        d = self.start()
        c = self.connect(d)
        self.assertEqual(c.request(small_request()), DUNNO)
        listeners = d.listeners
        d.reload_expect_failure("server: [unclosed\n  listen: {\n")
        self.assertTrue(d.running())
        self.assertEqual(c.request(small_request()), DUNNO, "persistent connection after bad reload")
        self.assertServes(d, msg="new connection after bad reload")
        status = d._read_status()
        self.assertEqual(status["listeners"], listeners)

    def test_invalid_config_keeps_old_config(self):
        d = self.start()
        c = self.connect(d)
        self.assertEqual(c.request(small_request()), DUNNO)
        bad = core_config()
        bad["modules"] = [{"name": "no-such-module"}]
        d.reload_expect_failure(bad)
        self.assertEqual(c.request(small_request()), DUNNO)
        self.assertServes(d)

    def test_valid_reload_applies_to_open_connection(self):
        d = self.start()
        c = self.connect(d)
        self.assertEqual(c.request(small_request(client_address="8.8.8.8")), DUNNO)
        # max-ips 0: the first IP of any account is already over the limit.
        d.reload(limits_config(max_ips=0))
        self.assertTrue(c.is_open(), "reload dropped the persistent connection")
        action = c.request(small_request(client_address="8.8.4.4"))
        self.assertRegex(action, r"^REJECT\b", "the new config did not take effect")
        self.assertIn(h.REJECT_TEXT, action)
        # And back again.
        d.reload(core_config())
        self.assertEqual(c.request(small_request(client_address="8.8.4.4")), DUNNO)

    def test_reload_counter_and_listeners(self):
        d = self.start(core_config(listen=["inet:127.0.0.1:0", "unix:{dir}/policy.sock"]))
        listeners = d.listeners
        for n in (1, 2, 3):
            status = d.reload()
            self.assertEqual(int(status.get("reloads", 0)), n)
            self.assertEqual(status["pid"], d.pid)
            self.assertEqual(status["listeners"], listeners)
        for lst in listeners:
            self.assertServes(d, lst)


class StopTest(ProtocolTestCase):
    def test_sigterm_with_idle_connections_exits_promptly(self):
        d = self.start(core_config(listen=["inet:127.0.0.1:0", "unix:{dir}/policy.sock"]))
        clients = []
        for lst in d.listeners:
            for _ in range(3):
                c = self.connect(d, lst)
                self.assertEqual(c.request(small_request()), DUNNO)
                clients.append(c)
        t0 = time.monotonic()
        rc = d.stop(timeout=3.0)
        self.assertEqual(rc, 0, d.log_tail())
        self.assertLess(time.monotonic() - t0, 3.0)
        for c in clients:
            self.assertTrue(c.wait_closed(timeout=1), "client connection left open after exit")

    def test_sigterm_when_idle_exits_zero(self):
        d = self.start()
        self.assertServes(d)
        self.assertEqual(d.stop(timeout=3.0), 0, d.log_tail())


class DecisionThroughProtocolTest(ProtocolTestCase):
    """Parsing choices that only show in a decision (memory-store + limits, max-ips 1)."""

    def test_identity_split_at_first_equals(self):
        d = self.start(limits_config(max_ips=1))
        c = self.connect(d)
        # Split at the last '=' both would be "v@example.com" and share one IP budget.
        self.assertEqual(c.request(small_request(sender="k=v@example.com",
                                                 client_address="8.8.8.8")), DUNNO)
        self.assertEqual(c.request(small_request(sender="other=v@example.com",
                                                 client_address="81.2.69.142")), DUNNO)
        # The same identity from a second IP is over max-ips 1.
        self.assertRegex(c.request(small_request(sender="k=v@example.com",
                                                 client_address="217.160.0.1")), r"^REJECT\b")

    def test_pipelined_decisions_in_order(self):
        d = self.start(limits_config(max_ips=1))
        c = self.connect(d)
        reqs = [
            small_request(sender="a@example.com", client_address="8.8.8.8"),
            small_request(sender="a@example.com", client_address="81.2.69.142"),
            small_request(sender="b@example.com", client_address="8.8.8.8"),
            small_request(sender="b@example.com", client_address="8.8.8.8"),
            small_request(sender="a@example.com", client_address="8.8.8.8"),
        ]
        c.send_raw(b"".join(h.encode_request(r) for r in reqs))
        got = [c.read_reply() for _ in reqs]
        self.assertEqual([g.split()[0] for g in got], ["DUNNO", "REJECT", "DUNNO", "DUNNO", "REJECT"])

    def test_unknown_request_type_is_not_counted(self):
        d = self.start(limits_config(max_ips=1))
        c = self.connect(d)
        self.assertEqual(c.request(small_request(request="junk", client_address="8.8.8.8")), DUNNO)
        self.assertEqual(c.request(small_request(request="junk", client_address="8.8.4.4")), DUNNO)
        self.assertEqual(c.request(small_request(client_address="81.2.69.142")), DUNNO)


if __name__ == "__main__":
    h.main()
