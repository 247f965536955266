// store_server_test.cpp - the Store semantics against a real redis-server:
// the same answers memory-store gives, the record operators see with GET,
// expiry, blocks, ACL users, databases, prefixes, replicas, and concurrency.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "redis_server.hpp"
#include "scripts.hpp"
#include "store_fixture.hpp"

using namespace geopol;
using namespace geopol::testing;
using nlohmann::json;

namespace {

json getJson(RedisClient &cli, const std::string &key)
{
    std::string raw = cli.str({"GET", key});
    REQUIRE_MESSAGE(raw != "(nil)", key, " does not exist");
    return json::parse(raw);
}

}  // namespace

TEST_CASE("record returns the counts and lists, and GET shows the reference's JSON")
{
    RedisServer redis;
    Loop loop;
    TestStore t(loop, redis.port());

    StoreResult r = t.record("alice@example.com", "8.8.8.8", "US");
    REQUIRE_MESSAGE(r.ok, r.error);
    CHECK(r.found);
    CHECK(r.state.foreignIps == 1);
    CHECK(r.state.foreignCountries == 1);
    CHECK(r.state.block == BlockState::None);
    CHECK(r.state.ttlSeconds == 3600);

    r = t.record("alice@example.com", "217.160.0.1", "DE");
    r = t.record("alice@example.com", "8.8.8.8", "US");  // seen again: refreshed, not counted twice
    REQUIRE(r.ok);
    CHECK(r.state.foreignIps == 2);
    CHECK(r.state.foreignCountries == 2);
    CHECK(sorted(r.state.foreignIpList) == std::vector<std::string>{"217.160.0.1", "8.8.8.8"});
    CHECK(sorted(r.state.foreignCountryList) == std::vector<std::string>{"DE", "US"});
    CHECK(r.state.homeIpList.empty());

    RedisClient cli = redis.client();
    json v = getJson(cli, "geopol_alice@example.com");
    CHECK(v["ForeignIPs"].size() == 2);
    CHECK(v["ForeignCountries"].contains("DE"));
    CHECK(v["Locked"] == false);
    CHECK(v["Actions"].is_null());
    CHECK(v["HomeCountries"]["IPs"].is_object());
    CHECK(v["HomeCountries"]["Countries"].is_object());
    CHECK_FALSE(v.contains("BlockedAt"));
    // Unix milliseconds as 13-digit strings (see scripts.cpp for why).
    std::string ts = v["ForeignIPs"]["8.8.8.8"];
    CHECK(ts.size() == 13);
    long long ms = std::stoll(ts);
    long long wall = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    CHECK(std::llabs(ms - wall) < 60000);
    long long pttl = cli.integer({"PTTL", "geopol_alice@example.com"});
    CHECK(pttl > 3590000);
    CHECK(pttl <= 3600000);
}

TEST_CASE("home observations go to the home maps only")
{
    RedisServer redis;
    Loop loop;
    TestStore t(loop, redis.port());
    StoreResult r = t.record("bob", "192.0.2.1", "DE", true);
    r = t.record("bob", "192.0.2.2", "AT", true);
    r = t.record("bob", "8.8.8.8", "US", false);
    REQUIRE(r.ok);
    CHECK(r.state.homeIps == 2);
    CHECK(r.state.homeCountries == 2);
    CHECK(r.state.foreignIps == 1);
    CHECK(r.state.foreignCountries == 1);
    CHECK(sorted(r.state.homeCountryList) == std::vector<std::string>{"AT", "DE"});
    RedisClient cli = redis.client();
    json v = getJson(cli, "geopol_bob");
    CHECK(v["HomeCountries"]["IPs"].contains("192.0.2.2"));
    CHECK(v["HomeCountries"]["Countries"].contains("AT"));
}

TEST_CASE("a record with nothing to remember creates nothing; an IP without country counts")
{
    RedisServer redis;
    Loop loop;
    TestStore t(loop, redis.port());
    StoreResult r = t.record("carol", "", "");
    REQUIRE(r.ok);
    CHECK_FALSE(r.found);
    RedisClient cli = redis.client();
    CHECK(cli.integer({"EXISTS", "geopol_carol"}) == 0);

    r = t.record("carol", "10.1.2.3", "");  // unplaceable address: an IP, no country
    REQUIRE(r.ok);
    CHECK(r.state.foreignIps == 1);
    CHECK(r.state.foreignCountries == 0);
    r = t.record("carol", "", "");
    CHECK(r.found);
    CHECK(r.state.foreignIps == 1);
}

