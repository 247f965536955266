// store_module_test.cpp - the module on a real libuv loop: configuration,
// the "store" service, state file life cycle, adoption across a reload.
#include "store_module.hpp"

#include <doctest/doctest.h>
#include <uv.h>

#include <filesystem>
#include <fstream>

#include "fakes.hpp"
#include "geopol/metrics.hpp"

using namespace geopol;
using namespace geopol::memory_store;

namespace {

bool contains(const std::string &haystack, std::string_view needle)
{
    return haystack.find(needle) != std::string::npos;
}

Observation obs(std::string_view account, std::string_view ip, std::string_view country = "")
{
    Observation o;
    o.account = account;
    o.ip = ip;
    o.country = country;
    return o;
}

// A loop that must end with every handle closed (close callbacks and
// background snapshots run in its destructor).
using testing::Loop;

// One configured and started module instance.
struct Instance {
    testing::FakeConfig cfg;
    testing::FakeHost host;
    MemoryStoreModule module;
    Status started = Status::ok();

    Instance(uv_loop_t *loop, const std::string &stateFile) : host(loop)
    {
        cfg.set("state-file", stateFile);
    }
    Status start()
    {
        REQUIRE(module.configure(cfg));
        REQUIRE_MESSAGE(cfg.errors.empty(), cfg.errorText());
        return module.start(host);
    }
    Store *store() { return host.find<Store>("store"); }
    StoreResult inspect(std::string_view account)
    {
        StoreResult out;
        store()->inspect(account, [&](const StoreResult &r) { out = r; });
        return out;
    }
    void record(std::string_view account, std::string_view ip)
    {
        store()->record(obs(account, ip), [](const StoreResult &r) { REQUIRE(r.ok); });
    }
};

}  // namespace

TEST_CASE("the module provides itself as the store and handles no requests")
{
    Loop l;
    Instance m(l.get(), "");
    REQUIRE(m.start());
    CHECK(m.module.provides() == "store");
    CHECK_FALSE(m.module.handlesRequests());
    CHECK(m.store() == static_cast<Store *>(&m.module));
    m.module.stop();
}

TEST_CASE("the defaults are ttl 3600, no permanent blocks and 100000 accounts")
{
    Loop l;
    Instance m(l.get(), "");
    REQUIRE(m.start());
    StoreOptions o = m.module.store()->options();
    CHECK(o.ttlSeconds == 3600);
    CHECK_FALSE(o.blockPermanent);
    CHECK(o.maxAccounts == 100000);
    CHECK_FALSE(m.module.persistent());
    m.module.stop();

    testing::FakeConfig cfg;
    MemoryStoreModule defaults;
    REQUIRE(defaults.configure(cfg));
    CHECK(cfg.errors.empty());
}

TEST_CASE("a ttl or account limit below 1 is refused")
{
    testing::FakeConfig cfg;
    cfg.set("ttl", "0").set("max-accounts", "0").set("state-file", "/var/lib/geopol/");
    MemoryStoreModule m;
    m.configure(cfg);
    std::string errors = cfg.errorText();
    CHECK(contains(errors, "ttl"));
    CHECK(contains(errors, "max-accounts"));
    CHECK(contains(errors, "state-file"));
}

TEST_CASE("a stopped module leaves a state file that the next start loads")
{
    testing::TempDir dir;
    std::string path = dir.file("state.json");
    {
        Loop l;
        Instance first(l.get(), path);
        REQUIRE(first.start());
        first.record("alice@example.com", "8.8.8.8");
        first.store()->block("alice@example.com", [](const StoreResult &) {});
        first.module.stop();
    }
    REQUIRE(std::filesystem::exists(path));
    Loop l;
    Instance second(l.get(), path);
    REQUIRE(second.start());
    StoreResult r = second.inspect("alice@example.com");
    CHECK(r.found);
    CHECK(r.state.foreignIps == 1);
    CHECK(r.state.block == BlockState::Temporary);
    second.module.stop();
}

TEST_CASE("a reloaded instance adopts the running state instead of re-reading the file")
{
    testing::TempDir dir;
    std::string path = dir.file("state.json");
    Loop l;
    Instance old(l.get(), path);
    REQUIRE(old.start());
    old.record("alice@example.com", "8.8.8.8");
    REQUIRE_FALSE(std::filesystem::exists(path));  // nothing written yet

    Instance fresh(l.get(), path);
    fresh.cfg.set("ttl", "7200");
    REQUIRE(fresh.start());
    CHECK(fresh.inspect("alice@example.com").state.foreignIps == 1);
    CHECK(fresh.module.store() == old.module.store());
    CHECK(fresh.module.store()->options().ttlSeconds == 7200);  // the new settings apply

    old.module.stop();  // the old chain goes; the new one still holds the state
    CHECK_FALSE(std::filesystem::exists(path));
    fresh.record("alice@example.com", "8.8.4.4");
    CHECK(fresh.inspect("alice@example.com").state.foreignIps == 2);
    fresh.module.stop();  // the last user writes the file
    CHECK(std::filesystem::exists(path));
}

