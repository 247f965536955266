// command_line.cpp - CLI11 definitions and the override rules.
#include "cli/command_line.hpp"

#include <CLI/CLI.hpp>
#include <iostream>
#include <sstream>

#include "geopol_version.h"

namespace geopol::core {

namespace {

bool isModuleSection(const std::string &section)
{
    return section != "server" && section != "log" && section != "store";
}

std::vector<std::string> splitList(const std::string &text, bool comma)
{
    std::vector<std::string> out;
    if (!comma) {
        std::istringstream in(text);
        for (std::string w; in >> w;)
            out.push_back(w);
        return out;
    }
    std::string item;
    std::istringstream in(text);
    while (std::getline(in, item, ',')) {
        auto b = item.find_first_not_of(" \t");
        auto e = item.find_last_not_of(" \t");
        if (b != std::string::npos)
            out.push_back(item.substr(b, e - b + 1));
    }
    return out;
}

/// Splits "host:port", "[v6]:port"; a bare address yields no port.
void splitHostPort(const std::string &in, std::string &host, std::string &port)
{
    if (!in.empty() && in[0] == '[') {
        auto close = in.find(']');
        host = in.substr(1, close == std::string::npos ? std::string::npos : close - 1);
        if (close != std::string::npos && close + 1 < in.size() && in[close + 1] == ':')
            port = in.substr(close + 2);
        return;
    }
    auto colon = in.find(':');
    if (colon != std::string::npos && in.find(':', colon + 1) == std::string::npos) {
        host = in.substr(0, colon);
        port = in.substr(colon + 1);
        return;
    }
    host = in;  // IPv4 without port, or a bare IPv6 address
}

std::string inetSpec(const std::string &host, const std::string &port)
{
    if (host.find(':') != std::string::npos)
        return "inet:[" + host + "]:" + port;
    return "inet:" + host + ":" + port;
}

class OverrideApplier {
public:
    OverrideApplier(ConfigTree &tree, const std::function<bool(const std::string &)> &available,
                    std::vector<std::string> &errors)
        : tree_(tree), available_(available), errors_(errors)
    {
    }

    void apply(const GivenValue &g)
    {
        const ReferenceFlag &f = *g.flag;
        const std::string section = f.section;
        const std::string first = g.values.empty() ? "" : g.values.front();

        std::optional<bool> flagValue;
        if (f.kind == FlagKind::Bool) {
            flagValue = parseBool(first);
            if (!flagValue) {
                errors_.push_back(g.who + ": must be true or false (got '" + first + "')");
                return;
            }
        }
        if (isModuleSection(section) && !available_(section)) {
            if (flagValue && !*flagValue)
                return;  // turning off what is not there is fine
            errors_.push_back(g.who + ": the " + section +
                              " module is not available yet in this build of geopold "
                              "(its shared object is missing from the module directory)");
            return;
        }

        if (f.effects & kSpecial) {
            applySpecial(g, flagValue);
            return;
        }
        YAML::Node node = nodeFor(section, f.effects);
        setValue(node, section, f.key, g, flagValue);
    }

    /// -a/-p are applied together, once both layers are read.
    void finish()
    {
        if (!address_ && !port_)
            return;
        YAML::Node server = tree_.section("server");
        YAML::Node listen = server["listen"];
        std::string host = "127.0.0.1", port = "4646";
        int index = -1;
        if (listen && listen.IsSequence()) {
            for (size_t i = 0; i < listen.size(); ++i) {
                std::string spec = listen[i].IsScalar() ? listen[i].Scalar() : "";
                if (spec.rfind("inet:", 0) == 0) {
                    splitHostPort(spec.substr(5), host, port);
                    index = static_cast<int>(i);
                    break;
                }
            }
        } else {
            listen = YAML::Node(YAML::NodeType::Sequence);
        }
        if (address_)
            host = *address_;
        if (port_)
            port = *port_;
        if (index < 0)
            listen.push_back(inetSpec(host, port));
        else
            listen[index] = inetSpec(host, port);
        server["listen"] = listen;
        tree_.noteOverride("server", "listen", addressWho_.empty() ? portWho_ : addressWho_);
    }

private:
    YAML::Node nodeFor(const std::string &section, uint32_t effects)
    {
        if (!isModuleSection(section))
            return tree_.section(section);
        YAML::Node node = tree_.moduleNode(section, true);
        if (effects & kEnablesModule)
            node["enabled"] = "true";
        if (effects & kSelectsRedis)
            tree_.moduleNode("memory-store", true)["enabled"] = "false";
        return node;
    }

