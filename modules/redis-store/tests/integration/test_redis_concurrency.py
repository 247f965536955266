#!/usr/bin/env python3
"""Hundreds of simultaneous requests for one account, from distinct IPs, over many
connections, through two geopold processes sharing one Redis: nothing is lost, the
decisions are exactly those of a serial run, and exactly one request made the block.

The reference read the record from a replica and wrote it back: with 100 concurrent
requests from 100 IPs it stored 54 (behaviour spec, section 3).
"""

import geopol_harness as h
import redis_harness as rh

REJECT = "REJECT " + h.REJECT_TEXT
N = 300
MAX_IPS = 100


def ips(prefix: str):
    # Private addresses: geoip cannot place them, limits counts them as IPs
    # (count-unplaceable-ips), so only the IP rule is in play.
    return [f"10.{prefix}.{i // 250}.{i % 250 + 1}" for i in range(N)]


class RedisConcurrencyTest(rh.RedisTestCase):
    def burst(self, daemons, account, addresses):
        """Opens one connection per request (spread over the daemons), sends every request
        before reading any reply, and returns the actions."""
        clients = [self.connect(daemons[i % len(daemons)]) for i in range(len(addresses))]
        for c, ip in zip(clients, addresses):
            c.send_request(h.policy_attrs(account, ip))
        return [c.read_reply(timeout=20) for c in clients]

    def serial(self, daemon, account, addresses):
        c = self.connect(daemon)
        return [c.policy_request(account, ip) for ip in addresses]

    def test_simultaneous_requests_lose_nothing_and_block_once(self):
        redis = self.start_redis()
        config = rh.geo_config(redis, max_ips=MAX_IPS, max_countries=1000)
        a = self.start_geopold(config)
        # Two event-loop workers: one redis-store instance (and connection) per worker.
        b = self.start_geopold(rh.geo_config(redis, server={"workers": 2}, max_ips=MAX_IPS,
                                             max_countries=1000))

        actions = self.burst([a, b], "victim@example.com", ips("1"))
        self.assertNotIn(None, actions)
        self.assertFalse([x for x in actions if x not in ("DUNNO", REJECT)], actions)
        # Exactly what a serial run answers: the first MAX_IPS pass, the rest are rejected.
        expected = self.serial(a, "serial@example.com", ips("2"))
        self.assertEqual(expected.count("DUNNO"), MAX_IPS)
        self.assertEqual(actions.count("DUNNO"), expected.count("DUNNO"))
        self.assertEqual(actions.count(REJECT), expected.count(REJECT))

        stored = redis.get_json("geopol_victim@example.com")
        self.assertEqual(set(stored["ForeignIPs"]), set(ips("1")))
        self.assertEqual(len(redis.get_json("geopol_serial@example.com")["ForeignIPs"]), N)

        # One block transition among all requests of both daemons (each request
        # has its decision line; wait until all are written).
        def lines():
            return [line for d in (a, b) for line in d.log_text().splitlines()
                    if "<victim@example.com>" in line and "action=" in line]
        h.wait_for(lambda: len(lines()) >= N, 10, what="a decision line per request")
        victim_newly = sum(
            1 for d in (a, b) for line in d.log_text().splitlines()
            if "victim@example.com" in line and "newly_blocked=yes" in line)
        self.assertEqual(victim_newly, 1)
        # Three connections: a's, and one per worker of b.
        clients = [line for line in redis.cmd("CLIENT", "LIST").splitlines()
                   if "cmd=client" not in line]
        self.assertEqual(len(clients), 3, clients)
        for d in (a, b):
            self.assertEqual(d.stop(), 0)


if __name__ == "__main__":
    h.main()
