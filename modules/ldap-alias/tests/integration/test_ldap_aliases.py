#!/usr/bin/env python3
"""ldap-alias against a real slapd: aliases add up to one account, entryUUID as the key,
the injection attempt, not found, several values, scope, the cache, and the reference's
flags and variables.

Chain: geoip -> ldap-alias -> memory-store -> limits (max-countries 1 unless said
otherwise), so "the second country is rejected" shows which account a request counted for.
"""

import time

import geopol_harness as h
import ldap_harness as L

DUNNO = "DUNNO"


class AliasTest(L.LdapTestCase):
    def test_two_aliases_from_two_countries_add_up_to_one_account(self):
        ldap = self.start_ldap()
        d = self.start_daemon(L.ldap_keys(ldap), max_countries=1)
        c = self.connect(d)
        self.assertEqual(self.ask(c, L.ALIASES[0], "US"), DUNNO)
        # Another alias of the same mailbox, another country: the account's second country.
        self.assertEqual(self.ask(c, L.ALIASES[1], "GB"), L.REJECT)
        log = d.log_text()
        self.assertIn(f"sender=<{L.ACCOUNT}>; client_address={h.GEO_IPS['GB']}; country=GB", log)
        self.assertIn(f"ldap-alias.resolved request=", log)
        self.assertIn(f"identity={L.ALIASES[1]} account={L.ACCOUNT}", log)
        self.assertIn("ldap-alias.server_up server=" + ldap.uri, log)
        # Once blocked, every alias of the account is blocked.
        self.assertEqual(self.ask(c, L.ALIASES[0], "US"), L.REJECT)
        # Another account is not affected.
        self.assertEqual(self.ask(c, L.USER2, "GB"), DUNNO)

    def test_without_the_module_aliases_count_separately(self):
        # The control for the test above: the reference's regression, where the resolved
        # account was ignored, behaves like this.
        self.start_ldap()
        d = self.start_daemon(None, max_countries=1)
        c = self.connect(d)
        self.assertEqual(self.ask(c, L.ALIASES[0], "US"), DUNNO)
        self.assertEqual(self.ask(c, L.ALIASES[1], "GB"), DUNNO)

    def test_sender_case_does_not_matter(self):
        ldap = self.start_ldap()
        d = self.start_daemon(L.ldap_keys(ldap), max_countries=1)
        c = self.connect(d)
        self.assertEqual(self.ask(c, "Foo@Bar.ORG", "US"), DUNNO)
        self.assertEqual(self.ask(c, "USER1@example.com", "GB"), L.REJECT)

    def test_the_resolved_value_is_lower_cased(self):
        ldap = self.start_ldap()
        d = self.start_daemon(L.ldap_keys(ldap))
        c = self.connect(d)
        self.assertEqual(self.ask(c, L.MIXED), DUNNO)
        self.assertIn(f"sender=<{L.MIXED_CASE_ACCOUNT.lower()}>", d.log_text())

    def test_entry_uuid_as_the_account_key(self):
        ldap = self.start_ldap()
        d = self.start_daemon(L.ldap_keys(ldap, result_attribute="entryUUID"), max_countries=1)
        c = self.connect(d)
        self.assertEqual(self.ask(c, L.ALIASES[1], "DE"), DUNNO)
        self.assertEqual(self.ask(c, L.ALIASES[0], "JP"), L.REJECT)
        log = d.log_text()
        self.assertIn(f"sender=<{L.USER1_UUID}>; client_address={h.GEO_IPS['JP']}", log)
        self.assertNotIn(f"sender=<{L.ACCOUNT}>", log)

    def test_sasl_login_is_resolved_when_it_is_the_identity(self):
        ldap = self.start_ldap()
        d = self.start_daemon(L.ldap_keys(ldap), args=["--sasl-username"], max_countries=1)
        c = self.connect(d)
        self.assertEqual(self.ask(c, "whatever@example.net", "US", sasl_username=L.ALIASES[0]),
                         DUNNO)
        self.assertEqual(self.ask(c, "other@example.net", "AU", sasl_username=L.ALIASES[1]),
                         L.REJECT)

    def test_null_sender_asks_nothing(self):
        ldap = self.start_ldap()
        d = self.start_daemon(L.ldap_keys(ldap))
        c = self.connect(d)
        before = ldap.search_count()
        self.assertEqual(self.ask(c, ""), DUNNO)
        self.assertEqual(ldap.search_count(), before)
        self.assertNotIn("ldap-alias.lookup", d.log_text())


