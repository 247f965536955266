// custom_settings_test.cpp - parsing, validation messages, lookup, serialisation,
// and the module's own YAML keys.
#include "custom_settings.hpp"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "fakes.hpp"
#include "settings.hpp"

using namespace geopol;
using namespace geopol::limits;

namespace {

bool contains(const std::string &haystack, std::string_view needle)
{
    return haystack.find(needle) != std::string::npos;
}

CustomSettings::ParseResult parse(const std::string &text)
{
    return CustomSettings::parse(text, "/etc/geopol/custom.json");
}

using testing::TempFile;

const char *kFull = R"({"data":[
  {"comment":"road warrior","sender":"Alice@Example.COM","ips":5,"countries":2,
   "trusted_countries":["de","AT"],"trusted_ips":["1.2.3.4","10.0.0.0/8"],
   "home_countries":{"codes":["DE"],"ips":7,"countries":1},
   "unknown_key":{"ignored":true}},
  {"sender":"bob@example.com","countries":4},
  {"comment":"duplicate","sender":"alice@example.com","ips":99}
]})";

}  // namespace

TEST_CASE("a complete custom settings file is parsed with every field")
{
    auto r = parse(kFull);
    REQUIRE_MESSAGE(r.settings, r.error);
    const auto &e = r.settings->entries();
    REQUIRE(e.size() == 3);
    CHECK(e[0].comment == "road warrior");
    CHECK(e[0].sender == "Alice@Example.COM");
    CHECK(e[0].ips == 5);
    CHECK(e[0].countries == 2);
    CHECK(e[0].trustedCountries == std::vector<std::string>{"DE", "AT"});
    CHECK(e[0].trustedIpTexts == std::vector<std::string>{"1.2.3.4", "10.0.0.0/8"});
    CHECK(e[0].trustedIps.size() == 2);
    REQUIRE(e[0].home);
    CHECK(e[0].home->codes == std::vector<std::string>{"DE"});
    CHECK(e[0].home->ips == 7);
    CHECK(e[0].home->countries == 1);
    CHECK(e[1].ips == 0);
    CHECK_FALSE(e[1].home);
}

TEST_CASE("the first entry for a sender wins and later duplicates are reported")
{
    auto r = parse(kFull);
    REQUIRE(r.settings);
    const CustomEntry *found = r.settings->find("alice@example.com");
    REQUIRE(found);
    CHECK(found->comment == "road warrior");
    REQUIRE(r.warnings.size() == 1);
    CHECK(contains(r.warnings[0], "data[2]"));
    CHECK(contains(r.warnings[0], "first match wins"));
}

TEST_CASE("senders are matched ignoring case")
{
    auto r = parse(kFull);
    REQUIRE(r.settings);
    CHECK(r.settings->find("alice@example.com"));
    CHECK(r.settings->find("ALICE@EXAMPLE.COM"));
    CHECK(r.settings->find("bob@example.com")->countries == 4);
    CHECK_FALSE(r.settings->find("carol@example.com"));
}

TEST_CASE("an empty object, null data or an empty list give no entries")
{
    for (const char *text : {"{}", R"({"data":null})", R"({"data":[]})", "null"}) {
        CAPTURE(text);
        auto r = parse(text);
        REQUIRE_MESSAGE(r.settings, r.error);
        CHECK(r.settings->entries().empty());
        CHECK_FALSE(r.settings->find("a@b"));
    }
}

TEST_CASE("a file that is not JSON is refused with the file name")
{
    auto r = parse(R"({"data":[{"sender":"a@b",}]})");
    CHECK_FALSE(r.settings);
    CHECK(contains(r.error, "/etc/geopol/custom.json"));
    CHECK(contains(r.error, "not valid JSON"));
    CHECK_FALSE(contains(r.error, "[json.exception"));
}

