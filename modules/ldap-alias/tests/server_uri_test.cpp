// server_uri_test.cpp - the server-uris list and the failover order.
#include "server_uri.hpp"

#include <doctest/doctest.h>

using namespace geopol::ldap_alias;
using V = std::vector<std::string>;

TEST_CASE("entries split at commas and white space, as the reference's variable")
{
    CHECK(splitUriList({"ldap://a:389/, ldap://b:389/"}) == V{"ldap://a:389/", "ldap://b:389/"});
    CHECK(splitUriList({"ldap://a/ ldap://b/", "ldaps://c/"}) ==
          V{"ldap://a/", "ldap://b/", "ldaps://c/"});
    CHECK(splitUriList({" , ", ""}).empty());
}

TEST_CASE("ldap, ldaps and ldapi URIs are accepted")
{
    std::string error;
    auto a = parseServerUri("ldap://127.0.0.1:389/", error);
    REQUIRE(a);
    CHECK(a->kind == UriKind::Ldap);
    CHECK(a->uri == "ldap://127.0.0.1:389/");
    auto b = parseServerUri("LDAPS://ldap.example.com", error);
    REQUIRE(b);
    CHECK(b->kind == UriKind::Ldaps);
    auto c = parseServerUri("ldapi://%2Frun%2Fslapd%2Fldapi/", error);
    REQUIRE(c);
    CHECK(c->kind == UriKind::Ldapi);
    auto d = parseServerUri("ldap://[::1]:1389/", error);
    REQUIRE(d);
    // A DN after the host is ignored, as the reference ignores it.
    CHECK(parseServerUri("ldap://127.0.0.1:389/dc=example,dc=com", error));
}

TEST_CASE("anything else is refused with the URI in the message")
{
    std::string error;
    CHECK_FALSE(parseServerUri("127.0.0.1:389", error));
    CHECK(error.find("\"127.0.0.1:389\" is not an LDAP URI") != std::string::npos);
    CHECK_FALSE(parseServerUri("http://ldap.example.com/", error));
    CHECK(error.find("http://ldap.example.com/") != std::string::npos);
    CHECK_FALSE(parseServerUri("cldap://ldap.example.com/", error));  // UDP: no searches
    CHECK(error.find("cldap://ldap.example.com/") != std::string::npos);
    CHECK_FALSE(parseServerUri("", error));
}

TEST_CASE("failover tries the preferred server first, then the others in order")
{
    using I = std::vector<size_t>;
    CHECK(failoverOrder(1, 0) == I{0});
    CHECK(failoverOrder(3, 0) == I{0, 1, 2});
    CHECK(failoverOrder(3, 1) == I{1, 2, 0});
    CHECK(failoverOrder(3, 2) == I{2, 0, 1});
    CHECK(failoverOrder(3, 5) == I{2, 0, 1});  // an index from an older, longer list
    CHECK(failoverOrder(0, 0).empty());
}
