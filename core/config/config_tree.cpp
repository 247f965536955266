// config_tree.cpp - loading the YAML and the typed, error-collecting views.
#include "config/config_tree.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "config/embedded_defaults.hpp"

// Deeply nested YAML ("[[[[...") overflows the stack of yaml-cpp's recursive
// parser; 0.7.0 added a depth limit (YAML::DeepRecursion at 2000 levels),
// which fromText() relies on.
#if !__has_include(<yaml-cpp/depthguard.h>)
#error "yaml-cpp >= 0.7 is needed: older versions overflow the stack on deeply nested YAML"
#endif

namespace geopol::core {

namespace {

// The sample configuration is 6 KB. A larger file is a mistake (or an
// attack on whoever runs --check-config), and parse time and memory grow
// with size, so it is refused before parsing.
constexpr size_t kMaxConfigBytes = 1 << 20;

// Canonical chain order, used to place a module that a flag enables but the
// YAML leaves out (e.g. --use-ldap with a config that has no ldap-alias).
// user-cdb answers "known?" for the account ldap-alias resolved, before
// limits counts and operator-mail asks.
const std::vector<std::string> kCanonicalOrder = {
    "geoip",       "ldap-alias", "user-cdb",      "memory-store",
    "redis-store", "limits",     "operator-mail", "rest-admin",
};

size_t canonicalRank(const std::string &name)
{
    auto it = std::find(kCanonicalOrder.begin(), kCanonicalOrder.end(), name);
    return it == kCanonicalOrder.end() ? kCanonicalOrder.size()
                                       : static_cast<size_t>(it - kCanonicalOrder.begin());
}

std::string dirName(const std::string &path)
{
    auto slash = path.rfind('/');
    if (slash == std::string::npos)
        return ".";
    return slash == 0 ? "/" : path.substr(0, slash);
}

std::string markText(const std::string &origin, const YAML::Mark &m)
{
    if (m.is_null())
        return origin;
    return origin + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1);
}

/// A map key as text. YAML allows a list or a map as a key ("? [a, b]");
/// as<std::string>() throws YAML::TypedBadConversion on those, an exception
/// no caller of the configuration expects.
std::optional<std::string> keyText(const YAML::Node &key)
{
    if (key.IsScalar())
        return key.Scalar();
    if (key.IsNull())
        return std::string("null");  // what as<std::string>() makes of "~:"
    return std::nullopt;
}

/// Why a value cannot become JSON; getJson() reports it as a config error.
struct NotJson {
    std::string why;
};

// Aliases share nodes: "&a [*a]" is a cycle and ten levels of ten aliases
// are 10^10 nodes once expanded. Settings are shallow and small, so both
// limits are far beyond any real use.
constexpr int kMaxJsonDepth = 64;
constexpr size_t kMaxJsonNodes = 10'000;

nlohmann::json toJson(const YAML::Node &n, size_t &budget, int depth = 0)
{
    if (depth > kMaxJsonDepth)
        throw NotJson{"is nested more than " + std::to_string(kMaxJsonDepth) +
                      " levels deep (or an alias refers to itself)"};
    if (budget == 0)
        throw NotJson{"has more than " + std::to_string(kMaxJsonNodes) +
                      " values once its aliases are expanded"};
    --budget;
    switch (n.Type()) {
        case YAML::NodeType::Sequence: {
            auto a = nlohmann::json::array();
            for (const auto &e : n)
                a.push_back(toJson(e, budget, depth + 1));
            return a;
        }
        case YAML::NodeType::Map: {
            auto o = nlohmann::json::object();
            for (const auto &kv : n) {
                auto key = keyText(kv.first);
                if (!key)
                    throw NotJson{"has a list or map as a key; keys must be plain names"};
                o[*key] = toJson(kv.second, budget, depth + 1);
            }
            return o;
        }
        case YAML::NodeType::Scalar: {
            const std::string &s = n.Scalar();
            if (n.Tag() == "!")  // quoted: always a string
                return s;
            if (auto b = parseBool(s); b && (s == "true" || s == "false"))
                return *b;
            char *end = nullptr;
            long long i = std::strtoll(s.c_str(), &end, 10);
            if (!s.empty() && end && *end == '\0')
                return i;
            double d = std::strtod(s.c_str(), &end);
            if (!s.empty() && end && *end == '\0')
                return d;
            return s;
        }
        default:
            return nullptr;
    }
}

}  // namespace