TEST_CASE("a field of the wrong type is refused naming file, entry and field")
{
    auto r = parse(R"({"data":[{"sender":"a@b"},{"sender":"c@d","ips":"3"}]})");
    CHECK_FALSE(r.settings);
    CHECK(contains(r.error, "/etc/geopol/custom.json"));
    CHECK(contains(r.error, "data[1]"));
    CHECK(contains(r.error, "c@d"));
    CHECK(contains(r.error, "\"ips\""));
    CHECK(contains(r.error, "whole number"));

    auto list = parse(R"({"data":[{"sender":"a@b","trusted_countries":"DE"}]})");
    CHECK(contains(list.error, "\"trusted_countries\""));
    auto home = parse(R"({"data":[{"sender":"a@b","home_countries":["DE"]}]})");
    CHECK(contains(home.error, "\"home_countries\""));
    auto fraction = parse(R"({"data":[{"sender":"a@b","countries":2.5}]})");
    CHECK(contains(fraction.error, "\"countries\""));
    auto data = parse(R"({"data":{"sender":"a@b"}})");
    CHECK(contains(data.error, "\"data\" must be a list"));
}

// Found with tests/fuzz (custom_settings): the message used to dump the
// offending value, recursively, so deep nesting overflowed the stack.
TEST_CASE("a deeply nested value of the wrong type is refused without dumping it")
{
    const size_t depth = 1'000'000;
    for (const std::string &where : {std::string("{\"data\":[%]}"),
                                     std::string("{\"data\":[{\"sender\":\"a@b\",\"ips\":%}]}")}) {
        std::string text = where;
        text.replace(text.find('%'), 1, std::string(depth, '[') + std::string(depth, ']'));
        auto r = parse(text);
        INFO(r.error);
        CHECK_FALSE(r.settings);
        CHECK(contains(r.error, "not array"));
        CHECK(r.error.size() < 200);
    }
    auto scalar = parse(R"({"data":[{"sender":"a@b","ips":"3"}]})");
    CHECK(contains(scalar.error, "not string \"3\""));  // scalars are still shown
}

TEST_CASE("an invalid CIDR in trusted_ips is refused naming the list position")
{
    auto r = parse(R"({"data":[{"sender":"a@b","trusted_ips":["10.0.0.0/8","10.0.0.0/33"]}]})");
    CHECK_FALSE(r.settings);
    CHECK(contains(r.error, "data[0]"));
    CHECK(contains(r.error, "trusted_ips[1]"));
    CHECK(contains(r.error, "10.0.0.0/33"));
    auto word = parse(R"({"data":[{"sender":"a@b","trusted_ips":["localhost"]}]})");
    CHECK(contains(word.error, "trusted_ips[0]"));
}

TEST_CASE("a bad country code is refused naming the field")
{
    auto r = parse(R"({"data":[{"sender":"a@b","trusted_countries":["DE","GER"]}]})");
    CHECK(contains(r.error, "trusted_countries[1]"));
    CHECK(contains(r.error, "GER"));
    auto home = parse(R"({"data":[{"sender":"a@b","home_countries":{"codes":["D1"]}}]})");
    CHECK(contains(home.error, "home_countries.codes[0]"));
}

TEST_CASE("negative limits and entries without a sender are refused")
{
    auto neg = parse(R"({"data":[{"sender":"a@b","ips":-1}]})");
    CHECK(contains(neg.error, "\"ips\""));
    CHECK(contains(neg.error, "0 or more"));
    auto nosender = parse(R"({"data":[{"comment":"x","ips":1}]})");
    CHECK(contains(nosender.error, "\"sender\""));
    auto notobj = parse(R"({"data":["a@b"]})");
    CHECK(contains(notobj.error, "data[0]"));
    // JSON's "-0" is zero (the default), not a negative count.
    auto minusZero = parse(R"({"data":[{"sender":"a@b","ips":-0,"countries":2}]})");
    REQUIRE(minusZero.settings);
    CHECK(minusZero.settings->entries()[0].ips == 0);
}

