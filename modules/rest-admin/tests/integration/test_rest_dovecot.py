#!/usr/bin/env python3
"""POST /dovecotpolicy: Dovecot's auth policy protocol.

First the requests exactly as the reference answered them (curl and plain HTTP): report, allow
within and over the limits, the 400 cases, basic auth, a failed chain. Then a real Dovecot
(IMAP, a private instance per test) whose auth policy client asks geopold: logins from several
countries succeed while the account is within its limits and fail once it is over them, the
account's record shows the countries, and Postfix's policy requests count on the same record.
"""

import os
import re
import shutil
import tempfile

import dovecot_harness as dh
import geopol_harness as h
import rest_helpers as rh

US, GB, DE, RU, JP = (h.GEO_IPS[c] for c in ("US", "GB", "DE", "RU", "JP"))
REJECT = "REJECT " + h.REJECT_TEXT
OK = {"status": 0, "msg": "ok"}
REFUSED = {"status": -1, "msg": h.REJECT_TEXT}

# What Dovecot 2.3 sends with its default auth_policy_request_attributes.
def dovecot_body(login, remote, **extra):
    body = {"device_id": "", "login": login, "protocol": "imap", "pwhash": "03a3",
            "remote": remote, "session_id": "gG34jbxhNIlRAkWO", "tls": False}
    body.update(extra)
    return body


