// Configuration: YAML, GEOIPPOLICYD_* variables and reference flags, their
// precedence, and error messages that point at the problem.
#include <doctest/doctest.h>

#include <map>

#include "cli/command_line.hpp"
#include "config/config_tree.hpp"
#include "server_settings.hpp"

using namespace geopol::core;

namespace {

const char *kYaml = R"(
server:
  listen: ["inet:127.0.0.1:4646", "unix:/run/geopol.sock"]
modules:
  - name: geoip
  - name: memory-store
  - name: limits
    max-ips: 5
    max-countries: 2
)";

CommandLine parse(std::vector<const char *> args)
{
    args.insert(args.begin(), "geopold");
    CommandLine cli;
    auto rc = parseCommandLine(static_cast<int>(args.size()), args.data(), cli);
    REQUIRE_FALSE(rc);
    return cli;
}

std::vector<GivenValue> env(std::map<std::string, std::string> vars)
{
    return readEnvironment([vars](const char *n) -> const char * {
        auto it = vars.find(n);
        return it == vars.end() ? nullptr : it->second.c_str();
    });
}

bool allAvailable(const std::string &)
{
    return true;
}

std::string limitsValue(ConfigTree &t, const char *key)
{
    auto node = t.moduleNode("limits", true)[key];
    return node ? node.Scalar() : "";
}

}  // namespace

TEST_CASE("a flag beats a GEOIPPOLICYD_ variable, which beats the YAML")
{
    auto tree = ConfigTree::fromText(kYaml, "test.yaml", ".");
    std::vector<std::string> errors;
    applyOverrides(tree, env({{"GEOIPPOLICYD_MAX_IPS", "7"}, {"GEOIPPOLICYD_MAX_COUNTRIES", "4"}}),
                   parse({"server", "--max-ips", "9"}), allAvailable, errors);
    CHECK(errors.empty());
    CHECK(limitsValue(tree, "max-ips") == "9");        // flag
    CHECK(limitsValue(tree, "max-countries") == "4");  // variable over YAML's 2
}

TEST_CASE("the YAML value stays when neither variable nor flag is given")
{
    auto tree = ConfigTree::fromText(kYaml, "test.yaml", ".");
    std::vector<std::string> errors;
    applyOverrides(tree, {}, parse({}), allAvailable, errors);
    CHECK(limitsValue(tree, "max-ips") == "5");
}

TEST_CASE("-a and -p replace the first inet listener and keep the unix one")
{
    auto tree = ConfigTree::fromText(kYaml, "test.yaml", ".");
    std::vector<std::string> errors;
    applyOverrides(tree, env({{"GEOIPPOLICYD_SERVER_PORT", "5000"}}), parse({"-a", "::1"}),
                   allAvailable, errors);
    SectionView v(tree, "server", tree.section("server"));
    auto s = readServerSettings(v);
    REQUIRE(s.listen.size() == 2);
    CHECK(s.listen[0] == "inet:[::1]:5000");
    CHECK(s.listen[1] == "unix:/run/geopol.sock");
}

TEST_CASE("reference flags are accepted after the server sub-command, short forms included")
{
    auto cli = parse({"server", "-g", "/x.mmdb", "-c", "/custom.json", "-vv", "--sasl-username",
                      "--home-countries", "DE", "--home-countries", "AT"});
    auto tree = ConfigTree::fromText(kYaml, "test.yaml", ".");
    std::vector<std::string> errors;
    applyOverrides(tree, {}, cli, allAvailable, errors);
    CHECK(errors.empty());
    CHECK(tree.moduleNode("geoip", true)["database"].Scalar() == "/x.mmdb");
    CHECK(limitsValue(tree, "custom-settings") == "/custom.json");
    CHECK(tree.section("log")["level"].Scalar() == "debug");
    CHECK(tree.section("server")["identity"].Scalar() == "sasl_username");
    auto home = tree.moduleNode("limits", true)["home-countries"];
    REQUIRE(home.IsSequence());
    CHECK(home.size() == 2);
    CHECK(home[1].Scalar() == "AT");
}