TEST_CASE("serialisation keeps the reference's key order and parses back to the same entries")
{
    auto r = parse(kFull);
    REQUIRE(r.settings);
    std::string text = r.settings->serialize();
    auto first = text.find("\"comment\"");
    auto order = {"\"sender\"",      "\"ips\"",           "\"countries\"", "\"trusted_countries\"",
                  "\"trusted_ips\"", "\"home_countries\""};
    for (const char *key : order) {
        auto at = text.find(key, first);
        CAPTURE(key);
        REQUIRE(at != std::string::npos);
        CHECK(at > first);
        first = at;
    }
    CHECK_FALSE(contains(text, "unknown_key"));
    // absent lists and home block print as null, like the reference
    CHECK(contains(text, R"("sender":"bob@example.com","ips":0,"countries":4,)"
                         R"("trusted_countries":null,"trusted_ips":null,"home_countries":null)"));

    auto again = CustomSettings::parse(text, "round-trip");
    REQUIRE_MESSAGE(again.settings, again.error);
    CHECK(again.settings->serialize() == text);
}

TEST_CASE("a missing custom settings file is an error naming the path")
{
    auto r = CustomSettings::load("/nonexistent/custom.json");
    CHECK_FALSE(r.settings);
    CHECK(contains(r.error, "/nonexistent/custom.json"));
}

TEST_CASE("the module's keys have the reference defaults")
{
    testing::FakeConfig cfg;
    Settings s;
    CHECK(readSettings(cfg, s));
    CHECK(cfg.errors.empty());
    CHECK(s.limits.maxCountries == 3);
    CHECK(s.limits.maxIps == 10);
    CHECK(s.limits.maxHomeCountries == 3);
    CHECK(s.limits.maxHomeIps == 10);
    CHECK(s.homeCountries.empty());
    CHECK(s.counting.ipv6Prefix == 64);
    CHECK(s.counting.countUnplaceable);
    CHECK(s.rejectAction == "REJECT Policy violation. Please contact your support");
    CHECK(s.noIdentityAction == "DUNNO");
    REQUIRE(s.custom);
    CHECK(s.custom->entries().empty());
}

TEST_CASE("home countries are upper-cased and bad codes are reported")
{
    testing::FakeConfig cfg;
    cfg.setList("home-countries", {"de", "", "At"});
    Settings s;
    CHECK(readSettings(cfg, s));
    CHECK(s.homeCountries == std::vector<std::string>{"DE", "AT"});

    testing::FakeConfig bad;
    bad.setList("home-countries", {"DE AT"});
    CHECK_FALSE(readSettings(bad, s));
    CHECK(contains(bad.errorText(), "home-countries"));
}

TEST_CASE("negative limits, a bad IPv6 prefix and a multi-line action are refused")
{
    testing::FakeConfig cfg;
    cfg.set("max-ips", "-1").set("ipv6-prefix", "129").set("reject-action", "REJECT a\nb");
    Settings s;
    readSettings(cfg, s);
    std::string errors = cfg.errorText();
    CHECK(contains(errors, "max-ips"));
    CHECK(contains(errors, "ipv6-prefix"));
    CHECK(contains(errors, "reject-action"));
}

TEST_CASE("a broken custom settings file refuses the configuration under its key")
{
    TempFile file(R"({"data":[{"sender":"a@b","trusted_ips":["300.1.1.1"]}]})");
    testing::FakeConfig cfg;
    cfg.set("custom-settings", file.path);
    Settings s;
    CHECK_FALSE(readSettings(cfg, s));
    REQUIRE(cfg.errors.size() == 1);
    CHECK(cfg.errors[0].first == "custom-settings");
    CHECK(contains(cfg.errors[0].second, file.path));
    CHECK(contains(cfg.errors[0].second, "trusted_ips[0]"));
}

TEST_CASE("a valid custom settings file is loaded at configuration time")
{
    TempFile file(kFull);
    testing::FakeConfig cfg;
    cfg.set("custom-settings", file.path);
    Settings s;
    CHECK(readSettings(cfg, s));
    CHECK(cfg.errors.empty());
    CHECK(s.custom->entries().size() == 3);
    CHECK(s.customWarnings.size() == 1);
}
