// settings_test.cpp - reading and validating the ldap-alias section.
#include "settings.hpp"

#include <doctest/doctest.h>

#include "fakes.hpp"

using namespace geopol::ldap_alias;
using geopol::ldap_alias::test::FakeConfig;

TEST_CASE("an empty section gives the reference's defaults")
{
    FakeConfig cfg;
    Settings s = readSettings(cfg);
    CHECK_MESSAGE(cfg.errors.empty(), cfg.errorText());
    REQUIRE(s.servers.size() == 1);
    CHECK(s.servers[0].uri == "ldap://127.0.0.1:389/");
    CHECK(s.baseDn.empty());
    CHECK(s.filter == "(&(objectClass=*)(mailAlias=%s))");
    CHECK(s.resultAttribute == "mailAccount");
    CHECK(s.scope == Scope::Sub);
    CHECK(s.bindMode() == BindMode::Anonymous);
    CHECK_FALSE(s.startTls);
    CHECK_FALSE(s.tlsSkipVerify);
    CHECK(s.idlePoolSize == 3);
    CHECK(s.poolSize == 10);
    CHECK(s.timeoutMs == 1500);
    CHECK(s.cacheTtlMs == 300'000);
    CHECK(s.cacheNegativeTtlMs == 60'000);
    CHECK(s.cacheSize == 10'000);
    CHECK(s.cacheEnabled());
    CHECK(s.keepWhenNotFound());
    CHECK(s.multipleValues == MultipleValues::First);
}

TEST_CASE("every key is read")
{
    FakeConfig cfg;
    cfg.setList("server-uris", {"ldap://10.0.0.1:389/", "ldaps://10.0.0.2:636/"})
        .set("base-dn", "ou=people,dc=example,dc=com")
        .set("bind-dn", "cn=reader,dc=example,dc=com")
        .set("bind-password", "secret")
        .set("filter", "(&(objectClass=geopolMailUser)\n  (mailAlias=%s))")
        .set("result-attribute", "entryUUID")
        .set("starttls", "true")
        .set("tls-skip-verify", "yes")
        .set("tls-ca-file", "/etc/ssl/ca.pem")
        .set("tls-client-cert", "/etc/ssl/c.pem")
        .set("tls-client-key", "/etc/ssl/c.key")
        .set("scope", "ONE")
        .set("idle-pool-size", "2")
        .set("pool-size", "4")
        .set("timeout", "800ms")
        .set("cache-ttl", "10m")
        .set("cache-negative-ttl", "30s")
        .set("cache-size", "500")
        .set("not-found", "REJECT unknown sender")
        .set("multiple-values", "lowest");
    Settings s = readSettings(cfg);
    CHECK_MESSAGE(cfg.errors.empty(), cfg.errorText());
    REQUIRE(s.servers.size() == 2);
    CHECK(s.servers[1].kind == UriKind::Ldaps);
    CHECK(s.baseDn == "ou=people,dc=example,dc=com");
    CHECK(s.bindMode() == BindMode::Simple);
    CHECK(s.filter == "(&(objectClass=geopolMailUser)(mailAlias=%s))");
    CHECK(s.resultAttribute == "entryUUID");
    CHECK(s.startTls);
    CHECK(s.tlsSkipVerify);
    CHECK(s.tlsCaFile == "/etc/ssl/ca.pem");
    CHECK(s.scope == Scope::One);
    CHECK(s.idlePoolSize == 2);
    CHECK(s.poolSize == 4);
    CHECK(s.timeoutMs == 800);
    CHECK(s.cacheTtlMs == 600'000);
    CHECK(s.cacheNegativeTtlMs == 30'000);
    CHECK(s.cacheSize == 500);
    CHECK_FALSE(s.keepWhenNotFound());
    CHECK(s.notFound == "REJECT unknown sender");
    CHECK(s.multipleValues == MultipleValues::Lowest);
}

TEST_CASE("the reference's comma-separated URI variable gives several servers")
{
    FakeConfig cfg;
    cfg.set("server-uris", "ldap://a:389/,ldap://b:389/");
    Settings s = readSettings(cfg);
    CHECK(cfg.errors.empty());
    REQUIRE(s.servers.size() == 2);
    CHECK(s.servers[1].uri == "ldap://b:389/");
}

TEST_CASE("SASL EXTERNAL")
{
    FakeConfig cfg;
    cfg.set("sasl-external", "true").setList("server-uris", {"ldapi:///"});
    Settings s = readSettings(cfg);
    CHECK(cfg.errors.empty());
    CHECK(s.bindMode() == BindMode::SaslExternal);
}

TEST_CASE("bad values are reported, each naming its key")
{
    struct Case {
        const char *key;
        const char *value;
        const char *expect;  // in the message
    };
    for (Case c : {
             Case{"server-uris", "http://ldap.example.com/", "http://ldap.example.com/"},
             Case{"server-uris", "ldap.example.com", "is not an LDAP URI"},
             Case{"filter", "(mailAlias=*)", "%s"},
             Case{"filter", "(&(mailAlias=%s)", "without its ')'"},
             Case{"result-attribute", "*", "not an attribute name"},
             Case{"result-attribute", "mail account", "not an attribute name"},
             Case{"scope", "subtree", "base, one or sub"},
             Case{"pool-size", "0", "whole number"},
             Case{"idle-pool-size", "-1", "whole number"},
             Case{"timeout", "10ms", "duration"},
             Case{"not-found", "", "keep, or one line"},
             Case{"not-found", "REJECT a\nb", "keep, or one line"},
             Case{"multiple-values", "random", "first, lowest or fail"},
         }) {
        CAPTURE(c.key);
        CAPTURE(c.value);
        FakeConfig cfg;
        cfg.set(c.key, c.value);
        readSettings(cfg);
        REQUIRE(cfg.errors.size() == 1);
        CHECK(cfg.hasError(c.key));
        CHECK(cfg.errors[0].second.find(c.expect) != std::string::npos);
    }
}

TEST_CASE("an explicitly empty server list is an error")
{
    FakeConfig cfg;
    cfg.setList("server-uris", {});
    readSettings(cfg);
    CHECK(cfg.hasError("server-uris"));
}

TEST_CASE("settings that only work together")
{
    {
        FakeConfig cfg;
        cfg.set("bind-dn", "cn=reader,dc=example,dc=com");
        readSettings(cfg);
        CHECK(cfg.hasError("bind-password"));
    }
    {
        FakeConfig cfg;
        cfg.set("bind-password", "secret");
        readSettings(cfg);
        CHECK(cfg.hasError("bind-dn"));
    }
    {
        FakeConfig cfg;
        cfg.set("bind-dn", "cn=x").set("bind-password", "y").set("sasl-external", "true");
        readSettings(cfg);
        CHECK(cfg.hasError("bind-dn"));
    }
    {
        FakeConfig cfg;
        cfg.set("tls-client-cert", "/c.pem");
        readSettings(cfg);
        CHECK(cfg.hasError("tls-client-key"));
    }
    {
        FakeConfig cfg;
        cfg.set("idle-pool-size", "5").set("pool-size", "4");
        readSettings(cfg);
        REQUIRE(cfg.hasError("idle-pool-size"));
        CHECK(cfg.errors[0].second.find("larger than pool-size 4") != std::string::npos);
    }
}

TEST_CASE("a cache of size 0 or with both TTLs 0 is off")
{
    FakeConfig a;
    a.set("cache-size", "0");
    CHECK_FALSE(readSettings(a).cacheEnabled());
    FakeConfig b;
    b.set("cache-ttl", "0").set("cache-negative-ttl", "0");
    CHECK_FALSE(readSettings(b).cacheEnabled());
}

// not-found is checked with the core's rule (include/geopol/action_text.hpp),
// plus no blanks around it.
TEST_CASE("not-found: an action is one line of UTF-8 without blanks around it")
{
    auto accepted = [](const std::string &action) {
        FakeConfig cfg;
        cfg.set("not-found", action);
        Settings s = readSettings(cfg);
        CHECK_MESSAGE(cfg.errors.size() <= 1, cfg.errorText());
        return cfg.errors.empty() && s.notFound == action;
    };
    CHECK(accepted("DUNNO"));
    CHECK(accepted("REJECT Unknown sender"));
    CHECK(accepted("REJECT Unbekannter Absender \xc3\xbc"));
    CHECK_FALSE(accepted(""));
    CHECK_FALSE(accepted(" DUNNO"));
    CHECK_FALSE(accepted("DUNNO "));
    CHECK_FALSE(accepted("DUNNO\r"));
}

TEST_CASE("not-found: invalid UTF-8 is refused, naming the key")
{
    for (const char *action : {
             "REJECT \xff",              // not UTF-8 at all
             "REJECT \xc3",              // cut short
             "REJECT \xc0\xaf",          // overlong '/'
             "REJECT \xe0\x80\xaf",      // overlong '/'
             "REJECT \xed\xa0\x80",      // UTF-16 surrogate U+D800
             "REJECT \xf4\x90\x80\x80",  // past U+10FFFF
         }) {
        CAPTURE(action);
        FakeConfig cfg;
        cfg.set("not-found", action);
        readSettings(cfg);
        REQUIRE(cfg.errors.size() == 1);
        CHECK(cfg.hasError("not-found"));
        CHECK(cfg.errors[0].second.find("keep, or one line") != std::string::npos);
    }
}
