// settings_test.cpp - reading and validating the section.
#include "settings.hpp"

#include <doctest/doctest.h>

#include "fakes.hpp"

using namespace geopol;
using namespace geopol::operator_mail;
using geopol::testing::FakeConfig;
using geopol::testing::TempFile;

namespace {

FakeConfig activeConfig()
{
    FakeConfig cfg;
    cfg.set("run-actions", "true")
        .set("run-action-operator", "true")
        .set("from", "geopol@mx.example.org")
        .set("to", "ops@example.org")
        .set("server-address", "127.0.0.1");
    return cfg;
}

Settings read(FakeConfig &cfg)
{
    Settings s;
    readSettings(cfg, s);
    return s;
}

}  // namespace

TEST_CASE("an inactive section needs nothing and still consumes every key")
{
    FakeConfig cfg;
    // Every key, with values that would be wrong if they were checked.
    for (const char *key : {"to",
                            "from",
                            "subject",
                            "content-type",
                            "template",
                            "server-address",
                            "server-port",
                            "helo",
                            "username",
                            "password",
                            "password-file",
                            "ssl-on-connect",
                            "starttls",
                            "tls-ca-file",
                            "tls-skip-verify",
                            "only-known-accounts",
                            "queue-size",
                            "parallel",
                            "retries",
                            "retry-delay",
                            "connect-timeout",
                            "timeout",
                            "drain-timeout",
                            "run-actions",
                            "run-action-operator"})
        cfg.set(key, "");
    cfg.set("run-actions", "true").set("run-action-operator", "false");
    cfg.set("server-port", "25").set("ssl-on-connect", "false").set("tls-skip-verify", "false");
    cfg.set("only-known-accounts", "true").set("queue-size", "5").set("parallel", "1");
    cfg.set("retries", "1").set("retry-delay", "1s").set("connect-timeout", "1s");
    cfg.set("timeout", "2s").set("drain-timeout", "1s").set("starttls", "auto");
    cfg.set("template", "/nonexistent/template.txt");
    Settings s = read(cfg);
    CHECK_FALSE(s.active());
    CHECK_MESSAGE(cfg.errors.empty(), cfg.errorText());
    CHECK(cfg.unasked().empty());
}

TEST_CASE("defaults follow the reference")
{
    FakeConfig cfg = activeConfig();
    Settings s = read(cfg);
    REQUIRE_MESSAGE(cfg.errors.empty(), cfg.errorText());
    CHECK(s.active());
    CHECK(s.smtp.port == 587);
    CHECK(s.smtp.helo == "localhost");
    CHECK_FALSE(s.smtp.implicitTls);
    CHECK(s.smtp.startTls == StartTls::Auto);
    CHECK(s.onlyKnownAccounts);
    CHECK(s.queueSize == 100);
    CHECK(s.retries == 3);
    REQUIRE(s.composer);
    CHECK(s.composer->contentType == "text/plain");
    CHECK(s.composer->subject.expand({}) == "[geoip-policyd] An e-mail account was compromised");
    CHECK(s.smtp.mailFrom == "geopol@mx.example.org");
    CHECK(s.smtp.rcptTo == std::vector<std::string>{"ops@example.org"});
    CHECK_FALSE(s.composer->hostname.empty());
}

TEST_CASE("an active section needs from, to and server-address")
{
    FakeConfig cfg;
    cfg.set("run-actions", "true").set("run-action-operator", "true");
    read(cfg);
    CHECK(cfg.hasError("from"));
    CHECK(cfg.hasError("to"));
    CHECK(cfg.hasError("server-address"));
    CHECK(cfg.errorText().find("--operator-to") != std::string::npos);
}

TEST_CASE("bad values are refused, each naming its key")
{
    auto refused = [](const char *key, const char *value) {
        FakeConfig cfg = activeConfig();
        cfg.set(key, value);
        read(cfg);
        CHECK_MESSAGE(cfg.hasError(key), key << "=" << value << " was accepted");
    };
    refused("from", "not an address");
    refused("from", "a@example.org, b@example.org");
    refused("to", "ops@");
    refused("server-address", "smtp://mail.example.org");
    refused("server-address", "mail example");
    refused("helo", "my host");
    refused("starttls", "sometimes");
    refused("content-type", "multipart/mixed");
    refused("content-type", "text/");
    refused("subject", "{acount} blocked");
    refused("tls-ca-file", "/nonexistent/ca.pem");
    refused("template", "/nonexistent/template.txt");
    refused("server-port", "0");
    refused("queue-size", "0");
}

