// fakes.hpp - stand-ins for the core in the rest-admin unit tests.
#pragma once

#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "geopol/config.hpp"
#include "geopol/host.hpp"

namespace geopol::rest_admin::testing {

/// A YAML section given as strings; errors are collected.
class FakeConfig : public ConfigSection {
public:
    std::map<std::string, std::string, std::less<>> values;
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

    std::string_view name() const override { return "rest-admin"; }
    bool has(std::string_view key) const override { return values.count(key) != 0; }
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
        int64_t v = std::stoll(it->second);
        if (v < min || v > max) {
            error(key, "out of range");
            return def;
        }
        return v;
    }
    double getDouble(std::string_view, double def, double, double) override { return def; }
    bool getBool(std::string_view key, bool def) override
    {
        auto it = values.find(key);
        return it == values.end() ? def : it->second == "true";
    }
    std::vector<std::string> getStringList(std::string_view) override { return {}; }
    std::string getPath(std::string_view key, std::string_view def) override
    {
        return getString(key, def);
    }
    int64_t getDurationMs(std::string_view key, int64_t defMs, int64_t, int64_t) override
    {
        auto it = values.find(key);
        return it == values.end() ? defMs : std::stoll(it->second);
    }
    std::string getJson(std::string_view) override { return {}; }
    void error(std::string_view key, std::string_view message) override
    {
        errors.emplace_back(std::string(key), std::string(message));
    }
};

inline std::shared_ptr<spdlog::logger> nullLogger()
{
    return std::make_shared<spdlog::logger>("test",
                                            std::make_shared<spdlog::sinks::null_sink_mt>());
}

}  // namespace geopol::rest_admin::testing
