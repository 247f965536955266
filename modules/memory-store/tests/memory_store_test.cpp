// memory_store_test.cpp - Store semantics of the in-memory table: sliding
// expiry, counts, blocks, unlock, inspect, eviction, sweeping, threads.
#include "memory_store.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <latch>
#include <thread>
#include <vector>

#include "snapshot.hpp"

using namespace geopol;
using namespace geopol::memory_store;

namespace {

constexpr int64_t kT0 = 1'700'000'000'000;  // ms
constexpr int64_t kSec = 1000;

// The store's clock, moved by hand.
struct TestClock {
    std::atomic<int64_t> ms{kT0};
    Clock clock()
    {
        return [this] { return ms.load(); };
    }
    void at(int64_t t) { ms = t; }
};

StoreOptions ttl(int64_t seconds)
{
    StoreOptions o;
    o.ttlSeconds = seconds;
    return o;
}

Observation obs(std::string_view account, std::string_view ip, std::string_view country = "",
                bool home = false)
{
    Observation o;
    o.account = account;
    o.ip = ip;
    o.country = country;
    o.home = home;
    return o;
}

}  // namespace

TEST_CASE("an entry seen at t0 and again at t0+ttl-1 lives until t0+2ttl-1")
{
    TestClock t;
    MemoryStore s(ttl(10), t.clock());
    s.recordNow(obs("a@x", "8.8.8.8"));
    t.at(kT0 + 9 * kSec);
    s.recordNow(obs("a@x", "8.8.8.8"));
    t.at(kT0 + 19 * kSec - 1);
    CHECK(s.inspectNow("a@x").state.foreignIps == 1);
    t.at(kT0 + 19 * kSec);
    StoreResult gone = s.inspectNow("a@x");
    CHECK(gone.state.foreignIps == 0);
    CHECK_FALSE(gone.found);
}

TEST_CASE("an entry not seen again stops counting exactly ttl after it was seen")
{
    TestClock t;
    MemoryStore s(ttl(10), t.clock());
    s.recordNow(obs("a@x", "8.8.8.8", "US"));
    t.at(kT0 + 10 * kSec - 1);
    CHECK(s.recordNow(obs("a@x", "8.8.4.4", "US")).state.foreignIps == 2);
    t.at(kT0 + 10 * kSec);
    StoreResult r = s.recordNow(obs("a@x", "8.8.1.1", "US"));
    CHECK(r.state.foreignIps == 2);        // 8.8.8.8 has gone
    CHECK(r.state.foreignCountries == 1);  // US was refreshed by every record
}

TEST_CASE("counts are kept per map: foreign and home IPs and countries")
{
    TestClock t;
    MemoryStore s(ttl(3600), t.clock());
    s.recordNow(obs("a@x", "8.8.8.8", "US"));
    s.recordNow(obs("a@x", "8.8.8.8", "US"));  // same IP and country: counted once
    s.recordNow(obs("a@x", "217.160.0.1", "DE", true));
    StoreResult r = s.recordNow(obs("a@x", "193.99.144.80", "DE", true));
    CHECK(r.found);
    CHECK(r.state.foreignIps == 1);
    CHECK(r.state.foreignCountries == 1);
    CHECK(r.state.homeIps == 2);
    CHECK(r.state.homeCountries == 1);
    CHECK(r.state.block == BlockState::None);
    CHECK(r.state.ttlSeconds == 3600);
    CHECK(r.state.blockTtlSeconds == -1);
    CHECK(r.state.foreignIpList.empty());  // lists only when asked
}

TEST_CASE("record returns the lists when asked")
{
    TestClock t;
    MemoryStore s(ttl(3600), t.clock());
    s.recordNow(obs("a@x", "8.8.8.8", "US"));
    Observation o = obs("a@x", "217.160.0.1", "DE", true);
    o.wantLists = true;
    StoreResult r = s.recordNow(o);
    CHECK(r.state.foreignIpList == std::vector<std::string>{"8.8.8.8"});
    CHECK(r.state.foreignCountryList == std::vector<std::string>{"US"});
    CHECK(r.state.homeIpList == std::vector<std::string>{"217.160.0.1"});
    CHECK(r.state.homeCountryList == std::vector<std::string>{"DE"});
}

TEST_CASE("a request with nothing to record creates no account")
{
    TestClock t;
    MemoryStore s(ttl(3600), t.clock());
    StoreResult r = s.recordNow(obs("a@x", ""));
    CHECK(r.ok);
    CHECK(r.state.foreignIps == 0);
    CHECK(r.state.block == BlockState::None);
    CHECK(s.accountCount() == 0);
}

