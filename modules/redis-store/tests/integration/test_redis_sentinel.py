#!/usr/bin/env python3
"""Sentinel: geopold finds the master through redis-sentinel, and follows a failover
(SENTINEL FAILOVER) without a restart: requests keep being answered, and after the switch
they are recorded on the new master."""

import threading
import time

import geopol_harness as h
import redis_harness as rh

REJECT = "REJECT " + h.REJECT_TEXT


class RedisSentinelTest(rh.RedisTestCase):
    def setUp(self):
        super().setUp()
        rh._require_binary(rh.REDIS_SENTINEL)

    def test_failover_is_followed_without_restart(self):
        master = self.start_redis()
        replica = self.start_redis(["--replicaof", "127.0.0.1", str(master.port)])
        sentinel = self.start_sentinel(master)
        h.wait_for(lambda: replica.port in sentinel.healthy_replicas(), 30,
                   interval=0.2, what="Sentinel to see the replica in sync")

        d = self.start_geopold(rh.geo_config(
            store={"sentinels": [f"127.0.0.1:{sentinel.port}"],
                   "sentinel-master-name": "mymaster",
                   "command-timeout": "300ms", "reconnect-backoff-max": "500ms"},
            max_ips=100000, max_countries=1000))
        c = self.connect(d)
        self.assertEqual(c.policy_request("sam@example.com", "10.0.0.1"), "DUNNO")
        self.assertIn("10.0.0.1", master.get_json("geopol_sam@example.com")["ForeignIPs"])
        d.wait_for_log(r"redis-store\.master_located .*" + str(master.port))

        # Steady traffic from a thread while Sentinel switches the master over.
        results, stop = [], threading.Event()

        def traffic():
            cl = h.PolicyClient(d.listeners[0])
            try:
                i = 0
                while not stop.is_set():
                    i += 1
                    ip = f"10.1.{i // 250}.{i % 250 + 1}"
                    t0 = time.monotonic()
                    action = cl.policy_request("sam@example.com", ip, timeout=10)
                    results.append((time.monotonic(), ip, action, time.monotonic() - t0))
                    time.sleep(0.01)
            finally:
                cl.close()

        t = threading.Thread(target=traffic, daemon=True)
        t.start()
        time.sleep(0.5)
        switch_at = time.monotonic()
        self.assertEqual(sentinel.cmd("SENTINEL", "FAILOVER", "mymaster"), "OK")
        h.wait_for(lambda: sentinel.master_port() == replica.port, 30, interval=0.1,
                   what="Sentinel to name the replica as master")
        h.wait_for(lambda: replica.role() == "master", 30, what="the replica to be promoted")
        d.wait_for_log(r"redis-store\.master_switched .*" + str(replica.port), timeout=15)
        # Answers are normal again soon after the switch, without restarting geopold.
        h.wait_for(lambda: results and results[-1][2] == "DUNNO"
                   and results[-1][0] > time.monotonic() - 1, 15, what="normal answers")
        time.sleep(1.0)
        stop.set()
        t.join(15)

        self.assertTrue(results)
        # Every request was answered, in time, with a decision or the failure action.
        for when, ip, action, took in results:
            self.assertTrue(action == "DUNNO" or action.startswith("DEFER"), (ip, action))
            self.assertLess(took, 2.5, (ip, action))
        failed = [r for r in results if r[2] != "DUNNO"]
        self.assertLess(len(failed), len(results) / 2, failed)
        # The requests after the switch landed on the new master.
        after = [ip for when, ip, action, took in results
                 if action == "DUNNO" and when > switch_at + 0.5]
        self.assertTrue(after)
        stored = replica.get_json("geopol_sam@example.com")
        self.assertIsNotNone(stored)
        missing = [ip for ip in after[-20:] if ip not in stored["ForeignIPs"]]
        self.assertEqual(missing, [])
        self.assertEqual(replica.role(), "master")
        # The log says it once per change, not per request.
        log = d.log_text()
        self.assertLessEqual(rh.count(log, "redis-store.master_switched"), 2)
        self.assertLessEqual(rh.count(log, "redis-store.lost master"), 3)


if __name__ == "__main__":
    h.main()
