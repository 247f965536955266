#!/usr/bin/env python3
"""A real Postfix smtpd asks geopold (geoip + memory-store + limits) at RCPT time.

Clients pose as addresses around the world with XCLIENT; with --sasl-username the
XCLIENT LOGIN is the account, otherwise the envelope sender is.
"""

import re

import geopol_harness as h

US, GB, DE, RU = (h.GEO_IPS[c] for c in ("US", "GB", "DE", "RU"))
REJECTED = re.compile(r"^5\.7\.1 <[^>]+>: Recipient address rejected: "
                      + re.escape(h.REJECT_TEXT) + "$")


def geo_config(max_countries=3, max_ips=10, listen="inet:127.0.0.1:0"):
    return {
        "server": {"listen": [listen], "idle-timeout": "600s"},
        "log": {"level": "debug"},
        "modules": [
            {"name": "geoip", "database": h.geolite_city()},
            {"name": "memory-store", "state-file": "{dir}/state.json"},
            {"name": "limits", "max-countries": max_countries, "max-ips": max_ips},
        ],
    }


class PostfixTestCase(h.GeopolTestCase):
    def setUp(self):
        # Missing prerequisites fail here with a hint to run scripts/setup.
        h.geopold_binary()
        h.geolite_city()
        h.require_postfix()

    def assertAccepted(self, result, what=""):
        code, msg = result
        self.assertEqual(code, 250, f"{what}: {code} {msg}")

    def assertRejected(self, result, what=""):
        code, msg = result
        self.assertEqual(code, 554, f"{what}: {code} {msg}")
        self.assertRegex(msg, REJECTED, what)


class PostfixFrontTest(PostfixTestCase):
    def test_normal_account_is_accepted(self):
        d = self.start_geopold(geo_config())
        pf = self.start_postfix(d)
        for ip in (US, GB, US, US):
            self.assertAccepted(pf.try_rcpt(ip, "alice@example.com"), f"alice from {ip}")
        # Several recipients in one session, each asked about.
        s = pf.smtp_as(DE)
        self.addCleanup(s.close)
        for rcpt in ("a@example.org", "b@example.org", "c@example.org"):
            self.assertAccepted(pf.mail_rcpt(s, "bob@example.com", rcpt), rcpt)
        s.quit()

    def test_sasl_login_from_four_countries_is_rejected_and_stays_rejected(self):
        d = self.start_geopold(geo_config(max_countries=3), ["--sasl-username"])
        pf = self.start_postfix(d)
        sender = "newsletter@example.com"  # the envelope sender plays no part in this mode
        for ip in (US, GB, DE):
            self.assertAccepted(pf.try_rcpt(ip, sender, sasl_login="carol"), f"carol from {ip}")
        self.assertRejected(pf.try_rcpt(RU, sender, sasl_login="carol"), "carol's 4th country")
        # Sticky: known countries and a different sender are rejected too.
        self.assertRejected(pf.try_rcpt(US, sender, sasl_login="carol"), "carol from US again")
        self.assertRejected(pf.try_rcpt(GB, "other@example.com", sasl_login="carol"),
                            "carol with another sender")
        # Other accounts are unaffected, even with the same envelope sender and addresses.
        for ip in (RU, US, GB):
            self.assertAccepted(pf.try_rcpt(ip, sender, sasl_login="dave"), f"dave from {ip}")

    def test_envelope_sender_from_four_countries_is_rejected_and_stays_rejected(self):
        d = self.start_geopold(geo_config(max_countries=3))
        pf = self.start_postfix(d)
        for ip in (US, GB, DE):
            self.assertAccepted(pf.try_rcpt(ip, "erin@example.com"), f"erin from {ip}")
        self.assertRejected(pf.try_rcpt(RU, "erin@example.com"), "erin's 4th country")
        self.assertRejected(pf.try_rcpt(DE, "erin@example.com"), "erin from DE again")
        self.assertAccepted(pf.try_rcpt(RU, "frank@example.com"), "frank from RU")

    def test_every_recipient_of_a_blocked_account_is_rejected(self):
        d = self.start_geopold(geo_config(max_countries=3), ["--sasl-username"])
        pf = self.start_postfix(d)
        for ip in (US, GB, DE, RU):
            pf.try_rcpt(ip, "x@example.com", sasl_login="grace")
        s = pf.smtp_as(US, "grace")
        self.addCleanup(s.close)
        for rcpt in ("a@example.org", "b@example.org"):
            self.assertRejected(pf.mail_rcpt(s, "x@example.com", rcpt), rcpt)
        s.quit()

    def test_geopold_restart_on_same_port_while_postfix_holds_connections(self):
        port = h.free_port()
        listen = f"inet:127.0.0.1:{port}"
        d = self.start_geopold(geo_config(listen=listen))
        pf = self.start_postfix(d)
        self.assertAccepted(pf.try_rcpt(US, "heidi@example.com"), "before restart")
        # smtpd keeps its policy connection open; geopold must still stop at once ...
        self.assertEqual(d.stop(timeout=3.0), 0, d.log_tail())
        # ... and a new one must be able to bind the same port (SO_REUSEADDR) ...
        d2 = self.start_geopold(geo_config(listen=listen))
        self.assertEqual(d2.inet_address(), ("127.0.0.1", port))
        # ... and Postfix reconnects by itself.
        self.assertAccepted(pf.try_rcpt(US, "heidi@example.com"), "after restart")


if __name__ == "__main__":
    h.main()