    void setValue(YAML::Node node, const std::string &section, const std::string &key,
                  const GivenValue &g, std::optional<bool> flagValue)
    {
        if (g.flag->kind == FlagKind::List) {
            YAML::Node list(YAML::NodeType::Sequence);
            for (const auto &v : g.values)
                list.push_back(v);
            node[key] = list;
        } else if (flagValue) {
            node[key] = *flagValue ? "true" : "false";
        } else {
            node[key] = g.values.empty() ? "" : g.values.front();
        }
        tree_.noteOverride(section, key, g.who);
    }

    void applySpecial(const GivenValue &g, std::optional<bool> flagValue)
    {
        const std::string name = longName(*g.flag);
        const std::string first = g.values.empty() ? "" : g.values.front();
        if (name == "--server-address") {
            address_ = first;
            addressWho_ = g.who;
        } else if (name == "--server-port") {
            port_ = first;
            portWho_ = g.who;
        } else if (name == "--sasl-username") {
            tree_.section("server")["identity"] = *flagValue ? "sasl_username" : "sender";
            tree_.noteOverride("server", "identity", g.who);
        } else if (name == "--verbose") {
            std::string level = first;
            if (g.who.rfind("--", 0) == 0 || g.who == "-v") {
                int n = std::atoi(first.c_str());
                level = n <= 0 ? "warning" : n == 1 ? "info" : "debug";
            }
            tree_.section("log")["level"] = level;
            tree_.noteOverride("log", "level", g.who);
        } else if (name == "--log-json") {
            tree_.section("log")["format"] = *flagValue ? "json" : "text";
            tree_.noteOverride("log", "format", g.who);
        } else if (name == "--block-permanent") {
            for (const char *store : {"memory-store", "redis-store"}) {
                tree_.moduleNode(store, true)["block-permanent"] = *flagValue ? "true" : "false";
                tree_.noteOverride(store, "block-permanent", g.who);
            }
        } else if (name == "--http-address") {
            std::string host, port;
            splitHostPort(first, host, port);
            YAML::Node node = nodeFor("rest-admin", kEnablesModule);
            node["address"] = host;
            tree_.noteOverride("rest-admin", "address", g.who);
            if (!port.empty()) {
                node["port"] = port;
                tree_.noteOverride("rest-admin", "port", g.who);
            }
        } else if (name == "--use-ldap" || name == "--use-cdb") {
            tree_.moduleNode(g.flag->section, true)["enabled"] = *flagValue ? "true" : "false";
        }
    }

