// fakes.hpp - stand-ins for the core and the mail server in the operator-mail
// unit tests: a config section, a host, a store, a transport, a log capture
// and a loop runner.
#pragma once

#include <doctest/doctest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>
#include <uv.h>

#include <chrono>
#include <cstdio>
#include <deque>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "geopol/config.hpp"
#include "geopol/host.hpp"
#include "geopol/request.hpp"
#include "geopol/store.hpp"
#include "transport.hpp"

namespace geopol::testing {

/// A file in the temp dir with the given content, removed at scope exit.
struct TempFile {
    std::string path;
    explicit TempFile(const std::string &content, mode_t mode = 0600)
    {
        char tmpl[] = "/tmp/geopol-operator-mail-XXXXXX";
        int fd = mkstemp(tmpl);
        REQUIRE(fd >= 0);
        close(fd);
        path = tmpl;
        std::ofstream(path, std::ios::binary) << content;
        chmod(path.c_str(), mode);
    }
    ~TempFile() { std::remove(path.c_str()); }
};

/// A YAML section given as strings. Records which keys were asked for, so a
/// test can check that none would be reported unknown, and the errors.
class FakeConfig : public ConfigSection {
public:
    std::map<std::string, std::string, std::less<>> values;
    std::set<std::string, std::less<>> asked;
    std::vector<std::pair<std::string, std::string>> errors;

    FakeConfig &set(std::string key, std::string value)
    {
        values[std::move(key)] = std::move(value);
        return *this;
    }
    std::string errorText() const
    {
        std::string s;
        for (const auto &[k, m] : errors)
            s += k + ": " + m + "\n";
        return s;
    }
    bool hasError(std::string_view key) const
    {
        for (const auto &e : errors)
            if (e.first == key)
                return true;
        return false;
    }
    /// Keys set but never asked for: what the core would report as unknown.
    std::vector<std::string> unasked() const
    {
        std::vector<std::string> out;
        for (const auto &kv : values)
            if (!asked.count(kv.first))
                out.push_back(kv.first);
        return out;
    }

    std::string_view name() const override { return "operator-mail"; }
    bool has(std::string_view key) const override { return values.count(key) > 0; }
    std::string getString(std::string_view key, std::string_view def) override
    {
        asked.emplace(key);
        auto it = values.find(key);
        return it == values.end() ? std::string(def) : it->second;
    }
    int64_t getInt(std::string_view key, int64_t def, int64_t min, int64_t max) override
    {
        asked.emplace(key);
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
        asked.emplace(key);
        auto it = values.find(key);
        return it == values.end() ? def : std::stod(it->second);
    }
    bool getBool(std::string_view key, bool def) override
    {
        asked.emplace(key);
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
        asked.emplace(key);
        return {};
    }
    std::string getPath(std::string_view key, std::string_view def) override
    {
        return getString(key, def);
    }
    int64_t getDurationMs(std::string_view key, int64_t defMs, int64_t minMs,
                          int64_t maxMs) override
    {
        asked.emplace(key);
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
    std::string getJson(std::string_view key) override
    {
        asked.emplace(key);
        return {};
    }
    void error(std::string_view key, std::string_view message) override
    {
        errors.emplace_back(std::string(key), std::string(message));
    }
};

/// Log lines captured in memory, for checks such as "the password is never logged".
struct LogCapture {
    std::ostringstream out;
    std::shared_ptr<spdlog::logger> logger;
    explicit LogCapture(spdlog::level::level_enum level = spdlog::level::debug)
        : logger(std::make_shared<spdlog::logger>(
              "operator-mail", std::make_shared<spdlog::sinks::ostream_sink_mt>(out)))
    {
        logger->set_level(level);
        logger->set_pattern("%l %v");
    }
    std::string text() const { return out.str(); }
    bool contains(std::string_view s) const { return text().find(s) != std::string::npos; }
};

class FakeHost : public Host {
public:
    FakeHost(uv_loop_t *loop, std::shared_ptr<spdlog::logger> logger)
        : loop_(loop), logger_(std::move(logger))
    {
    }
    using Host::find;
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

/// A store that only answers inspect(), from a fixed table; synchronously,
/// or when the test calls completeAll().
class FakeStore : public Store {
public:
    std::map<std::string, AccountState, std::less<>> accounts;
    std::string failInspect;  ///< non-empty: inspect() fails with this
    bool deferred = false;
    int inspects = 0;

