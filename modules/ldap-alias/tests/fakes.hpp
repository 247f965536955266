// fakes.hpp - a ConfigSection with the core's parsing rules (enough of them),
// and a Host with a real libuv loop and a logger that writes into a string.
#pragma once

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/ostream_sink.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "geopol/config.hpp"
#include "geopol/host.hpp"

namespace geopol::ldap_alias::test {

class FakeConfig : public ConfigSection {
public:
    std::map<std::string, std::string, std::less<>> values;
    std::map<std::string, std::vector<std::string>, std::less<>> lists;
    std::vector<std::string> errors;

    FakeConfig &set(const std::string &key, const std::string &value)
    {
        values[key] = value;
        return *this;
    }
    FakeConfig &list(const std::string &key, std::vector<std::string> value)
    {
        lists[key] = std::move(value);
        return *this;
    }
    bool hasError(std::string_view key) const
    {
        for (const auto &e : errors)
            if (e.rfind(std::string(key) + ": ", 0) == 0)
                return true;
        return false;
    }
    std::string allErrors() const
    {
        std::string out;
        for (const auto &e : errors)
            out += e + "\n";
        return out;
    }

    std::string_view name() const override { return "ldap-alias"; }
    bool has(std::string_view key) const override
    {
        return values.count(key) != 0 || lists.count(key) != 0;
    }
    std::string getString(std::string_view key, std::string_view def) override
    {
        auto it = values.find(key);
        return it != values.end() ? it->second : std::string(def);
    }
    int64_t getInt(std::string_view key, int64_t def, int64_t min, int64_t max) override
    {
        auto it = values.find(key);
        if (it == values.end())
            return def;
        char *end = nullptr;
        long long v = std::strtoll(it->second.c_str(), &end, 10);
        if (it->second.empty() || *end != '\0' || v < min || v > max) {
            error(key, "must be a whole number from " + std::to_string(min) + " to " +
                           std::to_string(max));
            return def;
        }
        return v;
    }
    double getDouble(std::string_view, double def, double, double) override { return def; }
    bool getBool(std::string_view key, bool def) override
    {
        auto it = values.find(key);
        if (it == values.end())
            return def;
        if (it->second == "true" || it->second == "yes" || it->second == "1")
            return true;
        if (it->second == "false" || it->second == "no" || it->second == "0")
            return false;
        error(key, "must be true or false");
        return def;
    }
    std::vector<std::string> getStringList(std::string_view key) override
    {
        if (auto it = lists.find(key); it != lists.end())
            return it->second;
        auto it = values.find(key);
        if (it == values.end())
            return {};
        // One string: split at spaces, as the core does for GEOIPPOLICYD_* values.
        std::vector<std::string> out;
        std::istringstream in(it->second);
        for (std::string s; in >> s;)
            out.push_back(s);
        return out;
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
        const std::string &s = it->second;
        char *end = nullptr;
        double v = std::strtod(s.c_str(), &end);
        std::string unit(end);
        double ms = unit == "ms"                  ? v
                    : unit == "s" || unit.empty() ? v * 1000
                    : unit == "m"                 ? v * 60'000
                                                  : -1;
        if (s.empty() || ms < minMs || ms > maxMs) {
            error(key, "must be a duration from " + std::to_string(minMs) + " ms to " +
                           std::to_string(maxMs) + " ms");
            return defMs;
        }
        return static_cast<int64_t>(ms);
    }
    std::string getJson(std::string_view) override { return {}; }
    void error(std::string_view key, std::string_view message) override
    {
        errors.push_back(std::string(key) + ": " + std::string(message));
    }
};

/// A host with its own loop; records what the module provides.
class FakeHost : public Host {
public:
    FakeHost()
        : logger_(std::make_shared<spdlog::logger>(
              "ldap-alias", std::make_shared<spdlog::sinks::ostream_sink_st>(log_)))
    {
        logger_->set_pattern("%l %v");
        logger_->set_level(spdlog::level::trace);
        uv_loop_init(&loop_);
    }
    ~FakeHost()
    {
        // Let close callbacks run, then close the loop.
        uv_run(&loop_, UV_RUN_DEFAULT);
        uv_loop_close(&loop_);
    }

    using Host::find;  // the typed find<T>() next to the override below

    uv_loop_t *loop() override { return &loop_; }
    std::shared_ptr<spdlog::logger> logger() override { return logger_; }
    void provide(std::string_view service, void *impl) override
    {
        provided[std::string(service)] = impl;
    }
    void *find(std::string_view service) override
    {
        auto it = provided.find(std::string(service));
        return it == provided.end() ? nullptr : it->second;
    }

    /// Runs the loop until `done()` or `limitMs` passed; true if done.
    bool runUntil(const std::function<bool()> &done, int64_t limitMs = 5000)
    {
        auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(limitMs);
        uv_timer_t tick;  // keeps the loop from blocking forever in one iteration
        uv_timer_init(&loop_, &tick);
        uv_timer_start(
            &tick, [](uv_timer_t *) {}, 10, 10);
        bool ok = false;
        while (std::chrono::steady_clock::now() < until) {
            if (done()) {
                ok = true;
                break;
            }
            uv_run(&loop_, UV_RUN_ONCE);
        }
        uv_close(reinterpret_cast<uv_handle_t *>(&tick), nullptr);
        uv_run(&loop_, UV_RUN_NOWAIT);
        return ok || done();
    }

    std::string log() const { return log_.str(); }

    std::map<std::string, void *> provided;

private:
    std::ostringstream log_;
    std::shared_ptr<spdlog::logger> logger_;
    uv_loop_t loop_;
};

// A loopback TCP socket. listening: accepts connections into its backlog and
// never answers (a frozen server); otherwise closed again (connection refused).
struct LocalPort {
    int fd = -1;
    int port = 0;

    explicit LocalPort(bool listening)
    {
        fd = ::socket(AF_INET, SOCK_STREAM, 0);
        REQUIRE(fd >= 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::bind(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) == 0);
        socklen_t len = sizeof a;
        REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr *>(&a), &len) == 0);
        port = ntohs(a.sin_port);
        if (listening) {
            REQUIRE(::listen(fd, 64) == 0);
        } else {
            ::close(fd);
            fd = -1;
        }
    }
    ~LocalPort()
    {
        if (fd >= 0)
            ::close(fd);
    }
    std::string uri() const { return "ldap://127.0.0.1:" + std::to_string(port) + "/"; }
};

}  // namespace geopol::ldap_alias::test