TEST_CASE("list variables split at spaces, LDAP URIs at commas")
{
    auto given = env({{"GEOIPPOLICYD_HOME_COUNTRIES", "DE  AT"},
                      {"GEOIPPOLICYD_LDAP_SERVER_URIS", "ldap://a:389/, ldap://b:389/"}});
    REQUIRE(given.size() == 2);
    for (const auto &g : given) {
        if (g.who == "GEOIPPOLICYD_HOME_COUNTRIES")
            CHECK(g.values == std::vector<std::string>{"DE", "AT"});
        else
            CHECK(g.values == std::vector<std::string>{"ldap://a:389/", "ldap://b:389/"});
    }
}

TEST_CASE("a Redis flag selects redis-store and turns the embedded store off")
{
    auto tree = ConfigTree::embeddedDefaults();
    std::vector<std::string> errors;
    applyOverrides(tree, {}, parse({"-A", "10.0.0.5"}), allAvailable, errors);
    CHECK(errors.empty());
    bool redis = false, memory = true;
    for (const auto &m : tree.modules()) {
        if (m.name == "redis-store")
            redis = m.enabled;
        if (m.name == "memory-store")
            memory = m.enabled;
    }
    CHECK(redis);
    CHECK_FALSE(memory);
}

TEST_CASE("a flag of a module that is not built is refused by name")
{
    auto tree = ConfigTree::embeddedDefaults();
    std::vector<std::string> errors;
    applyOverrides(
        tree, {}, parse({"--use-ldap"}), [](const std::string &m) { return m != "ldap-alias"; },
        errors);
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].find("--use-ldap") != std::string::npos);
    CHECK(errors[0].find("ldap-alias module is not available yet") != std::string::npos);
}

TEST_CASE("a flag enabling a module the YAML leaves out adds it at its canonical place")
{
    auto tree = ConfigTree::fromText(kYaml, "test.yaml", ".");
    std::vector<std::string> errors;
    applyOverrides(tree, {}, parse({"--use-ldap"}), allAvailable, errors);
    auto mods = tree.modules();
    REQUIRE(mods.size() == 4);
    CHECK(mods[1].name == "ldap-alias");
    CHECK(mods[1].enabled);
}

TEST_CASE("--use-cdb places user-cdb after ldap-alias and before the store, with its path")
{
    // After ldap-alias, which resolves the account it looks up; before
    // operator-mail, which asks whether the account is known.
    auto tree =
        ConfigTree::fromText(kYaml + std::string("  - name: operator-mail\n"), "test.yaml", ".");
    std::vector<std::string> errors;
    applyOverrides(tree, env({{"GEOIPPOLICYD_CDB_PATH", "/etc/geopol/users.cdb"}}),
                   parse({"--use-cdb", "--use-ldap"}), allAvailable, errors);
    CHECK(errors.empty());
    auto mods = tree.modules();
    REQUIRE(mods.size() == 6);
    CHECK(mods[1].name == "ldap-alias");
    CHECK(mods[2].name == "user-cdb");
    CHECK(mods[2].enabled);
    CHECK(mods[3].name == "memory-store");
    CHECK(tree.moduleNode("user-cdb", false)["path"].Scalar() == "/etc/geopol/users.cdb");
}

TEST_CASE("a boolean variable must be a boolean")
{
    auto tree = ConfigTree::fromText(kYaml, "test.yaml", ".");
    std::vector<std::string> errors;
    applyOverrides(tree, env({{"GEOIPPOLICYD_USE_SASL_USERNAME", "maybe"}}), parse({}),
                   allAvailable, errors);
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].find("GEOIPPOLICYD_USE_SASL_USERNAME") != std::string::npos);
}

TEST_CASE("errors name file:line and key, or the flag that set the value")
{
    auto tree = ConfigTree::fromText("server:\n  idle-timeout: forever\n  listen: []\n",
                                     "/etc/geopol/geopol.yaml", "/etc/geopol");
    SectionView v(tree, "server", tree.section("server"));
    readServerSettings(v);
    REQUIRE(v.errors().size() == 2);
    INFO(v.errors()[0], " | ", v.errors()[1]);
    CHECK(v.errors()[0].find("/etc/geopol/geopol.yaml:3:11: server.listen: needs at least one "
                             "listener") == 0);
    CHECK(v.errors()[1].find("/etc/geopol/geopol.yaml:2:17: server.idle-timeout") == 0);

    auto t2 = ConfigTree::fromText(kYaml, "test.yaml", ".");
    std::vector<std::string> errors;
    applyOverrides(t2, {}, parse({"--max-ips", "lots"}), allAvailable, errors);
    SectionView lim(t2, "limits", t2.moduleNode("limits", true));
    lim.getInt("max-ips", 10, 0, 1000000);
    REQUIRE(lim.errors().size() == 1);
    CHECK(lim.errors()[0].find("--max-ips (limits.max-ips)") == 0);
}