class WorkersTest(L.LdapTestCase):
    def test_each_worker_resolves_and_the_account_is_shared(self):
        # server.workers: every worker loop has its own ldap-alias instance (cache, pool);
        # the store is shared, so aliases arriving on different workers still add up.
        ldap = self.start_ldap()
        cfg = L.geopold_config(L.ldap_keys(ldap), max_countries=3)
        cfg["server"]["workers"] = 3
        d = self.start_geopold(cfg)
        self.assertEqual(self.count(d, "ldap-alias.started"), 3)
        clients = [self.connect(d) for _ in range(24)]
        for i, c in enumerate(clients):
            self.assertEqual(self.ask(c, L.ALIASES[i % 2], "US"), DUNNO)
        answers = [clients[k].policy_request(sender=L.ALIASES[k % 2],
                                             client_address=h.GEO_IPS[cc])
                   for k, cc in zip((1, 8, 15, 22), ("GB", "DE", "RU", "JP"))]
        self.assertEqual(answers, [DUNNO, DUNNO, L.REJECT, L.REJECT])
        self.assertGreater(self.count(d, f"sender=<{L.ACCOUNT}>"), 24)


class NotFoundTest(L.LdapTestCase):
    def test_not_found_counts_the_sender_unchanged(self):
        ldap = self.start_ldap()
        d = self.start_daemon(L.ldap_keys(ldap), max_countries=1)
        c = self.connect(d)
        self.assertEqual(self.ask(c, "Stranger@Example.com", "US"), DUNNO)
        self.assertEqual(self.ask(c, "stranger@example.com", "GB"), L.REJECT)
        log = d.log_text()
        self.assertIn("ldap-alias.not_found request=", log)
        self.assertIn("identity=stranger@example.com action=keep", log)
        self.assertIn("sender=<stranger@example.com>; client_address=" + h.GEO_IPS["GB"], log)
        # An entry without the result attribute is "not found" as well.
        self.assertEqual(self.ask(c, L.NO_ACCOUNT, "US"), DUNNO)
        self.assertEqual(self.ask(c, L.NO_ACCOUNT, "GB"), L.REJECT)
        self.assertIn(f"sender=<{L.NO_ACCOUNT}>", d.log_text())

    def test_not_found_action(self):
        ldap = self.start_ldap()
        d = self.start_daemon(L.ldap_keys(ldap, not_found="REJECT Unknown sender address"))
        c = self.connect(d)
        self.assertEqual(self.ask(c, "stranger@example.com"), "REJECT Unknown sender address")
        self.assertEqual(self.ask(c, L.ALIASES[0]), DUNNO)
        self.assertIn('ldap-alias.not_found request=', d.log_text())
        self.assertIn('identity=stranger@example.com action="REJECT Unknown sender address"',
                      d.log_text())
        # From the cache, the same answer.
        self.assertEqual(self.ask(c, "stranger@example.com"), "REJECT Unknown sender address")

    def test_a_missing_base_dn_is_not_found(self):
        # slapd answers 32 (no such object): not found, as in the reference.
        ldap = self.start_ldap()
        d = self.start_daemon(L.ldap_keys(ldap, base_dn="ou=nowhere," + L.BASE_DN),
                              max_countries=1)
        c = self.connect(d)
        self.assertEqual(self.ask(c, L.ALIASES[0], "US"), DUNNO)
        self.assertEqual(self.ask(c, L.ALIASES[1], "GB"), DUNNO)
        self.assertIn("action=keep", d.log_text())


