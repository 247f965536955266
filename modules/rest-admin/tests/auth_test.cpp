// auth_test.cpp - basic auth parsing, the constant-time check, and the
// checks a worker makes before a request reaches the loop.
#include <doctest/doctest.h>

#include "basic_auth.hpp"
#include "request_checks.hpp"

using namespace geopol;
using namespace geopol::rest_admin;

TEST_CASE("base64 decoding accepts padded standard base64 and refuses anything else")
{
    CHECK(decodeBase64("dGVzdHVzZXI6dGVzdHNlY3JldA==") ==
          std::optional<std::string>("testuser:testsecret"));
    CHECK(decodeBase64("YWI=") == std::optional<std::string>("ab"));
    CHECK(decodeBase64("YWJj") == std::optional<std::string>("abc"));
    CHECK(decodeBase64("") == std::optional<std::string>(""));
    CHECK_FALSE(decodeBase64("YWJ"));       // not a multiple of 4
    CHECK_FALSE(decodeBase64("YW=j"));      // data after padding
    CHECK_FALSE(decodeBase64("Y==="));      // too much padding
    CHECK_FALSE(decodeBase64("YW*j"));      // not in the alphabet
    CHECK_FALSE(decodeBase64("YWI=YWI="));  // padding before the end
}

TEST_CASE("an Authorization header is parsed into user and password")
{
    auto c = parseBasicAuthorization("Basic dGVzdHVzZXI6dGVzdHNlY3JldA==");
    REQUIRE(c);
    CHECK(c->user == "testuser");
    CHECK(c->password == "testsecret");
    SUBCASE("the scheme is case-insensitive and spaces around are fine")
    {
        CHECK(parseBasicAuthorization("  bAsIc   dGVzdHVzZXI6dGVzdHNlY3JldA==  "));
    }
    SUBCASE("the password may contain colons; the user ends at the first")
    {
        auto d = parseBasicAuthorization("Basic " + std::string("dTpwOnE6cg=="));  // u:p:q:r
        REQUIRE(d);
        CHECK(d->user == "u");
        CHECK(d->password == "p:q:r");
    }
    SUBCASE("other schemes, no colon, or bad base64 are refused")
    {
        CHECK_FALSE(parseBasicAuthorization("Bearer dGVzdHVzZXI6dGVzdHNlY3JldA=="));
        CHECK_FALSE(parseBasicAuthorization("Basic"));
        CHECK_FALSE(parseBasicAuthorization("Basicdd"));
        CHECK_FALSE(parseBasicAuthorization("Basic dGVzdA=="));  // "test": no colon
        CHECK_FALSE(parseBasicAuthorization("Basic !!!!"));
    }
}

TEST_CASE("the credential check accepts only the exact user and password")
{
    CredentialCheck check("testuser", "testsecret");
    CHECK(check.accepts("Basic dGVzdHVzZXI6dGVzdHNlY3JldA=="));
    CHECK_FALSE(check.accepts("Basic dGVzdHVzZXI6dGVzdHNlY3JldDE="));  // testuser:testsecret1
    CHECK_FALSE(check.accepts("Basic dGVzdHVzZXI6dGVzdHNlY3Jl"));      // testuser:testsecre
    CHECK_FALSE(check.accepts("Basic VEVTVFVTRVI6dGVzdHNlY3JldA=="));  // TESTUSER:testsecret
    CHECK_FALSE(check.accepts("Basic OnRlc3RzZWNyZXQ="));              // :testsecret
    CHECK_FALSE(check.accepts(""));
}

TEST_CASE("the constant-time compare tells equal from different buffers")
{
    Digest a = sha256("x"), b = sha256("x"), c = sha256("y");
    CHECK(constantTimeEqual(a.data(), b.data(), a.size()));
    CHECK_FALSE(constantTimeEqual(a.data(), c.data(), a.size()));
    // Differences at the first and at the last byte are both found.
    Digest d = a;
    d[0] ^= 1;
    CHECK_FALSE(constantTimeEqual(a.data(), d.data(), a.size()));
    d = a;
    d[31] ^= 0x80;
    CHECK_FALSE(constantTimeEqual(a.data(), d.data(), a.size()));
}

TEST_CASE("precheck: credentials first, then the method, then the declared body size")
{
    RequestSettings s;
    s.maxBodySize = 100;
    CHECK_FALSE(precheck("GET", nullptr, -1, s));
    CHECK_FALSE(precheck("POST", nullptr, 100, s));
    CHECK(precheck("POST", nullptr, 101, s)->status == 413);
    CHECK(precheck("HEAD", nullptr, -1, s)->status == 405);
    CHECK(precheck("OPTIONS", nullptr, -1, s)->status == 405);

    s.basicAuth = true;
    s.credentials = CredentialCheck("testuser", "testsecret");
    auto r = precheck("HEAD", nullptr, -1, s);
    REQUIRE(r);
    CHECK(r->status == 401);  // unauthenticated: not even the method is judged
    CHECK(r->body.find("\"error\"") != std::string::npos);
    CHECK(precheck("POST", "Basic dGVzdHVzZXI6d3Jvbmc=", 5, s)->status == 401);
    CHECK_FALSE(precheck("POST", "Basic dGVzdHVzZXI6dGVzdHNlY3JldA==", 5, s));
    CHECK(precheck("POST", "Basic dGVzdHVzZXI6dGVzdHNlY3JldA==", 500, s)->status == 413);
}

TEST_CASE("log text cannot break a log line")
{
    CHECK(logSafe("/account/a@b.c") == "/account/a@b.c");
    CHECK(logSafe("/x\ny") == "/x\\x0ay");
    CHECK(logSafe("a\\b") == "a\\x5cb");
}
