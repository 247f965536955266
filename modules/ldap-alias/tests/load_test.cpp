// load_test.cpp - the built ldap-alias.so, loaded as the core loads it, run on
// a real libuv loop against servers that refuse or never answer. (Answers
// from a real slapd are the integration tests' part.)
#include <dlfcn.h>
#include <doctest/doctest.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "fakes.hpp"
#include "geopol/account_resolver.hpp"
#include "geopol/module.hpp"
#include "geopol/module_abi.h"
#include "geopol/request.hpp"
#include "tests/support/loaded_module.hpp"

using geopol::AccountResolver;
using geopol::Module;
using geopol::Request;
using geopol::Status;
using geopol::Step;
using geopol::ldap_alias::test::FakeConfig;
using geopol::ldap_alias::test::FakeHost;
using geopol::ldap_alias::test::LocalPort;
using Ms = std::chrono::milliseconds;

namespace {

std::string modulePath()
{
    const char *dir = std::getenv("GEOPOL_MODULE_DIR");
    REQUIRE_MESSAGE(dir != nullptr, "GEOPOL_MODULE_DIR is not set; run the tests with meson test");
    return std::string(dir) + "/ldap-alias/ldap-alias.so";
}

// The module, opened as the core opens it.
struct LoadedModule : geopol::test::LoadedModule {
    LoadedModule() : geopol::test::LoadedModule(modulePath()) {}
};

// The core's side of a suspended request.
struct Target : geopol::ResumeTarget {
    Request req;
    bool resumed = false;
    Step step = Step::Continue;
    std::string peer = "test";

    Request *live(uint64_t serial) override
    {
        return !resumed && serial == req.coreSuspendSerial() ? &req : nullptr;
    }
    void resume(uint64_t serial, Step s) override
    {
        if (!live(serial))
            return;
        resumed = true;
        step = s;
    }
};

std::shared_ptr<Target> makeRequest(std::string_view sender)
{
    auto t = std::make_shared<Target>();
    t->req.coreBind(t, &t->peer);
    static uint64_t generation = 0;
    t->req.coreReset(++generation);
    t->req.coreAddAttribute("request", "smtpd_access_policy");
    t->req.coreAddAttribute("sender", sender);
    t->req.facts.identity.assign(sender);
    t->req.facts.account.assign(sender);
    for (char &c : t->req.facts.account)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return t;
}

bool contains(const std::string &haystack, std::string_view needle)
{
    return haystack.find(needle) != std::string::npos;
}

struct Started {
    LoadedModule so;
    FakeHost host;
    std::unique_ptr<Module> module;

    explicit Started(FakeConfig cfg)
    {
        module = so.create();
        REQUIRE(module->configure(cfg));
        REQUIRE_MESSAGE(cfg.errors.empty(), cfg.errorText());
        Status s = module->start(host);
        REQUIRE_MESSAGE(s, s.message());
    }
    ~Started()
    {
        if (module)
            module->stop();
    }
    AccountResolver *resolver()
    {
        auto *r = host.find<AccountResolver>("account-resolver");
        REQUIRE(r != nullptr);
        return r;
    }
};

FakeConfig configFor(const std::string &uri, const char *timeout = "300ms")
{
    FakeConfig cfg;
    cfg.setList("server-uris", {uri}).set("base-dn", "dc=example,dc=com").set("timeout", timeout);
    return cfg;
}

}  // namespace

TEST_CASE("ldap-alias.so exports a descriptor with this build's ABI, name and build tag")
{
    LoadedModule so;
    so.checkDescriptor("ldap-alias");
    auto module = so.create();
    CHECK(module->handlesRequests());
    CHECK(module->provides() == "account-resolver");
}

TEST_CASE("a bad section is refused at configure time, naming the key")
{
    LoadedModule so;
    auto module = so.create();
    FakeConfig cfg;
    cfg.set("filter", "(mailAlias=*)").set("scope", "everything");
    module->configure(cfg);
    CHECK(cfg.hasError("filter"));
    CHECK(cfg.hasError("scope"));
}

TEST_CASE("a missing CA file fails start() with the key and the path")
{
    LoadedModule so;
    auto module = so.create();
    FakeConfig cfg;
    cfg.set("tls-ca-file", "/nonexistent/ca.pem").set("starttls", "true");
    REQUIRE(module->configure(cfg));
    REQUIRE(cfg.errors.empty());
    FakeHost host;
    Status s = module->start(host);
    REQUIRE_FALSE(s);
    CHECK(contains(s.message(), "tls-ca-file /nonexistent/ca.pem: No such file"));
    module->stop();
}

TEST_CASE("start() provides the account resolver and connects to nothing yet")
{
    LocalPort refused(false);
    Started m(configFor(refused.uri()));
    CHECK(m.host.provided.count("account-resolver") == 1);
    CHECK(contains(m.host.log(), "info ldap-alias.started servers=[" + refused.uri() + "]"));
    CHECK(contains(m.host.log(), "bind=anonymous tls=none pool=3/10 timeout=300ms"));
}

TEST_CASE("no identity, or force-user-known: the chain continues without a lookup")
{
    LocalPort refused(false);
    Started m(configFor(refused.uri()));
    auto t = makeRequest("");
    CHECK(m.module->onRequest(t->req) == Step::Continue);
    auto k = makeRequest("alice@example.com");
    k->req.facts.accountKnown = true;
    CHECK(m.module->onRequest(k->req) == Step::Continue);
    CHECK(k->req.facts.account == "alice@example.com");
    CHECK(contains(m.host.log(), "ldap-alias.skipped"));
}

