#!/usr/bin/env python3
"""ldap-alias against a real slapd that wants credentials and TLS: simple bind with ACLs that
deny anonymous reads, StartTLS and ldaps:// with a test CA (IP SAN 127.0.0.1), a wrong CA,
skip-verify (both spellings of the reference's flag), SASL EXTERNAL with a client
certificate and over ldapi://.

Chain: geoip -> ldap-alias -> memory-store -> limits with max-countries 1: two aliases from
two countries are rejected only if the directory was read.
"""

import geopol_harness as h
import ldap_harness as L

DUNNO = "DUNNO"


class SecurityTestCase(L.LdapTestCase):
    def assertAggregates(self, d):
        """Both aliases count for one account: the second country is rejected."""
        c = self.connect(d)
        self.assertEqual(self.ask(c, L.ALIASES[0], "US"), DUNNO)
        self.assertEqual(self.ask(c, L.ALIASES[1], "GB"), L.REJECT)
        self.assertIn(f"sender=<{L.ACCOUNT}>", d.log_text())

    def assertLookupFails(self, d, *needles):
        c = self.connect(d)
        self.assertEqual(self.ask(c, L.ALIASES[0], "US"), L.DEFER_DEFAULT)
        self.wait_log(d, "ldap-alias.server_down")
        log = d.log_text()
        for needle in needles:
            self.assertIn(needle, log)


class BindTest(SecurityTestCase):
    def test_bind_dn_and_password_read_what_anonymous_may_not(self):
        ldap = self.start_ldap(access="bind")
        # Anonymous: slapd hides the tree (error 32), so nothing resolves and the aliases
        # count separately.
        anon = self.start_daemon(L.ldap_keys(ldap), max_countries=1)
        c = self.connect(anon)
        self.assertEqual(self.ask(c, L.ALIASES[0], "US"), DUNNO)
        self.assertEqual(self.ask(c, L.ALIASES[1], "GB"), DUNNO)
        self.assertIn("action=keep", anon.log_text())

        bound = self.start_daemon(
            L.ldap_keys(ldap, bind_dn=L.READER_DN, bind_password=L.READER_PW), max_countries=1)
        self.assertAggregates(bound)
        self.assertIn(f'bind=simple bind-dn="{L.READER_DN}"', bound.log_text())
        self.assertNotIn(L.READER_PW, bound.log_text())

    def test_wrong_password_gives_the_failure_action(self):
        ldap = self.start_ldap(access="bind")
        d = self.start_daemon(L.ldap_keys(ldap, bind_dn=L.READER_DN,
                                          bind_password="not-the-password-42"))
        self.assertLookupFails(d, "Invalid credentials", "check bind-dn and bind-password")
        self.assertNotIn("not-the-password-42", d.log_text())

    def test_module_failure_action(self):
        ldap = self.start_ldap(access="bind")
        d = self.start_daemon(L.ldap_keys(ldap, bind_dn=L.READER_DN, bind_password="wrong"),
                              ldap_failure_action="DUNNO")
        c = self.connect(d)
        self.assertEqual(self.ask(c, L.ALIASES[0], "US"), DUNNO)
        self.assertIn("module ldap-alias failed", d.log_text())