TEST_CASE("block: exactly one newly; a temporary block lasts ttl from when it was set")
{
    RedisServer redis;
    Loop loop;
    TestStore t(loop, redis.port(), {{"ttl", "2"}});
    t.record("dave", "8.8.8.8", "US");
    StoreResult b = t.block("dave");
    REQUIRE_MESSAGE(b.ok, b.error);
    CHECK(b.newly);
    CHECK(b.state.block == BlockState::Temporary);
    CHECK(b.state.blockTtlSeconds == 2);
    b = t.block("dave");
    CHECK_FALSE(b.newly);
    CHECK(b.state.block == BlockState::Temporary);

    RedisClient cli = redis.client();
    json v = getJson(cli, "geopol_dave");
    CHECK(v["Locked"] == false);
    CHECK(v["BlockedAt"].is_string());

    // Recording keeps the block until its time is up, then it is gone.
    sleepMs(1000);
    StoreResult r = t.record("dave", "8.8.4.4", "US");
    CHECK(r.state.block == BlockState::Temporary);
    CHECK(r.state.blockTtlSeconds == 1);
    sleepMs(1200);
    r = t.record("dave", "8.8.4.4", "US");
    CHECK(r.state.block == BlockState::None);
    CHECK(r.state.foreignIps == 1);  // 8.8.8.8 expired, 8.8.4.4 refreshed
    CHECK_FALSE(getJson(cli, "geopol_dave").contains("BlockedAt"));
    b = t.block("dave");
    CHECK(b.newly);

    // A block on an unknown account creates it.
    b = t.block("nobody");
    CHECK(b.newly);
    CHECK(b.state.block == BlockState::Temporary);
}

TEST_CASE("entries expire one by one (sliding window), then the key goes")
{
    RedisServer redis;
    Loop loop;
    TestStore t(loop, redis.port(), {{"ttl", "2"}});
    RedisClient cli = redis.client();
    t.record("erin", "192.0.2.1", "FR");
    sleepMs(1200);
    StoreResult r = t.record("erin", "192.0.2.2", "DE");
    CHECK(r.state.foreignIps == 2);
    sleepMs(1000);  // 192.0.2.1 is 2.2 s old: gone; 192.0.2.2 is 1 s old
    r = t.record("erin", "", "");
    REQUIRE(r.ok);
    CHECK(r.state.foreignIps == 1);
    CHECK(r.state.foreignIpList == std::vector<std::string>{"192.0.2.2"});
    CHECK(r.state.foreignCountryList == std::vector<std::string>{"DE"});
    CHECK(r.state.ttlSeconds == 1);
    // The key's own TTL follows its newest entry: Redis drops it in time.
    long long pttl = cli.integer({"PTTL", "geopol_erin"});
    CHECK(pttl > 0);
    CHECK(pttl <= 1000);
    sleepMs(1200);
    CHECK(cli.integer({"EXISTS", "geopol_erin"}) == 0);
    StoreResult i = t.inspect("erin");
    CHECK_FALSE(i.found);
}

TEST_CASE("block-permanent: no key TTL, entries frozen, Locked in the JSON")
{
    RedisServer redis;
    Loop loop;
    TestStore t(loop, redis.port(), {{"ttl", "1"}, {"block-permanent", "true"}});
    RedisClient cli = redis.client();
    t.record("frank", "192.0.2.1", "FR");
    StoreResult b = t.block("frank");
    REQUIRE(b.ok);
    CHECK(b.newly);
    CHECK(b.state.block == BlockState::Permanent);
    CHECK(b.state.blockTtlSeconds == -1);
    CHECK(b.state.ttlSeconds == -1);
    CHECK(cli.integer({"TTL", "geopol_frank"}) == -1);
    CHECK(getJson(cli, "geopol_frank")["Locked"] == true);

    sleepMs(1500);
    StoreResult r = t.record("frank", "192.0.2.2", "DE");
    REQUIRE(r.ok);
    CHECK(r.state.block == BlockState::Permanent);
    CHECK(r.state.foreignIps == 2);  // 192.0.2.1 is older than ttl but kept
    CHECK(cli.integer({"TTL", "geopol_frank"}) == -1);
    CHECK_FALSE(t.block("frank").newly);

    StoreResult i = t.inspect("frank");
    CHECK(i.found);
    CHECK(i.state.block == BlockState::Permanent);
    CHECK(i.state.foreignIps == 2);

    // Unlock forgets it completely.
    StoreResult u = t.unlock("frank");
    REQUIRE(u.ok);
    CHECK(u.found);
    CHECK(cli.integer({"EXISTS", "geopol_frank"}) == 0);
    CHECK_FALSE(t.unlock("frank").found);
    r = t.record("frank", "192.0.2.3", "IT");
    CHECK(r.state.block == BlockState::None);
    CHECK(r.state.foreignIps == 1);
}

