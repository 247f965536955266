#!/usr/bin/env python3
"""The decision end to end: the real geopold with geoip (real GeoLite2), memory-store and
limits, asked over the policy protocol the way Postfix asks.

What an admin checks: when exactly an account is rejected, that it stays rejected, that home
countries and custom settings change the limits, that a SIGHUP picks up a changed custom
settings file, and that a restart keeps what was seen.
"""

import json
import re
import os
import shutil
import tempfile

import geopol_harness as h

US, GB, DE, RU, JP = (h.GEO_IPS[c] for c in ("US", "GB", "DE", "RU", "JP"))
REJECT = "REJECT " + h.REJECT_TEXT
# Distinct public addresses that GeoLite2 places in the US (checked with mmdblookup).
US_IPS = ["8.8.8.8", "8.8.4.4", "8.8.1.1", "8.8.2.2", "8.8.3.3", "8.8.5.5", "8.8.6.6",
          "8.8.7.7", "8.8.9.9", "8.8.10.10", "8.8.11.11", "8.8.12.12"]
DE_IPS = ["217.160.0.1", "193.99.144.80", "217.160.0.2", "217.160.0.3"]


def config(limits=None, store=None, geoip=None, level="info"):
    return {
        "server": {"listen": ["inet:127.0.0.1:0"]},
        "log": {"level": level},
        "modules": [
            {"name": "geoip", "database": h.geolite_city(), **(geoip or {})},
            {"name": "memory-store", "state-file": "", **(store or {})},
            {"name": "limits", **(limits or {})},
        ],
    }


