// message_template_test.cpp - placeholders, escapes, the reference's %s.
#include "message_template.hpp"

#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <iterator>

#include "message.hpp"

using namespace geopol::operator_mail;

namespace {

std::string expand(std::string_view text, const Values &values)
{
    MessageTemplate t;
    std::string error;
    REQUIRE_MESSAGE(t.parse(text, placeholderNames(), error), error);
    return t.expand(values);
}

}  // namespace

TEST_CASE("placeholders are replaced by their values")
{
    Values v{{"account", "alice@example.com"}, {"countries", "DE, US"}};
    CHECK(expand("{account} was seen in {countries}.", v) ==
          "alice@example.com was seen in DE, US.");
}

TEST_CASE("the reference's template with one %s keeps working")
{
    // geoip-policyd's shipped mailtemplate.txt
    Values v{{"account", "op@example.com"}};
    MessageTemplate t;
    std::string error;
    REQUIRE(t.parse("Hello,\n\nthe e-mail account sender=<%s> was compromised.\n\nPostmaster\n",
                    placeholderNames(), error));
    CHECK(t.usesPercentS());
    CHECK(t.expand(v) ==
          "Hello,\n\nthe e-mail account sender=<op@example.com> was compromised.\n\nPostmaster\n");
}

TEST_CASE("a literal percent stays a percent; %% is one percent as in printf")
{
    Values v{{"account", "a@b.c"}};
    CHECK(expand("100% sure: %s, 50%% off, %d %x %", v) == "100% sure: a@b.c, 50% off, %d %x %");
}

TEST_CASE("%s may appear any number of times, also not at all")
{
    Values v{{"account", "x@y.z"}};
    CHECK(expand("%s and %s", v) == "x@y.z and x@y.z");
    CHECK(expand("no macro", v) == "no macro");
}

TEST_CASE("double braces are literal braces; other braces stay as written")
{
    Values v{{"account", "a@b.c"}};
    CHECK(expand("{{account}} is {account}", v) == "{account} is a@b.c");
    CHECK(expand("json: { \"x\": 1 } {1} {} {Account} }", v) ==
          "json: { \"x\": 1 } {1} {} {Account} }");
}

TEST_CASE("an unknown placeholder is an error naming its line and the known ones")
{
    MessageTemplate t;
    std::string error;
    CHECK_FALSE(t.parse("Hello\n\nThe account {acount} is blocked.\n", placeholderNames(), error));
    CHECK(error.find("line 3") != std::string::npos);
    CHECK(error.find("{acount}") != std::string::npos);
    CHECK(error.find("{account}") != std::string::npos);
    CHECK(error.find("{{") != std::string::npos);
}

TEST_CASE("every documented placeholder parses")
{
    std::string all;
    for (const Placeholder &p : placeholders())
        all += "{" + std::string(p.name) + "}";
    MessageTemplate t;
    std::string error;
    CHECK_MESSAGE(t.parse(all, placeholderNames(), error), error);
}

TEST_CASE("the built-in body parses")
{
    MessageTemplate t;
    std::string error;
    CHECK_MESSAGE(t.parse(kDefaultBody, placeholderNames(), error), error);
}

TEST_CASE("the README documents every placeholder and shows the built-in body as it is")
{
    const char *root = std::getenv("GEOPOL_SOURCE_ROOT");
    REQUIRE_MESSAGE(root, "GEOPOL_SOURCE_ROOT is not set: run through meson test");
    std::ifstream in(std::string(root) + "/modules/operator-mail/README.md");
    REQUIRE(in);
    std::string readme((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (const Placeholder &p : placeholders())
        CHECK_MESSAGE(readme.find("`{" + std::string(p.name) + "}`") != std::string::npos,
                      "README.md does not document {" << p.name << "}");
    CHECK_MESSAGE(readme.find(std::string("```text\n") + kDefaultBody + "```") != std::string::npos,
                  "README.md's built-in body differs from kDefaultBody");
}