class InjectionTest(L.LdapTestCase):
    def test_filter_syntax_in_the_sender_is_only_a_value(self):
        ldap = self.start_ldap()
        d = self.start_daemon(L.ldap_keys(ldap), max_countries=1)
        c = self.connect(d)
        # Unescaped, this would be (&(objectClass=*)(mailAlias=*)(uid=*)): every entry, and the
        # first one's account. Escaped, it finds the one entry whose alias is this very text.
        self.assertEqual(self.ask(c, L.STAR_ALIAS, "US"), DUNNO)
        log = d.log_text()
        self.assertIn(f"account={L.STAR_ACCOUNT}", log)
        self.assertIn(r'filter="(&(objectClass=*)(mailAlias=\2A\29\28uid=\2A))"', ldap.log_text())

        # "*" alone matches nothing: not found, counted as itself.
        self.assertEqual(self.ask(c, "*", "US"), DUNNO)
        self.assertIn("identity=* action=keep", d.log_text())
        self.assertIn(r'filter="(&(objectClass=*)(mailAlias=\2A))"', ldap.log_text())
        # ... and so it did not land on user1's account: its first country is still free.
        self.assertEqual(self.ask(c, L.ALIASES[0], "GB"), DUNNO)

    def test_a_sender_cannot_widen_the_filter_with_or(self):
        ldap = self.start_ldap()
        d = self.start_daemon(L.ldap_keys(ldap))
        c = self.connect(d)
        sender = "x)(|(mailAlias=*"
        self.assertEqual(self.ask(c, sender), DUNNO)
        self.assertIn(f"identity={sender.lower()} action=keep", d.log_text())


class MultipleValuesTest(L.LdapTestCase):
    def test_first_value_by_default(self):
        ldap = self.start_ldap()
        d = self.start_daemon(L.ldap_keys(ldap))
        c = self.connect(d)
        self.assertEqual(self.ask(c, L.MULTI), DUNNO)
        log = d.log_text()
        self.assertIn(f"ldap-alias.multiple_values identity={L.MULTI} entries=1 "
                      f"values=[{', '.join(L.MULTI_VALUES)}] chose={L.MULTI_VALUES[0]} "
                      f"policy=first", log)
        self.assertIn(f"sender=<{L.MULTI_VALUES[0]}>", log)
        # An alias on two entries: one of their accounts, logged the same way.
        self.assertEqual(self.ask(c, L.SHARED), DUNNO)
        self.assertIn(f"ldap-alias.multiple_values identity={L.SHARED} entries=2", d.log_text())

    def test_lowest_value(self):
        ldap = self.start_ldap()
        d = self.start_daemon(L.ldap_keys(ldap, multiple_values="lowest"))
        c = self.connect(d)
        self.assertEqual(self.ask(c, L.MULTI), DUNNO)
        self.assertIn(f"sender=<{min(L.MULTI_VALUES)}>", d.log_text())
        self.assertEqual(self.ask(c, L.SHARED), DUNNO)
        self.assertIn("sender=<shared-a@account.net>", d.log_text())

    def test_fail_gives_the_failure_action(self):
        ldap = self.start_ldap()
        d = self.start_daemon(L.ldap_keys(ldap, multiple_values="fail"))
        c = self.connect(d)
        self.assertEqual(self.ask(c, L.MULTI), L.DEFER_DEFAULT)
        self.assertIn("policy=fail", d.log_text())
        self.assertEqual(self.ask(c, L.ALIASES[0]), DUNNO)


class ScopeTest(L.LdapTestCase):
    def test_scopes(self):
        ldap = self.start_ldap()
        cases = [
            ("one", L.PEOPLE_DN, True),
            ("one", L.BASE_DN, False),  # the entries are two levels down
            ("base", L.BASE_DN, False),
            ("base", f"uid=user1,{L.PEOPLE_DN}", True),
            ("sub", L.BASE_DN, True),
        ]
        for scope, base, found in cases:
            with self.subTest(scope=scope, base=base):
                d = self.start_daemon(L.ldap_keys(ldap, scope=scope, base_dn=base))
                with d.client() as c:
                    self.assertEqual(self.ask(c, L.ALIASES[0]), DUNNO)
                expect = f"sender=<{L.ACCOUNT}>" if found else f"sender=<{L.ALIASES[0]}>"
                self.assertIn(expect, d.log_text())
                d.close()