TEST_CASE("the Store interface answers before the call returns")
{
    TestClock t;
    MemoryStore s(ttl(3600), t.clock());
    bool called = false;
    s.record(obs("a@x", "8.8.8.8"), [&](const StoreResult &r) {
        called = true;
        CHECK(r.state.foreignIps == 1);
    });
    CHECK(called);
}

TEST_CASE("block reports the transition exactly once")
{
    TestClock t;
    MemoryStore s(ttl(600), t.clock());
    s.recordNow(obs("a@x", "8.8.8.8"));
    StoreResult first = s.blockNow("a@x");
    CHECK(first.newly);
    CHECK(first.state.block == BlockState::Temporary);
    CHECK(first.state.blockTtlSeconds == 600);
    CHECK(first.state.foreignIps == 1);
    t.at(kT0 + kSec);
    StoreResult second = s.blockNow("a@x");
    CHECK_FALSE(second.newly);
    CHECK(second.state.blockTtlSeconds == 599);  // the block is not extended
    CHECK(s.recordNow(obs("a@x", "8.8.4.4")).state.block == BlockState::Temporary);
}

TEST_CASE("a temporary block lasts ttl from when it was set, then can be set anew")
{
    TestClock t;
    MemoryStore s(ttl(600), t.clock());
    s.blockNow("a@x");  // an unknown account can be blocked
    t.at(kT0 + 600 * kSec - 1);
    CHECK(s.inspectNow("a@x").state.block == BlockState::Temporary);
    // recording does not extend the block
    s.recordNow(obs("a@x", "8.8.8.8"));
    t.at(kT0 + 600 * kSec);
    StoreResult r = s.recordNow(obs("a@x", "8.8.8.8"));
    CHECK(r.state.block == BlockState::None);
    CHECK(r.state.foreignIps == 1);
    CHECK(s.blockNow("a@x").newly);
}

TEST_CASE("a permanent block never expires and keeps the account's entries")
{
    TestClock t;
    StoreOptions o = ttl(60);
    o.blockPermanent = true;
    MemoryStore s(o, t.clock());
    s.recordNow(obs("a@x", "8.8.8.8", "US"));
    StoreResult b = s.blockNow("a@x");
    CHECK(b.newly);
    CHECK(b.state.block == BlockState::Permanent);
    CHECK(b.state.blockTtlSeconds == -1);
    CHECK(b.state.ttlSeconds == -1);

    t.at(kT0 + 1000 * 60 * kSec);
    for (size_t i = 0; i < MemoryStore::kShards; ++i)
        s.sweep(i);
    StoreResult later = s.recordNow(obs("a@x", "8.8.4.4", "US"));
    CHECK(later.state.block == BlockState::Permanent);
    CHECK(later.state.foreignIps == 2);
    CHECK(later.state.foreignCountries == 1);

    // Switching block-permanent off later does not lift an existing block.
    s.setOptions(ttl(60));
    t.at(kT0 + 2000 * 60 * kSec);
    CHECK(s.inspectNow("a@x").state.block == BlockState::Permanent);
}

TEST_CASE("unlock forgets the account completely")
{
    TestClock t;
    MemoryStore s(ttl(600), t.clock());
    s.recordNow(obs("a@x", "8.8.8.8", "US"));
    s.blockNow("a@x");
    CHECK(s.unlockNow("a@x").found);
    CHECK_FALSE(s.inspectNow("a@x").found);
    CHECK(s.accountCount() == 0);
    CHECK_FALSE(s.unlockNow("a@x").found);
    CHECK(s.recordNow(obs("a@x", "8.8.4.4")).state.foreignIps == 1);
    CHECK(s.blockNow("a@x").newly);
}