// ---- ConfigTree ------------------------------------------------------------

ConfigTree ConfigTree::fromText(const std::string &text, const std::string &origin,
                                const std::string &baseDir)
{
    ConfigTree t;
    t.origin_ = origin;
    t.baseDir_ = baseDir;
    if (text.size() > kMaxConfigBytes)
        throw ConfigError(origin + ": larger than " + std::to_string(kMaxConfigBytes >> 20) +
                          " MiB; refusing to parse it");
    try {
        t.root_ = YAML::Load(text);
    } catch (const YAML::Exception &e) {
        throw ConfigError(markText(origin, e.mark) + ": invalid YAML: " + e.msg);
    }
    if (t.root_.IsNull())
        t.root_ = YAML::Node(YAML::NodeType::Map);
    if (!t.root_.IsMap())
        throw ConfigError(origin + ": the top level must be a map (server:, log:, modules:)");
    for (const auto &kv : t.root_) {
        auto key = keyText(kv.first).value_or("");
        if (key != "server" && key != "log" && key != "modules")
            throw ConfigError(markText(origin, kv.first.Mark()) + ": unknown top-level key '" +
                              key + "' (expected server, log or modules)");
        if (key != "modules" && !kv.second.IsMap() && !kv.second.IsNull())
            throw ConfigError(markText(origin, kv.second.Mark()) + ": '" + key + "' must be a map");
    }
    return t;
}

ConfigTree ConfigTree::fromFile(const std::string &path)
{
    std::ifstream in(path);
    if (!in)
        throw ConfigError(path + ": cannot read the configuration file: " + std::strerror(errno));
    std::stringstream ss;
    ss << in.rdbuf();
    return fromText(ss.str(), path, dirName(path));
}

ConfigTree ConfigTree::embeddedDefaults()
{
    return fromText(kEmbeddedDefaults, "<embedded defaults>", ".");
}

YAML::Node ConfigTree::section(const std::string &name)
{
    if (!root_[name] || root_[name].IsNull())
        root_[name] = YAML::Node(YAML::NodeType::Map);
    return root_[name];
}

std::vector<ModuleEntry> ConfigTree::modules() const
{
    std::vector<ModuleEntry> out;
    YAML::Node list = root_["modules"];
    if (!list || list.IsNull())
        return out;
    if (!list.IsSequence())
        throw ConfigError(markText(origin_, list.Mark()) +
                          ": 'modules' must be a list of maps, each with a 'name'");
    std::set<std::string> seen;
    for (const auto &entry : list) {
        if (!entry.IsMap() || !entry["name"] || !entry["name"].IsScalar())
            throw ConfigError(markText(origin_, entry.Mark()) +
                              ": each entry of 'modules' needs a 'name: <module>'");
        ModuleEntry m;
        m.name = entry["name"].Scalar();
        m.node = static_cast<const YAML::Node &>(entry);
        if (entry["enabled"]) {
            auto b = parseBool(entry["enabled"].Scalar());
            if (!b)
                throw ConfigError(markText(origin_, entry["enabled"].Mark()) + ": module '" +
                                  m.name + "': 'enabled' must be true or false");
            m.enabled = *b;
        }
        if (!seen.insert(m.name).second)
            throw ConfigError(markText(origin_, entry.Mark()) + ": module '" + m.name +
                              "' is listed twice");
        out.push_back(std::move(m));
    }
    return out;
}

YAML::Node ConfigTree::moduleNode(const std::string &name, bool createDisabled)
{
    if (!root_["modules"] || root_["modules"].IsNull())
        root_["modules"] = YAML::Node(YAML::NodeType::Sequence);
    YAML::Node list = root_["modules"];
    // A malformed list stays as written, for modules() to report with its
    // line; the override goes to a node nobody reads. Subscripting a scalar
    // entry would throw YAML::BadSubscript, which readConfig() does not catch.
    if (!list.IsSequence())
        return YAML::Node(YAML::NodeType::Map);
    auto nameOf = [](const YAML::Node &entry) {
        return entry.IsMap() && entry["name"] && entry["name"].IsScalar() ? entry["name"].Scalar()
                                                                          : std::string();
    };
    for (size_t i = 0; i < list.size(); ++i)
        if (nameOf(list[i]) == name)
            return list[i];

    YAML::Node entry(YAML::NodeType::Map);
    entry["name"] = name;
    if (createDisabled)
        entry["enabled"] = "false";
    // Rebuild the sequence with the new entry at its canonical position.
    YAML::Node rebuilt(YAML::NodeType::Sequence);
    bool placed = false;
    for (size_t i = 0; i < list.size(); ++i) {
        std::string other = nameOf(list[i]);
        if (!placed && canonicalRank(other) > canonicalRank(name)) {
            rebuilt.push_back(entry);
            placed = true;
        }
        rebuilt.push_back(list[i]);
    }
    if (!placed)
        rebuilt.push_back(entry);
    root_["modules"] = rebuilt;
    return moduleNode(name, createDisabled);
}

