#!/usr/bin/env python3
"""The admin interface under load: concurrent admin calls from several threads while policy
requests run on other connections (the policy answers stay right), a reload over HTTP while a
policy connection stays open, admin edits reaching every worker (server.workers: 2), and the
admin request latency (printed for the record)."""

import shutil
import statistics
import tempfile
import threading
import time

import geopol_harness as h
import rest_helpers as rh

US, GB, DE, RU = (h.GEO_IPS[c] for c in ("US", "GB", "DE", "RU"))
REJECT = "REJECT " + h.REJECT_TEXT


class ConcurrencyTest(h.GeopolTestCase):
    def setUp(self):
        h.geopold_binary()
        h.geolite_city()
        self.tmp = tempfile.mkdtemp(prefix="geopol-rest-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def test_admin_calls_in_parallel_with_policy_load(self):
        custom = rh.write_custom(self.tmp)
        port = h.free_port()
        d = self.start_geopold(rh.config(port, custom=custom, level="warning",
                                         rest={"threads": 4}))
        admin = rh.Admin(port)
        admin.wait_ready()
        errors = []
        latencies = []
        lock = threading.Lock()

        def policy_worker(t):
            try:
                with d.client() as c:
                    for i in range(150):
                        got = c.policy_request(f"load{t}-{i}@example.com", US)
                        if got != "DUNNO":
                            raise AssertionError(f"load{t}-{i}: {got}")
                        if i % 30 == 0:
                            who = f"hop{t}-{i}@example.com"
                            for ip in (US, GB, DE):
                                if c.policy_request(who, ip) != "DUNNO":
                                    raise AssertionError(f"{who} {ip}")
                            if c.policy_request(who, RU) != REJECT:
                                raise AssertionError(f"{who}: 4th country not rejected")
            except Exception as e:  # noqa: BLE001
                with lock:
                    errors.append(f"policy {t}: {e!r}")

        def admin_worker(t):
            try:
                for i in range(30):
                    calls = [
                        ("GET", "/custom-settings", None, {200}),
                        ("PATCH", "/modify", {"key": "sender", "value": {
                            "sender": f"admin{t}@example.com", "ips": i + 1}}, {202}),
                        ("POST", "/query", {"key": "client", "value": {
                            "address": GB, "sender": f"load{t}-{i}@example.com"}}, {202}),
                        ("GET", "/metrics", None, {200}),
                        ("GET", f"/account/load{t % 4}-{i}@example.com", None, {200, 404}),
                        ("GET", "/health", None, {200}),
                    ]
                    method, path, body, ok = calls[i % len(calls)]
                    t0 = time.perf_counter()
                    r = admin.request(method, path, body)
                    dt = time.perf_counter() - t0
                    with lock:
                        latencies.append(dt)
                    if r.status not in ok:
                        raise AssertionError(f"{method} {path}: {r}")
            except Exception as e:  # noqa: BLE001
                with lock:
                    errors.append(f"admin {t}: {e!r}")

        threads = [threading.Thread(target=policy_worker, args=(t,)) for t in range(4)]
        threads += [threading.Thread(target=admin_worker, args=(t,)) for t in range(6)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(120)
        self.assertEqual(errors, [])
        self.assertEqual(len(latencies), 180)
        # Every admin thread's last PATCH (i = 25) is there.
        entries = {e["sender"]: e for e in admin.get("/custom-settings").json()}
        for t in range(6):
            self.assertEqual(entries[f"admin{t}@example.com"]["ips"], 26)
        lat = sorted(latencies)
        print(f"\nadmin latency under load: n={len(lat)} p50={statistics.median(lat)*1000:.2f} ms "
              f"p99={lat[int(len(lat)*0.99)-1]*1000:.2f} ms max={lat[-1]*1000:.2f} ms")

    def test_admin_latency_idle(self):
        port = h.free_port()
        self.start_geopold(rh.config(port, level="warning"))
        admin = rh.Admin(port)
        admin.wait_ready()
        for path, body in [("/custom-settings", None), ("/query", {"key": "client", "value": {
                "address": US, "sender": "lat@example.com"}})]:
            lat = []
            for _ in range(300):
                t0 = time.perf_counter()
                r = admin.request("POST" if body else "GET", path, body)
                lat.append(time.perf_counter() - t0)
                self.assertIn(r.status, (202, 204))
            lat.sort()
            print(f"\nadmin latency idle {path}: n=300 p50={statistics.median(lat)*1000:.2f} ms "
                  f"p99={lat[296]*1000:.2f} ms (connect + request + answer)")
            self.assertLess(statistics.median(lat), 0.05)

    def test_reload_over_http_keeps_policy_connections(self):
        port = h.free_port()
        d = self.start_geopold(rh.config(port, limits={"max-countries": 1}))
        admin = rh.Admin(port)
        admin.wait_ready()
        c = self.connect(d)
        self.assertEqual(c.policy_request("keep@example.com", US), "DUNNO")
        for _ in range(3):
            self.assertEqual(admin.get("/reload").status, 202)
            # The same connection, and the account's state, carry on.
            self.assertEqual(c.policy_request("keep@example.com", US), "DUNNO")
        self.assertEqual(c.policy_request("keep@example.com", GB), REJECT)
        self.assertEqual(admin.get("/account/keep@example.com").json()["block"], "temporary")
        self.assertEqual(admin.get("/health").json()["reloads"], 3)

    def test_admin_edits_reach_every_worker(self):
        port = h.free_port()
        d = self.start_geopold(rh.config(port, limits={"max-ips": 1},
                                         server={"workers": 2}))
        admin = rh.Admin(port)
        admin.wait_ready()
        self.assertEqual(admin.request("PATCH", "/modify", {"key": "sender", "value": {
            "sender": "roamer@example.com", "ips": 8}}).status, 202)
        # New connections are spread over both workers' loops by the kernel;
        # each must apply the edited limit.
        ips = ["8.8.8.8", "8.8.4.4", "8.8.1.1", "8.8.2.2", "8.8.3.3", "8.8.5.5", "8.8.6.6",
               "8.8.7.7"]
        for ip in ips:
            with d.client() as c:
                self.assertEqual(c.policy_request("roamer@example.com", ip), "DUNNO", ip)
        with d.client() as c:
            self.assertEqual(c.policy_request("roamer@example.com", "8.8.9.9"), REJECT)
            self.assertEqual(c.policy_request("other@example.com", "8.8.8.8"), "DUNNO")
            self.assertEqual(c.policy_request("other@example.com", "8.8.4.4"), REJECT)


if __name__ == "__main__":
    h.main()