class TlsTest(SecurityTestCase):
    def test_starttls_with_the_test_ca(self):
        ca = L.TestCA(self)
        ldap = self.start_ldap(access="bind", tls=ca, require_tls=True)
        d = self.start_daemon(L.ldap_keys(ldap, starttls=True, tls_ca_file=ca.ca_cert,
                                          bind_dn=L.READER_DN, bind_password=L.READER_PW),
                              max_countries=1)
        self.assertAggregates(d)
        self.assertIn("tls=starttls", d.log_text())
        # slapd saw the bind only after TLS (olcSecurity tls=1 refuses anything else).
        self.assertIn("STARTTLS", ldap.log_text())

    def test_without_starttls_the_server_refuses(self):
        ca = L.TestCA(self)
        ldap = self.start_ldap(access="bind", tls=ca, require_tls=True)
        d = self.start_daemon(L.ldap_keys(ldap, bind_dn=L.READER_DN, bind_password=L.READER_PW))
        self.assertLookupFails(d, "Confidentiality required")

    def test_a_certificate_from_another_ca_is_refused(self):
        ca = L.TestCA(self)
        other = L.TestCA(self, name="another test CA")
        ldap = self.start_ldap(access="bind", tls=ca, require_tls=True)
        d = self.start_daemon(L.ldap_keys(ldap, starttls=True, tls_ca_file=other.ca_cert,
                                          bind_dn=L.READER_DN, bind_password=L.READER_PW))
        self.assertLookupFails(d, "StartTLS: Connect error: TLS handshake failed")

    def test_skip_verify_accepts_it(self):
        ca = L.TestCA(self)
        other = L.TestCA(self, name="another test CA")
        ldap = self.start_ldap(access="bind", tls=ca, require_tls=True)
        d = self.start_daemon(L.ldap_keys(ldap, starttls=True, tls_ca_file=other.ca_cert,
                                          tls_skip_verify=True, bind_dn=L.READER_DN,
                                          bind_password=L.READER_PW), max_countries=1)
        self.assertAggregates(d)
        self.assertIn("(no certificate check)", d.log_text())

    def test_both_spellings_of_the_skip_verify_flag(self):
        ca = L.TestCA(self)
        other = L.TestCA(self, name="another test CA")
        ldap = self.start_ldap(access="bind", tls=ca, require_tls=True)
        for flag in ("--ldap-tls-skip-verify", "--ldap-skip-tls-verify"):
            with self.subTest(flag=flag):
                d = self.start_daemon(None, max_countries=1, args=[
                    "--use-ldap", "--ldap-server-uri", ldap.uri, "--ldap-basedn", L.BASE_DN,
                    "--ldap-binddn", L.READER_DN, "--ldap-bindpw", L.READER_PW,
                    "--ldap-starttls", "--ldap-tls-cafile", other.ca_cert, flag])
                self.assertAggregates(d)
                d.close()

    def test_ldaps_with_the_test_ca(self):
        ca = L.TestCA(self)
        ldap = self.start_ldap(access="bind", tls=ca, require_tls=True)
        d = self.start_daemon(L.ldap_keys(ldap, tls_ca_file=ca.ca_cert, bind_dn=L.READER_DN,
                                          bind_password=L.READER_PW)
                              | {"server-uris": [ldap.ldaps_uri]}, max_countries=1)
        self.assertAggregates(d)
        self.assertIn("tls=ldaps", d.log_text())

    def test_ldaps_checks_the_ca_file_too(self):
        # The reference ignored the CA options for ldaps://.
        ca = L.TestCA(self)
        other = L.TestCA(self, name="another test CA")
        ldap = self.start_ldap(access="bind", tls=ca)
        d = self.start_daemon(L.ldap_keys(ldap, tls_ca_file=other.ca_cert, bind_dn=L.READER_DN,
                                          bind_password=L.READER_PW)
                              | {"server-uris": [ldap.ldaps_uri]})
        self.assertLookupFails(d, "connect (TLS): Can't contact LDAP server: TLS handshake failed")

    def test_missing_ca_file_refuses_to_start(self):
        ldap = self.start_ldap()
        with self.assertRaises(AssertionError) as cm:
            self.start_daemon(L.ldap_keys(ldap, starttls=True,
                                          tls_ca_file="/nonexistent/geopol-ca.pem"))
        self.assertIn("tls-ca-file /nonexistent/geopol-ca.pem: No such file or directory",
                      str(cm.exception))


class SaslExternalTest(SecurityTestCase):
    def test_client_certificate_over_starttls(self):
        ca = L.TestCA(self)
        ldap = self.start_ldap(access="bind", tls=ca, require_tls=True)
        d = self.start_daemon(L.ldap_keys(ldap, starttls=True, tls_ca_file=ca.ca_cert,
                                          tls_client_cert=ca.client_cert,
                                          tls_client_key=ca.client_key, sasl_external=True),
                              max_countries=1)
        self.assertAggregates(d)
        self.assertIn("bind=sasl-external", d.log_text())
        self.assertIn('BIND dn="cn=geopol-client" mech=EXTERNAL', ldap.log_text())

    def test_without_a_client_certificate_the_bind_fails(self):
        ca = L.TestCA(self)
        ldap = self.start_ldap(access="bind", tls=ca, require_tls=True)
        d = self.start_daemon(L.ldap_keys(ldap, starttls=True, tls_ca_file=ca.ca_cert,
                                          sasl_external=True))
        self.assertLookupFails(d, "SASL EXTERNAL bind", "the server saw no identity")

    def test_peer_credentials_over_ldapi(self):
        ldap = self.start_ldap(access="bind", ldapi=True)
        d = self.start_daemon({"server-uris": [ldap.ldapi_uri], "base-dn": L.BASE_DN,
                               "sasl-external": True}, max_countries=1)
        self.assertAggregates(d)
        self.assertIn(f'BIND dn="{L.PEERCRED_ROOT_DN}" mech=EXTERNAL', ldap.log_text())


if __name__ == "__main__":
    h.main()
