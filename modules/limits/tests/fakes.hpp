// fakes.hpp - stand-ins for the core in the limits unit tests: a config
// section, a host, a resume target and an account store that counts in sets.
#pragma once

#include <doctest/doctest.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>
#include <deque>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "geopol/config.hpp"
#include "geopol/host.hpp"
#include "geopol/request.hpp"
#include "geopol/store.hpp"

namespace geopol::testing {

/// A file in the temp dir with the given content, removed at scope exit.
struct TempFile {
    std::string path;
    explicit TempFile(const std::string &content)
    {
        char tmpl[] = "/tmp/geopol-limits-XXXXXX";
        int fd = mkstemp(tmpl);
        REQUIRE(fd >= 0);
        close(fd);
        path = tmpl;
        std::ofstream(path) << content;
    }
    ~TempFile() { std::remove(path.c_str()); }
};

/// A YAML section given as strings; errors are collected for the test to read.
class FakeConfig : public ConfigSection {
public:
    std::map<std::string, std::string, std::less<>> values;
    std::map<std::string, std::vector<std::string>, std::less<>> lists;
    std::vector<std::pair<std::string, std::string>> errors;

    FakeConfig &set(std::string key, std::string value)
    {
        values[std::move(key)] = std::move(value);
        return *this;
    }
    FakeConfig &setList(std::string key, std::vector<std::string> value)
    {
        lists[std::move(key)] = std::move(value);
        return *this;
    }
    /// All error messages joined, for CHECK(contains(...)).
    std::string errorText() const
    {
        std::string s;
        for (const auto &[k, m] : errors)
            s += k + ": " + m + "\n";
        return s;
    }

    std::string_view name() const override { return "test"; }
    bool has(std::string_view key) const override { return values.count(key) || lists.count(key); }
    std::string getString(std::string_view key, std::string_view def) override
    {
        auto it = values.find(key);
        return it == values.end() ? std::string(def) : it->second;
    }
    int64_t getInt(std::string_view key, int64_t def, int64_t min, int64_t max) override
    {
        auto it = values.find(key);
        if (it == values.end())
            return def;
        try {
            size_t used = 0;
            int64_t v = std::stoll(it->second, &used);
            if (used == it->second.size() && v >= min && v <= max)
                return v;
        } catch (...) {
        }
        error(key, "bad number " + it->second);
        return def;
    }
    double getDouble(std::string_view key, double def, double, double) override
    {
        auto it = values.find(key);
        return it == values.end() ? def : std::stod(it->second);
    }
    bool getBool(std::string_view key, bool def) override
    {
        auto it = values.find(key);
        if (it == values.end())
            return def;
        if (it->second == "true")
            return true;
        if (it->second == "false")
            return false;
        error(key, "bad bool " + it->second);
        return def;
    }
    std::vector<std::string> getStringList(std::string_view key) override
    {
        auto it = lists.find(key);
        return it == lists.end() ? std::vector<std::string>{} : it->second;
    }
    std::string getPath(std::string_view key, std::string_view def) override
    {
        return getString(key, def);
    }
    int64_t getDurationMs(std::string_view key, int64_t defMs, int64_t minMs,
                          int64_t maxMs) override
    {
        auto it = values.find(key);
        if (it == values.end())
            return defMs;
        std::string s = it->second;
        int64_t scale = 1000;
        if (s.size() > 2 && s.substr(s.size() - 2) == "ms") {
            scale = 1;
            s.resize(s.size() - 2);
        } else if (!s.empty() && s.back() == 's') {
            s.pop_back();
        }
        int64_t v = std::stoll(s) * scale;
        if (v < minMs || v > maxMs) {
            error(key, "duration out of range");
            return defMs;
        }
        return v;
    }
    std::string getJson(std::string_view) override { return {}; }
    void error(std::string_view key, std::string_view message) override
    {
        errors.emplace_back(std::string(key), std::string(message));
    }
};

/// Lends a logger (discarding output, at a chosen level) and a service registry.
class FakeHost : public Host {
public:
    explicit FakeHost(uv_loop_t *loop = nullptr,
                      spdlog::level::level_enum level = spdlog::level::info)
        : loop_(loop),
          logger_(std::make_shared<spdlog::logger>("test",
                                                   std::make_shared<spdlog::sinks::null_sink_mt>()))
    {
        logger_->set_level(level);
    }
    using Host::find;  // keep find<T>() visible next to the override
    uv_loop_t *loop() override { return loop_; }
    std::shared_ptr<spdlog::logger> logger() override { return logger_; }
    void provide(std::string_view service, void *impl) override
    {
        services_[std::string(service)] = impl;
    }
    void *find(std::string_view service) override
    {
        auto it = services_.find(std::string(service));
        return it == services_.end() ? nullptr : it->second;
    }

private:
    uv_loop_t *loop_;
    std::shared_ptr<spdlog::logger> logger_;
    std::map<std::string, void *> services_;
};

/// Plays the core's part for one Request: records every resume call.
class TestResumeTarget : public ResumeTarget {
public:
    explicit TestResumeTarget(Request *req) : req_(req) {}
    Request *live(uint64_t generation) override
    {
        return gone_ || generation != req_->id() ? nullptr : req_;
    }
    void resume(uint64_t generation, Step step) override
    {
        if (live(generation))
            steps.push_back(step);
    }
    /// The client went away: later completions must find no request.
    void disconnect() { gone_ = true; }