TEST_CASE("username and password go together")
{
    FakeConfig a = activeConfig();
    a.set("username", "geopol");
    read(a);
    CHECK(a.hasError("password"));

    FakeConfig b = activeConfig();
    b.set("password", "secret");
    read(b);
    CHECK(b.hasError("username"));
}

TEST_CASE("the password can come from a file, but not from both places")
{
    TempFile secret("s3cret\n");
    FakeConfig a = activeConfig();
    a.set("username", "geopol").set("password-file", secret.path);
    Settings s = read(a);
    CHECK_MESSAGE(a.errors.empty(), a.errorText());
    CHECK(s.smtp.password == "s3cret");

    FakeConfig b = activeConfig();
    b.set("username", "geopol").set("password", "x").set("password-file", secret.path);
    read(b);
    CHECK(b.hasError("password-file"));

    FakeConfig c = activeConfig();
    c.set("username", "geopol").set("password-file", "/nonexistent/secret");
    read(c);
    CHECK(c.hasError("password-file"));
}

TEST_CASE("the template file is read and checked at configure time")
{
    TempFile good("Account %s ({countries}) is blocked, 100% sure.\n");
    FakeConfig a = activeConfig();
    a.set("template", good.path);
    Settings s = read(a);
    REQUIRE_MESSAGE(a.errors.empty(), a.errorText());
    CHECK(s.composer->body.usesPercentS());
    CHECK(s.composer->body.expand({{"account", "x@y"}, {"countries", "DE"}}) ==
          "Account x@y (DE) is blocked, 100% sure.\n");

    TempFile typo("line one\n{acount}\n");
    FakeConfig b = activeConfig();
    b.set("template", typo.path);
    read(b);
    REQUIRE(b.hasError("template"));
    CHECK(b.errorText().find(typo.path) != std::string::npos);
    CHECK(b.errorText().find("line 2") != std::string::npos);

    TempFile latin1(
        "Gr\xFC\xDF"
        "e\n");
    FakeConfig c = activeConfig();
    c.set("template", latin1.path);
    read(c);
    CHECK(c.errorText().find("not valid UTF-8") != std::string::npos);

    if (geteuid() != 0) {  // root reads anything
        TempFile unreadable("x", 0000);
        FakeConfig d = activeConfig();
        d.set("template", unreadable.path);
        read(d);
        CHECK(d.errorText().find("cannot read") != std::string::npos);
    }
}

TEST_CASE("without a template the built-in body is used")
{
    FakeConfig cfg = activeConfig();
    Settings s = read(cfg);
    std::string body = s.composer->body.expand({{"account", "alice@example.com"}});
    CHECK(body.find("alice@example.com") != std::string::npos);
}

TEST_CASE("the URL carries scheme, host, port and the EHLO name")
{
    SmtpSettings s;
    s.host = "mail.example.org";
    s.port = 587;
    s.helo = "mx1.example.org";
    CHECK(s.url() == "smtp://mail.example.org:587/mx1.example.org");
    s.implicitTls = true;
    s.port = 465;
    CHECK(s.url() == "smtps://mail.example.org:465/mx1.example.org");
    s.implicitTls = false;
    s.host = "::1";
    CHECK(s.url() == "smtp://[::1]:465/mx1.example.org");
    s.helo = "[192.0.2.1]";
    CHECK(s.url() == "smtp://[::1]:465/%5B192.0.2.1%5D");
}

TEST_CASE("TLS is required when asked for, or when a password would go to another host")
{
    SmtpSettings s;
    s.host = "mail.example.org";
    CHECK_FALSE(s.requireTls());
    CHECK(s.tlsMode() == "starttls-if-offered");
    s.username = "u";
    s.password = "p";
    CHECK(s.requireTls());
    CHECK(s.tlsMode() == "starttls");
    s.host = "127.0.0.1";
    CHECK_FALSE(s.requireTls());
    s.host = "localhost";
    CHECK_FALSE(s.requireTls());
    s.startTls = StartTls::Always;
    CHECK(s.requireTls());
    s.startTls = StartTls::Never;
    s.host = "mail.example.org";
    CHECK_FALSE(s.requireTls());
    CHECK(s.tlsMode() == "none");
    s.implicitTls = true;
    CHECK(s.requireTls());
    CHECK(s.tlsMode() == "implicit");
}
