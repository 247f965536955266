#!/usr/bin/env python3
"""Error handling of the admin interface against the real geopold: bad JSON, wrong types,
unknown keys, missing fields, wrong Content-Type (400 with a JSON error, nothing changes),
oversized bodies (413), wrong methods (405), unknown paths (404), credentials (401 with a
challenge, passwords never logged), and configurations that must be refused."""

import json
import os
import shutil
import subprocess
import tempfile

import geopol_harness as h
import rest_helpers as rh


class ErrorsTest(h.GeopolTestCase):
    def setUp(self):
        h.geopold_binary()
        h.geolite_city()
        rh.require_tools()
        self.tmp = tempfile.mkdtemp(prefix="geopol-rest-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def start(self, **kw):
        self.custom = rh.write_custom(self.tmp)
        port = h.free_port()
        d = self.start_geopold(rh.config(port, custom=self.custom, **kw))
        admin = rh.Admin(port, auth=kw.get("auth", False))
        admin.wait_ready()
        return d, admin

    def assert_error(self, r, status, fragment):
        self.assertEqual(r.status, status, r)
        self.assertTrue(r.headers.get("content-type", "").startswith("application/json"), r)
        doc = r.json()
        self.assertEqual(list(doc.keys()), ["error"], r)
        self.assertIn(fragment, doc["error"])

    def test_bad_requests_get_400_with_the_reason_and_change_nothing(self):
        d, admin = self.start()
        before = admin.get("/custom-settings").body
        with open(self.custom, "rb") as f:
            file_before = f.read()
        cases = [
            ("PATCH", "/modify", '{"key":"sender","value":{"sender":"a@b","ips":"3"}}',
             "application/json", "must be a whole number"),
            ("PATCH", "/modify", '{"key":"sender","value":{"sender":"a@b","ips":3,"ip":4}}',
             "application/json", 'unknown key "ip"'),
            ("PATCH", "/modify", '{"key":"sender","value":{"ips":3}}', "application/json",
             'missing "value.sender"'),
            ("PATCH", "/modify", '{"key":"sender","value":{"sender":"a@b","ips":-2}}',
             "application/json", "must be 0 or more"),
            ("PUT", "/update", '{"data":[{"sender":"a@b","countries":"x"}]}',
             "application/json", "must be a whole number"),
            ("PUT", "/update", '{"dat":[]}', "application/json", 'unknown key "dat"'),
            ("PUT", "/update", '{}', "application/json", 'missing "data"'),
            ("PUT", "/update", '{"data":[{"sender":"a@b","trusted_countries":["Germany"]}]}',
             "application/json", "two-letter"),
            ("DELETE", "/remove", '{"key":"sender","value":42}', "application/json",
             "must be the sender as a string"),
            ("DELETE", "/remove", '{"key":"sender"}', "application/json", 'missing "value"'),
            ("POST", "/remove", '{"key":"sender","value":"a@b"', "application/json",
             "not valid JSON"),
            ("POST", "/remove", '{"key":"sender","value":"a@b"}', "text/plain",
             "Content-Type must be application/json"),
            ("POST", "/remove", '{"key":"sender","value":"a@b"}', None,
             "Content-Type must be application/json, not missing"),
            ("POST", "/query", '{"key":"client","value":{"address":"1.2.3.4","sender":5}}',
             "application/json", '"value.sender" must be a string'),
            ("POST", "/query", '{"key":"client","value":{"address":"1.2.3.4"}}',
             "application/json", 'missing "value.sender"'),
            ("POST", "/query", '{"key":"client","value":{"address":"1.2.3.4","sender":"a@b",'
             '"extra":1}}', "application/json", 'unknown key "value.extra"'),
            ("POST", "/query", "", "application/json", "empty"),
        ]
        for method, path, body, ctype, fragment in cases:
            with self.subTest(method=method, path=path, body=body, ctype=ctype):
                r = admin.request(method, path, body, content_type=ctype)
                self.assert_error(r, 400, fragment)
        self.assertEqual(admin.get("/custom-settings").body, before)
        with open(self.custom, "rb") as f:
            self.assertEqual(f.read(), file_before, "the file is untouched")
        # DELETE of a sender without an entry: 404, nothing changes.
        self.assert_error(admin.request("DELETE", "/remove", {"key": "sender", "value": "x@y"}),
                          404, 'no custom settings entry for sender "x@y"')

    def test_oversized_bodies_get_413(self):
        d, admin = self.start(rest={"max-body-size": 1024})
        big = json.dumps({"data": [{"sender": f"u{i}@example.com", "ips": 1} for i in range(100)]})
        self.assertGreater(len(big), 1024)
        self.assert_error(admin.request("PUT", "/update", big), 413, "max-body-size (1024 bytes)")
        # Chunked (no Content-Length) is bounded too.
        r = subprocess.run(
            ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT",
             "-H", "Content-Type: application/json", "-H", "Transfer-Encoding: chunked",
             "--data-binary", big, f"http://127.0.0.1:{admin.port}/update"],
            capture_output=True, text=True, timeout=30)
        self.assertEqual(r.stdout, "413", r.stderr)
        self.assertEqual(len(admin.get("/custom-settings").json()), 3)

    def test_wrong_method_is_405_and_unknown_path_is_404(self):
        d, admin = self.start()
        self.assert_error(admin.get("/remove"), 405, "allowed: DELETE, POST")
        self.assert_error(admin.request("DELETE", "/custom-settings"), 405, "allowed: GET")
        self.assert_error(admin.post("/reload", {}), 405, "allowed: GET")
        self.assert_error(admin.get("/query"), 405, "allowed: POST")
        self.assert_error(admin.request("OPTIONS", "/custom-settings"), 405, "not served here")
        self.assert_error(admin.get("/nope"), 404, "no such endpoint: /nope")
        self.assert_error(admin.get("/account/"), 404, "no such endpoint")

    def test_credentials_are_checked_and_the_password_never_logged(self):
        d, admin = self.start(auth=True)
        anonymous = rh.Admin(admin.port)
        for creds in [None, ("", ""), (rh.USER, "wrong"), ("TESTUSER", rh.PASSWORD),
                      (rh.USER, rh.PASSWORD + "x")]:
            with self.subTest(creds=creds):
                if creds is None:
                    r = anonymous.get("/custom-settings")
                else:
                    r = admin.get("/custom-settings", auth=creds)
                self.assertEqual(r.status, 401)
                self.assertEqual(r.headers.get("www-authenticate"),
                                 'Basic realm="geopol", charset="UTF-8"')
        # A malformed header is a 401 as well.
        r = rh.Admin(admin.port).get("/custom-settings", headers={"Authorization": "Basic %%%"})
        self.assertEqual(r.status, 401)
        # Even unknown paths and methods answer 401 before anything else.
        self.assertEqual(rh.Admin(admin.port).get("/nope").status, 401)
        self.assertEqual(admin.get("/custom-settings").status, 200)
        log = d.wait_for_log(r"rest_admin\.request method=GET path=/custom-settings status=401")
        self.assertTrue(log)
        d.wait_for_log(r"status=200 client=127\.0\.0\.1:\d+")
        self.assertNotIn(rh.PASSWORD, d.log_text())
        self.assertNotIn("dGVzdHVzZXI6", d.log_text())  # nor the encoded header

    def test_one_log_line_per_request_info_for_success_warn_for_errors(self):
        d, admin = self.start()
        admin.get("/custom-settings")
        admin.get("/nope")
        d.wait_for_log(r"info \[rest-admin\] rest_admin\.request method=GET path=/custom-settings "
                       r"status=200 client=127\.0\.0\.1:\d+ ms=")
        d.wait_for_log(r"warning \[rest-admin\] rest_admin\.request method=GET path=/nope "
                       r"status=404")
        self.assertEqual(d.log_text().count("path=/nope status=404"), 1)

    def check_config_fails(self, config, fragment):
        path = os.path.join(self.tmp, "bad.yaml")
        with open(path, "w") as f:
            f.write(h.to_yaml(config))
        r = h.run_geopold(["--check-config", "--config", path], timeout=30)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn(fragment, r.stderr)

    def test_configurations_that_are_refused(self):
        port = h.free_port()
        self.check_config_fails(rh.config(port, rest={"basic-auth": True, "username": "u",
                                                      "password": ""}),
                                "must not be empty when basic-auth is on")
        self.check_config_fails(rh.config(port, tls=True, cert=os.path.join(self.tmp, "no.pem"),
                                          key=os.path.join(self.tmp, "no-key.pem")),
                                "cannot read")
        cert, key = rh.make_certificate(self.tmp)
        other_cert, other_key = rh.make_certificate(tempfile.mkdtemp(dir=self.tmp))
        self.check_config_fails(rh.config(port, tls=True, cert=cert, key=other_key),
                                "does not belong to the certificate")
        self.check_config_fails(rh.config(port, rest={"address": "127.0.0.1:8080"}),
                                "is not an IP address")

    def test_a_busy_port_refuses_to_start_with_a_clear_message(self):
        import socket
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        self.addCleanup(s.close)
        port = s.getsockname()[1]
        d = h.Geopold(rh.config(port), start=False)
        self.addCleanup(d.close)
        with self.assertRaises(AssertionError) as ctx:
            d.start()
        self.assertIn(f"cannot listen on http://127.0.0.1:{port}", str(ctx.exception))


if __name__ == "__main__":
    h.main()
