#!/usr/bin/env python3
"""user-cdb through the real geopold: known accounts from a CDB built with tinycdb's `cdb` tool.

What a user sees: with operator-mail on (the reference's flags, against a real SMTP sink), an
account listed in the CDB that becomes blocked brings exactly one mail to the operator, an
account not listed brings none. The module is switched on the reference's way, with
--use-cdb/--cdb-path or GEOIPPOLICYD_USE_CDB/GEOIPPOLICYD_CDB_PATH; the YAML has no user-cdb
entry. A missing file refuses the start; a damaged file on SIGHUP is refused and the old one
keeps serving; a good one replaces it; damage only a lookup finds answers DEFER.
"""

import os
import shutil
import subprocess
import tempfile
import time

import geopol_harness as h
import smtp_harness as s

REJECT = "REJECT " + h.REJECT_TEXT
DEFER = "DEFER Service temporarily not available"


def cdb_tool() -> str:
    path = shutil.which("cdb")
    if not path:
        raise h.PrerequisiteMissing(f"the cdb tool (Debian package tinycdb) is not installed: "
                                    f"{h.SETUP_HINT}")
    return path


def build_cdb(path: str, accounts) -> str:
    """`cdb -c -m`: one account per line, a value optional. cdb writes path.tmp and renames
    it over path, the way an admin replaces the file under a running geopold."""
    text = "".join(a + "\n" for a in accounts)
    r = subprocess.run([cdb_tool(), "-c", "-m", path], input=text.encode(),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    if r.returncode != 0:
        raise AssertionError(f"cdb -c -m {path} failed: {r.stdout.decode(errors='replace')}")
    return path


def cdb_hash(key: bytes) -> int:
    """The CDB format's hash (D. J. Bernstein's), as tinycdb computes it."""
    h32 = 5381
    for b in key:
        h32 = (((h32 << 5) + h32) & 0xFFFFFFFF) ^ b
    return h32


def break_slot_of(path: str, key: str) -> None:
    """Points the hash-table slot of `key` past the end of the file: the header stays sound
    (the file opens), but looking `key` up finds the damage."""
    with open(path, "rb") as f:
        data = bytearray(f.read())
    u32 = lambda at: int.from_bytes(data[at:at + 4], "little")  # noqa: E731
    hv = cdb_hash(key.encode())
    table, slots = u32((hv & 255) * 8), u32((hv & 255) * 8 + 4)
    for i in range(slots):
        slot = table + (((hv >> 8) % slots + i) % slots) * 8
        if u32(slot) == hv and u32(slot + 4) != 0:
            data[slot + 4:slot + 8] = (len(data) + 100).to_bytes(4, "little")
            tmp = path + ".broken"
            with open(tmp, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
            return
    raise AssertionError(f"no slot of {key} in {path}")


class UserCdbTestCase(h.GeopolTestCase):
    def setUp(self):
        h.geopold_binary()
        h.geolite_city()
        cdb_tool()
        s.require_aiosmtpd()
        self.tmp = tempfile.mkdtemp(prefix="geopol-cdb-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.cdb = os.path.join(self.tmp, "known-users.cdb")

    @staticmethod
    def base_config() -> dict:
        # geoip, memory-store, limits (max-countries 1); no user-cdb, no operator-mail entry,
        # and accounts are not known by default.
        return s.geopol_config(None, force_user_known=False)

    @staticmethod
    def mail_flags(sink) -> list:
        return ["--run-actions", "--run-action-operator",
                "--operator-to", "ops@example.org", "--operator-from", "geopol@example.org",
                "--mail-server-address", "127.0.0.1", "--mail-server-port", str(sink.port)]

    def start_with_flags(self, sink, extra=()):
        return self.start_geopold(self.base_config(),
                                  ["--use-cdb", "--cdb-path", self.cdb] + self.mail_flags(sink)
                                  + list(extra))

    def block(self, d, account):
        c = self.connect(d)
        self.assertEqual(s.block_account(c, account), ["DUNNO", REJECT])
        d.wait_for_log(r"(?i)sender=<%s>.*newly_blocked=yes" % account.replace(".", r"\."))


class ReferenceFlags(UserCdbTestCase):
    def test_a_listed_account_gets_one_mail_an_unlisted_one_none(self):
        build_cdb(self.cdb, ["alice@example.com 1", "carol@example.com"])
        sink = s.start_sink(self)
        d = self.start_with_flags(sink)
        d.wait_for_log(r"user-cdb\.opened path=%s bytes=\d+" % self.cdb)
        # The flags put user-cdb before the store, limits and operator-mail.
        d.wait_for_log(r"chain: geoip -> user-cdb -> memory-store -> limits -> operator-mail")

        self.block(d, "mallory@example.com")
        d.wait_for_log(r"operator_mail\.not_sent request=\d+ account=mallory@example\.com: "
                       r"the account is not known")
        self.block(d, "alice@example.com")
        [m] = sink.wait_for_messages(1)
        self.assertEqual(m.rcpt_tos, ["ops@example.org"])
        self.assertIn("alice@example.com", m.body)
        self.assertNotIn("mallory", m.body)
        time.sleep(1.0)
        self.assertEqual(sink.count(), 1, "exactly one mail: for alice, none for mallory")

    def test_the_account_is_looked_up_in_lower_case(self):
        # The core lower-cases the sender; the file is built in lower case.
        build_cdb(self.cdb, ["carol@example.com"])
        sink = s.start_sink(self)
        d = self.start_with_flags(sink)
        self.block(d, "Carol@Example.COM")
        [m] = sink.wait_for_messages(1)
        self.assertIn("carol@example.com", m.body)

    def test_the_environment_variables(self):
        build_cdb(self.cdb, ["alice@example.com"])
        sink = s.start_sink(self)
        d = self.start_geopold(self.base_config(), self.mail_flags(sink), env={
            "GEOIPPOLICYD_USE_CDB": "true",
            "GEOIPPOLICYD_CDB_PATH": self.cdb,
        })
        d.wait_for_log(r"user-cdb\.opened path=")
        self.block(d, "bob@example.com")
        d.wait_for_log(r"operator_mail\.not_sent request=\d+ account=bob@example\.com")
        self.block(d, "alice@example.com")
        [m] = sink.wait_for_messages(1)
        self.assertIn("alice@example.com", m.body)
        time.sleep(1.0)
        self.assertEqual(sink.count(), 1)

    def test_use_cdb_false_leaves_it_off(self):
        # --cdb-path alone, or GEOIPPOLICYD_USE_CDB=false, does not switch it on (the
        # reference read the path only with --use-cdb), so a missing file is no error.
        sink = s.start_sink(self)
        d = self.start_geopold(self.base_config(), ["--cdb-path", self.cdb] +
                               self.mail_flags(sink), env={"GEOIPPOLICYD_USE_CDB": "false"})
        self.assertNotIn("user-cdb.opened", d.log_text())
        self.block(d, "alice@example.com")
        d.wait_for_log(r"operator_mail\.not_sent request=\d+ account=alice@example\.com")
        self.assertEqual(sink.count(), 0)


class Failures(UserCdbTestCase):
    def test_a_missing_file_refuses_to_start_naming_it_and_the_fix(self):
        sink = s.start_sink(self)
        d = h.Geopold(self.base_config(), ["--use-cdb", "--cdb-path", self.cdb] +
                      self.mail_flags(sink), start=False)
        self.addCleanup(d.close)
        with self.assertRaises(AssertionError) as cm:
            d.start()
        text = str(cm.exception)
        self.assertIn(f"cannot open the known-users CDB {self.cdb}: No such file or directory; "
                      f"build it with `cdb -c -m {self.cdb} < accounts.txt`", text)
        self.assertIn("--cdb-path", text)

    def test_use_cdb_without_a_path_refuses_to_start(self):
        d = h.Geopold(self.base_config(), ["--use-cdb"], start=False)
        self.addCleanup(d.close)
        with self.assertRaises(AssertionError) as cm:
            d.start()
        self.assertRegex(str(cm.exception), r"user-cdb\.path: must name the CDB file of known "
                                            r"accounts \(--cdb-path, GEOIPPOLICYD_CDB_PATH\)")

    def test_a_damaged_file_on_sighup_is_refused_and_the_old_one_keeps_serving(self):
        build_cdb(self.cdb, ["alice@example.com"])
        sink = s.start_sink(self)
        d = self.start_with_flags(sink)
        # Replaced by rename, as it should be, but with a file cut short.
        with open(self.cdb, "rb") as f:
            data = f.read()
        with open(self.cdb + ".new", "wb") as f:
            f.write(data[:-5])
        os.replace(self.cdb + ".new", self.cdb)
        log = d.reload_expect_failure(d.config_text, log_pattern=r"reload refused")
        self.assertRegex(log, r"cannot open the known-users CDB .*: not a CDB file, or damaged "
                              r"or truncated")
        self.assertTrue(d.running())
        # The running chain still has the old mapping: alice is known, and mailed about.
        self.block(d, "alice@example.com")
        [m] = sink.wait_for_messages(1)
        self.assertIn("alice@example.com", m.body)

    def test_a_good_file_on_sighup_replaces_the_old_one(self):
        build_cdb(self.cdb, ["alice@example.com"])
        sink = s.start_sink(self)
        d = self.start_with_flags(sink)
        build_cdb(self.cdb, ["alice@example.com", "bob@example.com"])  # cdb -c renames
        d.reload()
        self.block(d, "bob@example.com")
        [m] = sink.wait_for_messages(1)
        self.assertIn("bob@example.com", m.body)

    def test_damage_found_by_a_lookup_answers_defer(self):
        build_cdb(self.cdb, ["alice@example.com", "bob@example.com"])
        break_slot_of(self.cdb, "alice@example.com")
        sink = s.start_sink(self)
        d = self.start_with_flags(sink)
        c = self.connect(d)
        self.assertEqual(c.policy_request(sender="alice@example.com",
                                          client_address=h.GEO_IPS["US"]), DEFER)
        d.wait_for_log(r"module user-cdb failed: lookup of alice@example\.com in the known-users "
                       r"CDB .* failed: the file is damaged")
        # Nothing was counted for alice; bob is unaffected.
        self.assertEqual(c.policy_request(sender="bob@example.com",
                                          client_address=h.GEO_IPS["US"]), "DUNNO")


if __name__ == "__main__":
    h.main()