TEST_CASE("a permanent block survives switching block-permanent off")
{
    RedisServer redis;
    Loop loop;
    {
        TestStore t(loop, redis.port(), {{"block-permanent", "true"}});
        CHECK(t.block("grace").state.block == BlockState::Permanent);
    }
    TestStore t(loop, redis.port(), {{"ttl", "1"}});
    sleepMs(1100);
    StoreResult r = t.record("grace", "192.0.2.9", "US");
    REQUIRE_MESSAGE(r.ok, r.error);
    CHECK(r.state.block == BlockState::Permanent);
    CHECK_FALSE(t.block("grace").newly);
}

TEST_CASE("inspect reads without changing anything")
{
    RedisServer redis;
    Loop loop;
    TestStore t(loop, redis.port());
    StoreResult i = t.inspect("heidi");
    REQUIRE(i.ok);
    CHECK_FALSE(i.found);
    t.record("heidi", "8.8.8.8", "US");
    t.record("heidi", "192.0.2.5", "DE", true);
    RedisClient cli = redis.client();
    std::string before = cli.str({"GET", "geopol_heidi"});
    long long pttl = cli.integer({"PTTL", "geopol_heidi"});
    sleepMs(50);
    i = t.inspect("heidi");
    REQUIRE(i.ok);
    CHECK(i.found);
    CHECK(i.state.foreignIpList == std::vector<std::string>{"8.8.8.8"});
    CHECK(i.state.homeCountryList == std::vector<std::string>{"DE"});
    CHECK(i.state.ttlSeconds == 3600);
    CHECK(cli.str({"GET", "geopol_heidi"}) == before);
    CHECK(cli.integer({"PTTL", "geopol_heidi"}) < pttl);  // not refreshed
}

TEST_CASE("prefix and database number")
{
    RedisServer redis;
    Loop loop;
    TestStore t(loop, redis.port(), {{"prefix", "gp:"}, {"database", "3"}});
    REQUIRE(t.record("ivan@example.org", "8.8.8.8", "US").ok);
    RedisClient db0 = redis.client();
    CHECK(db0.integer({"DBSIZE"}) == 0);
    RedisClient db3 = redis.client({}, {}, 3);
    CHECK(db3.integer({"EXISTS", "gp:ivan@example.org"}) == 1);
    CHECK(db3.integer({"EXISTS", "geopol_ivan@example.org"}) == 0);
}

TEST_CASE("an ACL user logs in with AUTH user password")
{
    // The least the README says a user needs.
    RedisServer redis({"--user", "default", "off", "--user", "geo", "on", ">s3cret", "~geopol_*",
                       "+evalsha", "+eval", "+script|load", "+time", "+get", "+set", "+del",
                       "+ping", "+select", "+role"});
    Loop loop;
    {
        TestStore t(loop, redis.port(), {{"username", "geo"}, {"password", "s3cret"}});
        StoreResult r = t.record("judy", "8.8.8.8", "US");
        REQUIRE_MESSAGE(r.ok, r.error);
        CHECK(r.state.foreignIps == 1);
        CHECK(t.block("judy").newly);
        CHECK(t.inspect("judy").found);
        CHECK(t.unlock("judy").found);
        CHECK(t.record("judy", "8.8.8.8", "US").ok);
        RedisClient cli = redis.client("geo", "s3cret");
        CHECK(cli.str({"GET", "geopol_judy"}) != "(nil)");
        CHECK(t.host().logCount("redis-store.script_load") == 0);
    }
    SUBCASE("a wrong password fails requests promptly and is logged once")
    {
        TestStore t(loop, redis.port(),
                    {{"username", "geo"}, {"password", "wrong"}, {"command-timeout", "300ms"}});
        for (int i = 0; i < 5; ++i) {
            auto t0 = std::chrono::steady_clock::now();
            StoreResult r = t.record("judy", "8.8.8.8", "US");
            auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now() - t0)
                          .count();
            CHECK_FALSE(r.ok);
            CHECK(ms < 1000);
            loop.runFor(150);
        }
        CHECK(t.host().logCount("redis-store.refused") == 1);
        CHECK(t.host().logText().find("WRONGPASS") != std::string::npos);
    }
    SUBCASE("no credentials: the PING is refused, said once")
    {
        TestStore t(loop, redis.port(), {{"command-timeout", "300ms"}});
        CHECK_FALSE(t.record("judy", "8.8.8.8", "US").ok);
        loop.runFor(500);
        CHECK(t.host().logCount("redis-store.refused") == 1);
        CHECK(t.host().logText().find("NOAUTH") != std::string::npos);
    }
}

