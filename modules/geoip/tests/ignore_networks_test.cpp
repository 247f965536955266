// ignore_networks_test.cpp - which clients ignore-networks takes out of counting.
#include "ignore_networks.hpp"

#include <doctest/doctest.h>

using geopol::IpAddress;
using geopol::geoip::IgnoreNetworks;

namespace {

IpAddress ip(const char *text)
{
    auto a = IpAddress::parse(text);
    REQUIRE_MESSAGE(a.has_value(), text << " does not parse");
    return *a;
}

// The matching entry's text, or "" when none matches.
std::string matched(const IgnoreNetworks &list, const char *client)
{
    const std::string *entry = list.match(ip(client));
    return entry ? *entry : std::string();
}

}  // namespace

TEST_CASE("an empty list matches no client")
{
    IgnoreNetworks list;
    CHECK(list.empty());
    CHECK(list.match(ip("10.0.0.1")) == nullptr);
}

TEST_CASE("an IPv4 CIDR entry matches the addresses inside it and no others")
{
    IgnoreNetworks list;
    REQUIRE(list.add("192.0.2.0/24"));
    CHECK(matched(list, "192.0.2.0") == "192.0.2.0/24");
    CHECK(matched(list, "192.0.2.255") == "192.0.2.0/24");
    CHECK(matched(list, "192.0.3.0").empty());
    CHECK(matched(list, "192.0.1.255").empty());
    CHECK(matched(list, "2001:db8::1").empty());
}

TEST_CASE("a v4-mapped client matches an IPv4 CIDR entry")
{
    IgnoreNetworks list;
    REQUIRE(list.add("10.0.0.0/8"));
    CHECK(matched(list, "::ffff:10.1.2.3") == "10.0.0.0/8");
    CHECK(matched(list, "::ffff:11.0.0.1").empty());
}

TEST_CASE("an IPv6 CIDR entry matches the addresses inside it and no others")
{
    IgnoreNetworks list;
    REQUIRE(list.add("2001:db8:1::/48"));
    CHECK(matched(list, "2001:db8:1::1") == "2001:db8:1::/48");
    CHECK(matched(list, "2001:db8:1:ffff:ffff:ffff:ffff:ffff") == "2001:db8:1::/48");
    CHECK(matched(list, "2001:db8:2::1").empty());
    CHECK(matched(list, "10.0.0.1").empty());
}

TEST_CASE("a single address entry matches that address in any spelling and nothing else")
{
    IgnoreNetworks list;
    REQUIRE(list.add("198.51.100.7"));
    REQUIRE(list.add("2001:DB8:0:0::10"));
    CHECK(matched(list, "198.51.100.7") == "198.51.100.7");
    CHECK(matched(list, "::ffff:198.51.100.7") == "198.51.100.7");
    CHECK(matched(list, "198.51.100.8").empty());
    CHECK(matched(list, "2001:db8::10") == "2001:DB8:0:0::10");
    CHECK(matched(list, "2001:db8::11").empty());
}

TEST_CASE("a /0 entry matches every client of its family")
{
    IgnoreNetworks list;
    REQUIRE(list.add("0.0.0.0/0"));
    CHECK(matched(list, "8.8.8.8") == "0.0.0.0/0");
    CHECK(matched(list, "2a00:1450:4001:80b::200e").empty());
}

TEST_CASE("the first matching entry is reported, as it was written")
{
    IgnoreNetworks list;
    REQUIRE(list.add("10.0.0.0/8"));
    REQUIRE(list.add("10.1.0.0/16"));
    CHECK(list.size() == 2);
    CHECK(matched(list, "10.1.2.3") == "10.0.0.0/8");
}

TEST_CASE("entries that are neither an address nor a CIDR network are refused")
{
    IgnoreNetworks list;
    for (const char *bad :
         {"", "example.com", "10.0.0.0/33", "2001:db8::/129", "10.0.0.0/", "10.0.0.0/a", "1.2.3",
          "192.0.2.0/24 ", " 192.0.2.0/24", "10.0.0.0/8,192.168.0.0/16"}) {
        CAPTURE(bad);
        CHECK_FALSE(list.add(bad));
    }
    CHECK(list.empty());
}
