// mailbox_test.cpp - the forms `from` and `to` may take.
#include "mailbox.hpp"

#include <doctest/doctest.h>

using namespace geopol::operator_mail;

namespace {

std::vector<Mailbox> parse(std::string_view text)
{
    std::vector<Mailbox> out;
    std::string error;
    REQUIRE_MESSAGE(parseMailboxList(text, out, error), error);
    return out;
}

std::string parseError(std::string_view text)
{
    std::vector<Mailbox> out;
    std::string error;
    CHECK_FALSE(parseMailboxList(text, out, error));
    return error;
}

}  // namespace

TEST_CASE("a bare address, one in angle brackets and one with a name all parse")
{
    auto a = parse("ops@example.com");
    REQUIRE(a.size() == 1);
    CHECK(a[0].address == "ops@example.com");
    CHECK(a[0].displayName.empty());

    auto b = parse("<operator@example.com>");  // the reference README's form
    REQUIRE(b.size() == 1);
    CHECK(b[0].address == "operator@example.com");

    auto c = parse("Ops Team <ops@example.com>");
    REQUIRE(c.size() == 1);
    CHECK(c[0].displayName == "Ops Team");
    CHECK(c[0].address == "ops@example.com");
}

TEST_CASE("several recipients are separated by commas, also inside quoted names")
{
    auto list = parse("\"Ops, Night\" <night@example.com>, day@example.com ,Boss <b@x.example>");
    REQUIRE(list.size() == 3);
    CHECK(list[0].displayName == "Ops, Night");
    CHECK(list[0].address == "night@example.com");
    CHECK(list[1].address == "day@example.com");
    CHECK(list[2].displayName == "Boss");
}

TEST_CASE("bad addresses are refused with a reason")
{
    CHECK(parseError("").find("no address") != std::string::npos);
    CHECK(parseError("ops").find("local@domain") != std::string::npos);
    CHECK(parseError("ops@").find("domain") != std::string::npos);
    CHECK(parseError("a b@example.com").find("local part") != std::string::npos);
    CHECK(parseError("<ops@example.com> trailing").find("nothing may follow") != std::string::npos);
    CHECK(parseError("ops@exa_mple..com").find("domain") != std::string::npos);
    CHECK(parseError("a@example.com,,b@example.com").find("empty") != std::string::npos);
    CHECK(parseError("\"open <a@example.com>").find("unbalanced") != std::string::npos);
    CHECK(parseError("jürgen@example.com").find("local part") != std::string::npos);
}

TEST_CASE("mailboxes are formatted for headers with quoting and encoding as needed")
{
    CHECK(formatMailbox({"", "ops@example.com"}) == "ops@example.com");
    CHECK(formatMailbox({"Ops Team", "ops@example.com"}) == "Ops Team <ops@example.com>");
    CHECK(formatMailbox({"Ops, \"Night\"", "n@example.com"}) ==
          "\"Ops, \\\"Night\\\"\" <n@example.com>");
    std::string encoded = formatMailbox({"Jürgen", "j@example.com"});
    CHECK(encoded.rfind("=?UTF-8?B?", 0) == 0);
    CHECK(encoded.find(" <j@example.com>") != std::string::npos);
}

TEST_CASE("the domain of an address")
{
    CHECK(addressDomain("a@example.com") == "example.com");
    CHECK(addressDomain("nodomain").empty());
}