void ConfigTree::noteOverride(const std::string &section, const std::string &key,
                              const std::string &who)
{
    overrides_[section + '\0' + key] = who;
}

std::optional<std::string> ConfigTree::overrideOrigin(const std::string &section,
                                                      const std::string &key) const
{
    auto it = overrides_.find(section + '\0' + key);
    if (it == overrides_.end())
        return std::nullopt;
    return it->second;
}

// ---- SectionView -----------------------------------------------------------

SectionView::SectionView(const ConfigTree &tree, std::string name, YAML::Node node)
    : tree_(tree), name_(std::move(name)), node_(std::move(node))
{
    if (node_ && !node_.IsMap() && !node_.IsNull())
        errors_.push_back(markText(tree_.origin(), node_.Mark()) + ": section '" + name_ +
                          "' must be a map");
}

bool SectionView::has(std::string_view key) const
{
    return node_ && node_.IsMap() && node_[std::string(key)] && !node_[std::string(key)].IsNull();
}

std::optional<YAML::Node> SectionView::lookup(std::string_view key)
{
    used_.emplace(key);
    if (!has(key))
        return std::nullopt;
    return node_[std::string(key)];
}

std::string SectionView::where(std::string_view key) const
{
    std::string k(key);
    if (auto who = tree_.overrideOrigin(name_, k))
        return *who + " (" + name_ + "." + k + ")";
    YAML::Mark m;
    if (has(key))
        m = node_[k].Mark();
    else if (node_)
        m = node_.Mark();
    return markText(tree_.origin(), m) + ": " + name_ + "." + k;
}

void SectionView::error(std::string_view key, std::string_view message)
{
    errors_.push_back(where(key) + ": " + std::string(message));
}

std::string SectionView::getString(std::string_view key, std::string_view def)
{
    auto found = lookup(key);
    if (!found)
        return std::string(def);
    const YAML::Node &n = *found;
    if (!n.IsScalar()) {
        error(key, "must be a string");
        return std::string(def);
    }
    return n.Scalar();
}

int64_t SectionView::getInt(std::string_view key, int64_t def, int64_t min, int64_t max)
{
    auto found = lookup(key);
    if (!found)
        return def;
    const YAML::Node &n = *found;
    const std::string s = n.IsScalar() ? n.Scalar() : "";
    char *end = nullptr;
    errno = 0;
    long long v = std::strtoll(s.c_str(), &end, 10);
    if (s.empty() || *end != '\0' || errno == ERANGE || v < min || v > max) {
        error(key, "must be a whole number from " + std::to_string(min) + " to " +
                       std::to_string(max) + " (got '" + s + "')");
        return def;
    }
    return v;
}

double SectionView::getDouble(std::string_view key, double def, double min, double max)
{
    auto found = lookup(key);
    if (!found)
        return def;
    const YAML::Node &n = *found;
    const std::string s = n.IsScalar() ? n.Scalar() : "";
    char *end = nullptr;
    double v = std::strtod(s.c_str(), &end);
    if (s.empty() || *end != '\0' || !std::isfinite(v) || v < min || v > max) {
        error(key, "must be a number from " + std::to_string(min) + " to " + std::to_string(max) +
                       " (got '" + s + "')");
        return def;
    }
    return v;
}

bool SectionView::getBool(std::string_view key, bool def)
{
    auto found = lookup(key);
    if (!found)
        return def;
    const YAML::Node &n = *found;
    auto b = n.IsScalar() ? parseBool(n.Scalar()) : std::nullopt;
    if (!b) {
        error(key, "must be true or false (got '" + (n.IsScalar() ? n.Scalar() : "") + "')");
        return def;
    }
    return *b;
}

