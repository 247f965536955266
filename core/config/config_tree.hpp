// config_tree.hpp - the merged configuration: YAML file (or the embedded
// defaults) with GEOIPPOLICYD_* variables and command-line flags applied on
// top, and per-section views handed to the core and to each module.
#pragma once

#include <yaml-cpp/yaml.h>

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "geopol/config.hpp"

namespace geopol::core {

/// One module entry of the `modules:` list, in chain order.
struct ModuleEntry {
    std::string name;
    bool enabled = true;
    YAML::Node node;  ///< the entry's map (name/enabled included)
};

class ConfigTree {
public:
    /// Parses `text`; `origin` names it in messages (a file path or
    /// "<embedded defaults>"). Throws ConfigError with file:line on bad YAML.
    static ConfigTree fromText(const std::string &text, const std::string &origin,
                               const std::string &baseDir);
    static ConfigTree fromFile(const std::string &path);
    static ConfigTree embeddedDefaults();

    const std::string &origin() const { return origin_; }
    const std::string &baseDir() const { return baseDir_; }

    /// A top-level section ("server", "log"); created empty if absent.
    YAML::Node section(const std::string &name);

    /// The module list in order; throws ConfigError on a malformed list.
    std::vector<ModuleEntry> modules() const;

    /// The module's entry, appended at its canonical position if missing.
    YAML::Node moduleNode(const std::string &name, bool createDisabled);

    /// Records that section/key was set by `who` (a flag or variable), so that
    /// errors about it name the flag instead of a YAML line.
    void noteOverride(const std::string &section, const std::string &key, const std::string &who);
    std::optional<std::string> overrideOrigin(const std::string &section,
                                              const std::string &key) const;

    YAML::Node &root() { return root_; }

private:
    YAML::Node root_;
    std::string origin_;
    std::string baseDir_;
    std::map<std::string, std::string> overrides_;  // "section\0key" -> who
};

class ConfigError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// ConfigSection over one YAML map. Collects errors instead of throwing and
/// remembers which keys were read, to report unknown ones.
class SectionView : public ConfigSection {
public:
    SectionView(const ConfigTree &tree, std::string name, YAML::Node node);

    std::string_view name() const override { return name_; }
    bool has(std::string_view key) const override;
    std::string getString(std::string_view key, std::string_view def) override;
    int64_t getInt(std::string_view key, int64_t def, int64_t min, int64_t max) override;
    double getDouble(std::string_view key, double def, double min, double max) override;
    bool getBool(std::string_view key, bool def) override;
    std::vector<std::string> getStringList(std::string_view key) override;
    std::string getPath(std::string_view key, std::string_view def) override;
    int64_t getDurationMs(std::string_view key, int64_t defMs, int64_t minMs,
                          int64_t maxMs) override;
    std::string getJson(std::string_view key) override;
    void error(std::string_view key, std::string_view message) override;

    /// Keys that are never read by anyone (besides `ignored`) become errors.
    void reportUnknownKeys(const std::set<std::string> &ignored = {});

    const std::vector<std::string> &errors() const { return errors_; }

private:
    std::optional<YAML::Node> lookup(std::string_view key);
    std::string where(std::string_view key) const;

    const ConfigTree &tree_;
    std::string name_;
    YAML::Node node_;
    std::set<std::string, std::less<>> used_;
    std::vector<std::string> errors_;
};

/// Parses "250ms", "10s", "5m", "1h", "2d" or a plain number of seconds.
std::optional<int64_t> parseDurationMs(const std::string &text);

/// Go's strconv.ParseBool plus yes/no/on/off.
std::optional<bool> parseBool(const std::string &text);

}  // namespace geopol::core
