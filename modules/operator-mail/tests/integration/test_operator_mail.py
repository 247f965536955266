#!/usr/bin/env python3
"""operator-mail through the real geopold and a real SMTP server (aiosmtpd).

A block produces exactly one mail with the expected headers and body, also while the blocked
account keeps sending; templates (the reference's %s one included) and encodings; accounts
nobody confirmed; configuration errors; reload.
"""

import email.utils
import os
import re
import shutil
import tempfile
import time
import types

import geopol_harness as h
import smtp_harness as s

REJECT = "REJECT " + h.REJECT_TEXT


class OperatorMailTestCase(h.GeopolTestCase):
    def setUp(self):
        h.geopold_binary()
        h.geolite_city()
        s.require_aiosmtpd()
        self.tmp = tempfile.mkdtemp(prefix="geopol-om-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def write(self, name: str, content: str) -> str:
        path = os.path.join(self.tmp, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(content)
        return path

    def quiet(self, sink, seconds: float = 1.0):
        """Nothing more arrives for a while."""
        before = sink.count()
        time.sleep(seconds)
        self.assertEqual(sink.count(), before, "an unexpected extra mail arrived")


class OneMailPerBlock(OperatorMailTestCase):
    def test_a_block_sends_exactly_one_mail_with_headers_and_body(self):
        sink = s.start_sink(self)
        d = self.start_geopold(s.geopol_config(s.mail_section(sink)))
        c = self.connect(d)
        account = "alice@example.com"
        self.assertEqual(s.block_account(c, account), ["DUNNO", REJECT])
        # The account keeps trying from everywhere: rejected every time, mailed once.
        for country in ("DE", "US", "RU", "GB", "JP"):
            self.assertEqual(c.policy_request(sender=account, client_address=h.GEO_IPS[country]),
                             REJECT)
        [m] = sink.wait_for_messages(1)
        d.wait_for_log(r"operator_mail\.sent account=alice@example\.com")
        self.quiet(sink)
        self.assertEqual(len(d.log_text().split("operator_mail.queued")), 2,
                         "exactly one mail queued")

        # Envelope and session
        self.assertEqual(m.mail_from, "geopol@mx.geopol-test.invalid")
        self.assertEqual(m.rcpt_tos, ["ops@example.org"])
        self.assertEqual(m.helo, "mx.geopol-test.invalid")
        self.assertFalse(m.tls)

        # Headers
        msg = m.message
        self.assertEqual(msg["From"], "geopol@mx.geopol-test.invalid")
        self.assertEqual(msg["To"], "ops@example.org")
        self.assertEqual(msg["Subject"], "[geoip-policyd] An e-mail account was compromised")
        self.assertEqual(msg["MIME-Version"], "1.0")
        self.assertEqual(msg.get_content_type(), "text/plain")
        self.assertEqual(msg.get_content_charset(), "utf-8")
        self.assertEqual(msg["Content-Transfer-Encoding"], "quoted-printable")
        self.assertEqual(msg["Auto-Submitted"], "auto-generated")
        self.assertRegex(msg["Message-ID"], r"^<geopol\.\d+\.[0-9a-f]{16}@mx\.geopol-test\.invalid>$")
        sent_at = email.utils.parsedate_to_datetime(msg["Date"]).timestamp()
        self.assertLess(abs(sent_at - time.time()), 120)
        for line in m.raw_headers().split("\r\n"):
            self.assertLessEqual(len(line), 78, line)

        # Body: account, addresses, countries, reason, limits
        body = m.body
        self.assertIn("geopol has blocked the e-mail account alice@example.com", body)
        self.assertIn("seen from more foreign countries than allowed (2 > 1)", body)
        self.assertIn(h.GEO_IPS["US"], body)
        self.assertIn(h.GEO_IPS["GB"], body)
        countries = re.search(r"Countries seen: +(.*)", body).group(1)
        self.assertEqual(sorted(countries.split(", ")), ["GB", "US"])
        self.assertRegex(body, r"Reason: +countries")
        self.assertRegex(body, r"Foreign countries: +2 \(allowed 1\)")
        self.assertRegex(body, r"Blocked at: +\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
        self.assertRegex(body, r"Last client: +81\.2\.69\.142 \(country GB\)")

    def test_each_account_gets_its_own_mail(self):
        sink = s.start_sink(self)
        d = self.start_geopold(s.geopol_config(s.mail_section(sink)))
        c = self.connect(d)
        for account in ("a@example.com", "b@example.com", "c@example.com"):
            self.assertEqual(s.block_account(c, account), ["DUNNO", REJECT])
        self.assertEqual(c.policy_request(sender="fine@example.com",
                                          client_address=h.GEO_IPS["DE"]), "DUNNO")
        msgs = sink.wait_for_messages(3)
        self.quiet(sink)
        bodies = sorted(re.search(r"account (\S+):", m.body).group(1) for m in msgs)
        self.assertEqual(bodies, ["a@example.com", "b@example.com", "c@example.com"])

    def test_an_address_literal_as_helo(self):
        sink = s.start_sink(self)
        d = self.start_geopold(s.geopol_config(s.mail_section(sink, helo="[127.0.0.1]")))
        s.block_account(self.connect(d), "alice@example.com")
        [m] = sink.wait_for_messages(1)
        self.assertEqual(m.helo, "[127.0.0.1]")

    def test_the_reference_template_keeps_working(self):
        # geoip-policyd's mailtemplate.txt, plus a stray percent its printf would mangle.
        template = self.write("mailtemplate.txt",
                              "Hello,\n\nthe e-mail account sender=<%s> was compromised.\n"
                              "100% sure, 50%% of the time.\n\nPostmaster\n")
        sink = s.start_sink(self)
        d = self.start_geopold(s.geopol_config(s.mail_section(sink, template=template)))
        c = self.connect(d)
        s.block_account(c, "op@example.com")
        [m] = sink.wait_for_messages(1)
        self.assertEqual(m.body, "Hello,\n\nthe e-mail account sender=<op@example.com> was "
                                 "compromised.\n100% sure, 50% of the time.\n\nPostmaster\n")
        self.assertIn(b"sender=3D<op@example.com>", m.raw_body())

    def test_placeholders_utf8_subject_names_and_several_recipients(self):
        template = self.write("t.txt",
                              "Konto {account} ({identity}) gesperrt: {reason}.\n"
                              "Länder: {countries}; IPs: {ips}\n"
                              "Grenze {max_countries}, gezählt {countries_count}, {block}.\n"
                              ".Zeile mit Punkt\n{{account}} bleibt stehen.\n"
                              + "lang " * 30 + "\n")
        sink = s.start_sink(self)
        mail = s.mail_section(
            sink, template=template, subject="Konto {account} gesperrt – Prüfung nötig",
            to="\"Ops, Nacht\" <night@example.org>, Jürgen <day@example.org>",
            **{"from": "Geopol Wächter <geopol@mx.geopol-test.invalid>"})
        d = self.start_geopold(s.geopol_config(mail))
        c = self.connect(d)
        s.block_account(c, "Mixed.Case@Example.com", ("US", "JP"))
        [m] = sink.wait_for_messages(1)
        msg = m.message
        self.assertEqual(m.rcpt_tos, ["night@example.org", "day@example.org"])
        self.assertEqual(msg["Subject"], "Konto mixed.case@example.com gesperrt – Prüfung nötig")
        self.assertEqual(str(msg["From"]), "Geopol Wächter <geopol@mx.geopol-test.invalid>")
        self.assertEqual([a.addr_spec for a in msg["To"].addresses],
                         ["night@example.org", "day@example.org"])
        self.assertEqual(msg["To"].addresses[0].display_name, "Ops, Nacht")
        self.assertEqual(msg["To"].addresses[1].display_name, "Jürgen")
        self.assertNotIn("ü", m.raw_headers())  # encoded, not raw 8-bit
        body = m.body
        self.assertIn("Konto mixed.case@example.com (Mixed.Case@Example.com) gesperrt: countries.",
                      body)
        self.assertIn("Grenze 1, gezählt 2, temporary.", body)
        self.assertIn("\n.Zeile mit Punkt\n{account} bleibt stehen.\n", body)
        self.assertIn("lang " * 30, body)
        ips = re.search(r"IPs: (.*)", body).group(1)
        self.assertEqual(sorted(ips.split(", ")), sorted([h.GEO_IPS["US"], h.GEO_IPS["JP"]]))
        for line in m.raw_body().split(b"\r\n"):
            self.assertLessEqual(len(line), 76)
            self.assertTrue(all(b < 128 for b in line), line)

    def test_an_account_nobody_confirmed_gets_no_mail_by_default(self):
        sink = s.start_sink(self)
        d = self.start_geopold(s.geopol_config(s.mail_section(sink), force_user_known=False))
        c = self.connect(d)
        self.assertEqual(s.block_account(c, "alice@example.com"), ["DUNNO", REJECT])
        d.wait_for_log(r"operator_mail\.not_sent request=\d+ account=alice@example\.com: the "
                       r"account is not known")
        self.quiet(sink)
        self.assertEqual(sink.count(), 0)

    def test_only_known_accounts_off_mails_every_block(self):
        sink = s.start_sink(self)
        d = self.start_geopold(s.geopol_config(s.mail_section(sink, **{"only-known-accounts": False}),
                                               force_user_known=False))
        c = self.connect(d)
        s.block_account(c, "alice@example.com")
        sink.wait_for_messages(1)

    def test_reload_keeps_mailing(self):
        sink = s.start_sink(self)
        cfg = s.geopol_config(s.mail_section(sink))
        d = self.start_geopold(cfg)
        c = self.connect(d)
        s.block_account(c, "before@example.com")
        sink.wait_for_messages(1)
        cfg["modules"][-1]["subject"] = "after reload: {account}"
        d.reload(cfg)
        s.block_account(c, "after@example.com")
        msgs = sink.wait_for_messages(2)
        self.assertEqual(msgs[1].message["Subject"], "after reload: after@example.com")
        self.quiet(sink)


class Configuration(OperatorMailTestCase):
    def assertRefused(self, config, *patterns):
        d = h.Geopold(config, start=False)
        self.addCleanup(d.close)
        with self.assertRaises(AssertionError) as cm:
            d.start()
        for p in patterns:
            self.assertRegex(str(cm.exception), p)

    def test_a_template_with_an_unknown_placeholder_is_refused(self):
        template = self.write("bad.txt", "Hello\n{acount}\n")
        server = types.SimpleNamespace(host="127.0.0.1", port=25)
        self.assertRefused(s.geopol_config(s.mail_section(server, template=template)),
                           r"operator-mail\.template: .*bad\.txt: line 2: unknown placeholder "
                           r"\{acount\}")

    def test_a_missing_template_is_refused(self):
        self.assertRefused(s.geopol_config({"from": "a@example.org", "to": "b@example.org",
                                            "server-address": "127.0.0.1",
                                            "template": os.path.join(self.tmp, "missing.txt")}),
                           r"cannot read the template file .*missing\.txt")

    def test_missing_addresses_and_server_are_refused(self):
        self.assertRefused(s.geopol_config({}),
                           r"operator-mail\.from: must be set",
                           r"operator-mail\.to: must be set",
                           r"operator-mail\.server-address: must be set")


if __name__ == "__main__":
    h.main()