std::vector<std::string> SectionView::getStringList(std::string_view key)
{
    std::vector<std::string> out;
    auto found = lookup(key);
    if (!found)
        return out;
    const YAML::Node &n = *found;
    if (n.IsScalar()) {
        std::istringstream in(n.Scalar());
        for (std::string w; in >> w;)
            out.push_back(w);
        return out;
    }
    if (!n.IsSequence()) {
        error(key, "must be a list of strings");
        return out;
    }
    for (const auto &e : n) {
        if (!e.IsScalar()) {
            error(key, "must be a list of strings");
            return {};
        }
        out.push_back(e.Scalar());
    }
    return out;
}

std::string SectionView::getPath(std::string_view key, std::string_view def)
{
    std::string p = getString(key, def);
    if (p.empty() || p[0] == '/' || !has(key) || tree_.overrideOrigin(name_, std::string(key)))
        return p;  // flags and defaults are relative to the working directory
    return tree_.baseDir() + "/" + p;
}

int64_t SectionView::getDurationMs(std::string_view key, int64_t defMs, int64_t minMs,
                                   int64_t maxMs)
{
    auto found = lookup(key);
    if (!found)
        return defMs;
    const YAML::Node &n = *found;
    auto v = n.IsScalar() ? parseDurationMs(n.Scalar()) : std::nullopt;
    if (!v || *v < minMs || *v > maxMs) {
        error(key, "must be a duration from " + std::to_string(minMs) + "ms to " +
                       std::to_string(maxMs) + "ms, e.g. 500ms, 10s, 5m (got '" +
                       (n.IsScalar() ? n.Scalar() : "") + "')");
        return defMs;
    }
    return *v;
}

std::string SectionView::getJson(std::string_view key)
{
    auto found = lookup(key);
    if (!found)
        return "";
    const YAML::Node &n = *found;
    size_t budget = kMaxJsonNodes;
    try {
        return toJson(n, budget).dump();
    } catch (const NotJson &e) {
        error(key, e.why);
    } catch (const nlohmann::json::type_error &) {
        // yaml-cpp passes any byte through; JSON text must be UTF-8.
        error(key, "is not valid UTF-8 text");
    }
    return "";
}

void SectionView::reportUnknownKeys(const std::set<std::string> &ignored)
{
    if (!node_ || !node_.IsMap())
        return;
    for (const auto &kv : node_) {
        auto key = keyText(kv.first);
        if (!key) {
            errors_.push_back(markText(tree_.origin(), kv.first.Mark()) + ": " + name_ +
                              ": a key must be a plain name, not a list or map");
            continue;
        }
        const std::string &k = *key;
        if (used_.count(k) || ignored.count(k))
            continue;
        errors_.push_back(markText(tree_.origin(), kv.first.Mark()) + ": " + name_ +
                          ": unknown key '" + k + "' (see the module's README for its keys)");
    }
}

// ---- scalars ----------------------------------------------------------------

std::optional<int64_t> parseDurationMs(const std::string &text)
{
    if (text.empty())
        return std::nullopt;
    size_t i = 0;
    while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.'))
        ++i;
    if (i == 0)
        return std::nullopt;
    char *end = nullptr;
    std::string num = text.substr(0, i);
    double v = std::strtod(num.c_str(), &end);
    if (*end != '\0' || v < 0)
        return std::nullopt;
    std::string unit = text.substr(i);
    double factor;
    if (unit.empty() || unit == "s")
        factor = 1000;
    else if (unit == "ms")
        factor = 1;
    else if (unit == "m")
        factor = 60'000;
    else if (unit == "h")
        factor = 3'600'000;
    else if (unit == "d")
        factor = 86'400'000;
    else
        return std::nullopt;
    double ms = v * factor;
    if (ms > 9e15)
        return std::nullopt;
    return static_cast<int64_t>(std::llround(ms));
}

std::optional<bool> parseBool(const std::string &text)
{
    static const char *yes[] = {"1", "t", "T", "TRUE", "true", "True", "yes", "on"};
    static const char *no[] = {"0", "f", "F", "FALSE", "false", "False", "no", "off"};
    for (const char *y : yes)
        if (text == y)
            return true;
    for (const char *n : no)
        if (text == n)
            return false;
    return std::nullopt;
}

}  // namespace geopol::core
