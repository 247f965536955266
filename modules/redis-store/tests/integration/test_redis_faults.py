#!/usr/bin/env python3
"""Redis stops answering mid-load (SIGSTOP), then dies (SIGKILL) and comes back: every
request is still answered within server.request-timeout, with the failure action while
Redis is away, and normal answers return without restarting geopold. The log says so once
per state change, not once per request."""

import threading
import time

import geopol_harness as h
import redis_harness as rh

REQUEST_TIMEOUT = 1.0
FAILURE = "DEFER Service temporarily not available"


class Load:
    """Client threads sending requests back to back, each answer timed."""

    def __init__(self, daemon, threads=4):
        self.daemon = daemon
        self.results = []  # (start, action, seconds)
        self.lock = threading.Lock()
        self.stop_event = threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(n,), daemon=True)
                        for n in range(threads)]
        for t in self.threads:
            t.start()

    def run(self, n):
        c = h.PolicyClient(self.daemon.listeners[0], timeout=10)
        try:
            i = 0
            while not self.stop_event.is_set():
                i += 1
                t0 = time.monotonic()
                try:
                    action = c.policy_request(f"load{n}@example.com",
                                              f"10.{n}.{i // 250 % 250}.{i % 250 + 1}",
                                              timeout=10)
                except Exception as e:  # noqa: BLE001 - recorded as a failure to answer
                    action = f"no answer: {e!r}"
                with self.lock:
                    self.results.append((t0, action, time.monotonic() - t0))
                time.sleep(0.005)
        finally:
            c.close()

    def since(self, t):
        with self.lock:
            return [r for r in self.results if r[0] >= t]

    def wait_for(self, action, after, timeout=15.0, what=""):
        """Waits until a request started after `after` was answered with `action`."""
        def seen():
            return any(a == action for _, a, _ in self.since(after))
        h.wait_for(seen, timeout, interval=0.05, what=what or f"an answer {action!r}")

    def stop(self):
        self.stop_event.set()
        for t in self.threads:
            t.join(15)


class RedisFaultTest(rh.RedisTestCase):
    def check_answered(self, results, what):
        self.assertTrue(results, f"no requests during {what}")
        for t0, action, took in results:
            self.assertTrue(action in ("DUNNO", FAILURE), f"{what}: {action!r}")
            # The core's deadline, plus a little for a loaded test machine.
            self.assertLess(took, REQUEST_TIMEOUT + 0.5, f"{what}: {action!r} took {took:.2f}s")

    def test_stop_kill_restart(self):
        redis = self.start_redis()
        d = self.start_geopold(rh.geo_config(
            redis, server={"request-timeout": f"{int(REQUEST_TIMEOUT * 1000)}ms"},
            store={"command-timeout": "300ms", "connect-timeout": "500ms",
                   "reconnect-backoff-max": "1s"},
            max_ips=1000000, max_countries=1000))
        load = Load(d)
        self.addCleanup(load.stop)
        t_start = time.monotonic()
        load.wait_for("DUNNO", t_start, what="normal answers at start")
        time.sleep(0.5)

        # 1. Frozen: connections stay open, nothing answers.
        t_stop = time.monotonic()
        redis.pause()
        load.wait_for(FAILURE, t_stop, what="the failure action while Redis is frozen")
        time.sleep(2.5)
        t_cont = time.monotonic()
        redis.resume()
        load.wait_for("DUNNO", t_cont, what="normal answers after SIGCONT")
        frozen = [r for r in load.since(t_stop) if r[0] < t_cont]
        self.check_answered(frozen, "SIGSTOP")
        self.assertGreater(sum(1 for r in frozen if r[1] == FAILURE), 10)
        time.sleep(0.5)

        # 2. Killed, then restarted on the same port with no data.
        t_kill = time.monotonic()
        redis.kill()
        load.wait_for(FAILURE, t_kill, what="the failure action while Redis is dead")
        time.sleep(1.5)
        t_restart = time.monotonic()
        redis.start()
        load.wait_for("DUNNO", t_restart, what="normal answers after the restart")
        dead = [r for r in load.since(t_kill) if r[0] < t_restart]
        self.check_answered(dead, "SIGKILL")
        # Refused connections fail fast: no waiting for timeouts.
        fast = sorted(took for _, a, took in dead if a == FAILURE)
        self.assertLess(fast[len(fast) // 2], 0.1, "median failure answer while Redis is dead")
        time.sleep(0.5)
        load.stop()
        self.check_answered(load.since(t_start), "the whole run")
        self.assertTrue(d.running())
        self.assertIsNotNone(redis.cmd("GET", "geopol_load0@example.com"))

        # Once per state change: two outages, two losses, two recoveries.
        log = d.log_text()
        self.assertEqual(rh.count(log, "redis-store.lost master"), 2, h.tail(log))
        self.assertEqual(rh.count(log, "redis-store.reconnected master"), 2, h.tail(log))
        self.assertLessEqual(rh.count(log, "redis-store.unreachable"), 0)


if __name__ == "__main__":
    h.main()
