#!/usr/bin/env python3
"""ldap-alias when the directory goes away: a frozen slapd (SIGSTOP) gives the failure action
within the deadline, a killed and restarted slapd is used again without restarting geopold,
a server that is down at start-up, failover between servers, and one warning per change of
state rather than one per request.

ldap-alias's timeout is its default, 1500 ms; the core's server.request-timeout is 2 s.
"""

import time

import geopol_harness as h
import ldap_harness as L

DUNNO = "DUNNO"


class OutageTest(L.LdapTestCase):
    def test_frozen_server_gives_the_failure_action_within_the_deadline(self):
        ldap = self.start_ldap()
        d = self.start_daemon(L.ldap_keys(ldap))
        c = self.connect(d)
        self.assertEqual(self.ask(c, L.ALIASES[0]), DUNNO)  # now cached

        ldap.pause()
        action, took = self.timed_ask(c, L.ALIASES[1])
        self.assertEqual(action, L.DEFER_DEFAULT)
        self.assertGreaterEqual(took, 1.4)
        self.assertLess(took, 1.95, "the module's deadline (1500 ms) comes before the core's")

        # Several at once, from several connections: each within the deadline.
        clients = [self.connect(d) for _ in range(6)]
        t0 = time.monotonic()
        for i, client in enumerate(clients):
            client.send_request(h.policy_attrs(f"frozen{i}@example.com", h.GEO_IPS["US"]))
        for client in clients:
            self.assertEqual(client.read_reply(timeout=5), L.DEFER_DEFAULT)
        self.assertLess(time.monotonic() - t0, 1.95)

        # A cached answer does not need the server.
        action, took = self.timed_ask(c, L.ALIASES[0])
        self.assertEqual(action, DUNNO)
        self.assertLess(took, 0.5)

        log = d.log_text()
        self.assertEqual(self.count(d, "ldap-alias.server_down"), 1, log)
        self.assertIn("no answer from the directory within 1500 ms", log)

        ldap.resume()
        self.assertEqual(self.ask(c, L.USER2), DUNNO)
        self.wait_log(d, "ldap-alias.server_up server=" + ldap.uri + " after=")
        # Two: the first answer (info), and the way back (warning).
        self.assertEqual(self.count(d, "ldap-alias.server_up"), 2)
        self.assertIn(f"sender=<{L.USER2_ACCOUNT}>", d.log_text())
        self.assertEqual(self.count(d, "ldap-alias.server_down"), 1)
        self.assertTrue(d.running())

    def test_killed_and_restarted_server_is_used_again(self):
        ldap = self.start_ldap()
        d = self.start_daemon(L.ldap_keys(ldap, cache_size=0))
        pid = d.pid
        c = self.connect(d)
        self.assertEqual(self.ask(c, L.ALIASES[0]), DUNNO)

        ldap.kill()
        # Refused at once (no waiting for a timeout), and no busy loop while it is down.
        cpu0 = self.cpu_seconds(pid)
        t0 = time.monotonic()
        n = 0
        while time.monotonic() - t0 < 2.0:
            action, took = self.timed_ask(c, L.ALIASES[n % 2])
            self.assertEqual(action, L.DEFER_DEFAULT)
            self.assertLess(took, 1.0)
            n += 1
            time.sleep(0.05)
        cpu = self.cpu_seconds(pid) - cpu0
        self.assertLess(cpu, 0.5, f"geopold used {cpu:.2f} s of CPU in 2 s of outage")
        self.assertEqual(self.count(d, "ldap-alias.server_down"), 1)

        ldap.start()  # same port
        self.assertEqual(self.ask(c, L.ALIASES[1]), DUNNO)
        self.assertEqual(d.pid, pid)
        self.assertIn(f"sender=<{L.ACCOUNT}>", d.log_text())
        self.wait_log(d, "ldap-alias.server_up server=" + ldap.uri + " after=")

    def test_a_restart_between_two_requests_is_not_noticed(self):
        # The kept connection is dead after the restart; the lookup reconnects once within
        # its deadline instead of failing.
        ldap = self.start_ldap()
        d = self.start_daemon(L.ldap_keys(ldap, cache_size=0, idle_pool_size=1, pool_size=1))
        c = self.connect(d)
        self.assertEqual(self.ask(c, L.ALIASES[0]), DUNNO)
        ldap.kill()
        ldap.start()
        self.assertEqual(self.ask(c, L.ALIASES[0]), DUNNO)
        self.assertIn(" reconnected", d.log_text())
        self.assertNotIn("ldap-alias.server_down", d.log_text())

    def test_server_down_at_start_up(self):
        ldap = self.start_ldap(start=False, port=h.free_port())
        d = self.start_daemon(L.ldap_keys(ldap))  # starts: nothing is connected at start
        c = self.connect(d)
        action, took = self.timed_ask(c, L.ALIASES[0])
        self.assertEqual(action, L.DEFER_DEFAULT)
        self.assertLess(took, 1.0)
        self.assertIn("Can't contact LDAP server", d.log_text())
        ldap.start()
        self.assertEqual(self.ask(c, L.ALIASES[0]), DUNNO)
        self.assertIn(f"sender=<{L.ACCOUNT}>", d.log_text())

    def test_failover_from_a_frozen_server(self):
        first = self.start_ldap()
        second = self.start_ldap()
        d = self.start_daemon({"server-uris": [first.uri, second.uri], "base-dn": L.BASE_DN,
                               "cache-size": 0, "idle-pool-size": 1, "pool-size": 1})
        c = self.connect(d)
        self.assertEqual(self.ask(c, L.ALIASES[0]), DUNNO)
        self.assertIn("ldap-alias.server_up server=" + first.uri, d.log_text())

        first.pause()
        # The lookup on the frozen server times out; the next one goes to the second.
        self.assertEqual(self.ask(c, L.ALIASES[0]), L.DEFER_DEFAULT)
        self.assertEqual(self.ask(c, L.ALIASES[1]), DUNNO)
        self.assertEqual(self.ask(c, L.USER2), DUNNO)
        log = d.log_text()
        self.assertIn(f"ldap-alias.failover from={first.uri} to={second.uri}", log)
        self.assertEqual(self.count(d, "ldap-alias.failover"), 1)
        self.assertIn(f"sender=<{L.USER2_ACCOUNT}>", log)

    def test_failover_from_a_server_frozen_in_the_tls_handshake(self):
        # libldap does not time out the ldaps:// handshake; the module's deadline must end
        # it, or the only worker would stay stuck and the second server never be asked.
        ca = L.TestCA(self)
        first = self.start_ldap(tls=ca)
        second = self.start_ldap(tls=ca)
        first.pause()
        d = self.start_daemon({"server-uris": [first.ldaps_uri, second.ldaps_uri],
                               "base-dn": L.BASE_DN, "tls-ca-file": ca.ca_cert,
                               "cache-size": 0, "idle-pool-size": 1, "pool-size": 1})
        c = self.connect(d)
        action, took = self.timed_ask(c, L.ALIASES[0])
        self.assertEqual(action, L.DEFER_DEFAULT)
        self.assertLess(took, 1.95)
        self.assertEqual(self.ask(c, L.ALIASES[0]), DUNNO)
        self.assertIn(f"sender=<{L.ACCOUNT}>", d.log_text())
        self.assertIn("ldap-alias.server_up server=" + second.ldaps_uri, d.log_text())

    def test_refused_first_server_fails_over_within_one_lookup(self):
        ldap = self.start_ldap()
        dead = f"ldap://127.0.0.1:{h.free_port()}/"
        d = self.start_daemon({"server-uris": [dead, ldap.uri], "base-dn": L.BASE_DN})
        c = self.connect(d)
        self.assertEqual(self.ask(c, L.ALIASES[0]), DUNNO)
        self.assertIn(f"sender=<{L.ACCOUNT}>", d.log_text())
        self.assertNotIn("ldap-alias.server_down", d.log_text())


if __name__ == "__main__":
    h.main()