TEST_CASE("inspect is read-only and reports lists and remaining TTLs")
{
    TestClock t;
    MemoryStore s(ttl(100), t.clock());
    s.recordNow(obs("a@x", "8.8.8.8", "US"));
    t.at(kT0 + 50 * kSec);
    s.recordNow(obs("a@x", "217.160.0.1", "DE", true));
    s.blockNow("a@x");
    t.at(kT0 + 60 * kSec);
    StoreResult r = s.inspectNow("a@x");
    CHECK(r.found);
    CHECK(r.state.foreignIpList == std::vector<std::string>{"8.8.8.8"});
    CHECK(r.state.foreignCountryList == std::vector<std::string>{"US"});
    CHECK(r.state.homeIpList == std::vector<std::string>{"217.160.0.1"});
    CHECK(r.state.homeCountryList == std::vector<std::string>{"DE"});
    CHECK(r.state.blockTtlSeconds == 90);
    CHECK(r.state.ttlSeconds == 90);  // the newest entry and the block end at t0+150

    // inspecting did not refresh anything
    t.at(kT0 + 100 * kSec);
    CHECK(s.inspectNow("a@x").state.foreignIps == 0);
    CHECK_FALSE(s.inspectNow("nobody@x").found);
}

TEST_CASE("at max-accounts the least recently seen account is evicted")
{
    TestClock t;
    StoreOptions o = ttl(3600);
    o.maxAccounts = 3;
    MemoryStore s(o, t.clock());
    s.recordNow(obs("a@x", "8.8.8.8"));
    s.recordNow(obs("b@x", "8.8.8.8"));
    s.recordNow(obs("c@x", "8.8.8.8"));
    s.recordNow(obs("a@x", "8.8.4.4"));  // a is recent again; b is now the oldest
    s.recordNow(obs("d@x", "8.8.8.8"));
    CHECK(s.accountCount() == 3);
    CHECK(s.evictions() == 1);
    CHECK_FALSE(s.inspectNow("b@x").found);
    CHECK(s.inspectNow("a@x").state.foreignIps == 2);
    CHECK(s.inspectNow("c@x").found);
    CHECK(s.inspectNow("d@x").found);
}

TEST_CASE("the sweep drops accounts with nothing live and no block, and keeps the rest")
{
    TestClock t;
    MemoryStore s(ttl(10), t.clock());
    s.recordNow(obs("old@x", "8.8.8.8"));
    s.blockNow("blocked-expired@x");
    t.at(kT0 + 5 * kSec);
    s.blockNow("blocked@x");
    s.recordNow(obs("fresh@x", "8.8.8.8"));
    t.at(kT0 + 10 * kSec);
    size_t dropped = 0;
    for (size_t i = 0; i < MemoryStore::kShards; ++i)
        dropped += s.sweep(i);
    CHECK(dropped == 2);
    CHECK(s.accountCount() == 2);
    CHECK(s.inspectNow("blocked@x").state.block == BlockState::Temporary);
    CHECK(s.inspectNow("fresh@x").state.foreignIps == 1);
}

TEST_CASE("concurrent blocks of one account report exactly one transition")
{
    TestClock t;
    MemoryStore s(ttl(3600), t.clock());
    constexpr int kRounds = 200;
    constexpr int kThreads = 4;
    for (int round = 0; round < kRounds; ++round) {
        s.unlockNow("a@x");
        std::atomic<int> newly{0};
        std::latch go(kThreads);
        std::vector<std::thread> threads;
        for (int i = 0; i < kThreads; ++i)
            threads.emplace_back([&] {
                go.arrive_and_wait();
                for (int k = 0; k < 5; ++k)
                    s.block("a@x", [&](const StoreResult &r) { newly += r.newly ? 1 : 0; });
            });
        for (auto &th : threads)
            th.join();
        REQUIRE(newly == 1);
    }
}

TEST_CASE("concurrent records for one account from distinct IPs lose nothing")
{
    TestClock t;
    MemoryStore s(ttl(3600), t.clock());
    constexpr int kThreads = 4;
    constexpr int kPerThread = 250;
    std::latch go(kThreads);
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; ++i)
        threads.emplace_back([&, i] {
            go.arrive_and_wait();
            for (int k = 0; k < kPerThread; ++k) {
                std::string ip = "10." + std::to_string(i) + "." + std::to_string(k / 256) + "." +
                                 std::to_string(k % 256);
                s.record(obs("a@x", ip), [](const StoreResult &) {});
            }
        });
    for (auto &th : threads)
        th.join();
    CHECK(s.inspectNow("a@x").state.foreignIps == kThreads * kPerThread);
}

TEST_CASE("concurrent records for many accounts keep the account limit")
{
    TestClock t;
    StoreOptions o = ttl(3600);
    o.maxAccounts = 100;
    MemoryStore s(o, t.clock());
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; ++i)
        threads.emplace_back([&, i] {
            for (int k = 0; k < 500; ++k)
                s.recordNow(
                    obs("u" + std::to_string(i) + "-" + std::to_string(k) + "@x", "8.8.8.8"));
        });
    for (auto &th : threads)
        th.join();
    CHECK(s.accountCount() <= 100);
    CHECK(s.evictions() >= 1900);
}