TEST_CASE("unknown keys are reported with their line")
{
    auto tree = ConfigTree::fromText("server:\n  listen: [\"inet:127.0.0.1:1\"]\n  max-idle: 5\n",
                                     "g.yaml", ".");
    SectionView v(tree, "server", tree.section("server"));
    readServerSettings(v);
    v.reportUnknownKeys();
    REQUIRE(v.errors().size() == 1);
    CHECK(v.errors()[0] ==
          "g.yaml:3:3: server: unknown key 'max-idle' (see the module's README "
          "for its keys)");
}

TEST_CASE("broken YAML and a malformed module list are errors with a position")
{
    CHECK_THROWS_WITH_AS(ConfigTree::fromText("server: [\n", "x.yaml", "."),
                         doctest::Contains("x.yaml:2:1: invalid YAML"), ConfigError);
    CHECK_THROWS_WITH_AS(ConfigTree::fromText("bogus: 1\n", "x.yaml", "."),
                         doctest::Contains("unknown top-level key 'bogus'"), ConfigError);
    auto t = ConfigTree::fromText("modules:\n  - geoip\n", "x.yaml", ".");
    CHECK_THROWS_WITH_AS(t.modules(), doctest::Contains("x.yaml:2:5"), ConfigError);
    auto dup = ConfigTree::fromText("modules:\n  - name: a\n  - name: a\n", "x.yaml", ".");
    CHECK_THROWS_WITH_AS(dup.modules(), doctest::Contains("listed twice"), ConfigError);
}

// The cases below were found by tests/fuzz (config). Before the fixes each
// threw a YAML or JSON exception that readConfig() does not catch, so the
// daemon ended at start or, worse, on SIGHUP with a running configuration.

TEST_CASE("a variable for a module over a malformed module list leaves the error to modules()")
{
    for (const char *yaml : {"modules:\n  - geoip\n", "modules:\n  - [limits]\n",
                             "modules: {name: limits}\n", "modules: limits\n"}) {
        CAPTURE(yaml);
        auto tree = ConfigTree::fromText(yaml, "x.yaml", ".");
        std::vector<std::string> errors;
        CHECK_NOTHROW(applyOverrides(tree, env({{"GEOIPPOLICYD_MAX_IPS", "7"}}),
                                     parse({"--block-permanent"}), allAvailable, errors));
        CHECK_THROWS_AS(tree.modules(), ConfigError);
    }
}

TEST_CASE("a list or map as a key is a config error, not an exception")
{
    CHECK_THROWS_WITH_AS(ConfigTree::fromText("? [server]\n: {}\n", "x.yaml", "."),
                         doctest::Contains("x.yaml:1:3: unknown top-level key"), ConfigError);
    auto tree = ConfigTree::fromText("server:\n  ? {a: b}\n  : 1\n", "x.yaml", ".");
    SectionView v(tree, "server", tree.section("server"));
    v.reportUnknownKeys();
    REQUIRE(v.errors().size() == 1);
    CHECK(v.errors()[0].find("a key must be a plain name") != std::string::npos);
}