TEST_CASE("a server that refuses: the request fails at once, and the warning comes once")
{
    LocalPort refused(false);
    Started m(configFor(refused.uri(), "2s"));
    for (int i = 0; i < 3; ++i) {
        auto t = makeRequest("Alice@Example.com");
        auto t0 = std::chrono::steady_clock::now();
        REQUIRE(m.module->onRequest(t->req) == Step::Suspend);
        REQUIRE(m.host.runUntil([&] { return t->resumed; }));
        auto took = std::chrono::steady_clock::now() - t0;
        CHECK(took < Ms(1000));  // well before the timeout: nothing listens
        CHECK(t->step == Step::Done);
        CHECK(t->req.failed());
        CHECK(contains(t->req.failure(), "LDAP lookup of alice@example.com failed"));
        CHECK(contains(t->req.failure(), "Can't contact LDAP server"));
        CHECK(t->req.facts.account == "alice@example.com");
        CHECK_FALSE(t->req.facts.accountKnown);
    }
    std::string log = m.host.log();
    size_t first = log.find("warning ldap-alias.server_down");
    REQUIRE_MESSAGE(first != std::string::npos, log);
    CHECK_MESSAGE(log.find("ldap-alias.server_down", first + 30) == std::string::npos, log);
}

TEST_CASE("a server that never answers: the request fails at the module's deadline")
{
    LocalPort frozen(true);  // the kernel completes the handshake; nobody reads
    Started m(configFor(frozen.uri(), "300ms"));
    auto t = makeRequest("bob@example.com");
    auto t0 = std::chrono::steady_clock::now();
    REQUIRE(m.module->onRequest(t->req) == Step::Suspend);
    REQUIRE(m.host.runUntil([&] { return t->resumed; }, 3000));
    auto took = std::chrono::steady_clock::now() - t0;
    CHECK(took >= Ms(290));
    CHECK(took < Ms(800));
    CHECK(t->req.failed());
    CHECK_MESSAGE(contains(t->req.failure(), "no answer from the directory within 300 ms"),
                  t->req.failure());
}

TEST_CASE("concurrent requests for one identity share one lookup")
{
    LocalPort frozen(true);
    Started m(configFor(frozen.uri(), "200ms"));
    auto a = makeRequest("carol@example.com");
    auto b = makeRequest("CAROL@example.com");
    REQUIRE(m.module->onRequest(a->req) == Step::Suspend);
    REQUIRE(m.module->onRequest(b->req) == Step::Suspend);
    REQUIRE(m.host.runUntil([&] { return a->resumed && b->resumed; }, 3000));
    CHECK(a->req.failed());
    CHECK(b->req.failed());
    std::string log = m.host.log();
    size_t first = log.find("ldap-alias.lookup identity=carol@example.com result=");
    REQUIRE_MESSAGE(first != std::string::npos, log);
    CHECK(log.find("ldap-alias.lookup identity=carol@example.com", first + 1) == std::string::npos);
}

TEST_CASE("a request the core gave up on is not resumed")
{
    LocalPort refused(false);
    Started m(configFor(refused.uri()));
    auto t = makeRequest("dave@example.com");
    REQUIRE(m.module->onRequest(t->req) == Step::Suspend);
    t->req.coreInvalidate();  // the core's own deadline, or the client left
    m.host.runUntil([] { return false; }, 200);
    CHECK_FALSE(t->resumed);
    CHECK_FALSE(t->req.failed());
}

TEST_CASE("the account resolver reports a directory failure, and an empty identity")
{
    LocalPort refused(false);
    Started m(configFor(refused.uri()));
    AccountResolver *r = m.resolver();

    bool called = false, ok = true;
    std::string error;
    r->resolve("", [&](bool o, std::string, std::string e) {
        called = true;
        ok = o;
        error = std::move(e);
    });
    CHECK(called);  // at once
    CHECK_FALSE(ok);
    CHECK(error == "empty identity");

    called = false;
    r->resolve("Eve@Example.com", [&](bool o, std::string, std::string e) {
        called = true;
        ok = o;
        error = std::move(e);
    });
    REQUIRE(m.host.runUntil([&] { return called; }));
    CHECK_FALSE(ok);
    CHECK(contains(error, "Can't contact LDAP server"));
}

TEST_CASE("stop() with lookups in flight answers them and returns promptly")
{
    LocalPort frozen(true);
    Started m(configFor(frozen.uri(), "10s"));
    auto t = makeRequest("frank@example.com");
    REQUIRE(m.module->onRequest(t->req) == Step::Suspend);
    bool called = false, ok = true;
    std::string error;
    m.resolver()->resolve("grace@example.com", [&](bool o, std::string, std::string e) {
        called = true;
        ok = o;
        error = std::move(e);
    });
    // Let the workers connect and block in their reads.
    m.host.runUntil([] { return false; }, 200);
    auto t0 = std::chrono::steady_clock::now();
    m.module->stop();
    CHECK(std::chrono::steady_clock::now() - t0 < Ms(500));
    CHECK(called);
    CHECK_FALSE(ok);
    CHECK(contains(error, "stopping"));
    CHECK(t->resumed);
    CHECK(t->req.failed());
    m.module.reset();
}

TEST_CASE("a module that was never started can be stopped and destroyed")
{
    LoadedModule so;
    so.create()->stop();
    auto m = so.create();
    FakeConfig cfg;
    REQUIRE(m->configure(cfg));
}
