// fakes.hpp - stand-ins for the core in the redis-store tests: a config
// section, a host, and a temporary directory.
#pragma once

#include <doctest/doctest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "geopol/config.hpp"
#include "geopol/host.hpp"

namespace geopol::testing {

/// A fresh directory in /tmp, removed with its content at scope exit.
struct TempDir {
    std::string path;
    TempDir()
    {
        char tmpl[] = "/tmp/geopol-redis-store-XXXXXX";
        REQUIRE(mkdtemp(tmpl) != nullptr);
        path = tmpl;
    }
    ~TempDir()
    {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    std::string file(std::string_view name) const { return path + "/" + std::string(name); }
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

/// Lends a logger (keeping its lines for the test to read, at a chosen
/// level) and a service registry.
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
    /// Everything logged so far, one "level message" per line.
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
        services_[std::string(service)] = impl;
    }
    void *find(std::string_view service) override
    {
        auto it = services_.find(std::string(service));
        return it == services_.end() ? nullptr : it->second;
    }

private:
    std::ostringstream lines_;
    uv_loop_t *loop_;
    std::shared_ptr<spdlog::logger> logger_;
    std::map<std::string, void *> services_;
};

}  // namespace geopol::testing
