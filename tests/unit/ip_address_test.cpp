// Client addresses: parsing, canonical form, classes, prefixes and networks.
#include "geopol/ip_address.hpp"

#include <doctest/doctest.h>

using geopol::AddressClass;
using geopol::IpAddress;
using geopol::IpNetwork;

TEST_CASE("IPv4 and its v4-mapped IPv6 spelling are the same address")
{
    auto a = IpAddress::parse("10.0.0.1");
    auto b = IpAddress::parse("::ffff:10.0.0.1");
    REQUIRE(a);
    REQUIRE(b);
    CHECK(*a == *b);
    CHECK(b->toString() == "10.0.0.1");
}

TEST_CASE("IPv6 spellings are canonicalised")
{
    auto a = IpAddress::parse("2001:DB8:0:0:0:0:0:1");
    REQUIRE(a);
    CHECK(a->toString() == "2001:db8::1");
    CHECK(IpAddress::parse("[2001:db8::1]")->toString() == "2001:db8::1");
}

TEST_CASE("non-addresses are refused")
{
    for (const char *bad : {"unknown", "", "1.2.3", "256.1.1.1", "host.example.com", "1.2.3.4/24"})
        CHECK_FALSE(IpAddress::parse(bad));
}

TEST_CASE("addresses are classified so that unplaceable ones are never a country")
{
    auto cls = [](const char *s) { return IpAddress::parse(s)->classify(); };
    CHECK(cls("8.8.8.8") == AddressClass::Public);
    CHECK(cls("10.1.2.3") == AddressClass::Private);
    CHECK(cls("172.16.0.1") == AddressClass::Private);
    CHECK(cls("172.32.0.1") == AddressClass::Public);
    CHECK(cls("192.168.1.1") == AddressClass::Private);
    CHECK(cls("127.0.0.1") == AddressClass::Loopback);
    CHECK(cls("169.254.1.1") == AddressClass::LinkLocal);
    CHECK(cls("100.64.0.1") == AddressClass::SharedCgnat);
    CHECK(cls("100.128.0.1") == AddressClass::Public);
    CHECK(cls("192.0.2.55") == AddressClass::Reserved);
    CHECK(cls("198.51.100.1") == AddressClass::Reserved);
    CHECK(cls("224.0.0.1") == AddressClass::Reserved);
    CHECK(cls("::1") == AddressClass::Loopback);
    CHECK(cls("fe80::1") == AddressClass::LinkLocal);
    CHECK(cls("fd00::1") == AddressClass::UniqueLocal);
    CHECK(cls("2001:db8::1") == AddressClass::Reserved);
    CHECK(cls("2a00:1450:4001:80b::200e") == AddressClass::Public);
    CHECK(cls("::ffff:10.0.0.1") == AddressClass::Private);
}

TEST_CASE("IPv6 addresses count per prefix, IPv4 per address")
{
    auto a = IpAddress::parse("2a00:1450:4001:80b::1");
    auto b = IpAddress::parse("2a00:1450:4001:80b:ffff::2");
    auto c = IpAddress::parse("2a00:1450:4001:80c::1");
    CHECK(a->countingKey(64) == "2a00:1450:4001:80b::/64");
    CHECK(a->countingKey(64) == b->countingKey(64));
    CHECK(a->countingKey(64) != c->countingKey(64));
    CHECK(a->countingKey(48) == c->countingKey(48));
    CHECK(a->countingKey(128) == "2a00:1450:4001:80b::1");
    CHECK(IpAddress::parse("8.8.8.8")->countingKey(64) == "8.8.8.8");
}

TEST_CASE("networks match by prefix, single addresses exactly, across spellings")
{
    auto net = IpNetwork::parse("192.0.2.0/24");
    REQUIRE(net);
    CHECK(net->contains(*IpAddress::parse("192.0.2.55")));
    CHECK(net->contains(*IpAddress::parse("::ffff:192.0.2.1")));
    CHECK_FALSE(net->contains(*IpAddress::parse("192.0.3.1")));
    auto one = IpNetwork::parse("10.0.0.1");
    CHECK(one->contains(*IpAddress::parse("10.0.0.1")));
    CHECK_FALSE(one->contains(*IpAddress::parse("10.0.0.2")));
    auto v6 = IpNetwork::parse("2001:db8::/32");
    CHECK(v6->contains(*IpAddress::parse("2001:db8:ffff::1")));
    CHECK_FALSE(v6->contains(*IpAddress::parse("2001:db9::1")));
    auto mapped = IpNetwork::parse("::ffff:10.0.0.0/104");
    REQUIRE(mapped);
    CHECK(mapped->contains(*IpAddress::parse("10.1.2.3")));
    CHECK_FALSE(mapped->contains(*IpAddress::parse("11.0.0.1")));
    CHECK_FALSE(IpNetwork::parse("10.0.0.0/33"));
    CHECK_FALSE(IpNetwork::parse("10.0.0.0/"));
    CHECK_FALSE(IpNetwork::parse("nonsense/8"));
}

// Found by tests/fuzz (ip_address): inet_pton() stops at a NUL, so the text
// after it was ignored. A JSON "\u0000" or a YAML "\0" can put one there.
TEST_CASE("an address or network with a NUL byte in it is refused")
{
    using namespace std::string_view_literals;
    CHECK_FALSE(IpAddress::parse("8::\0\0\0\0\0"sv));
    CHECK_FALSE(IpAddress::parse("10.0.0.1\0.evil"sv));
    CHECK_FALSE(IpAddress::parse("[::1\0]"sv));
    CHECK_FALSE(IpNetwork::parse("10.0.0.0\0/8"sv));
    CHECK_FALSE(IpNetwork::parse("10.0.0.1\0"sv));
    CHECK(IpAddress::parse("10.0.0.1"sv));
}

TEST_CASE("IPv4 text is the dotted quad inet_ntop writes, for every octet value in every place")
{
    for (int place = 0; place < 4; ++place)
        for (unsigned v = 0; v < 256; ++v) {
            uint8_t b[4] = {1, 20, 199, 7};
            b[place] = static_cast<uint8_t>(v);
            char expected[INET_ADDRSTRLEN];
            REQUIRE(inet_ntop(AF_INET, b, expected, sizeof expected) != nullptr);
            auto a = IpAddress::parse(expected);
            REQUIRE(a.has_value());
            CHECK(a->toString() == expected);
        }
    CHECK(IpAddress::parse("0.0.0.0")->toString() == "0.0.0.0");
    CHECK(IpAddress::parse("255.255.255.255")->toString() == "255.255.255.255");
    CHECK(IpAddress::parse("::ffff:10.200.3.45")->countingKey(64) == "10.200.3.45");
}
