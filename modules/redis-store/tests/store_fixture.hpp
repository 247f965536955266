// store_fixture.hpp - a redis-store module configured and started the way
// the core does it, on a test loop, with helpers for synchronous calls.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <string>

#include "fakes.hpp"
#include "redis_server.hpp"
#include "redis_store.hpp"
#include "store_module.hpp"

namespace geopol::testing {

class TestStore {
public:
    /// `keys`: the module's section (port is filled in from `port` unless given).
    TestStore(Loop &loop, int port, std::map<std::string, std::string> keys = {},
              std::map<std::string, std::vector<std::string>> lists = {})
        : loop_(loop), host_(loop.get(), spdlog::level::debug)
    {
        if (!keys.count("port"))
            keys["port"] = std::to_string(port);
        for (auto &[k, v] : keys)
            cfg_.set(k, v);
        for (auto &[k, v] : lists)
            cfg_.setList(k, v);
        REQUIRE(module_.configure(cfg_).isOk());
        REQUIRE_MESSAGE(cfg_.errors.empty(), cfg_.errorText());
        REQUIRE(module_.start(host_).isOk());
        REQUIRE(host_.find<Store>("store") == static_cast<Store *>(&module_));
    }
    ~TestStore() { stop(); }

    /// Stops the module and lets the loop run the close callbacks (other
    /// stores on the loop may keep it busy, so no full drain here: ~Loop
    /// checks that every handle was closed).
    void stop()
    {
        module_.stop();
        loop_.runFor(30);
    }

    redis_store::RedisStoreModule &module() { return module_; }
    redis_store::RedisStore *store() { return module_.store(); }
    FakeHost &host() { return host_; }

    /// Waits until the master connection is up (the first requests would
    /// wait for it anyway; tests that time things want it up first).
    void waitConnected(int timeoutMs = 5000)
    {
        REQUIRE(loop_.runUntil([&] { return store()->masterReady(); }, timeoutMs));
    }

    StoreResult record(std::string_view account, std::string_view ip, std::string_view country,
                       bool home = false, bool lists = true)
    {
        Observation obs;
        obs.account = account;
        obs.ip = ip;
        obs.country = country;
        obs.home = home;
        obs.wantLists = lists;
        return callStore(loop_, [&](StoreDone d) { module_.record(obs, std::move(d)); });
    }
    StoreResult block(std::string_view account)
    {
        return callStore(loop_, [&](StoreDone d) { module_.block(account, std::move(d)); });
    }
    StoreResult unlock(std::string_view account)
    {
        return callStore(loop_, [&](StoreDone d) { module_.unlock(account, std::move(d)); });
    }
    StoreResult inspect(std::string_view account)
    {
        return callStore(loop_, [&](StoreDone d) { module_.inspect(account, std::move(d)); });
    }

private:
    Loop &loop_;
    FakeConfig cfg_;
    FakeHost host_;
    redis_store::RedisStoreModule module_;
};

inline std::vector<std::string> sorted(std::vector<std::string> v)
{
    std::sort(v.begin(), v.end());
    return v;
}

}  // namespace geopol::testing
