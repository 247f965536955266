#!/usr/bin/env python3
"""server.workers: several event-loop threads share the listeners and one memory store.

What an admin checks: every connection is answered whichever worker takes it, an account's
counts are one account's counts across workers, reload and shutdown still work.
"""

import os
import threading

import geopol_harness as h

US, GB, DE, RU = (h.GEO_IPS[c] for c in ("US", "GB", "DE", "RU"))
REJECT = "REJECT " + h.REJECT_TEXT


def config(workers=3, max_countries=3):
    return {
        "server": {"listen": ["inet:127.0.0.1:0", "inet:[::1]:0", "unix:{dir}/policy.sock"],
                   "workers": workers},
        "log": {"level": "info"},
        "modules": [
            {"name": "geoip", "database": h.geolite_city()},
            {"name": "memory-store", "state-file": ""},
            {"name": "limits", "max-countries": max_countries},
        ],
    }


class WorkersTest(h.GeopolTestCase):
    def setUp(self):
        h.geopold_binary()
        h.geolite_city()

    def test_all_connections_are_answered_and_share_one_account_state(self):
        d = self.start_geopold(config())
        self.assertEqual(d.status.get("workers"), 3)
        d.wait_for_log(r"serving with 3 workers")
        listeners = d.listeners
        clients = [self.connect(d, listeners[i % len(listeners)]) for i in range(48)]
        # Each connection sends for many accounts; one account's four countries arrive on four
        # different connections, which the kernel spreads over the workers.
        for i, c in enumerate(clients):
            self.assertEqual(c.policy_request(sender=f"user{i}@example.com",
                                              client_address=US), "DUNNO")
        answers = [clients[k].policy_request(sender="shared@example.com", client_address=ip)
                   for k, ip in zip((0, 13, 26, 39), (US, GB, DE, RU))]
        self.assertEqual(answers, ["DUNNO", "DUNNO", "DUNNO", REJECT])
        for c in clients[1:6]:
            self.assertEqual(c.policy_request(sender="shared@example.com", client_address=US),
                             REJECT, "blocked on every worker")

    def test_the_workers_share_one_mapping_of_the_database(self):
        # Each worker's chain has its own geoip instance, but the file is mapped once: N
        # mappings would count GeoLite2-City's pages N times in the RSS.
        def mappings(pid):
            path = os.path.realpath(h.geolite_city())
            with open(f"/proc/{pid}/maps") as f:
                # address perms offset dev inode path
                return sum(1 for line in f
                           if len(fields := line.rstrip("\n").split(maxsplit=5)) == 6
                           and fields[5] == path)

        d = self.start_geopold(config())
        c = self.connect(d)
        self.assertEqual(c.policy_request(sender="a@example.com", client_address=US), "DUNNO")
        self.assertEqual(mappings(d.pid), 1)
        # The reloaded chain shares the unchanged file's mapping too.
        self.assertEqual(d.reload(config()).get("reloads"), 1)
        self.assertEqual(c.policy_request(sender="a@example.com", client_address=GB), "DUNNO")
        self.assertEqual(mappings(d.pid), 1)

    def test_concurrent_requests_for_one_account_are_counted_exactly(self):
        d = self.start_geopold(config(max_countries=100))
        ips = [f"8.8.{i}.{j}" for i in range(1, 5) for j in range(1, 6)]  # 20 US addresses
        clients = [self.connect(d) for _ in range(len(ips))]
        barrier = threading.Barrier(len(clients))
        results = [None] * len(clients)

        def send(k):
            barrier.wait()
            results[k] = clients[k].policy_request(sender="burst@example.com",
                                                   client_address=ips[k])

        threads = [threading.Thread(target=send, args=(k,)) for k in range(len(clients))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        # max-ips 10: exactly ten of the twenty distinct IPs pass, whatever the interleaving.
        self.assertEqual(results.count("DUNNO"), 10, results)
        self.assertEqual(results.count(REJECT), 10, results)

    def test_reload_and_shutdown_with_workers(self):
        d = self.start_geopold(config(max_countries=3))
        c = self.connect(d)
        self.assertEqual(c.policy_request(sender="a@example.com", client_address=US), "DUNNO")
        cfg = config(max_countries=0)
        status = d.reload(cfg)
        self.assertEqual(status.get("reloads"), 1)
        self.assertEqual(c.policy_request(sender="b@example.com", client_address=US), REJECT,
                         "the open connection uses the new chain")
        others = [self.connect(d) for _ in range(10)]  # idle connections on several workers
        self.assertTrue(all(o.is_open() for o in others))
        self.assertEqual(d.stop(), 0)
        self.assertLess(d.stop_seconds, 3.0)


if __name__ == "__main__":
    h.main()
