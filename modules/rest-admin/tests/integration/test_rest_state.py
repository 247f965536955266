#!/usr/bin/env python3
"""What the admin interface changes and shows, end to end: custom settings survive /reload and a
restart, unlock makes a blocked account pass again, /query answers true/false without changing
any count, GET /account shows the record, /metrics and /health work, and a reload that moves
the listener to another port swaps it."""

import json
import os
import shutil
import tempfile
import time

import geopol_harness as h
import rest_helpers as rh

US, GB, DE, RU = (h.GEO_IPS[c] for c in ("US", "GB", "DE", "RU"))
REJECT = "REJECT " + h.REJECT_TEXT


class StateTest(h.GeopolTestCase):
    def setUp(self):
        h.geopold_binary()
        h.geolite_city()
        self.tmp = tempfile.mkdtemp(prefix="geopol-rest-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def test_changes_survive_reload_and_restart(self):
        custom = rh.write_custom(self.tmp)
        port = h.free_port()
        cfg = rh.config(port, custom=custom, store={"state-file": os.path.join(self.tmp, "s.json")})
        d = self.start_geopold(cfg)
        admin = rh.Admin(port)
        admin.wait_ready()
        self.assertEqual(admin.request("PATCH", "/modify", {"key": "sender", "value": {
            "sender": "new@example.com", "ips": 7,
            "home_countries": {"codes": ["DE"], "ips": 9, "countries": 2}}}).status, 202)
        self.assertEqual(admin.request("DELETE", "/remove",
                                       {"key": "sender", "value": "test1@example.com"}).status, 202)
        expected = admin.get("/custom-settings").json()
        self.assertEqual([e["sender"] for e in expected],
                         ["christian@roessner.email", "test2@example.com", "new@example.com"])
        self.assertEqual(expected[2]["home_countries"], {"codes": ["DE"], "ips": 9, "countries": 2})

        r = admin.get("/reload")
        self.assertEqual(r.status, 202)
        self.assertEqual(admin.get("/custom-settings").json(), expected, "after GET /reload")
        d.reload()
        self.assertEqual(admin.get("/custom-settings").json(), expected, "after SIGHUP")
        d.stop()
        d.proc = None
        d.start()
        admin.wait_ready()
        self.assertEqual(admin.get("/custom-settings").json(), expected, "after a restart")

    def test_the_new_limits_apply_to_requests(self):
        port = h.free_port()
        d = self.start_geopold(rh.config(port, limits={"max-countries": 1}))
        admin = rh.Admin(port)
        admin.wait_ready()
        c = self.connect(d)
        self.assertEqual(c.policy_request("wide@example.com", US), "DUNNO")
        self.assertEqual(admin.request("PATCH", "/modify", {"key": "sender", "value": {
            "sender": "wide@example.com", "countries": 5}}).status, 202)
        self.assertEqual(c.policy_request("wide@example.com", GB), "DUNNO")
        self.assertEqual(c.policy_request("narrow@example.com", US), "DUNNO")
        self.assertEqual(c.policy_request("narrow@example.com", GB), REJECT)

    def test_unlock_account_view_query_metrics_health(self):
        port = h.free_port()
        d = self.start_geopold(rh.config(port, limits={"max-countries": 1}))
        admin = rh.Admin(port)
        admin.wait_ready()
        c = self.connect(d)
        # Blocked after the 2nd country.
        self.assertEqual(c.policy_request("bob@example.com", US), "DUNNO")
        self.assertEqual(c.policy_request("bob@example.com", GB), REJECT)
        self.assertEqual(c.policy_request("bob@example.com", US), REJECT)

        acct = admin.get("/account/Bob@Example.com")
        self.assertEqual(acct.status, 200, acct)
        a = acct.json()
        self.assertEqual(a["account"], "bob@example.com")
        self.assertTrue(a["blocked"])
        self.assertEqual(a["block"], "temporary")
        self.assertEqual(sorted(a["foreign_ips"]), sorted([US, GB]))
        self.assertEqual(sorted(a["foreign_countries"]), ["GB", "US"])
        self.assertGreater(a["block_ttl_seconds"], 3000)
        self.assertEqual(a["limits"]["max_countries"], 1)

        # /query: false for the blocked account, and nothing recorded by asking.
        q = admin.post("/query?details=1", {"key": "client",
                                            "value": {"address": DE, "sender": "bob@example.com"}})
        self.assertEqual(q.status, 202, q)
        self.assertIs(q.json()["result"], False)
        self.assertEqual(q.json()["details"]["reason"], "blocked")
        self.assertEqual(admin.get("/account/bob@example.com").json()["foreign_ips"],
                         a["foreign_ips"], "the query did not record DE's IP")

        metrics = admin.get("/metrics")
        self.assertEqual(metrics.status, 200)
        self.assertTrue(metrics.headers["content-type"].startswith("text/plain"))
        text = metrics.text
        for line in ['geopol_store_blocked_accounts{store="memory",kind="temporary"} 1',
                     'geopol_policy_requests_total{action="reject"} 2',
                     "geopol_decision_seconds_count",
                     'geopol_admin_requests_total{code="200"}',
                     'geopol_store_operations_total{store="memory",op="inspect"}']:
            self.assertIn(line, text)

        # Unlock: the account passes again and its record is gone.
        self.assertEqual(admin.post("/remove", {"key": "sender", "value": "BOB@example.com"}).status,
                         202)
        self.assertEqual(admin.get("/account/bob@example.com").status, 404)
        self.assertEqual(c.policy_request("bob@example.com", US), "DUNNO")
        self.assertIn('geopol_store_blocked_accounts{store="memory",kind="temporary"} 0',
                      admin.get("/metrics").text)

        health = admin.get("/health")
        self.assertEqual(health.status, 200)
        self.assertEqual(health.json()["status"], "ok")

    def test_query_answers_true_and_false_without_changing_counts(self):
        port = h.free_port()
        d = self.start_geopold(rh.config(port, limits={"max-ips": 2}))
        admin = rh.Admin(port)
        admin.wait_ready()
        c = self.connect(d)

        def ask(ip, who="carol@example.com", details=False):
            r = admin.post("/query" + ("?details=1" if details else ""),
                           {"key": "client", "value": {"address": ip, "sender": who}})
            self.assertEqual(r.status, 202, r)
            return r.json()

        self.assertIs(ask(US)["result"], True)
        self.assertEqual(admin.get("/account/carol@example.com").status, 404, "nothing recorded")
        self.assertEqual(c.policy_request("carol@example.com", "8.8.8.8"), "DUNNO")
        self.assertEqual(c.policy_request("carol@example.com", "8.8.4.4"), "DUNNO")
        before = admin.get("/account/carol@example.com").json()
        # A third IP would be over the limit: false, with the counts it would have.
        r = ask("8.8.1.1", details=True)
        self.assertIs(r["result"], False)
        self.assertEqual(r["details"]["ips"], 3)
        self.assertEqual(r["details"]["max_ips"], 2)
        self.assertEqual(r["details"]["reason"], "ips")
        self.assertEqual(r["details"]["country"], "US")
        self.assertEqual(sorted(r["details"]["seen_ips"]), ["8.8.1.1", "8.8.4.4", "8.8.8.8"])
        # A known IP is fine.
        self.assertIs(ask("8.8.8.8")["result"], True)
        after = admin.get("/account/carol@example.com").json()
        self.assertEqual(after["counts"], before["counts"])
        self.assertFalse(after["blocked"], "a what-if question never blocks")
        self.assertEqual(c.policy_request("carol@example.com", "8.8.8.8"), "DUNNO")
        # In the log the questions are marked, so no one takes them for mail refused.
        what_if = [l for l in d.log_text().splitlines()
                   if "[decision]" in l and "client_address=8.8.1.1" in l]
        self.assertEqual(len(what_if), 1, what_if)
        self.assertRegex(what_if[0], r"; what_if=yes; action=REJECT ")
        self.assertNotIn("what_if", [l for l in d.log_text().splitlines()
                                     if "[decision]" in l][-1], "a real request is not marked")

    def test_a_reload_that_moves_the_listener_swaps_it(self):
        port, new_port = h.free_port(), h.free_port()
        cfg = rh.config(port)
        d = self.start_geopold(cfg)
        admin = rh.Admin(port)
        admin.wait_ready()
        cfg["modules"][3]["port"] = new_port
        d.write_config(cfg)
        self.assertEqual(admin.get("/reload").status, 202, "answered by the old listener")
        moved = rh.Admin(new_port)
        moved.wait_ready()
        self.assertEqual(moved.get("/custom-settings").status, 204)

        def old_gone():
            try:
                admin.get("/health")
                return False
            except OSError:
                return True
        h.wait_for(old_gone, 10, what="the old listener to close")
        d.wait_for_log(r"rest_admin\.listening url=http://127\.0\.0\.1:%d" % new_port)

    def test_reload_without_changes_keeps_the_listener(self):
        port = h.free_port()
        d = self.start_geopold(rh.config(port))
        admin = rh.Admin(port)
        admin.wait_ready()
        for _ in range(3):
            self.assertEqual(admin.get("/reload").status, 202)
        self.assertNotIn("listener_change", d.log_text())
        self.assertIn("geopol_admin_listener_restarts_total 0", admin.get("/metrics").text)


if __name__ == "__main__":
    h.main()