TEST_CASE("a snapshot taken while other threads record is always a valid file")
{
    MemoryStore s;
    std::atomic<bool> done{false};
    std::vector<std::thread> writers;
    for (int i = 0; i < 2; ++i)
        writers.emplace_back([&, i] {
            for (int k = 0; k < 2000; ++k) {
                std::string account = "u" + std::to_string((k * 7 + i) % 300) + "@x";
                std::string ip = "10.0." + std::to_string(i) + "." + std::to_string(k % 250);
                s.recordNow(obs(account, ip, "US"));
                if (k % 97 == 0)
                    s.blockNow(account);
                if (k % 101 == 0)
                    s.unlockNow(account);
            }
            done = true;
        });
    int snapshots = 0;
    while (!done || snapshots < 3) {
        LoadResult r = parseSnapshot(serializeSnapshot(s), "concurrent");
        REQUIRE_MESSAGE(r.error.empty(), r.error);
        ++snapshots;
    }
    for (auto &w : writers)
        w.join();
    LoadResult last = parseSnapshot(serializeSnapshot(s), "final");
    CHECK(last.accounts.size() == s.accountCount());
}

TEST_CASE("the blocked-accounts count follows blocks, their expiry, unlock and eviction")
{
    TestClock t;
    StoreOptions o = ttl(10);
    o.maxAccounts = 3;
    MemoryStore s(o, t.clock());
    CHECK(s.blockedCounts().temporary == 0);
    s.blockNow("a@x");
    s.blockNow("b@x");
    s.blockNow("b@x");  // no second transition
    CHECK(s.blockedCounts().temporary == 2);
    CHECK(s.blockedCounts().permanent == 0);

    StoreOptions perm = o;
    perm.blockPermanent = true;
    s.setOptions(perm);
    s.blockNow("c@x");
    CHECK(s.blockedCounts().permanent == 1);
    CHECK(s.blockedCounts().temporary == 2);

    s.unlockNow("a@x");
    CHECK(s.blockedCounts().temporary == 1);

    // A temporary block stops counting when it expires, touched or not.
    t.at(kT0 + 10 * kSec);
    CHECK(s.blockedCounts().temporary == 0);
    CHECK(s.blockedCounts().permanent == 1);
    s.recordNow(obs("b@x", "8.8.8.8"));  // expire() drops it from the set
    CHECK(s.blockedCounts().temporary == 0);

    // Eviction of a blocked account removes it from the count.
    s.setOptions(o);
    s.recordNow(obs("d@x", "8.8.8.8"));
    s.recordNow(obs("e@x", "8.8.8.8"));
    s.recordNow(obs("f@x", "8.8.8.8"));
    CHECK(s.accountCount() == 3);
    CHECK(s.blockedCounts().permanent == 0);  // c@x was the least recently seen
}

TEST_CASE("restored blocks are counted")
{
    TestClock t;
    MemoryStore s(ttl(10), t.clock());
    std::vector<AccountRecord> recs(2);
    recs[0].name = "p@x";
    recs[0].block = BlockState::Permanent;
    recs[0].blockedAtMs = kT0;
    recs[1].name = "t@x";
    recs[1].block = BlockState::Temporary;
    recs[1].blockedAtMs = kT0;
    s.restore(std::move(recs));
    CHECK(s.blockedCounts().permanent == 1);
    CHECK(s.blockedCounts().temporary == 1);
}

TEST_CASE("store calls are counted per operation")
{
    MemoryStore s;
    s.record(obs("a@x", "8.8.8.8"), [](const StoreResult &) {});
    s.record(obs("a@x", "8.8.4.4"), [](const StoreResult &) {});
    s.block("a@x", [](const StoreResult &) {});
    s.inspect("a@x", [](const StoreResult &) {});
    s.unlock("a@x", [](const StoreResult &) {});
    CHECK(s.operations(Operation::Record) == 2);
    CHECK(s.operations(Operation::Block) == 1);
    CHECK(s.operations(Operation::Inspect) == 1);
    CHECK(s.operations(Operation::Unlock) == 1);
    CHECK(s.errors(Operation::Record) == 0);
    CHECK(std::string(operationName(Operation::Unlock)) == "unlock");
}
