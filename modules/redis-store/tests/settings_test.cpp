// settings_test.cpp - the redis-store section: defaults, every key, refusals,
// host:port forms, and key naming.
#include "settings.hpp"

#include <doctest/doctest.h>

#include "fakes.hpp"

using namespace geopol::redis_store;
using geopol::testing::FakeConfig;

TEST_CASE("defaults: the reference's, except the replica follows the master")
{
    FakeConfig cfg;
    Settings s = readSettings(cfg);
    CHECK(cfg.errors.empty());
    CHECK(s.master == Endpoint{"127.0.0.1", 6379, false});
    CHECK(s.replica == s.master);
    CHECK_FALSE(s.separateReplica());
    CHECK(s.username.empty());
    CHECK(s.password.empty());
    CHECK(s.database == 0);
    CHECK(s.prefix == "geopol_");
    CHECK(s.ttlSeconds == 3600);
    CHECK_FALSE(s.blockPermanent);
    CHECK_FALSE(s.useSentinel());
    CHECK(s.commandTimeoutMs == 500);
    CHECK(s.connectTimeoutMs == 1000);
    CHECK(s.reconnectBackoffMaxMs == 2000);
}

TEST_CASE("every key is read")
{
    FakeConfig cfg;
    cfg.set("address", "10.0.0.5")
        .set("port", "6380")
        .set("username", "geo")
        .set("password", "s3cret")
        .set("database", "7")
        .set("prefix", "gp:")
        .set("ttl", "120")
        .set("block-permanent", "true")
        .set("replica-address", "10.0.0.6")
        .set("command-timeout", "250ms")
        .set("connect-timeout", "2s")
        .set("reconnect-backoff-max", "5s");
    Settings s = readSettings(cfg);
    CHECK(cfg.errorText() == "");
    CHECK(s.master == Endpoint{"10.0.0.5", 6380, false});
    // The replica's port defaults to the master's, not to 6379.
    CHECK(s.replica == Endpoint{"10.0.0.6", 6380, false});
    CHECK(s.separateReplica());
    CHECK(s.username == "geo");
    CHECK(s.password == "s3cret");
    CHECK(s.database == 7);
    CHECK(s.prefix == "gp:");
    CHECK(s.ttlSeconds == 120);
    CHECK(s.blockPermanent);
    CHECK(s.commandTimeoutMs == 250);
    CHECK(s.connectTimeoutMs == 2000);
    CHECK(s.reconnectBackoffMaxMs == 5000);
}

TEST_CASE("a replica port alone makes a separate replica on the master's host")
{
    FakeConfig cfg;
    cfg.set("port", "7000").set("replica-port", "7001");
    Settings s = readSettings(cfg);
    CHECK(s.replica == Endpoint{"127.0.0.1", 7001, false});
    CHECK(s.separateReplica());
}

TEST_CASE("bad values are refused and name the key")
{
    FakeConfig cfg;
    cfg.set("port", "70000").set("ttl", "0").set("database", "-1").set("address", "");
    readSettings(cfg);
    std::string e = cfg.errorText();
    CHECK(e.find("port:") != std::string::npos);
    CHECK(e.find("ttl:") != std::string::npos);
    CHECK(e.find("database:") != std::string::npos);
    CHECK(e.find("address:") != std::string::npos);
}

TEST_CASE("unix sockets")
{
    CHECK(makeEndpoint("/run/redis/redis.sock", 6379) ==
          Endpoint{"/run/redis/redis.sock", 0, true});
    CHECK(makeEndpoint("unix:/tmp/r.sock", 6379) == Endpoint{"/tmp/r.sock", 0, true});
    CHECK(makeEndpoint("[::1]", 6379) == Endpoint{"::1", 6379, false});
    CHECK(makeEndpoint("redis.example.net", 6380) == Endpoint{"redis.example.net", 6380, false});
    CHECK(Endpoint{"/tmp/r.sock", 0, true}.text() == "unix:/tmp/r.sock");
    CHECK(Endpoint{"::1", 6379, false}.text() == "[::1]:6379");
    CHECK(Endpoint{"10.1.2.3", 6379, false}.text() == "10.1.2.3:6379");
}

TEST_CASE("host:port parsing for Sentinels")
{
    Endpoint e;
    std::string error;
    CHECK(parseHostPort("10.0.0.1:26380", kDefaultSentinelPort, e, error));
    CHECK(e == Endpoint{"10.0.0.1", 26380, false});
    CHECK(parseHostPort("sentinel-a", kDefaultSentinelPort, e, error));
    CHECK(e == Endpoint{"sentinel-a", 26379, false});
    CHECK(parseHostPort("[2001:db8::1]:26381", kDefaultSentinelPort, e, error));
    CHECK(e == Endpoint{"2001:db8::1", 26381, false});
    CHECK(parseHostPort("[2001:db8::1]", kDefaultSentinelPort, e, error));
    CHECK(e.port == 26379);

    CHECK_FALSE(parseHostPort("2001:db8::1", 1, e, error));
    CHECK(error.find("brackets") != std::string::npos);
    CHECK_FALSE(parseHostPort("host:0", 1, e, error));
    CHECK_FALSE(parseHostPort("host:65536", 1, e, error));
    CHECK_FALSE(parseHostPort("host:x", 1, e, error));
    CHECK_FALSE(parseHostPort(":26379", 1, e, error));
    CHECK_FALSE(parseHostPort("[::1", 1, e, error));
    CHECK_FALSE(parseHostPort("[::1]x", 1, e, error));
}

TEST_CASE("Sentinel needs both the list and the master name")
{
    SUBCASE("both")
    {
        FakeConfig cfg;
        cfg.setList("sentinels", {"127.0.0.1:26379", "[::1]:26380"})
            .set("sentinel-master-name", "mymaster")
            .set("sentinel-username", "sentuser")
            .set("sentinel-password", "sentpw");
        Settings s = readSettings(cfg);
        CHECK(cfg.errorText() == "");
        REQUIRE(s.sentinels.size() == 2);
        CHECK(s.sentinels[1] == Endpoint{"::1", 26380, false});
        CHECK(s.useSentinel());
        CHECK_FALSE(s.separateReplica());  // the replica comes from Sentinel
        CHECK(s.sentinelUsername == "sentuser");
        CHECK(s.sentinelPassword == "sentpw");
    }
    SUBCASE("no name")
    {
        FakeConfig cfg;
        cfg.setList("sentinels", {"127.0.0.1:26379"});
        readSettings(cfg);
        CHECK(cfg.errorText().find("sentinel-master-name") != std::string::npos);
    }
    SUBCASE("no list")
    {
        FakeConfig cfg;
        cfg.set("sentinel-master-name", "mymaster");
        readSettings(cfg);
        CHECK(cfg.errorText().find("sentinels:") != std::string::npos);
    }
    SUBCASE("a bad entry names itself")
    {
        FakeConfig cfg;
        cfg.setList("sentinels", {"10.0.0.1:abc"}).set("sentinel-master-name", "m");
        readSettings(cfg);
        CHECK(cfg.errorText().find("10.0.0.1:abc") != std::string::npos);
    }
}

TEST_CASE("keys are prefix + account, byte for byte")
{
    CHECK(accountKey("geopol_", "alice@example.com") == "geopol_alice@example.com");
    CHECK(accountKey("", "bob") == "bob");
    // Hash-tag braces, spaces and non-ASCII pass through untouched.
    CHECK(accountKey("p:", "{x} y\xc3\xa9") == "p:{x} y\xc3\xa9");
    std::string withNul("a\0b", 3);
    CHECK(accountKey("geopol_", withNul).size() == 10);
}