TEST_CASE("a missing state directory is created")
{
    testing::TempDir dir;
    std::string path = dir.file("sub/dir/state.json");
    Loop l;
    Instance m(l.get(), path);
    REQUIRE(m.start());
    CHECK(std::filesystem::is_directory(dir.file("sub/dir")));
    CHECK(m.module.persistent());
    m.record("a@x", "8.8.8.8");
    m.module.stop();
    CHECK(std::filesystem::exists(path));
}

TEST_CASE("a state directory that cannot be created turns persistence off and the store works")
{
    testing::TempDir dir;
    std::ofstream(dir.file("plain-file")) << "x";
    std::string path = dir.file("plain-file/sub/state.json");  // a file is in the way
    Loop l;
    Instance m(l.get(), path);
    REQUIRE(m.start());
    CHECK_FALSE(m.module.persistent());
    m.record("a@x", "8.8.8.8");
    CHECK(m.inspect("a@x").state.foreignIps == 1);
    m.module.stop();
}

TEST_CASE("a corrupt state file refuses to start, naming the file and the fix")
{
    testing::TempDir dir;
    std::string path = dir.file("state.json");
    std::ofstream(path) << "{\"format\":\"geopol-memory-store\",";
    Loop l;
    Instance m(l.get(), path);
    Status s = m.start();
    CHECK_FALSE(s);
    CHECK(contains(s.message(), path));
    CHECK(contains(s.message(), "corrupt"));
    CHECK(contains(s.message(), "Move the file aside"));
    CHECK(m.store() == nullptr);
    m.module.stop();  // harmless after a failed start
}

TEST_CASE("periodic snapshots are written in the background while the loop runs")
{
    testing::TempDir dir;
    std::string path = dir.file("state.json");
    Loop l;
    Instance m(l.get(), path);
    m.cfg.set("snapshot-interval", "1s");
    REQUIRE(m.start());
    m.record("a@x", "8.8.8.8");

    // The module's timers are unref'd; a test timer keeps the loop running
    // until the file appears (bounded, so a bug fails instead of hanging).
    struct Watch {
        std::string path;
        int ticks = 0;
    } watch{path};
    uv_timer_t poll;
    uv_timer_init(l.get(), &poll);
    poll.data = &watch;
    uv_timer_start(
        &poll,
        [](uv_timer_t *t) {
            auto *w = static_cast<Watch *>(t->data);
            if (std::filesystem::exists(w->path) || ++w->ticks > 100)
                uv_timer_stop(t);
        },
        50, 50);
    uv_run(l.get(), UV_RUN_DEFAULT);
    uv_close(reinterpret_cast<uv_handle_t *>(&poll), nullptr);
    CHECK(std::filesystem::exists(path));
    m.module.stop();
}

TEST_CASE("a stopped instance still serves requests that were in flight")
{
    Loop l;
    Instance m(l.get(), "");
    REQUIRE(m.start());
    m.record("a@x", "8.8.8.8");
    m.module.stop();
    m.module.stop();  // a second stop changes nothing
    StoreResult r;
    m.store()->record(obs("a@x", "8.8.4.4"), [&](const StoreResult &x) { r = x; });
    CHECK(r.ok);
    CHECK(r.state.foreignIps == 2);
}

TEST_CASE("the module adds its metrics to the chain's metrics service")
{
    struct FakeMetrics : Metrics {
        std::vector<std::function<void(std::string &)>> sources;
        void addSource(std::function<void(std::string &out)> s) override
        {
            sources.push_back(std::move(s));
        }
        void addHealthCheck(std::string, std::function<std::string()>) override {}
        void render(std::string &out) override
        {
            for (auto &s : sources)
                s(out);
        }
        std::vector<std::string> problems() override { return {}; }
    } metrics;
    Loop l;
    Instance m(l.get(), "");
    m.host.provide("metrics", static_cast<Metrics *>(&metrics));
    REQUIRE(m.start());
    m.record("a@x", "8.8.8.8");
    m.store()->block("a@x", [](const StoreResult &) {});
    std::string out;
    metrics.render(out);
    CHECK(out.find("geopol_store_accounts{store=\"memory\"} 1\n") != std::string::npos);
    CHECK(out.find("geopol_store_blocked_accounts{store=\"memory\",kind=\"temporary\"} 1\n") !=
          std::string::npos);
    CHECK(out.find("geopol_store_blocked_accounts{store=\"memory\",kind=\"permanent\"} 0\n") !=
          std::string::npos);
    CHECK(out.find("geopol_store_operations_total{store=\"memory\",op=\"record\"} 1\n") !=
          std::string::npos);
    CHECK(out.find("geopol_store_errors_total{store=\"memory\",op=\"block\"} 0\n") !=
          std::string::npos);
    CHECK(out.find("# TYPE geopol_store_evictions_total counter\n") != std::string::npos);
    CHECK(out.find("geopol_store_snapshot_failures_total{store=\"memory\"} 0\n") !=
          std::string::npos);
    m.module.stop();
}