    ConfigTree &tree_;
    const std::function<bool(const std::string &)> &available_;
    std::vector<std::string> &errors_;
    std::optional<std::string> address_, port_;
    std::string addressWho_, portWho_;
};

}  // namespace

std::optional<int> parseCommandLine(int argc, const char *const *argv, CommandLine &out)
{
    CLI::App app{"geopold - GeoIP policy server for Postfix that catches compromised accounts",
                 "geopold"};
    app.set_version_flag("--version", std::string("geopold ") + GEOPOL_VERSION);
    app.add_option("--config", out.configPath,
                   "YAML configuration file (default: the embedded defaults)");
    app.add_flag("--check-config", out.checkConfig,
                 "Validate the configuration and the modules, then exit");
    app.add_option("--module-dir", out.moduleDir, "Load modules from this directory only");
    app.add_option("--status-file", out.statusFile,
                   "Write pid and bound listeners as JSON here once serving");
    app.add_option("--listen", out.listen,
                   "Listener (inet:HOST:PORT, inet:[V6]:PORT, unix:/path); repeat for more")
        ->allow_extra_args(false);
    app.add_option("--workers", out.workers,
                   "Event-loop threads serving connections (server.workers; default 1)");
    auto *server = app.add_subcommand("server", "Run the policy server (the default)");
    server->fallthrough();
    app.require_subcommand(0, 1);

    // Reference flags: collect as strings; modules validate the values.
    struct Slot {
        const ReferenceFlag *flag;
        CLI::Option *opt;
        std::string str;
        std::vector<std::string> list;
        bool b = false;
        int count = 0;
    };
    std::vector<Slot> slots(referenceFlags().size());
    size_t i = 0;
    for (const auto &f : referenceFlags()) {
        Slot &s = slots[i++];
        s.flag = &f;
        switch (f.kind) {
            case FlagKind::String:
            case FlagKind::Int:
                s.opt = app.add_option(f.names, s.str, f.help);
                break;
            case FlagKind::Bool:
                s.opt = app.add_flag(f.names, s.b, f.help);
                break;
            case FlagKind::List:
                // One value per occurrence, as the Go flags: --home-countries DE --home-countries
                // AT
                s.opt = app.add_option(f.names, s.list, f.help)->allow_extra_args(false);
                break;
            case FlagKind::Count:
                s.opt = app.add_flag(f.names, s.count, f.help);
                break;
        }
        s.opt->group("Reference (geoip-policyd) options");
    }

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError &e) {
        return app.exit(e);
    }

    for (auto &s : slots) {
        if (s.opt->count() == 0)
            continue;
        GivenValue g;
        g.flag = s.flag;
        g.who = longName(*s.flag);
        switch (s.flag->kind) {
            case FlagKind::String:
            case FlagKind::Int:
                g.values = {s.str};
                break;
            case FlagKind::Bool:
                g.values = {s.b ? "true" : "false"};
                break;
            case FlagKind::List:
                g.values = s.list;
                break;
            case FlagKind::Count:
                g.values = {std::to_string(s.count)};
                break;
        }
        out.flags.push_back(std::move(g));
    }
    return std::nullopt;
}

std::vector<GivenValue> readEnvironment(const std::function<const char *(const char *)> &getenv)
{
    std::vector<GivenValue> out;
    for (const auto &f : referenceFlags()) {
        if (!*f.env)
            continue;
        std::string var = std::string("GEOIPPOLICYD_") + f.env;
        const char *v = getenv(var.c_str());
        // The reference's README names GEOIPPOLICYD_MAIL_PORT; accept it too.
        if ((!v || !*v) && std::string(f.env) == "MAIL_SERVER_PORT") {
            var = "GEOIPPOLICYD_MAIL_PORT";
            v = getenv(var.c_str());
        }
        if (!v || !*v)
            continue;
        GivenValue g;
        g.flag = &f;
        g.who = var;
        if (f.kind == FlagKind::List)
            g.values = splitList(v, f.effects & kCommaList);
        else
            g.values = {v};
        out.push_back(std::move(g));
    }
    return out;
}

void applyOverrides(ConfigTree &tree, const std::vector<GivenValue> &env, const CommandLine &cli,
                    const std::function<bool(const std::string &)> &moduleAvailable,
                    std::vector<std::string> &errors)
{
    OverrideApplier applier(tree, moduleAvailable, errors);
    for (const auto &g : env)
        applier.apply(g);
    for (const auto &g : cli.flags)
        applier.apply(g);
    applier.finish();

    if (!cli.listen.empty()) {
        YAML::Node list(YAML::NodeType::Sequence);
        for (const auto &l : cli.listen)
            list.push_back(l);
        tree.section("server")["listen"] = list;
        tree.noteOverride("server", "listen", "--listen");
    }
    if (!cli.workers.empty()) {
        tree.section("server")["workers"] = cli.workers;
        tree.noteOverride("server", "workers", "--workers");
    }
    if (!cli.moduleDir.empty()) {
        tree.section("server")["module-dir"] = cli.moduleDir;
        tree.noteOverride("server", "module-dir", "--module-dir");
    }
    if (!cli.statusFile.empty()) {
        tree.section("server")["status-file"] = cli.statusFile;
        tree.noteOverride("server", "status-file", "--status-file");
    }
}

}  // namespace geopol::core
