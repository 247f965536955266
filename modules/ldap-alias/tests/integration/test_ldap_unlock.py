#!/usr/bin/env python3
"""The account-resolver service end to end: the REST unlock (rest-admin's POST /remove,
implemented by limits) translates an alias through ldap-alias and unlocks the account the
policy blocked, as the reference's POST /remove translates through LDAP.

Needs the rest-admin module in the build (a missing one fails, with the hint).
"""

import json
import os
import urllib.error
import urllib.request

import geopol_harness as h
import ldap_harness as L

DUNNO = "DUNNO"


def require_rest_admin() -> None:
    module_dir = os.environ.get("GEOPOL_MODULE_DIR", "")
    h.require_file(os.path.join(module_dir, "rest-admin", "rest-admin.so"),
                   "the rest-admin module (build it: it needs libcivetweb-dev)")


class UnlockTest(L.LdapTestCase):
    def setUp(self):
        super().setUp()
        require_rest_admin()

    def post_remove(self, port: int, sender: str) -> int:
        body = json.dumps({"key": "sender", "value": sender}).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{port}/remove", data=body,
                                     method="POST",
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status
        except urllib.error.HTTPError as e:
            return e.code

    def start_with_rest(self, ldap):
        port = h.free_port()
        cfg = L.geopold_config(L.ldap_keys(ldap), max_countries=1)
        cfg["modules"].append({"name": "rest-admin", "address": "127.0.0.1", "port": port})
        d = self.start_geopold(cfg)
        return d, port

    def test_unlocking_an_alias_unlocks_the_account(self):
        ldap = self.start_ldap()
        d, port = self.start_with_rest(ldap)
        c = self.connect(d)
        self.assertEqual(self.ask(c, L.ALIASES[0], "US"), DUNNO)
        self.assertEqual(self.ask(c, L.ALIASES[1], "GB"), L.REJECT)
        self.assertEqual(self.ask(c, L.ALIASES[0], "US"), L.REJECT)  # blocked
        # The other alias, in another spelling: the same account.
        self.assertEqual(self.post_remove(port, "Foo@Bar.ORG"), 202)
        self.wait_log(d, f"account={L.ACCOUNT}")
        self.assertIn(f"limits.unlocked sender=Foo@Bar.ORG account={L.ACCOUNT}", d.log_text())
        self.assertEqual(self.ask(c, L.ALIASES[0], "US"), DUNNO)

    def test_directory_down_unlock_fails_instead_of_unlocking_the_wrong_key(self):
        ldap = self.start_ldap()
        d, port = self.start_with_rest(ldap)
        c = self.connect(d)
        self.assertEqual(self.ask(c, L.USER2, "US"), DUNNO)
        self.assertEqual(self.ask(c, L.USER2, "GB"), L.REJECT)
        ldap.kill()
        # An identity the cache does not know: only the directory could translate it, and
        # unlocking the untranslated key would unlock nothing (or the wrong account).
        self.assertEqual(self.post_remove(port, "nobody-asked@example.com"), 503)
        ldap.start()
        self.assertEqual(self.post_remove(port, L.USER2), 202)
        self.assertEqual(self.ask(c, L.USER2, "US"), DUNNO)


if __name__ == "__main__":
    h.main()