TEST_CASE("getJson reports what JSON cannot hold instead of throwing")
{
    auto tree = ConfigTree::fromText(
        "modules:\n"
        "  - name: limits\n"
        "    ok: {a: [1, \"x\", true]}\n"
        "    latin1: \"Gr\xfc\xdf\"\n"
        "    listkey: {? [k]: v}\n"
        "    cycle: &c [*c]\n"
        "    a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        "    a1: &a1 [*a0, *a0, *a0, *a0, *a0, *a0, *a0, *a0, *a0, *a0]\n"
        "    a2: &a2 [*a1, *a1, *a1, *a1, *a1, *a1, *a1, *a1, *a1, *a1]\n"
        "    a3: [*a2, *a2, *a2, *a2, *a2, *a2, *a2, *a2, *a2, *a2]\n",
        "x.yaml", ".");
    SectionView v(tree, "limits", tree.modules()[0].node);
    CHECK(v.getJson("ok") == R"({"a":[1,"x",true]})");
    CHECK(v.errors().empty());
    for (const char *key : {"latin1", "listkey", "cycle", "a3"}) {
        CAPTURE(key);
        size_t before = v.errors().size();
        CHECK(v.getJson(key).empty());
        REQUIRE(v.errors().size() == before + 1);
        CHECK(v.errors().back().find(std::string("limits.") + key) != std::string::npos);
    }
    CHECK(v.errors()[0].find("not valid UTF-8") != std::string::npos);
    CHECK(v.errors()[1].find("keys must be plain names") != std::string::npos);
    CHECK(v.errors()[2].find("alias refers to itself") != std::string::npos);
    CHECK(v.errors()[3].find("aliases are expanded") != std::string::npos);
    CHECK_FALSE(v.getJson("a2").empty());  // 1111 values: within the limit (a3: 11111)
}

TEST_CASE("deeply nested or oversized YAML is refused before it can exhaust the stack")
{
    std::string blocks = "server:";
    for (int i = 1; i <= 3000; ++i)
        blocks += "\n" + std::string(i, ' ') + "-";
    const std::string open(100'000, '['), close(100'000, ']');
    for (const std::string &deep : {"server: " + open, "server: " + open + close, blocks})
        CHECK_THROWS_AS(ConfigTree::fromText(deep, "deep.yaml", "."), ConfigError);

    std::string big = "server:\n  listen: [\"inet:127.0.0.1:4646\"]\n#" + std::string(1 << 20, 'x');
    CHECK_THROWS_WITH_AS(ConfigTree::fromText(big, "big.yaml", "."),
                         doctest::Contains("big.yaml: larger than 1 MiB"), ConfigError);
}

TEST_CASE("durations, booleans and relative paths are read as documented")
{
    CHECK(parseDurationMs("250ms") == 250);
    CHECK(parseDurationMs("10s") == 10000);
    CHECK(parseDurationMs("10") == 10000);
    CHECK(parseDurationMs("5m") == 300000);
    CHECK(parseDurationMs("1.5s") == 1500);
    CHECK_FALSE(parseDurationMs("soon"));
    CHECK_FALSE(parseDurationMs("-1s"));
    CHECK(parseBool("T") == true);
    CHECK(parseBool("off") == false);
    CHECK_FALSE(parseBool("maybe"));

    auto tree = ConfigTree::fromText("modules:\n  - name: geoip\n    database: data/x.mmdb\n",
                                     "/etc/geopol/geopol.yaml", "/etc/geopol");
    SectionView v(tree, "geoip", tree.modules()[0].node);
    CHECK(v.getPath("database", "") == "/etc/geopol/data/x.mmdb");
}

TEST_CASE("replies must be one line of UTF-8")
{
    CHECK(validActionText("DUNNO"));
    CHECK(validActionText(
        "REJECT Zugriff verweigert: Bitte wenden Sie sich an den Support \xc3\xbc"));
    CHECK_FALSE(validActionText(""));
    CHECK_FALSE(validActionText("DUNNO\nREJECT"));
    CHECK_FALSE(validActionText("REJECT \xff"));
    CHECK_FALSE(validActionText("REJECT \xc3"));
}

// Found by tests/fuzz (action_text): Postfix refuses malformed UTF-8 in a
// policy reply, so these must fall back to the failure action here.
TEST_CASE("replies with ill-formed UTF-8 sequences are refused")
{
    CHECK(validActionText("REJECT \xe0\xa0\x80 \xed\x9f\xbf \xf0\x90\x80\x80 \xf4\x8f\xbf\xbf"));
    CHECK_FALSE(validActionText("\xf6\x8c\x96\x80"));         // past U+10FFFF (lead F5-F7)
    CHECK_FALSE(validActionText("REJECT \xf4\x90\x80\x80"));  // U+110000
    CHECK_FALSE(validActionText("REJECT \xe0\x80\xaf"));      // overlong '/'
    CHECK_FALSE(validActionText("REJECT \xf0\x80\x80\xaf"));  // overlong '/'
    CHECK_FALSE(validActionText("REJECT \xed\xa0\x80"));      // UTF-16 surrogate U+D800
}