class DovecotPolicyHttpTest(h.GeopolTestCase):
    """The endpoint as the reference answered it, without Dovecot."""

    def setUp(self):
        h.geopold_binary()
        h.geolite_city()
        rh.require_tools()
        self.tmp = tempfile.mkdtemp(prefix="geopol-rest-dovecot-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def start(self, **kw):
        port = h.free_port()
        d = self.start_geopold(rh.config(port, **kw))
        admin = rh.Admin(port, auth=kw.get("auth", False))
        admin.wait_ready()
        return d, admin, port

    def allow(self, admin, login, remote, path="/dovecotpolicy?command=allow", **extra):
        return admin.post(path, dovecot_body(login, remote, **extra))

    def test_report_and_allow_answer_like_the_reference(self):
        d, admin, port = self.start(limits={"max-countries": 1})
        # The reference's answers, byte for byte, through curl.
        status, body, _ = rh.run_curl_example(
            """curl -d '{"login":"alice@example.com","remote":"8.8.8.8","success":true}' """
            """-H "Content-Type: application/json" "http://localhost:8080/dovecotpolicy?command=report\"""",
            port, self.tmp)
        self.assertEqual((status, body), (200, b'{"status":0,"msg":"Nothing to report"}'))
        self.assertEqual(admin.get("/account/alice@example.com").status, 404,
                         "a report records nothing")
        status, body, _ = rh.run_curl_example(
            """curl -d '{"login":"alice@example.com","remote":"8.8.8.8"}' """
            """-H "Content-Type: application/json" "http://localhost:8080/dovecotpolicy?command=allow\"""",
            port, self.tmp)
        self.assertEqual((status, body), (200, b'{"status":0,"msg":"ok"}'))

        r = self.allow(admin, "alice@example.com", US)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers["content-type"], "application/json")
        self.assertEqual(r.json(), OK)
        # A second country is over max-countries 1: refused, and blocked from then on.
        self.assertEqual(self.allow(admin, "alice@example.com", GB).json(), REFUSED)
        self.assertEqual(self.allow(admin, "alice@example.com", US).json(), REFUSED)
        a = admin.get("/account/alice@example.com").json()
        self.assertEqual(sorted(a["foreign_countries"]), ["GB", "US"])
        self.assertEqual(sorted(a["foreign_ips"]), sorted([GB, US]))
        self.assertTrue(a["blocked"])
        # Postfix asks about the same record.
        self.assertEqual(self.connect(d).policy_request("alice@example.com", US), REJECT)
        # The login is lower-cased like a sender; another account is not affected.
        self.assertEqual(self.allow(admin, "Bob@Example.com", GB).json(), OK)
        self.assertEqual(admin.get("/account/bob@example.com").json()["foreign_countries"], ["GB"])

    def test_real_decisions_are_logged_and_counted_like_postfix_requests(self):
        d, admin, _ = self.start(limits={"max-countries": 1})
        self.assertEqual(self.allow(admin, "carol@example.com", US).json(), OK)
        self.assertEqual(self.allow(admin, "carol@example.com", GB).json(), REFUSED)
        d.wait_for_log(r"sender=<carol@example\.com>; client_address=8\.8\.8\.8; country=US; "
                       r".*action=DUNNO")
        d.wait_for_log(r"sender=<carol@example\.com>; client_address=81\.2\.69\.142; "
                       r"country=GB; .*action=REJECT Policy violation")
        metrics = admin.get("/metrics").text
        for line in ('geopol_policy_requests_total{action="dunno"} 1',
                     'geopol_policy_requests_total{action="reject"} 1'):
            self.assertRegex(metrics, "(?m)^" + re.escape(line) + "$")
        # A what-if question is not traffic.
        admin.post("/query", {"key": "client", "value": {"address": US, "sender": "x@example.com"}})
        self.assertRegex(admin.get("/metrics").text,
                         '(?m)^geopol_policy_requests_total{action="dunno"} 1$')

    def test_sasl_username_identity_and_a_url_ending_in_a_question_mark(self):
        _, admin, _ = self.start(server={"identity": "sasl_username"})
        # auth_policy_server_url = http://.../dovecotpolicy?  makes Dovecot ask "??command=".
        r = self.allow(admin, "dave@example.com", DE, path="/dovecotpolicy??command=allow")
        self.assertEqual(r.json(), OK)
        self.assertEqual(admin.get("/account/dave@example.com").json()["foreign_countries"], ["DE"])

    def test_a_failed_login_is_not_recorded(self):
        _, admin, _ = self.start(limits={"max-countries": 1})
        for ip in (US, GB, DE, RU):
            r = self.allow(admin, "erin@example.com", ip, success=False)
            self.assertEqual(r.status, 200, r)
        self.assertEqual(admin.get("/account/erin@example.com").status, 404)
        self.assertEqual(self.allow(admin, "erin@example.com", JP, success=True).json(), OK)
        self.assertEqual(admin.get("/account/erin@example.com").json()["foreign_countries"], ["JP"])

    def test_bad_requests_get_400_and_record_nothing(self):
        _, admin, _ = self.start()
        body = dovecot_body("frank@example.com", US)
        cases = [
            ("/dovecotpolicy", body, "application/json", "missing ?command="),
            ("/dovecotpolicy?command=deny", body, "application/json", "unknown command"),
            ("/dovecotpolicy?command=allow", body, "text/plain", "Content-Type"),
            ("/dovecotpolicy?command=allow", "{", "application/json", "not valid JSON"),
            ("/dovecotpolicy?command=allow", "", "application/json", "empty"),
            ("/dovecotpolicy?command=allow", {"remote": US}, "application/json", "\"login\""),
            ("/dovecotpolicy?command=allow", {"login": "frank@example.com", "remote": ""},
             "application/json", "\"remote\" must not be empty"),
            ("/dovecotpolicy?command=allow", {"login": 5, "remote": US}, "application/json",
             "\"login\" must be a string"),
        ]
        for path, payload, ct, reason in cases:
            with self.subTest(path=path, payload=payload, ct=ct):
                r = admin.post(path, payload, content_type=ct)
                self.assertEqual(r.status, 400, r)
                self.assertIn(reason, r.json()["error"])
        self.assertEqual(admin.get("/account/frank@example.com").status, 404)
        self.assertEqual(admin.get("/dovecotpolicy?command=allow").status, 405)

    def test_basic_auth_covers_the_endpoint(self):
        _, admin, port = self.start(auth=True)
        anonymous = rh.Admin(port)
        r = anonymous.post("/dovecotpolicy?command=allow", dovecot_body("gina@example.com", US))
        self.assertEqual(r.status, 401)
        self.assertEqual(admin.get("/account/gina@example.com").status, 404)
        wrong = anonymous.post("/dovecotpolicy?command=report", {}, auth=("testuser", "nope"))
        self.assertEqual(wrong.status, 401)
        self.assertEqual(self.allow(admin, "gina@example.com", US).json(), OK)

    def test_a_failed_chain_is_500_so_dovecot_applies_reject_on_fail(self):
        port = h.free_port()
        cfg = rh.config(port)
        # A Redis store with no Redis: every request gets the failure action.
        cfg["modules"][1] = {"name": "redis-store", "port": h.free_port(),
                             "command-timeout": "200ms"}
        self.start_geopold(cfg)
        admin = rh.Admin(port)
        admin.wait_ready()
        r = admin.post("/dovecotpolicy?command=allow", dovecot_body("hank@example.com", US))
        self.assertEqual(r.status, 500, r)
        self.assertIn("the policy chain failed", r.json()["error"])