    std::vector<Step> steps;

private:
    Request *req_;
    bool gone_ = false;
};

/// Counts in ordered sets, like a store with an infinite TTL. Completes
/// callbacks at once (synchronous) or when the test calls completeAll().
class FakeStore : public Store {
public:
    bool deferred = false;
    bool blockPermanent = false;
    std::string failRecord;         ///< non-empty: record() fails with this error
    std::string failBlock;          ///< non-empty: block() fails with this error
    std::vector<Observation> seen;  ///< copies; views refer into recorded strings
    int blockCalls = 0;

    struct Account {
        std::set<std::string> foreignIps, foreignCountries, homeIps, homeCountries;
        BlockState block = BlockState::None;
    };
    std::map<std::string, Account, std::less<>> accounts;

    void record(const Observation &obs, StoreDone done) override
    {
        // Keep owning copies: obs's views die with the caller's frame.
        keep_.emplace_back(std::string(obs.account));
        keep_.emplace_back(std::string(obs.ip));
        keep_.emplace_back(std::string(obs.country));
        auto it = keep_.end();
        Observation copy = obs;
        copy.country = *--it;
        copy.ip = *--it;
        copy.account = *--it;
        seen.push_back(copy);

        StoreResult r;
        if (!failRecord.empty()) {
            r.ok = false;
            r.error = failRecord;
        } else {
            Account &a = accounts[std::string(obs.account)];
            if (!obs.ip.empty())
                (obs.home ? a.homeIps : a.foreignIps).insert(std::string(obs.ip));
            if (!obs.country.empty())
                (obs.home ? a.homeCountries : a.foreignCountries).insert(std::string(obs.country));
            fill(a, r.state, obs.wantLists);
        }
        complete(std::move(done), std::move(r));
    }

    void block(std::string_view account, StoreDone done) override
    {
        ++blockCalls;
        StoreResult r;
        if (!failBlock.empty()) {
            r.ok = false;
            r.error = failBlock;
        } else {
            Account &a = accounts[std::string(account)];
            if (a.block == BlockState::None) {
                a.block = blockPermanent ? BlockState::Permanent : BlockState::Temporary;
                r.newly = true;
            }
            fill(a, r.state, false);
        }
        complete(std::move(done), std::move(r));
    }

    void unlock(std::string_view account, StoreDone done) override
    {
        StoreResult r;
        r.found = accounts.erase(std::string(account)) > 0;
        complete(std::move(done), std::move(r));
    }

    void inspect(std::string_view account, StoreDone done) override
    {
        StoreResult r;
        auto it = accounts.find(account);
        r.found = it != accounts.end();
        if (r.found)
            fill(it->second, r.state, true);
        complete(std::move(done), std::move(r));
    }

    /// Runs the deferred callbacks, including those they queue in turn.
    void completeOne()
    {
        REQUIRE(!pending_.empty());
        auto job = std::move(pending_.front());
        pending_.pop_front();
        job();
    }
    void completeAll()
    {
        while (!pending_.empty()) {
            auto job = std::move(pending_.front());
            pending_.pop_front();
            job();
        }
    }
    size_t pendingCount() const { return pending_.size(); }

private:
    static void fill(const Account &a, AccountState &s, bool lists)
    {
        s.foreignIps = static_cast<uint32_t>(a.foreignIps.size());
        s.foreignCountries = static_cast<uint32_t>(a.foreignCountries.size());
        s.homeIps = static_cast<uint32_t>(a.homeIps.size());
        s.homeCountries = static_cast<uint32_t>(a.homeCountries.size());
        s.block = a.block;
        if (lists) {
            s.foreignIpList.assign(a.foreignIps.begin(), a.foreignIps.end());
            s.foreignCountryList.assign(a.foreignCountries.begin(), a.foreignCountries.end());
            s.homeIpList.assign(a.homeIps.begin(), a.homeIps.end());
            s.homeCountryList.assign(a.homeCountries.begin(), a.homeCountries.end());
        }
    }

    void complete(StoreDone done, StoreResult r)
    {
        if (!deferred) {
            done(r);
            return;
        }
        pending_.emplace_back([done = std::move(done), r = std::move(r)] { done(r); });
    }

    std::deque<std::string> keep_;  // deque: references stay valid as it grows
    std::deque<std::function<void()>> pending_;
};

}  // namespace geopol::testing
