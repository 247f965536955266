// link_server_test.cpp - failure behaviour against a real redis-server: an
// absent server, a frozen one (SIGSTOP), a killed and restarted one, a
// dropped connection; every request completes within its deadline, the log
// says so once per incident, and service comes back by itself.
#include <doctest/doctest.h>

#include <chrono>

#include "redis_server.hpp"
#include "store_fixture.hpp"

using namespace geopol;
using namespace geopol::testing;

namespace {

using Clock = std::chrono::steady_clock;

// What a loaded test machine may add to a deadline before the loop notices.
constexpr long long kSlackMs = 250;

long long msSince(Clock::time_point t0)
{
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
}

// Records once, timing it; the loop turns only inside.
StoreResult timedRecord(TestStore &t, std::string_view account, long long &ms)
{
    auto t0 = Clock::now();
    StoreResult r = t.record(account, "8.8.8.8", "US");
    ms = msSince(t0);
    return r;
}

}  // namespace

TEST_CASE("nothing listens: requests fail fast, the store connects once Redis is there")
{
    int port = freePort();
    Loop loop;
    TestStore t(loop, port, {{"command-timeout", "300ms"}, {"reconnect-backoff-max", "400ms"}});
    for (int i = 0; i < 6; ++i) {
        long long ms = 0;
        StoreResult r = timedRecord(t, "ann", ms);
        CHECK_FALSE(r.ok);
        CHECK(ms <= 300 + kSlackMs);  // within command-timeout
        CHECK(r.error.find("redis:") == 0);
        loop.runFor(200);
    }
    CHECK(t.host().logCount("redis-store.unreachable master") == 1);
    CHECK(t.host().logCount("redis-store.lost") == 0);

    RedisServer redis({}, port);
    REQUIRE(loop.runUntil([&] { return t.store()->masterReady(); }, 3000));
    StoreResult r = t.record("ann", "8.8.8.8", "US");
    REQUIRE_MESSAGE(r.ok, r.error);
    // Unreachable -> connected is a state change worth a warning.
    CHECK(t.host().logCount("warning redis-store.connected master") == 1);
    CHECK(t.store()->failedWhileDown() >= 6);
}

TEST_CASE("SIGSTOP: every request fails within command-timeout; SIGCONT: service resumes")
{
    RedisServer redis;
    Loop loop;
    TestStore t(loop, redis.port(),
                {{"command-timeout", "300ms"},
                 {"connect-timeout", "500ms"},
                 {"reconnect-backoff-max", "500ms"}});
    t.waitConnected();
    REQUIRE(t.record("bea", "8.8.8.8", "US").ok);

    redis.pause();
    // A burst in flight when it froze, then a stream of single requests.
    int done = 0, failed = 0;
    auto t0 = Clock::now();
    for (int i = 0; i < 50; ++i) {
        Observation obs;
        obs.account = "bea";
        obs.ip = "192.0.2.1";
        t.module().record(obs, [&](const StoreResult &r) {
            ++done;
            failed += !r.ok;
        });
    }
    REQUIRE(loop.runUntil([&] { return done == 50; }, 2000));
    CHECK(failed == 50);
    CHECK(msSince(t0) <= 300 + kSlackMs);
    long long worst = 0;
    for (int i = 0; i < 15; ++i) {
        long long ms = 0;
        CHECK_FALSE(timedRecord(t, "bea", ms).ok);
        worst = std::max(worst, ms);
        loop.runFor(50);
    }
    CHECK(worst <= 300 + kSlackMs);
    CHECK(t.host().logCount("redis-store.lost master") == 1);

    redis.resume();
    REQUIRE(loop.runUntil([&] { return t.store()->masterReady(); }, 5000));
    StoreResult r = t.record("bea", "8.8.4.4", "US");
    REQUIRE_MESSAGE(r.ok, r.error);
    CHECK(t.host().logCount("redis-store.lost master") == 1);
    CHECK(t.host().logCount("redis-store.reconnected master") == 1);
}

TEST_CASE("SIGKILL and a restart on the same port: service comes back without a restart")
{
    RedisServer redis;
    Loop loop;
    TestStore t(loop, redis.port(),
                {{"command-timeout", "300ms"}, {"reconnect-backoff-max", "500ms"}});
    REQUIRE(t.record("cleo", "8.8.8.8", "US").ok);
    redis.kill();
    for (int i = 0; i < 5; ++i) {
        long long ms = 0;
        CHECK_FALSE(timedRecord(t, "cleo", ms).ok);
        CHECK(ms <= 300 + kSlackMs);
        loop.runFor(100);
    }
    redis.start();
    REQUIRE(loop.runUntil([&] { return t.store()->masterReady(); }, 3000));
    StoreResult r = t.record("cleo", "1.1.1.1", "AU");
    REQUIRE_MESSAGE(r.ok, r.error);
    CHECK(r.state.foreignIps == 1);  // a fresh server: the old data is gone
    CHECK(t.host().logCount("redis-store.lost master") == 1);
    CHECK(t.host().logCount("redis-store.reconnected master") == 1);
}

