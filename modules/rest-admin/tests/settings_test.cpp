// settings_test.cpp - the rest-admin section.
#include "settings.hpp"

#include <doctest/doctest.h>

#include "fakes.hpp"

using namespace geopol::rest_admin;
using geopol::testing::FakeConfig;

TEST_CASE("the defaults are the reference's: 127.0.0.1:8080, no auth, no TLS")
{
    FakeConfig cfg;
    Settings s;
    readSettings(cfg, s);
    CHECK(cfg.errors.empty());
    CHECK(s.listener.address == "127.0.0.1");
    CHECK(s.listener.port == 8080);
    CHECK_FALSE(s.listener.tls);
    CHECK(s.listener.certFile == "/localhost.pem");
    CHECK(s.listener.keyFile == "/localhost-key.pem");
    CHECK(s.listener.url() == "http://127.0.0.1:8080");
    CHECK(s.listener.civetwebPorts() == "127.0.0.1:8080");
    CHECK_FALSE(s.request.basicAuth);
    CHECK(s.request.maxBodySize == 64 * 1024);
    CHECK(s.request.requestTimeoutMs == 10000);
}

TEST_CASE("IPv6 addresses are bracketed for civetweb; localhost means 127.0.0.1")
{
    FakeConfig cfg;
    cfg.set("address", "::1").set("port", "8443");
    Settings s;
    readSettings(cfg, s);
    CHECK(cfg.errors.empty());
    CHECK(s.listener.civetwebPorts() == "[::1]:8443");
    FakeConfig cfg2;
    cfg2.set("address", "localhost");
    readSettings(cfg2, s);
    CHECK(s.listener.address == "127.0.0.1");
}

TEST_CASE("an address that is not an IP, e.g. with a port, is refused with a hint")
{
    FakeConfig cfg;
    cfg.set("address", "127.0.0.1:8080");
    Settings s;
    readSettings(cfg, s);
    REQUIRE(cfg.errors.size() == 1);
    CHECK(cfg.errors[0].first == "address");
    CHECK(cfg.errors[0].second.find("put the port in \"port\"") != std::string::npos);
}

TEST_CASE("basic auth with an empty username or password is a configuration error")
{
    FakeConfig cfg;
    cfg.set("basic-auth", "true");
    Settings s;
    readSettings(cfg, s);
    CHECK(cfg.errorText().find("username: must not be empty") != std::string::npos);
    CHECK(cfg.errorText().find("password: must not be empty") != std::string::npos);

    FakeConfig ok;
    ok.set("basic-auth", "true").set("username", "testuser").set("password", "testsecret");
    readSettings(ok, s);
    CHECK(ok.errors.empty());
    CHECK(s.request.basicAuth);
    CHECK(s.request.credentials == CredentialCheck("testuser", "testsecret"));
}

TEST_CASE("empty credentials are fine while basic auth is off")
{
    FakeConfig cfg;
    cfg.set("username", "").set("password", "");
    Settings s;
    readSettings(cfg, s);
    CHECK(cfg.errors.empty());
}

TEST_CASE("TLS with missing certificate files is refused at configuration time")
{
    FakeConfig cfg;
    cfg.set("tls", "true")
        .set("tls-cert", "/nonexistent/geopol-cert.pem")
        .set("tls-key", "/nonexistent/geopol-key.pem");
    Settings s;
    readSettings(cfg, s);
    REQUIRE(cfg.errors.size() == 1);
    CHECK(cfg.errors[0].second.find("cannot read /nonexistent/geopol-cert.pem") !=
          std::string::npos);
    CHECK(s.listener.url() == "https://127.0.0.1:8080");
    CHECK(s.listener.civetwebPorts() == "127.0.0.1:8080s");
}