    void record(const Observation &, StoreDone done) override { done(StoreResult{}); }
    void block(std::string_view, StoreDone done) override { done(StoreResult{}); }
    void unlock(std::string_view, StoreDone done) override { done(StoreResult{}); }
    void inspect(std::string_view account, StoreDone done) override
    {
        ++inspects;
        StoreResult r;
        if (!failInspect.empty()) {
            r.ok = false;
            r.error = failInspect;
        } else {
            auto it = accounts.find(account);
            r.found = it != accounts.end();
            if (r.found)
                r.state = it->second;
        }
        if (deferred)
            pending_.emplace_back([done = std::move(done), r] { done(r); });
        else
            done(r);
    }
    void completeAll()
    {
        auto jobs = std::move(pending_);
        pending_.clear();
        for (auto &j : jobs)
            j();
    }
    size_t pendingCount() const { return pending_.size(); }

private:
    std::deque<std::function<void()>> pending_;
};

/// What a FakeTransport saw; outlives the transport (the outbox deletes it).
struct TransportLog {
    struct Send {
        std::shared_ptr<const std::string> message;
        operator_mail::Transport::Done done;
    };
    std::deque<Send> inFlight;
    std::vector<std::string> messages;  ///< every message handed over, in order
    bool closed = false;
    bool destroyed = false;

    /// Completes the oldest send with `result` (from the test, never inside send()).
    void complete(operator_mail::SendResult result)
    {
        REQUIRE(!inFlight.empty());
        Send s = std::move(inFlight.front());
        inFlight.pop_front();
        s.done(result);
    }
    void succeed()
    {
        operator_mail::SendResult r;
        r.ok = true;
        complete(r);
    }
    void fail(std::string error, bool permanent = false)
    {
        operator_mail::SendResult r;
        r.error = std::move(error);
        r.permanent = permanent;
        complete(r);
    }
};

class FakeTransport : public operator_mail::Transport {
public:
    FakeTransport(uv_loop_t *loop, std::shared_ptr<TransportLog> log)
        : loop_(loop), log_(std::move(log))
    {
    }
    ~FakeTransport() override { log_->destroyed = true; }
    void send(std::shared_ptr<const std::string> message, Done done) override
    {
        log_->messages.push_back(*message);
        log_->inFlight.push_back({std::move(message), std::move(done)});
    }
    void close(std::function<void()> closed) override
    {
        log_->closed = true;
        log_->inFlight.clear();
        // Like the real one: `closed` runs later, from the loop.
        auto *t = new uv_timer_t;
        uv_timer_init(loop_, t);
        t->data = new std::function<void()>(std::move(closed));
        uv_timer_start(
            t,
            [](uv_timer_t *h) {
                auto *fn = static_cast<std::function<void()> *>(h->data);
                uv_close(reinterpret_cast<uv_handle_t *>(h),
                         [](uv_handle_t *c) { delete reinterpret_cast<uv_timer_t *>(c); });
                (*fn)();
                delete fn;
            },
            0, 0);
    }

private:
    uv_loop_t *loop_;
    std::shared_ptr<TransportLog> log_;
};

/// A private loop for one test; runs until every handle is closed at the end.
struct Loop {
    uv_loop_t loop;
    Loop() { uv_loop_init(&loop); }
    ~Loop()
    {
        uv_run(&loop, UV_RUN_DEFAULT);
        CHECK(uv_loop_close(&loop) == 0);  // a handle left open is a bug
    }
    uv_loop_t *get() { return &loop; }

    /// Runs the loop until `done()` or `timeoutMs` passed; returns done().
    bool runUntil(const std::function<bool()> &done, int timeoutMs = 2000)
    {
        auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
        while (!done() && std::chrono::steady_clock::now() < until) {
            uv_run(&loop, UV_RUN_NOWAIT);
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        return done();
    }
    void runFor(int ms)
    {
        runUntil([] { return false; }, ms);
    }
};

}  // namespace geopol::testing