class DecisionTest(h.GeopolTestCase):
    def setUp(self):
        h.geopold_binary()
        h.geolite_city()

    def ask(self, client, sender, ip, **extra):
        return client.policy_request(sender=sender, client_address=ip, **extra)

    def test_fourth_country_is_rejected_and_the_account_stays_rejected(self):
        d = self.start_geopold(config())
        c = self.connect(d)
        for ip in (US, GB, DE):
            self.assertEqual(self.ask(c, "alice@example.com", ip), "DUNNO", ip)
        self.assertEqual(self.ask(c, "alice@example.com", RU), REJECT)
        # Blocked: also from a country seen before, and from a new IP at home.
        self.assertEqual(self.ask(c, "alice@example.com", US), REJECT)
        self.assertEqual(self.ask(c, "Alice@Example.COM", GB), REJECT, "case-insensitive")
        # Other accounts are not affected.
        self.assertEqual(self.ask(c, "bob@example.com", RU), "DUNNO")
        log = d.wait_for_log(r"sender=<alice@example\.com>; client_address=77\.88\.55\.60; "
                             r"country=RU; .*#countries=4/3; .*action=" + REJECT)
        self.assertIn("reason=countries", log)

    def test_eleventh_ip_is_rejected(self):
        d = self.start_geopold(config())
        c = self.connect(d)
        for ip in US_IPS[:10]:
            self.assertEqual(self.ask(c, "carol@example.com", ip), "DUNNO", ip)
        self.assertEqual(self.ask(c, "carol@example.com", US_IPS[10]), REJECT)
        d.wait_for_log(r"sender=<carol@example\.com>.*#ip_addresses=11/10")

    def test_same_ip_again_counts_once(self):
        d = self.start_geopold(config({"max-ips": 1}))
        c = self.connect(d)
        for _ in range(5):
            self.assertEqual(self.ask(c, "dave@example.com", US), "DUNNO")

    def test_home_countries_have_their_own_limits(self):
        d = self.start_geopold(config({"max-countries": 1, "home-countries": ["de"],
                                       "max-home-ips": 2}))
        c = self.connect(d)
        # Home (DE) does not use up the foreign budget of one country.
        self.assertEqual(self.ask(c, "erin@example.com", DE_IPS[0]), "DUNNO")
        self.assertEqual(self.ask(c, "erin@example.com", US), "DUNNO")
        self.assertEqual(self.ask(c, "erin@example.com", GB), REJECT, "second foreign country")
        # Home IPs: two allowed, the third rejects.
        self.assertEqual(self.ask(c, "frank@example.com", DE_IPS[0]), "DUNNO")
        self.assertEqual(self.ask(c, "frank@example.com", DE_IPS[1]), "DUNNO")
        self.assertEqual(self.ask(c, "frank@example.com", DE_IPS[2]), REJECT, "third home IP")

    def test_reference_flags_override_the_yaml(self):
        d = self.start_geopold(config({"max-countries": 5}), ["--max-countries", "1"])
        c = self.connect(d)
        self.assertEqual(self.ask(c, "gina@example.com", US), "DUNNO")
        self.assertEqual(self.ask(c, "gina@example.com", GB), REJECT)

    def test_custom_settings_first_match_wins_and_sighup_picks_up_changes(self):
        tmp = tempfile.mkdtemp(prefix="geopol-custom-")
        self.addCleanup(shutil.rmtree, tmp, True)
        path = os.path.join(tmp, "custom.json")

        def write(entries):
            with open(path + ".new", "w") as f:
                json.dump({"data": entries}, f)
            os.replace(path + ".new", path)

        write([
            {"comment": "first", "sender": "Henry@Example.com", "countries": 1},
            {"comment": "ignored duplicate", "sender": "henry@example.com", "countries": 9},
            {"sender": "ida@example.com", "ips": 2},
        ])
        d = self.start_geopold(config({"custom-settings": path}))
        c = self.connect(d)
        self.assertEqual(self.ask(c, "henry@example.com", US), "DUNNO")
        self.assertEqual(self.ask(c, "henry@example.com", GB), REJECT, "first entry: 1 country")
        self.assertEqual(self.ask(c, "ida@example.com", US_IPS[0]), "DUNNO")
        self.assertEqual(self.ask(c, "ida@example.com", US_IPS[1]), "DUNNO")
        # Unchanged defaults for everyone else.
        for ip in (US, GB, DE):
            self.assertEqual(self.ask(c, "jack@example.com", ip), "DUNNO")

        write([{"sender": "ida@example.com", "ips": 5}])
        d.reload()
        # The open connection keeps working and sees the new limit.
        self.assertEqual(self.ask(c, "ida@example.com", US_IPS[2]), "DUNNO")
        self.assertEqual(self.ask(c, "ida@example.com", US_IPS[3]), "DUNNO")

        # A broken file is refused; the running settings stay.
        with open(path, "w") as f:
            f.write('{"data": [{"sender": "ida@example.com", "ips": "five"}]}')
        d.signal(h.signal.SIGHUP)
        d.wait_for_log(r"reload refused")
        self.assertEqual(self.ask(c, "ida@example.com", US_IPS[4]), "DUNNO")
        self.assertEqual(self.ask(c, "ida@example.com", US_IPS[5]), REJECT, "6 IPs > 5")

    def test_a_restart_keeps_what_was_seen_and_who_is_blocked(self):
        tmp = tempfile.mkdtemp(prefix="geopol-state-")
        self.addCleanup(shutil.rmtree, tmp, True)
        state = os.path.join(tmp, "state.json")
        cfg = config(store={"state-file": state})

        d = self.start_geopold(cfg)
        c = self.connect(d)
        for ip in (US, GB, DE):
            self.assertEqual(self.ask(c, "kim@example.com", ip), "DUNNO")
        for ip in (US, GB, DE, RU):
            self.ask(c, "lee@example.com", ip)  # lee is blocked by the 4th
        c.close()
        self.assertEqual(d.stop(), 0)
        self.assertTrue(os.path.exists(state), "the state file is written on shutdown")

        d2 = self.start_geopold(cfg)
        c2 = self.connect(d2)
        self.assertEqual(self.ask(c2, "kim@example.com", RU), REJECT, "kim's 3 countries kept")
        self.assertEqual(self.ask(c2, "lee@example.com", US), REJECT, "lee is still blocked")
        self.assertEqual(self.ask(c2, "max@example.com", US), "DUNNO")

    def test_null_sender_is_answered_dunno_and_not_counted(self):
        d = self.start_geopold(config({"max-ips": 0}))
        c = self.connect(d)
        # Bounces (MAIL FROM:<>) from anywhere must never be tempfailed.
        for ip in (US, GB, DE, RU):
            self.assertEqual(self.ask(c, "", ip), "DUNNO")
        # With --sasl-username, an unauthenticated client has no identity either.
        d2 = self.start_geopold(config({"max-ips": 0}), ["--sasl-username"])
        c2 = self.connect(d2)
        self.assertEqual(c2.policy_request(sender="x@example.com", client_address=US,
                                           sasl_username=""), "DUNNO")
        self.assertEqual(c2.policy_request(sender="x@example.com", client_address=US,
                                           sasl_username="nina"), REJECT, "max-ips 0")

    def test_ipv6_clients_count_per_64_and_unplaceable_clients_never_as_a_country(self):
        d = self.start_geopold(config({"max-ips": 1, "max-countries": 0}))
        c = self.connect(d)
        # Private and loopback clients: counted as IPs, never as a (new) country.
        self.assertEqual(self.ask(c, "olga@example.com", "10.1.2.3"), "DUNNO")
        self.assertEqual(self.ask(c, "olga@example.com", "::ffff:10.1.2.3"), "DUNNO",
                         "the same address, v4-mapped")
        self.assertEqual(self.ask(c, "olga@example.com", "127.0.0.1"), REJECT, "2nd IP > 1")

        d2 = self.start_geopold(config({"max-ips": 1}))
        c2 = self.connect(d2)
        self.assertEqual(self.ask(c2, "paul@example.com", "2a00:1450:4001:80b::200e"), "DUNNO")
        self.assertEqual(self.ask(c2, "paul@example.com", "2a00:1450:4001:80b:1:2:3:4"),
                         "DUNNO", "same /64")
        self.assertEqual(self.ask(c2, "paul@example.com", "2a00:1450:4001:80c::1"), REJECT,
                         "another /64")
        # "unknown" (no reverse lookup text, garbage) is not an address: never counted.
        for _ in range(3):
            self.assertEqual(self.ask(c2, "quinn@example.com", "unknown"), "DUNNO")

    def test_decision_lines_as_json(self):
        d = self.start_geopold(config(), ["--log-json", "-v"])
        c = self.connect(d)
        self.assertEqual(self.ask(c, "tom@example.com", GB), "DUNNO")
        line = d.wait_for_log(r'"decision":\{"sender":"tom@example\.com"')
        for raw in d.log_text().splitlines():
            if '"decision":' in raw and "tom@example.com" in raw:
                record = json.loads(raw)
                break
        else:
            self.fail("no JSON decision line: " + line)
        self.assertEqual(record["level"], "info")
        decision = record["decision"]
        self.assertEqual(decision["client_address"], GB)
        self.assertEqual(decision["country"], "GB")
        self.assertEqual(decision["countries"], ["GB"])
        self.assertEqual(decision["countries_count"], 1)
        self.assertEqual(decision["max_countries"], 3)
        self.assertEqual(decision["action"], "DUNNO")
        # Every line is JSON, the start-up lines too.
        for raw in d.log_text().splitlines():
            json.loads(raw)

    def test_decision_lines_with_the_reference_keys(self):
        # log.decision-format: reference gives geoip-policyd 1.0.10's logfmt keys, in its
        # order, so searches built on them keep working (its example line, shared/reference).
        tmp = tempfile.mkdtemp(prefix="geopol-custom-")
        self.addCleanup(shutil.rmtree, tmp, True)
        custom = os.path.join(tmp, "custom.json")
        with open(custom, "w") as f:
            json.dump({"data": [{"sender": "t@example.com", "trusted_countries": ["us", "gb"],
                                 "trusted_ips": ["8.8.8.0/24"]}]}, f)
        cfg = config({"max-countries": 2, "home-countries": ["AT"], "custom-settings": custom})
        cfg["log"]["decision-format"] = "reference"
        d = self.start_geopold(cfg)
        c = self.connect(d)
        self.assertEqual(self.ask(c, "b@example.com", US), "DUNNO")
        self.assertEqual(self.ask(c, "b@example.com", GB), "DUNNO")
        self.assertEqual(self.ask(c, "b@example.com", DE), REJECT)
        self.assertEqual(self.ask(c, "t@example.com", US), "DUNNO")

        lines = [l for l in d.log_text().splitlines() if "[decision]" in l]
        self.assertEqual(len(lines), 4, lines)
        first = lines[0].split("[decision] ", 1)[1]
        self.assertRegex(first, r"^guid=[0-9A-Za-z]{27} sender=b@example\.com "
                         r"current_client_ip=8\.8\.8\.8 current_country_code=US "
                         r"foreign_countries_seen=US home_countries_seen=N/A "
                         r"home_countries_defined=AT trusted_countries_defined=N/A "
                         r"total_countries=1 allowed_max_foreign_countries=2 "
                         r"allowed_max_home_countries=3 foreign_ips_seen=8\.8\.8\.8 "
                         r"home_ips_seen=N/A trusted_ips_defined=N/A total_ips=1 "
                         r"allowed_max_foreign_ips=10 allowed_max_home_ips=10 action=ok$")
        third = lines[2].split("[decision] ", 1)[1]
        m = re.search(r"foreign_countries_seen=(\S+) .* total_countries=3 .*"
                      r" foreign_ips_seen=(\S+) .* total_ips=3 .*"
                      r'action="Policy violation\. Please contact your support"$', third)
        self.assertIsNotNone(m, third)
        self.assertEqual(sorted(m.group(1).split(",")), ["DE", "GB", "US"])
        self.assertEqual(sorted(m.group(2).split(",")), sorted([US, GB, DE]))
        self.assertIn(" current_country_code=DE ", third)
        self.assertRegex(lines[3], r"sender=t@example\.com .*trusted_countries_defined=US,GB "
                                   r".*trusted_ips_defined=8\.8\.8\.0/24 ")
        guids = {re.search(r"guid=(\S+)", l).group(1) for l in lines}
        self.assertEqual(len(guids), 4, "a guid per request")

        # The same keys as one JSON object per line (--log-json), numbers as numbers.
        d2 = self.start_geopold(cfg, ["--log-json", "--sasl-username"])
        c2 = self.connect(d2)
        self.assertEqual(self.ask(c2, "sasl@example.com", GB, sasl_username="u1"), "DUNNO")
        d2.wait_for_log(r'"decision":\{"guid"')
        record = next(json.loads(l) for l in d2.log_text().splitlines() if '"decision":' in l)
        decision = record["decision"]
        self.assertEqual(list(decision)[:4], ["guid", "sasl_username", "current_client_ip",
                                              "current_country_code"])
        self.assertEqual(decision["sasl_username"], "u1")
        self.assertEqual(decision["current_country_code"], "GB")
        self.assertEqual(decision["total_countries"], 1)
        self.assertEqual(decision["home_ips_seen"], "N/A")
        self.assertEqual(decision["action"], "ok")

    def test_ignore_networks_get_the_reference_reply_and_are_not_counted(self):
        d = self.start_geopold(config({"max-ips": 0}, geoip={"ignore-networks": ["192.0.2.0/24"]}))
        c = self.connect(d)
        self.assertEqual(self.ask(c, "ruth@example.com", "192.0.2.55"),
                         "INFO Client IP address 192.0.2.55 is defined in ignore-networks")
        d2 = self.start_geopold(config({"max-ips": 1}), ["--ignore-network", "8.8.8.0/24"])
        c2 = self.connect(d2)
        for _ in range(2):
            self.assertTrue(self.ask(c2, "sam@example.com", "8.8.8.8").startswith("INFO "))
        self.assertEqual(self.ask(c2, "sam@example.com", GB), "DUNNO", "nothing was counted")


if __name__ == "__main__":
    h.main()
