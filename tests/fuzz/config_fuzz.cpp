// Fuzz target: the YAML configuration (core/config) and what reads it: the
// server and log sections, the module list, every typed getter on each
// module's keys, the GEOIPPOLICYD_* overrides, and the scalar parsers.
//
// Only ConfigError may leave the loader: readConfig() catches nothing else,
// so any other exception would end geopold at start or on SIGHUP.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli/command_line.hpp"
#include "config/config_tree.hpp"
#include "fuzz_check.hpp"
#include "log/logging.hpp"
#include "net/listen_spec.hpp"
#include "server_settings.hpp"

using namespace geopol::core;

namespace {

// A fixed environment that reaches every kind of override: server address
// and port (merged into server.listen), log level and format, a module key,
// a list, a comma list, a module disabled, the store switch, a special flag.
const std::map<std::string, std::string> kEnvironment = {
    {"GEOIPPOLICYD_SERVER_ADDRESS", "::1"},
    {"GEOIPPOLICYD_SERVER_PORT", "4747"},
    {"GEOIPPOLICYD_USE_SASL_USERNAME", "on"},
    {"GEOIPPOLICYD_VERBOSE_LEVEL", "info"},
    {"GEOIPPOLICYD_LOG_JSON", "true"},
    {"GEOIPPOLICYD_MAX_IPS", "7"},
    {"GEOIPPOLICYD_HOME_COUNTRIES", "DE AT"},
    {"GEOIPPOLICYD_BLOCK_PERMANENT", "true"},
    {"GEOIPPOLICYD_USE_LDAP", "false"},
    {"GEOIPPOLICYD_LDAP_SERVER_URIS", "ldap://a, ldap://b"},
    {"GEOIPPOLICYD_REDIS_ADDRESS", "127.0.0.1"},
    {"GEOIPPOLICYD_HTTP_ADDRESS", "[::1]:8080"},
    {"GEOIPPOLICYD_RUN_ACTIONS", "true"},  // operator-mail: "not available" below
};

void parseScalar(const std::string &text)
{
    if (auto ms = parseDurationMs(text))
        FUZZ_CHECK(*ms >= 0);
    parseBool(text);
    std::string error;
    auto spec = parseListenSpec(text, error);
    FUZZ_CHECK(spec.has_value() == error.empty());
    if (spec && spec->kind == ListenSpec::Kind::Inet)
        FUZZ_CHECK(spec->port >= 0 && spec->port <= 65535);
}

void readSections(ConfigTree &tree)
{
    SectionView server(tree, "server", tree.section("server"));
    ServerSettings s = readServerSettings(server);
    for (const auto &l : s.listen)
        parseScalar(l);
    FUZZ_CHECK(s.requestTimeoutMs >= 10 && s.workers >= 1 && s.workers <= 64);
    SectionView log(tree, "log", tree.section("log"));
    readLogSettings(log);
    server.reportUnknownKeys();
    log.reportUnknownKeys();
}

void readModules(ConfigTree &tree)
{
    // getJson() expands aliases up to its limit (10k values), tens of ms
    // under the sanitizers. The fuzzer loves alias expansions (each is new
    // coverage) and filled the corpus with them: a few calls per input keep
    // the rate up and still reach every path of toJson().
    int jsonCalls = 4;
    std::vector<ModuleEntry> modules;
    try {
        modules = tree.modules();
    } catch (const ConfigError &) {
        return;
    }
    for (const auto &m : modules) {
        SectionView v(tree, m.name, m.node);
        if (m.node.IsMap()) {
            for (const auto &kv : m.node) {
                if (!kv.first.IsScalar())
                    continue;
                const std::string key = kv.first.Scalar();
                v.has(key);
                v.getString(key, "");
                v.getInt(key, 0, -1000, 1000);
                v.getDouble(key, 0, -1e9, 1e9);
                v.getBool(key, false);
                v.getStringList(key);
                v.getPath(key, "");
                v.getDurationMs(key, 0, 0, 86'400'000);
                if (jsonCalls-- > 0)
                    v.getJson(key);
            }
        }
        v.reportUnknownKeys({"name", "enabled"});
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const std::string text(reinterpret_cast<const char *>(data), size);

    // The scalar parsers see each line as a value, where they are reachable
    // without YAML getting in the way.
    for (size_t start = 0; start < text.size();) {
        size_t nl = text.find('\n', start);
        size_t end = nl == std::string::npos ? text.size() : nl;
        parseScalar(text.substr(start, end - start));
        start = end + 1;
    }

    std::optional<ConfigTree> tree;
    try {
        tree.emplace(ConfigTree::fromText(text, "fuzz.yaml", "/etc/geopol"));
    } catch (const ConfigError &e) {
        FUZZ_CHECK(*e.what() != '\0');
        return 0;
    }
    readSections(*tree);
    readModules(*tree);

    auto env = readEnvironment([](const char *name) -> const char * {
        auto it = kEnvironment.find(name);
        return it == kEnvironment.end() ? nullptr : it->second.c_str();
    });
    CommandLine cli;
    cli.workers = "2";
    std::vector<std::string> errors;
    applyOverrides(
        *tree, env, cli, [](const std::string &m) { return m != "operator-mail"; }, errors);
    readSections(*tree);
    readModules(*tree);
    return 0;
}
