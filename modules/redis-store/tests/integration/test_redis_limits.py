#!/usr/bin/env python3
"""geopold with geoip -> redis-store -> limits against a real redis-server.

The reference's scenarios (limits reached, TTL expiry, block-permanent, unlock), what an
operator sees with GET, shared state between two daemons, the reference's flags and
variables, an ACL user, a database number and a prefix.
"""

import time

import geopol_harness as h
import redis_harness as rh

US, GB, DE, RU, JP, AU = (h.GEO_IPS[c] for c in ("US", "GB", "DE", "RU", "JP", "AU"))
REJECT = "REJECT " + h.REJECT_TEXT


class RedisLimitsTest(rh.RedisTestCase):
    def test_fourth_country_is_rejected_and_get_shows_the_json(self):
        redis = self.start_redis()
        d = self.start_geopold(rh.geo_config(redis, max_countries=3))
        c = self.connect(d)
        for ip in (US, GB, DE):
            self.assertEqual(c.policy_request("alice@example.com", ip), "DUNNO", ip)
        self.assertEqual(c.policy_request("alice@example.com", RU), REJECT)
        # Sticky: a known country is rejected now too; others are unaffected.
        self.assertEqual(c.policy_request("alice@example.com", US), REJECT)
        self.assertEqual(c.policy_request("bob@example.com", RU), "DUNNO")

        v = redis.get_json("geopol_alice@example.com")
        self.assertEqual(set(v["ForeignCountries"]), {"US", "GB", "DE", "RU"})
        self.assertEqual(set(v["ForeignIPs"]), {US, GB, DE, RU})
        self.assertIs(v["Locked"], False)
        self.assertIn("BlockedAt", v)  # a temporary block
        self.assertIsNone(v["Actions"])
        self.assertEqual(v["HomeCountries"], {"IPs": {}, "Countries": {}})
        for ts in v["ForeignIPs"].values():
            self.assertRegex(ts, r"^\d{13}$")
            self.assertLess(abs(int(ts) / 1000 - time.time()), 60)
        self.assertGreater(redis.cmd("TTL", "geopol_alice@example.com"), 3500)
        # The decision line says the block was new once.
        d.wait_for_log(r"newly_blocked=yes")
        self.assertEqual(rh.count(d.log_text(), "newly_blocked=yes"), 1)

    def test_two_daemons_share_one_view(self):
        redis = self.start_redis()
        a = self.start_geopold(rh.geo_config(redis, max_countries=2))
        b = self.start_geopold(rh.geo_config(redis, max_countries=2))
        ca, cb = self.connect(a), self.connect(b)
        self.assertEqual(ca.policy_request("carol@example.com", DE), "DUNNO")
        self.assertEqual(cb.policy_request("carol@example.com", GB), "DUNNO")
        v = redis.get_json("geopol_carol@example.com")
        self.assertEqual(set(v["ForeignCountries"]), {"DE", "GB"})  # 2 countries, not 1 + 1
        self.assertEqual(cb.policy_request("carol@example.com", US), REJECT)
        # A learns of the block through Redis.
        self.assertEqual(ca.policy_request("carol@example.com", DE), REJECT)

    def test_reference_flags_select_redis_store(self):
        redis = self.start_redis()
        # A YAML chain with the embedded store: the flags switch it to redis-store.
        config = {
            "server": {"listen": ["inet:127.0.0.1:0"]},
            "log": {"level": "info"},
            "modules": [
                {"name": "geoip", "database": h.geolite_city()},
                {"name": "memory-store", "state-file": ""},
                {"name": "limits", "max-countries": 1},
            ],
        }
        d = self.start_geopold(config, ["-A", "127.0.0.1", "-P", str(redis.port),
                                        "--redis-prefix", "flagged_", "--redis-ttl", "600"])
        c = self.connect(d)
        self.assertEqual(c.policy_request("dave@example.com", US), "DUNNO")
        self.assertEqual(c.policy_request("dave@example.com", JP), REJECT)
        v = redis.get_json("flagged_dave@example.com")
        self.assertEqual(set(v["ForeignCountries"]), {"US", "JP"})
        self.assertIsNone(redis.get_json("geopol_dave@example.com"))
        self.assertLessEqual(redis.cmd("TTL", "flagged_dave@example.com"), 600)
        self.assertIn("redis-store.started", d.log_text())

    def test_reference_variables_select_redis_store(self):
        redis = self.start_redis()
        config = {
            "server": {"listen": ["inet:127.0.0.1:0"]},
            "log": {"level": "info"},
            "modules": [
                {"name": "geoip", "database": h.geolite_city()},
                {"name": "memory-store", "state-file": ""},
                {"name": "limits"},
            ],
        }
        d = self.start_geopold(config, env={"GEOIPPOLICYD_REDIS_PORT": str(redis.port),
                                            "GEOIPPOLICYD_REDIS_PREFIX": "env_"})
        c = self.connect(d)
        self.assertEqual(c.policy_request("erin@example.com", AU), "DUNNO")
        self.assertEqual(set(redis.get_json("env_erin@example.com")["ForeignIPs"]), {AU})

    def test_entries_and_temporary_blocks_expire_after_ttl(self):
        redis = self.start_redis()
        d = self.start_geopold(rh.geo_config(redis, store={"ttl": 2}, max_ips=1))
        c = self.connect(d)
        self.assertEqual(c.policy_request("frank@example.com", US), "DUNNO")
        self.assertEqual(c.policy_request("frank@example.com", GB), REJECT)  # 2 IPs > 1
        self.assertEqual(c.policy_request("frank@example.com", US), REJECT)  # blocked
        self.assertIs(redis.get_json("geopol_frank@example.com")["Locked"], False)
        time.sleep(2.3)
        # The IPs and the block are over: a fresh start.
        self.assertIsNone(redis.get_json("geopol_frank@example.com"))
        self.assertEqual(c.policy_request("frank@example.com", DE), "DUNNO")
        self.assertEqual(set(redis.get_json("geopol_frank@example.com")["ForeignIPs"]), {DE})

    def test_block_permanent_until_the_key_is_deleted(self):
        redis = self.start_redis()
        d = self.start_geopold(rh.geo_config(redis, store={"ttl": 1}, max_countries=1),
                               ["--block-permanent"])
        c = self.connect(d)
        self.assertEqual(c.policy_request("grace@example.com", US), "DUNNO")
        self.assertEqual(c.policy_request("grace@example.com", RU), REJECT)
        key = "geopol_grace@example.com"
        self.assertIs(redis.get_json(key)["Locked"], True)
        self.assertEqual(redis.cmd("TTL", key), -1)
        time.sleep(1.5)
        # Long past the ttl: still blocked, and the evidence is kept.
        self.assertEqual(c.policy_request("grace@example.com", US), REJECT)
        self.assertEqual(set(redis.get_json(key)["ForeignCountries"]), {"US", "RU"})
        # Unlock the way the reference documents it: delete the key.
        self.assertEqual(redis.cmd("DEL", key), 1)
        self.assertEqual(c.policy_request("grace@example.com", US), "DUNNO")

    def test_acl_user_database_and_prefix(self):
        redis = self.start_redis(["--user", "default", "off",
                                  "--user", "geo", "on", ">s3cret", "~gp:*", "+@all"])
        d = self.start_geopold(rh.geo_config(redis, store={
            "username": "geo", "password": "s3cret", "database": 5, "prefix": "gp:"},
            max_countries=3))
        c = self.connect(d)
        self.assertEqual(c.policy_request("heidi@example.com", JP), "DUNNO")
        v = redis.get_json("gp:heidi@example.com", username="geo", password="s3cret", db=5)
        self.assertEqual(set(v["ForeignCountries"]), {"JP"})
        self.assertEqual(redis.cmd("DBSIZE", username="geo", password="s3cret"), 0)

    def test_wrong_password_gives_the_failure_action_and_one_log_line(self):
        redis = self.start_redis(["--user", "default", "off",
                                  "--user", "geo", "on", ">s3cret", "~*", "+@all"])
        d = self.start_geopold(rh.geo_config(redis, store={
            "username": "geo", "password": "nope", "command-timeout": "200ms"}))
        c = self.connect(d)
        for _ in range(5):
            self.assertTrue(c.policy_request("ivan@example.com", US).startswith("DEFER"))
            time.sleep(0.1)
        self.assertEqual(rh.count(d.log_text(), "redis-store.refused master"), 1)

    def test_reload_switches_connections_and_settings(self):
        redis = self.start_redis()
        config = rh.geo_config(redis, max_countries=3)
        d = self.start_geopold(config)
        c = self.connect(d)
        self.assertEqual(c.policy_request("judy@example.com", US), "DUNNO")

        def clients():
            return sum(1 for line in redis.cmd("CLIENT", "LIST").splitlines()
                       if "cmd=client" not in line)

        h.wait_for(lambda: clients() == 1, 5, what="geopold's one connection")
        config["modules"][1]["prefix"] = "reloaded_"
        d.reload(config)
        self.assertEqual(c.policy_request("judy@example.com", GB), "DUNNO")
        self.assertEqual(set(redis.get_json("reloaded_judy@example.com")["ForeignIPs"]), {GB})
        self.assertEqual(set(redis.get_json("geopol_judy@example.com")["ForeignIPs"]), {US})
        # The old chain's connection is closed once it has retired.
        h.wait_for(lambda: clients() == 1, 5, what="the old connection to close")
        self.assertEqual(d.stop(), 0)

    def test_check_config_refuses_bad_redis_keys(self):
        cfg = rh.geo_config(store={"port": 70000, "sentinels": ["10.0.0.1:x"]})
        g = h.Geopold(cfg, start=False)
        self.addCleanup(g.close)
        res = h.run_geopold(["--check-config", "--config", g.config_path], env=g.env, timeout=30)
        self.assertNotEqual(res.returncode, 0, res.stdout + res.stderr)
        out = res.stdout + res.stderr
        self.assertIn("port", out)
        self.assertIn("10.0.0.1:x", out)
        self.assertIn("sentinel-master-name", out)


if __name__ == "__main__":
    h.main()