TEST_CASE("a connection the server drops is replaced at once; the request still succeeds")
{
    RedisServer redis;
    Loop loop;
    TestStore t(loop, redis.port());
    REQUIRE(t.record("dora", "8.8.8.8", "US").ok);
    loop.runFor(1100);  // a connection that worked for a while: reconnected at once
    RedisClient cli = redis.client();
    // Every client but this one (SKIPME yes is the default).
    CHECK(cli.integer({"CLIENT", "KILL", "TYPE", "normal"}) >= 1);
    StoreResult r = t.record("dora", "1.1.1.1", "AU");
    REQUIRE_MESSAGE(r.ok, r.error);
    CHECK(r.state.foreignIps == 2);
    CHECK(t.host().logCount("redis-store.lost master") == 1);
    CHECK(t.host().logCount("redis-store.reconnected master") == 1);
}

TEST_CASE("requests made before the first connection wait for it")
{
    RedisServer redis;
    Loop loop;
    TestStore t(loop, redis.port());
    REQUIRE_FALSE(t.store()->masterReady());
    StoreResult r = t.record("eve", "8.8.8.8", "US");
    REQUIRE_MESSAGE(r.ok, r.error);
    CHECK(t.host().logCount("redis-store.connected master") == 1);
    CHECK(t.host().logCount("redis-store.unreachable") == 0);
}

TEST_CASE("stopping with requests in flight fails them and closes every handle")
{
    RedisServer redis;
    Loop loop;
    int done = 0, failed = 0;
    {
        TestStore t(loop, redis.port(), {{"command-timeout", "5s"}});
        t.waitConnected();
        redis.pause();
        for (int i = 0; i < 20; ++i)
            t.module().record(Observation{"fay", "192.0.2.1", "FR"}, [&](const StoreResult &r) {
                ++done;
                failed += !r.ok;
            });
        loop.runFor(50);
        CHECK(done == 0);
        t.stop();  // the loop must then close every handle (checked by ~Loop)
        CHECK(done == 20);
        CHECK(failed == 20);
        // After stop: answered at once, never hangs.
        StoreResult late;
        t.module().record(Observation{"fay", "", ""}, [&](const StoreResult &r) { late = r; });
        CHECK_FALSE(late.ok);
    }
    redis.resume();
}

TEST_CASE("a master that turned replica is refused at connect and said once")
{
    RedisServer master;
    RedisServer replica({"--replicaof", "127.0.0.1", std::to_string(master.port())});
    Loop loop;
    TestStore t(loop, replica.port(),
                {{"command-timeout", "300ms"}, {"reconnect-backoff-max", "300ms"}});
    for (int i = 0; i < 3; ++i) {
        StoreResult r = t.record("gus", "8.8.8.8", "US");
        CHECK_FALSE(r.ok);
        loop.runFor(350);
    }
    CHECK(t.host().logCount("redis-store.refused master") == 1);
    CHECK(t.host().logText().find("is a slave, not the master") != std::string::npos);
    // Promoted: it becomes usable without a restart.
    RedisClient cli = replica.client();
    cli.cmd({"REPLICAOF", "NO", "ONE"});
    REQUIRE(loop.runUntil([&] { return t.store()->masterReady(); }, 3000));
    CHECK(t.record("gus", "8.8.8.8", "US").ok);
}

TEST_CASE("READONLY from a demoted master: the write goes to the server again once it is master")
{
    RedisServer a;
    RedisServer b;
    Loop loop;
    TestStore t(loop, a.port(), {{"reconnect-backoff-max", "300ms"}, {"command-timeout", "1s"}});
    REQUIRE(t.record("hal", "8.8.8.8", "US").ok);
    RedisClient ca = a.client();
    // Demote a under the open connection (Redis 7 keeps normal clients).
    ca.cmd({"REPLICAOF", "127.0.0.1", std::to_string(b.port())});
    StoreResult r = t.record("hal", "1.1.1.1", "AU");
    CHECK_FALSE(r.ok);  // a is a replica now: refused at the reconnect's ROLE check
    CHECK(t.host().logText().find("turned read-only") != std::string::npos);
    ca.cmd({"REPLICAOF", "NO", "ONE"});
    REQUIRE(loop.runUntil([&] { return t.store()->masterReady(); }, 3000));
    CHECK(t.record("hal", "1.1.1.1", "AU").ok);
}