class CacheTest(L.LdapTestCase):
    def test_a_busy_account_costs_one_search_per_ttl(self):
        ldap = self.start_ldap()
        d = self.start_daemon(L.ldap_keys(ldap, cache_ttl="300s"))
        c = self.connect(d)
        before = ldap.search_count()
        for _ in range(10):
            self.assertEqual(self.ask(c, L.ALIASES[1]), DUNNO)
        self.assertEqual(ldap.search_count() - before, 1)
        self.assertEqual(self.count(d, "(cached)"), 9)
        # Not found is cached too (cache-negative-ttl).
        for _ in range(3):
            self.assertEqual(self.ask(c, "nobody@example.com"), DUNNO)
        self.assertEqual(ldap.search_count() - before, 2)

    def test_expiry_and_no_cache(self):
        ldap = self.start_ldap()
        d = self.start_daemon(L.ldap_keys(ldap, cache_ttl="1s", cache_negative_ttl="0"))
        c = self.connect(d)
        before = ldap.search_count()
        self.assertEqual(self.ask(c, L.ALIASES[1]), DUNNO)
        self.assertEqual(self.ask(c, L.ALIASES[1]), DUNNO)
        self.assertEqual(ldap.search_count() - before, 1)
        time.sleep(1.1)
        self.assertEqual(self.ask(c, L.ALIASES[1]), DUNNO)
        self.assertEqual(ldap.search_count() - before, 2)
        # cache-negative-ttl 0: every "not found" asks again.
        self.assertEqual(self.ask(c, "nobody@example.com"), DUNNO)
        self.assertEqual(self.ask(c, "nobody@example.com"), DUNNO)
        self.assertEqual(ldap.search_count() - before, 4)

        d2 = self.start_daemon(L.ldap_keys(ldap, cache_size=0))
        c2 = self.connect(d2)
        before = ldap.search_count()
        for _ in range(3):
            self.assertEqual(self.ask(c2, L.ALIASES[0]), DUNNO)
        self.assertEqual(ldap.search_count() - before, 3)


class ReferenceFlagsTest(L.LdapTestCase):
    def test_flags_enable_and_configure_the_module(self):
        ldap = self.start_ldap()
        # No ldap-alias in the YAML: --use-ldap adds it after geoip.
        d = self.start_daemon(None, max_countries=1, args=[
            "--use-ldap", "--ldap-server-uri", ldap.uri, "--ldap-basedn", L.BASE_DN,
            "--ldap-filter", "(&(objectClass=geopolMailUser)(mailAlias=%s))",
            "--ldap-result-attribute", "mailAccount", "--ldap-scope", "sub",
            "--ldap-idle-pool-size", "1", "--ldap-pool-size", "2"])
        c = self.connect(d)
        self.assertEqual(self.ask(c, L.ALIASES[0], "US"), DUNNO)
        self.assertEqual(self.ask(c, L.ALIASES[1], "GB"), L.REJECT)
        self.assertIn("ldap-alias.started servers=[" + ldap.uri + "]", d.log_text())
        self.assertIn("pool=1/2", d.log_text())

    def test_comma_separated_variable_and_failover(self):
        ldap = self.start_ldap()
        dead = f"ldap://127.0.0.1:{h.free_port()}/"
        d = self.start_daemon(None, max_countries=1, env={
            "GEOIPPOLICYD_USE_LDAP": "true",
            "GEOIPPOLICYD_LDAP_SERVER_URIS": f"{dead}, {ldap.uri}",
            "GEOIPPOLICYD_LDAP_BASEDN": L.BASE_DN,
        })
        c = self.connect(d)
        self.assertEqual(self.ask(c, L.ALIASES[0], "US"), DUNNO)
        self.assertEqual(self.ask(c, L.ALIASES[1], "GB"), L.REJECT)
        log = d.log_text()
        self.assertIn(f"ldap-alias.started servers=[{dead}, {ldap.uri}]", log)
        self.assertIn(f"ldap-alias.connected server={ldap.uri} after: {dead}", log)
        self.assertNotIn("ldap-alias.server_down", log)

    def test_use_ldap_false_leaves_the_module_out(self):
        ldap = self.start_ldap()
        d = self.start_daemon(L.ldap_keys(ldap), max_countries=1,
                              env={"GEOIPPOLICYD_USE_LDAP": "false"})
        c = self.connect(d)
        self.assertEqual(self.ask(c, L.ALIASES[0], "US"), DUNNO)
        self.assertEqual(self.ask(c, L.ALIASES[1], "GB"), DUNNO)
        self.assertNotIn("ldap-alias.started", d.log_text())


if __name__ == "__main__":
    h.main()
