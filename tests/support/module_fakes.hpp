// module_fakes.hpp - stand-ins for the core in the modules' unit tests: a
// configuration section, a host, a uv loop turned by hand, and temporary
// files and directories. Each module's tests/fakes.hpp adds what only it
// needs (a store, a mail transport, ...).
//
// Modules reach the core only through include/geopol/, and so do their unit
// tests: these fakes follow the rules documented there (geopol/config.hpp)
// closely enough for a module's tests; the core's own reading of a section is
// tested in tests/unit/config_test.cpp.
//
// Included as "tests/support/module_fakes.hpp": the project root is on the
// include path of every target (geopol_inc in meson.build).
#pragma once

#include <doctest/doctest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "geopol/config.hpp"
#include "geopol/host.hpp"

namespace geopol::testing {

/// A fresh directory /tmp/geopol-<tag>-XXXXXX, removed with its content at
/// scope exit.
struct TempDir {
    std::string path;
    explicit TempDir(std::string_view tag = "test")
    {
        std::string tmpl = "/tmp/geopol-" + std::string(tag) + "-XXXXXX";
        REQUIRE(mkdtemp(tmpl.data()) != nullptr);
        path = tmpl;
    }
    ~TempDir()
    {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    TempDir(const TempDir &) = delete;
    TempDir &operator=(const TempDir &) = delete;
    std::string file(std::string_view name) const { return path + "/" + std::string(name); }
};

/// A file /tmp/geopol-test-XXXXXX with `content` and `mode`, removed at
/// scope exit.
struct TempFile {
    std::string path;
    explicit TempFile(const std::string &content, mode_t mode = 0600)
    {
        char tmpl[] = "/tmp/geopol-test-XXXXXX";
        int fd = mkstemp(tmpl);
        REQUIRE(fd >= 0);
        close(fd);
        path = tmpl;
        std::ofstream(path, std::ios::binary) << content;
        REQUIRE(chmod(path.c_str(), mode) == 0);
    }
    ~TempFile() { std::remove(path.c_str()); }
    TempFile(const TempFile &) = delete;
    TempFile &operator=(const TempFile &) = delete;
};

/// A module's section given as strings (set(), setList()), read with the
/// rules of geopol/config.hpp. Records the errors reported, as (key,
/// message), and the keys the module asked for.
class FakeConfig : public ConfigSection {
public:
    std::map<std::string, std::string, std::less<>> values;
    std::map<std::string, std::vector<std::string>, std::less<>> lists;
    std::vector<std::pair<std::string, std::string>> errors;
    std::set<std::string, std::less<>> asked;

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

    /// Every error as "key: message", one a line.
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
        for (const auto &kv : lists)
            if (!asked.count(kv.first))
                out.push_back(kv.first);
        return out;
    }

    std::string_view name() const override { return "test"; }
    bool has(std::string_view key) const override
    {
        return values.count(key) != 0 || lists.count(key) != 0;
    }
    std::string getString(std::string_view key, std::string_view def) override
    {
        const std::string *v = find(key);
        return v ? *v : std::string(def);
    }
    int64_t getInt(std::string_view key, int64_t def, int64_t min, int64_t max) override
    {
        const std::string *v = find(key);
        if (!v)
            return def;
        char *end = nullptr;
        errno = 0;
        long long n = std::strtoll(v->c_str(), &end, 10);
        if (v->empty() || *end != '\0' || errno != 0 || n < min || n > max) {
            error(key, "must be a whole number from " + std::to_string(min) + " to " +
                           std::to_string(max) + " (got '" + *v + "')");
            return def;
        }
        return n;
    }
    double getDouble(std::string_view key, double def, double min, double max) override
    {
        const std::string *v = find(key);
        if (!v)
            return def;
        char *end = nullptr;
        double d = std::strtod(v->c_str(), &end);
        if (v->empty() || *end != '\0' || !(d >= min && d <= max)) {
            error(key, "must be a number from " + std::to_string(min) + " to " +
                           std::to_string(max) + " (got '" + *v + "')");
            return def;
        }
        return d;
    }
    bool getBool(std::string_view key, bool def) override
    {
        const std::string *v = find(key);
        if (!v)
            return def;
        std::string s;
        for (char c : *v)
            s += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (s == "true" || s == "t" || s == "yes" || s == "on" || s == "1")
            return true;
        if (s == "false" || s == "f" || s == "no" || s == "off" || s == "0")
            return false;
        error(key, "must be true or false (got '" + *v + "')");
        return def;
    }
    /// A list set with setList(), or a string set with set() split at spaces.
    std::vector<std::string> getStringList(std::string_view key) override
    {
        asked.emplace(key);
        if (auto it = lists.find(key); it != lists.end())
            return it->second;
        std::vector<std::string> out;
        if (auto it = values.find(key); it != values.end()) {
            std::istringstream in(it->second);
            for (std::string s; in >> s;)
                out.push_back(s);
        }
        return out;
    }
    std::string getPath(std::string_view key, std::string_view def) override
    {
        return getString(key, def);
    }
    /// "250ms", "10s", "5m", "1h", "1d", or a plain number of seconds.
    int64_t getDurationMs(std::string_view key, int64_t defMs, int64_t minMs,
                          int64_t maxMs) override
    {
        const std::string *v = find(key);
        if (!v)
            return defMs;
        char *end = nullptr;
        double n = std::strtod(v->c_str(), &end);
        std::string_view unit(end);
        double scale = unit == "ms"                  ? 1
                       : unit == "s" || unit.empty() ? 1000
                       : unit == "m"                 ? 60'000
                       : unit == "h"                 ? 3'600'000
                       : unit == "d"                 ? 86'400'000
                                                     : -1;
        double ms = n * scale;
        if (v->empty() || end == v->c_str() || scale < 0 || ms < static_cast<double>(minMs) ||
            ms > static_cast<double>(maxMs)) {
            error(key, "must be a duration from " + std::to_string(minMs) + " ms to " +
                           std::to_string(maxMs) + " ms (got '" + *v + "')");
            return defMs;
        }
        return static_cast<int64_t>(ms);
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

private:
    const std::string *find(std::string_view key)
    {
        asked.emplace(key);
        auto it = values.find(key);
        return it == values.end() ? nullptr : &it->second;
    }
};

/// Lends a loop, a logger and a service registry (`provided`). By default the
/// logger keeps its lines, "level message", for the test to read; or it is
/// the one given.
class FakeHost : public Host {
public:
    explicit FakeHost(uv_loop_t *loop = nullptr,
                      spdlog::level::level_enum level = spdlog::level::info)
        : loop_(loop),
          logger_(std::make_shared<spdlog::logger>(
              "test", std::make_shared<spdlog::sinks::ostream_sink_mt>(lines_)))
    {
        logger_->set_level(level);
        logger_->set_pattern("%l %v");
    }
    FakeHost(uv_loop_t *loop, std::shared_ptr<spdlog::logger> logger)
        : loop_(loop), logger_(std::move(logger))
    {
    }
    FakeHost(const FakeHost &) = delete;
    FakeHost &operator=(const FakeHost &) = delete;

