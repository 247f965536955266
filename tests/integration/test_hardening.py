#!/usr/bin/env python3
"""Least privilege and failures of the GeoIP database, through the real geopold.

What an admin checks: started as root, geopold serves as the configured user; it refuses to
pretend when it cannot switch; a corrupt GeoIP file on reload is refused while the old one
keeps serving, and so is one that the periodic check finds (a good one is taken without a
reload); a client that trickles a request is cut off, logged and counted.
"""

import os
import pwd
import shutil
import socket
import time

import geopol_harness as h

US = h.GEO_IPS["US"]


def config(db, geoip=None, **server):
    return {
        "server": {"listen": ["inet:127.0.0.1:0", "unix:{dir}/policy.sock"], **server},
        "log": {"level": "info"},
        "modules": [
            {"name": "geoip", "database": db, **(geoip or {})},
            {"name": "memory-store", "state-file": "{dir}/state/memory-store.json"},
            {"name": "limits"},
        ],
    }


def proc_ids(pid):
    ids = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("Uid:", "Gid:", "Groups:")):
                key, _, rest = line.partition(":")
                ids[key] = rest.split()
    return ids


class HardeningTest(h.GeopolTestCase):
    def setUp(self):
        h.geopold_binary()
        h.geolite_city()
        if os.geteuid() != 0:
            self.fail("these tests start geopold as root (CI runs as root)")

    def test_started_as_root_it_serves_as_the_configured_user(self):
        nobody = pwd.getpwnam("nobody")
        d = h.Geopold(config(h.geolite_city(), user="nobody", group="nogroup"), start=False)
        self.addCleanup(self._cleanup_artifact, d)
        # The state directory belongs to the service user, as systemd's StateDirectory= makes it;
        # so does the directory of the status file, written after the switch.
        os.makedirs(os.path.join(d.dir, "state"))
        os.chown(os.path.join(d.dir, "state"), nobody.pw_uid, nobody.pw_gid)
        os.chown(d.dir, nobody.pw_uid, nobody.pw_gid)
        d.start()
        ids = proc_ids(d.pid)
        self.assertEqual(ids["Uid"], [str(nobody.pw_uid)] * 4, ids)
        self.assertEqual(ids["Gid"], [str(nobody.pw_gid)] * 4, ids)
        self.assertEqual(ids.get("Groups", []), [str(nobody.pw_gid)], "no supplementary groups")
        # The unix socket was made as root, with the configured mode.
        self.assertEqual(os.stat(d.unix_path()).st_mode & 0o777, 0o660)
        c = self.connect(d)
        self.assertEqual(c.policy_request(sender="a@example.com", client_address=US), "DUNNO")
        d.wait_for_log(r"running as user nobody")
        self.assertEqual(d.stop(), 0)
        # The state was saved by the unprivileged user.
        state = os.path.join(d.dir, "state", "memory-store.json")
        self.assertTrue(os.path.exists(state))
        self.assertEqual(os.stat(state).st_uid, nobody.pw_uid)

    def test_a_user_that_does_not_exist_refuses_to_start(self):
        d = h.Geopold(config(h.geolite_city(), user="no-such-user-geopol"), start=False)
        self.addCleanup(self._cleanup_artifact, d)
        with self.assertRaises(AssertionError):
            d.start()
        self.assertIn("server.user: no such user 'no-such-user-geopol'", d.log_text())
        # What it had bound is closed again: no socket file left behind (and, under
        # scripts/test --sanitize, no event loop left open: LeakSanitizer reports it).
        self.assertFalse(os.path.exists(os.path.join(d.dir, "policy.sock")))

    def test_a_corrupt_database_on_reload_is_refused_and_the_old_one_keeps_serving(self):
        tmp = os.path.join(self.tmpdir(), "GeoLite2-City.mmdb")
        shutil.copyfile(h.geolite_city(), tmp)
        d = self.start_geopold(config(tmp))
        c = self.connect(d)
        self.assertEqual(c.policy_request(sender="b@example.com", client_address=US), "DUNNO")
        # Replaced the way an updater should (rename), but with garbage.
        with open(tmp + ".new", "wb") as f:
            f.write(b"this is not a MaxMind database" * 100)
        os.replace(tmp + ".new", tmp)
        d.signal(h.signal.SIGHUP)
        d.wait_for_log(r"reload refused")
        self.assertRegex(d.log_text(), r"GeoLite2-City\.mmdb")
        # Still answering with the old database, on the open connection and new ones.
        self.assertEqual(c.policy_request(sender="b@example.com", client_address=US), "DUNNO")
        d.wait_for_log(r"sender=<b@example\.com>; client_address=8\.8\.8\.8; country=US")
        c2 = self.connect(d)
        self.assertEqual(c2.policy_request(sender="b@example.com", client_address=US), "DUNNO")
        # A good file again: the reload succeeds.
        shutil.copyfile(h.geolite_city(), tmp + ".new")
        os.replace(tmp + ".new", tmp)
        self.assertEqual(d.reload().get("reloads"), 1)

    def test_a_database_replaced_on_disk_is_taken_without_a_reload_and_a_broken_one_refused(self):
        # As with the reference's periodic check: geoipupdate renames a new file over the old
        # one and nothing else has to happen.
        tmp = os.path.join(self.tmpdir(), "GeoLite2.mmdb")
        shutil.copyfile(h.geolite_country(), tmp)
        d = self.start_geopold(config(tmp, geoip={"refresh-interval": "200ms"}))
        d.wait_for_log(r"geoip\.opened .*type=GeoLite2-Country .*refresh_interval_ms=200")
        c = self.connect(d)
        self.assertEqual(c.policy_request(sender="b@example.com", client_address=US), "DUNNO")

        offset = os.path.getsize(d.log_path)
        shutil.copyfile(h.geolite_city(), tmp + ".new")
        os.replace(tmp + ".new", tmp)
        d.wait_for_log(r"geoip\.refreshed database=\S+GeoLite2\.mmdb type=GeoLite2-City", since=offset)
        self.assertEqual(c.policy_request(sender="b@example.com", client_address=US), "DUNNO")
        d.wait_for_log(r"sender=<b@example\.com>; client_address=8\.8\.8\.8; country=US", since=offset)

        offset = os.path.getsize(d.log_path)
        with open(tmp + ".new", "wb") as f:
            f.write(b"this is not a MaxMind database" * 100)
        os.replace(tmp + ".new", tmp)
        d.wait_for_log(r"geoip\.refresh_refused cannot open GeoIP database \S+GeoLite2\.mmdb.*"
                       r"still using the database built", since=offset)
        time.sleep(0.6)  # three more checks: one error line per broken file, not per check
        self.assertEqual(d.log_text()[offset:].count("geoip.refresh_refused"), 1)
        # The City database still serves, on the open connection and on a new one.
        self.assertEqual(c.policy_request(sender="c@example.com", client_address=h.GEO_IPS["GB"]),
                         "DUNNO")
        d.wait_for_log(r"sender=<c@example\.com>; client_address=81\.2\.69\.142; country=GB",
                       since=offset)
        self.assertEqual(self.connect(d).policy_request(sender="c@example.com",
                                                        client_address=US), "DUNNO")
        # No configuration reload took part in any of this.
        self.assertEqual(int(d._read_status().get("reloads", 0)), 0)

    def test_a_client_that_trickles_a_request_is_cut_off_logged_and_counted(self):
        d = self.start_geopold({**config(h.geolite_city()),
                                "server": {"listen": ["inet:127.0.0.1:0"],
                                           "read-timeout": "500ms"}})
        host, port = d.inet_address()
        s = socket.create_connection((host, port))
        self.addCleanup(s.close)
        start = time.monotonic()
        closed = False
        for ch in b"request=smtpd_access_policy\n":
            try:
                s.sendall(bytes([ch]))
            except OSError:
                closed = True
                break
            time.sleep(0.05)
            if time.monotonic() - start > 3:
                break
        s.settimeout(3)
        try:
            closed = closed or s.recv(100) == b""
        except OSError:
            closed = True
        self.assertTrue(closed, "the server closed the connection")
        self.assertLess(time.monotonic() - start, 3.5)
        d.wait_for_log(r"slow client .*read-timeout \(500 ms\)")

    def tmpdir(self):
        import tempfile
        path = tempfile.mkdtemp(prefix="geopol-hardening-")
        os.chmod(path, 0o755)
        self.addCleanup(shutil.rmtree, path, True)
        return path


if __name__ == "__main__":
    h.main()