TEST_CASE("a unix socket")
{
    TempDir dir;
    std::string sock = dir.file("redis.sock");
    RedisServer redis({"--unixsocket", sock, "--unixsocketperm", "700"});
    Loop loop;
    TestStore t(loop, 6379, {{"address", sock}});
    StoreResult r = t.record("kate", "8.8.8.8", "US");
    REQUIRE_MESSAGE(r.ok, r.error);
    CHECK(t.host().logText().find("unix:" + sock) != std::string::npos);
}

TEST_CASE("a host name is resolved off the loop")
{
    RedisServer redis;
    Loop loop;
    TestStore t(loop, redis.port(), {{"address", "localhost"}});
    StoreResult r = t.record("leo", "8.8.8.8", "US");
    REQUIRE_MESSAGE(r.ok, r.error);
}

TEST_CASE("the reference's records (nanoseconds, Actions) are read and kept")
{
    RedisServer redis;
    Loop loop;
    TestStore t(loop, redis.port());
    RedisClient cli = redis.client();
    long long nowNs = std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
    std::string old = "{\"ForeignIPs\":{\"8.8.8.8\":" + std::to_string(nowNs - 5000000000LL) +
                      ",\"1.1.1.1\":" + std::to_string(nowNs - 7200LL * 1000000000LL) +
                      "},\"ForeignCountries\":{\"US\":" + std::to_string(nowNs) +
                      "},\"HomeCountries\":null,\"Actions\":[\"operator\"],\"Locked\":false}";
    cli.cmd({"SET", "geopol_mallory", old});
    StoreResult r = t.record("mallory", "81.2.69.142", "GB");
    REQUIRE_MESSAGE(r.ok, r.error);
    CHECK(r.state.foreignIps == 2);  // 1.1.1.1 was two hours old
    CHECK(r.state.foreignCountries == 2);
    json v = getJson(cli, "geopol_mallory");
    CHECK(v["Actions"] == json::array({"operator"}));
    CHECK(v["ForeignIPs"]["8.8.8.8"].is_string());
    CHECK(std::string(v["ForeignIPs"]["8.8.8.8"]).size() == 13);
    CHECK_FALSE(v["ForeignIPs"].contains("1.1.1.1"));
}

TEST_CASE("a value that is not a JSON object fails that account only, clearly")
{
    RedisServer redis;
    Loop loop;
    TestStore t(loop, redis.port());
    RedisClient cli = redis.client();
    cli.cmd({"SET", "geopol_nick", "x"});
    StoreResult r = t.record("nick", "8.8.8.8", "US");
    CHECK_FALSE(r.ok);
    CHECK(r.error.find("GEOPOL_BADVALUE geopol_nick") != std::string::npos);
    CHECK(cli.str({"GET", "geopol_nick"}) == "x");  // left for the operator to look at
    CHECK(t.record("olga", "8.8.8.8", "US").ok);
    cli.cmd({"DEL", "geopol_nick"});
    CHECK(t.record("nick", "8.8.8.8", "US").ok);
}