    /// Everything logged so far (not with a logger of the test's own).
    std::string logText() const { return lines_.str(); }
    /// How many logged lines contain `needle`.
    size_t logCount(std::string_view needle) const
    {
        size_t n = 0;
        std::istringstream in(lines_.str());
        for (std::string line; std::getline(in, line);)
            n += line.find(needle) != std::string::npos;
        return n;
    }

    using Host::find;  // keep find<T>() visible next to the override
    uv_loop_t *loop() override { return loop_; }
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

    std::map<std::string, void *> provided;

protected:
    /// For a host that owns its loop (constructed after this base).
    void useLoop(uv_loop_t *loop) { loop_ = loop; }

private:
    std::ostringstream lines_;  // before logger_, whose sink writes here
    uv_loop_t *loop_;
    std::shared_ptr<spdlog::logger> logger_;
};

/// A private uv loop that the test turns by hand. Its destructor runs it
/// until no handle is left (bounded) and fails the test if one still is.
class Loop {
public:
    Loop() { REQUIRE(uv_loop_init(&loop_) == 0); }
    ~Loop()
    {
        drain();
        int rc = uv_loop_close(&loop_);
        CHECK_MESSAGE(rc == 0, "the loop still has open handles at the end of the test");
    }
    Loop(const Loop &) = delete;
    Loop &operator=(const Loop &) = delete;

    uv_loop_t *get() { return &loop_; }

    /// Turns the loop until `done()` or `timeoutMs` has passed; returns done().
    bool runUntil(const std::function<bool()> &done, int64_t timeoutMs = 5000)
    {
        uv_timer_t tick;
        uv_timer_init(&loop_, &tick);
        uv_timer_start(
            &tick, [](uv_timer_t *) {}, 5, 5);  // run(ONCE) returns at least this often
        auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
        while (!done() && std::chrono::steady_clock::now() < end)
            uv_run(&loop_, UV_RUN_ONCE);
        uv_close(reinterpret_cast<uv_handle_t *>(&tick), nullptr);
        uv_run(&loop_, UV_RUN_NOWAIT);
        return done();
    }

    /// Turns the loop for `ms` milliseconds.
    void runFor(int64_t ms)
    {
        runUntil([] { return false; }, ms);
    }

    /// Runs until no handle or request is left (bounded: 5 s).
    void drain()
    {
        uv_timer_t tick;  // unref'd: wakes the loop without keeping it alive
        uv_timer_init(&loop_, &tick);
        uv_timer_start(
            &tick, [](uv_timer_t *) {}, 5, 5);
        uv_unref(reinterpret_cast<uv_handle_t *>(&tick));
        auto end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        while (uv_loop_alive(&loop_) && std::chrono::steady_clock::now() < end)
            uv_run(&loop_, UV_RUN_ONCE);
        uv_close(reinterpret_cast<uv_handle_t *>(&tick), nullptr);
        uv_run(&loop_, UV_RUN_NOWAIT);
    }

private:
    uv_loop_t loop_;
};

}  // namespace geopol::testing
