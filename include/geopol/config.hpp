// config.hpp - a module's view of its own YAML section.
//
// The section is already merged with the command-line flags and the
// GEOIPPOLICYD_* variables that map onto it; a module never parses flags or
// the environment and never sees another module's section.
//
// Getters do not throw: a missing key yields the default, a bad value yields
// the default *and* records an error naming file:line, section and key. The
// core refuses the configuration if any error was recorded, and also reports
// keys that no getter asked for (typos such as "max-ip").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace geopol {

class ConfigSection {
public:
    virtual ~ConfigSection() = default;

    /// The module's name, which is also its section name.
    virtual std::string_view name() const = 0;

    virtual bool has(std::string_view key) const = 0;

    virtual std::string getString(std::string_view key, std::string_view def) = 0;
    virtual int64_t getInt(std::string_view key, int64_t def, int64_t min, int64_t max) = 0;
    virtual double getDouble(std::string_view key, double def, double min, double max) = 0;
    /// true/false, yes/no, on/off, 1/0 (and Go's t/f/T/F spellings).
    virtual bool getBool(std::string_view key, bool def) = 0;
    /// A YAML list, or one string split at spaces (the GEOIPPOLICYD_* form).
    virtual std::vector<std::string> getStringList(std::string_view key) = 0;
    /// A file path; a relative path is taken relative to the config file.
    virtual std::string getPath(std::string_view key, std::string_view def) = 0;
    /// A duration in milliseconds: "250ms", "10s", "5m", "1h", or a plain
    /// number of seconds.
    virtual int64_t getDurationMs(std::string_view key, int64_t defMs, int64_t minMs,
                                  int64_t maxMs) = 0;
    /// The raw text of a nested value (list or map) as JSON, for modules with
    /// structured settings; "" if absent.
    virtual std::string getJson(std::string_view key) = 0;

    /// Reports a semantic problem with `key` ("must name an existing file").
    virtual void error(std::string_view key, std::string_view message) = 0;
};

}  // namespace geopol