class RealDovecotTest(h.GeopolTestCase):
    """A private Dovecot asks geopold before (and after) it checks each IMAP password."""

    def setUp(self):
        h.geopold_binary()
        h.geolite_city()
        dh.require_dovecot()

    def start_pair(self, *, limits, server=None, api_header=None, **dovecot):
        port = h.free_port()
        d = self.start_geopold(rh.config(port, auth=True, limits=limits, server=server))
        admin = rh.Admin(port, auth=True)
        admin.wait_ready()
        header = dh.basic_auth_header(rh.USER, rh.PASSWORD) if api_header is None else api_header
        dc = dh.start_dovecot(self, f"http://127.0.0.1:{port}/dovecotpolicy",
                              api_header=header, **dovecot)
        return d, admin, dc

    def countries(self, admin, account):
        r = admin.get(f"/account/{account}")
        self.assertEqual(r.status, 200, r)
        return sorted(r.json()["foreign_countries"])

    def test_logins_succeed_within_the_limit_and_fail_over_it(self):
        _, admin, dc = self.start_pair(limits={"max-countries": 1})
        self.assertTrue(dc.login("alice@example.com", from_ip=US))
        self.assertTrue(dc.login("alice@example.com", from_ip=US))
        # The ID command's address is what Dovecot reports: US, not 127.0.0.1.
        self.assertEqual(self.countries(admin, "alice@example.com"), ["US"])
        self.assertFalse(dc.login("alice@example.com", from_ip=GB))
        self.assertIn(h.REJECT_TEXT, dc.last_refusal, "Dovecot shows our text to the client")
        self.assertFalse(dc.login("alice@example.com", from_ip=US), "blocked from now on")
        a = admin.get("/account/alice@example.com").json()
        self.assertTrue(a["blocked"])
        self.assertEqual(sorted(a["foreign_countries"]), ["GB", "US"])
        # Other accounts are not affected.
        self.assertTrue(dc.login("bob@example.com", from_ip=GB))
        self.assertEqual(self.countries(admin, "bob@example.com"), ["GB"])

    def test_logins_and_postfix_requests_count_on_one_record(self):
        d, admin, dc = self.start_pair(limits={"max-countries": 2},
                                       server={"identity": "sasl_username"})
        self.assertTrue(dc.login("carol@example.com", from_ip=US))
        self.assertTrue(dc.login("carol@example.com", from_ip=GB))
        self.assertEqual(self.countries(admin, "carol@example.com"), ["GB", "US"])
        # The same account submits mail from a third country: over the limit.
        c = self.connect(d)
        self.assertEqual(c.policy_request("someone@example.org", DE,
                                          sasl_username="carol@example.com"), REJECT)
        self.assertEqual(self.countries(admin, "carol@example.com"), ["DE", "GB", "US"])
        self.assertFalse(dc.login("carol@example.com", from_ip=US), "blocked by the mail")

    def test_before_auth_counts_wrong_passwords_after_auth_only_does_not(self):
        # Dovecot's default (check before and after auth): a guessed password counts, so
        # guesses from two countries lock the real user out.
        _, admin, dc = self.start_pair(limits={"max-countries": 1})
        self.assertFalse(dc.login("dave@example.com", "guess", from_ip=US))
        self.assertFalse(dc.login("dave@example.com", "guess", from_ip=GB))
        self.assertEqual(self.countries(admin, "dave@example.com"), ["GB", "US"])
        self.assertFalse(dc.login("dave@example.com", from_ip=JP), "the real user is locked out")

        # The recommended setting: only logins with the right password are asked about.
        _, admin, dc = self.start_pair(limits={"max-countries": 1}, before_auth=False)
        for ip in (US, GB, DE, RU):
            self.assertFalse(dc.login("dave@example.com", "guess", from_ip=ip))
        self.assertEqual(admin.get("/account/dave@example.com").status, 404, "nothing counted")
        self.assertTrue(dc.login("dave@example.com", from_ip=JP))
        self.assertEqual(self.countries(admin, "dave@example.com"), ["JP"])
        self.assertFalse(dc.login("dave@example.com", from_ip=DE), "over the limit after auth")

    def test_unanswered_policy_requests_follow_reject_on_fail(self):
        wrong = dh.basic_auth_header(rh.USER, "not-the-password")
        d, admin, dc = self.start_pair(limits={}, api_header=wrong)
        self.assertTrue(dc.login("alice@example.com", from_ip=US), "fails open by default")
        d.wait_for_log(r"rest_admin\.request method=POST path=/dovecotpolicy status=401")
        self.assertEqual(admin.get("/account/alice@example.com").status, 404)

        _, _, dc = self.start_pair(limits={}, api_header=wrong, reject_on_fail=True)
        self.assertFalse(dc.login("alice@example.com", from_ip=US))


if __name__ == "__main__":
    h.main()