TEST_CASE("NOSCRIPT: a flushed script cache is refilled with EVAL")
{
    RedisServer redis;
    Loop loop;
    TestStore t(loop, redis.port());
    REQUIRE(t.record("pat", "8.8.8.8", "US").ok);
    RedisClient cli = redis.client();
    cli.cmd({"SCRIPT", "FLUSH"});
    StoreResult r = t.record("pat", "1.1.1.1", "AU");
    REQUIRE_MESSAGE(r.ok, r.error);
    CHECK(r.state.foreignIps == 2);
    CHECK(t.block("pat").newly);
    CHECK(t.inspect("pat").found);
}

TEST_CASE("the digests are the ones Redis computes")
{
    RedisServer redis;
    RedisClient cli = redis.client();
    for (auto id : {redis_store::ScriptId::Record, redis_store::ScriptId::Block,
                    redis_store::ScriptId::Inspect}) {
        const auto &s = redis_store::script(id);
        CHECK(cli.str({"SCRIPT", "LOAD", s.body}) == s.sha);
    }
}

TEST_CASE("inspect reads the replica when one is configured")
{
    RedisServer master;
    RedisServer replica({"--replicaof", "127.0.0.1", std::to_string(master.port())});
    Loop loop;
    TestStore t(loop, master.port(), {{"replica-port", std::to_string(replica.port())}});
    REQUIRE(t.record("quinn", "8.8.8.8", "US").ok);
    RedisClient rc = replica.client();
    RedisClient mc = master.client();
    REQUIRE(loop.runUntil([&] { return rc.integer({"EXISTS", "geopol_quinn"}) == 1; }, 10000));
    REQUIRE(
        loop.runUntil([&] { return t.store() && t.host().logCount("connected replica") == 1; }));
    mc.cmd({"CONFIG", "RESETSTAT"});
    rc.cmd({"CONFIG", "RESETSTAT"});
    StoreResult i = t.inspect("quinn");
    REQUIRE_MESSAGE(i.ok, i.error);
    CHECK(i.found);
    CHECK(i.state.foreignIps == 1);
    CHECK(rc.str({"INFO", "commandstats"}).find("cmdstat_evalsha") != std::string::npos);
    CHECK(mc.str({"INFO", "commandstats"}).find("cmdstat_evalsha") == std::string::npos);
    // Writes still go to the master.
    CHECK(t.record("quinn", "1.1.1.1", "AU").state.foreignIps == 2);
    CHECK(mc.str({"INFO", "commandstats"}).find("cmdstat_evalsha") != std::string::npos);
}

TEST_CASE("concurrency: hundreds of simultaneous records lose nothing; one block wins")
{
    RedisServer redis;
    Loop loop;
    // Two stores = two connections, as two geopold processes would have.
    TestStore a(loop, redis.port());
    TestStore b(loop, redis.port());
    a.waitConnected();
    b.waitConnected();

    constexpr int kRequests = 400;
    std::vector<std::string> ips;
    for (int i = 0; i < kRequests; ++i)
        ips.push_back("10." + std::to_string(i / 250) + "." + std::to_string(i % 250) + ".1");
    std::multiset<uint32_t> counts;
    int done = 0, failed = 0;
    // All issued before the loop turns once: they are pipelined together.
    for (int i = 0; i < kRequests; ++i) {
        Observation obs;
        obs.account = "victim@example.com";
        obs.ip = ips[i];
        obs.country = i % 2 ? "US" : "RU";
        auto &target = i % 2 ? a : b;
        target.module().record(obs, [&](const StoreResult &r) {
            ++done;
            if (!r.ok)
                ++failed;
            else
                counts.insert(r.state.foreignIps);
        });
    }
    REQUIRE(loop.runUntil([&] { return done == kRequests; }, 10000));
    CHECK(failed == 0);
    // A serial run answers 1, 2, ..., N: each count exactly once.
    std::multiset<uint32_t> serial;
    for (uint32_t i = 1; i <= kRequests; ++i)
        serial.insert(i);
    CHECK(counts == serial);

    RedisClient cli = redis.client();
    json v = getJson(cli, "geopol_victim@example.com");
    CHECK(v["ForeignIPs"].size() == kRequests);
    CHECK(v["ForeignCountries"].size() == 2);

    int newly = 0, blocks = 0;
    for (int i = 0; i < 100; ++i)
        (i % 2 ? a : b).module().block("victim@example.com", [&](const StoreResult &r) {
            ++blocks;
            newly += r.ok && r.newly;
        });
    REQUIRE(loop.runUntil([&] { return blocks == 100; }, 10000));
    CHECK(newly == 1);
}
