#!/usr/bin/env python3
"""operator-mail's TLS and AUTH against a real SMTP server (aiosmtpd).

STARTTLS (required and opportunistic), implicit TLS (ssl-on-connect), certificate
verification (tls-ca-file, and what happens without it), tls-skip-verify, AUTH in clear to
a loopback server and AUTH after STARTTLS, a wrong password (permanent, not retried), and the
password never reaching the log.
"""

import shutil
import tempfile

import geopol_harness as h
import smtp_harness as s

REJECT = "REJECT " + h.REJECT_TEXT
PASSWORD = "Corr3ct-Horse-Battery"


class TlsTestCase(h.GeopolTestCase):
    @classmethod
    def setUpClass(cls):
        cls.certdir = tempfile.mkdtemp(prefix="geopol-om-tls-")
        cls.cert, cls.key = s.make_certificate(cls.certdir)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.certdir, ignore_errors=True)

    def setUp(self):
        h.geopold_binary()
        h.geolite_city()
        s.require_aiosmtpd()

    def sink(self, mode="starttls", **kw):
        return s.start_sink(self, mode=mode, cert=self.cert, key=self.key, **kw)

    def block_and_receive(self, sink, mail: dict, account="alice@example.com"):
        d = self.start_geopold(s.geopol_config(s.mail_section(sink, **mail)))
        c = self.connect(d)
        self.assertEqual(s.block_account(c, account), ["DUNNO", REJECT])
        [m] = sink.wait_for_messages(1)
        d.wait_for_log(r"operator_mail\.sent account=" + account.replace(".", r"\."))
        self.assertIn(account, m.body)
        return d, m


class StartTls(TlsTestCase):
    def test_starttls_always_with_the_ca_file(self):
        sink = self.sink(require_starttls=True)
        d, m = self.block_and_receive(sink, {"starttls": "always", "tls-ca-file": self.cert})
        self.assertTrue(m.tls)
        self.assertIn(m.tls_version, ("TLSv1.2", "TLSv1.3"))
        self.assertRegex(d.log_text(), r"operator_mail\.started server=127\.0\.0\.1:\d+ "
                                       r"tls=starttls auth=none")

    def test_starttls_auto_uses_starttls_when_offered(self):
        sink = self.sink()
        _, m = self.block_and_receive(sink, {"tls-ca-file": self.cert})
        self.assertTrue(m.tls)

    def test_starttls_never_stays_in_clear_text(self):
        sink = self.sink()
        _, m = self.block_and_receive(sink, {"starttls": "never"})
        self.assertFalse(m.tls)

    def test_starttls_always_fails_against_a_server_without_it(self):
        sink = s.start_sink(self)  # plain: no STARTTLS offered
        d = self.start_geopold(s.geopol_config(s.mail_section(
            sink, starttls="always", retries=0)))
        c = self.connect(d)
        s.block_account(c, "alice@example.com")
        d.wait_for_log(r"operator_mail\.gave_up account=alice@example\.com .*attempts=1 "
                       r"error=\"[^\"]*(STARTTLS|SSL|TLS)[^\"]*\"", timeout=10)
        self.assertEqual(sink.count(), 0)

    def test_the_certificate_is_verified(self):
        sink = self.sink(require_starttls=True)
        d = self.start_geopold(s.geopol_config(s.mail_section(sink, starttls="always", retries=0)))
        c = self.connect(d)
        s.block_account(c, "alice@example.com")
        d.wait_for_log(r"operator_mail\.gave_up account=alice@example\.com .*attempts=1 "
                       r"error=\"[^\"]*(certificate|SSL)[^\"]*\"", timeout=10)
        self.assertEqual(sink.count(), 0)

    def test_tls_skip_verify_accepts_any_certificate(self):
        sink = self.sink(require_starttls=True)
        d, m = self.block_and_receive(sink, {"starttls": "always", "tls-skip-verify": True})
        self.assertTrue(m.tls)
        self.assertIn("(certificate not verified)", d.log_text())


class ImplicitTls(TlsTestCase):
    def test_ssl_on_connect(self):
        sink = self.sink(mode="implicit")
        d, m = self.block_and_receive(sink, {"ssl-on-connect": True, "tls-ca-file": self.cert})
        self.assertTrue(m.tls)
        self.assertIn("tls=implicit", d.log_text())

    def test_ssl_on_connect_against_a_plain_server_fails_and_is_logged(self):
        sink = s.start_sink(self)
        d = self.start_geopold(s.geopol_config(s.mail_section(
            sink, **{"ssl-on-connect": True, "tls-ca-file": self.cert, "retries": 0,
                     "timeout": "3s"})))
        c = self.connect(d)
        s.block_account(c, "alice@example.com")
        d.wait_for_log(r"operator_mail\.gave_up account=alice@example\.com", timeout=10)
        self.assertEqual(sink.count(), 0)


class Auth(TlsTestCase):
    def test_auth_in_clear_text_to_a_loopback_server(self):
        sink = s.start_sink(self, auth=("geopol", PASSWORD), auth_over_plain=True)
        d, m = self.block_and_receive(sink, {"username": "geopol", "password": PASSWORD})
        self.assertTrue(m.authenticated)
        self.assertEqual(m.login, "geopol")
        self.assertFalse(m.tls)
        self.assertIn("auth=user geopol", d.log_text())
        self.assertNotIn(PASSWORD, d.log_text())

    def test_auth_after_starttls(self):
        sink = self.sink(require_starttls=True, auth=("geopol", PASSWORD))
        d, m = self.block_and_receive(sink, {"username": "geopol", "password": PASSWORD,
                                             "tls-ca-file": self.cert})
        self.assertTrue(m.tls)
        self.assertTrue(m.authenticated)
        self.assertEqual(m.login, "geopol")
        self.assertNotIn(PASSWORD, d.log_text())

    def test_auth_after_implicit_tls_with_the_password_from_a_file(self):
        with open(f"{self.certdir}/secret", "w") as f:
            f.write(PASSWORD + "\n")
        sink = self.sink(mode="implicit", auth=("geopol", PASSWORD))
        d, m = self.block_and_receive(sink, {"username": "geopol",
                                             "password-file": f"{self.certdir}/secret",
                                             "ssl-on-connect": True, "tls-ca-file": self.cert})
        self.assertTrue(m.tls)
        self.assertTrue(m.authenticated)
        self.assertNotIn(PASSWORD, d.log_text())

    def test_a_wrong_password_is_given_up_at_once_and_never_logged(self):
        sink = s.start_sink(self, auth=("geopol", PASSWORD), auth_over_plain=True)
        d = self.start_geopold(s.geopol_config(s.mail_section(
            sink, username="geopol", password="Wr0ng-Password-123", retries=3)))
        c = self.connect(d)
        s.block_account(c, "alice@example.com")
        d.wait_for_log(r"operator_mail\.gave_up account=alice@example\.com .*attempts=1 "
                       r"error=\"[^\"]*\(last reply 535\)\" \(permanent: not retried\)",
                       timeout=10)
        self.assertEqual(sink.count(), 0)
        self.assertNotIn("Wr0ng-Password-123", d.log_text())
        self.assertEqual(c.policy_request(sender="bob@example.com",
                                          client_address=h.GEO_IPS["DE"]), "DUNNO")


if __name__ == "__main__":
    h.main()
