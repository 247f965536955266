// load_test.cpp - the built user-cdb.so, loaded the way the core loads it,
// configured, started and fed requests through the Module interface.
#include <doctest/doctest.h>

#include <memory>
#include <string>

#include "cdb_files.hpp"
#include "geopol/module.hpp"
#include "geopol/request.hpp"
#include "tests/support/loaded_module.hpp"
#include "tests/support/module_fakes.hpp"

using geopol::Module;
using geopol::Request;
using geopol::Status;
using geopol::Step;
using geopol::testing::FakeConfig;
using geopol::testing::FakeHost;
using geopol::testing::TempDir;
using namespace geopol::user_cdb::test;

namespace {

bool contains(const std::string &haystack, std::string_view needle)
{
    return haystack.find(needle) != std::string::npos;
}

// A request as the core hands it over: the account lower-cased, known only
// with force-user-known.
void prepare(Request &req, std::string_view account, bool known = false)
{
    static uint64_t generation = 0;
    req.coreReset(++generation);
    req.coreAddAttribute("request", "smtpd_access_policy");
    req.coreAddAttribute("sender", account);
    req.facts.identity.assign(account);
    req.facts.account.assign(account);
    req.facts.accountKnown = known;
}

// The module, started on the CDB at `path`.
struct Started {
    geopol::test::LoadedModule so{USER_CDB_MODULE_PATH};
    FakeHost host{nullptr, spdlog::level::debug};
    std::unique_ptr<Module> module;

    explicit Started(const std::string &path)
    {
        module = so.create();
        FakeConfig cfg;
        cfg.set("path", path);
        REQUIRE(module->configure(cfg));
        REQUIRE_MESSAGE(cfg.errors.empty(), cfg.errorText());
        CHECK(cfg.unasked().empty());
        Status s = module->start(host);
        REQUIRE_MESSAGE(s, s.message());
    }
    ~Started() { module->stop(); }
};

// What start() says about the file at `path` (which must be refused).
std::string refusal(const std::string &path)
{
    geopol::test::LoadedModule so(USER_CDB_MODULE_PATH);
    auto module = so.create();
    FakeConfig cfg;
    cfg.set("path", path);
    REQUIRE(module->configure(cfg));
    FakeHost host;
    Status s = module->start(host);
    REQUIRE_FALSE(s);
    return s.message();
}

}  // namespace

TEST_CASE("user-cdb.so exports a descriptor with this build's ABI, size, name and build tag")
{
    geopol::test::LoadedModule so(USER_CDB_MODULE_PATH);
    so.checkDescriptor("user-cdb");
    auto module = so.create();
    CHECK(module->handlesRequests());
    CHECK(module->provides().empty());
    CHECK(module->needs().empty());
}

TEST_CASE("a missing or empty path is a configuration error that names the flag")
{
    geopol::test::LoadedModule so(USER_CDB_MODULE_PATH);
    auto module = so.create();
    FakeConfig none;
    CHECK(module->configure(none));  // errors go through cfg.error()
    REQUIRE(none.hasError("path"));
    CHECK(contains(none.errorText(),
                   "path: must name the CDB file of known accounts "
                   "(--cdb-path, GEOIPPOLICYD_CDB_PATH)"));
    FakeConfig empty;
    empty.set("path", "");
    module->configure(empty);
    CHECK(empty.hasError("path"));
}

TEST_CASE("start() fails on a missing file, naming it and the fix; nothing is left open")
{
    TempDir dir("user-cdb");
    CHECK(contains(refusal(dir.file("users.cdb")),
                   "cannot open the known-users CDB " + dir.file("users.cdb") +
                       ": No such file or directory; build it with `cdb -c -m"));
}

TEST_CASE("start() fails on a truncated file")
{
    TempDir dir("user-cdb");
    writeCdb(dir.file("users.cdb"), {{"alice@example.com", "1"}});
    truncateTo(dir.file("users.cdb"), readBytes(dir.file("users.cdb")).size() - 4);
    CHECK(contains(refusal(dir.file("users.cdb")), "not a CDB file, or damaged or truncated"));
}

TEST_CASE("a listed account becomes known, an unlisted one stays unknown, the chain goes on")
{
    TempDir dir("user-cdb");
    writeCdb(dir.file("users.cdb"), {{"alice@example.com", "1"}, {"bob@example.com", ""}});
    Started m(dir.file("users.cdb"));
    CHECK(contains(m.host.logText(),
                   "info user-cdb.opened path=" + dir.file("users.cdb") + " bytes="));

    Request req;
    prepare(req, "alice@example.com");
    CHECK(m.module->onRequest(req) == Step::Continue);
    CHECK(req.facts.accountKnown);
    CHECK(req.reply().empty());
    CHECK_FALSE(req.failed());
    CHECK(contains(m.host.logText(), "debug user-cdb.known request="));

    prepare(req, "bob@example.com");
    CHECK(m.module->onRequest(req) == Step::Continue);
    CHECK(req.facts.accountKnown);

    prepare(req, "mallory@example.com");
    CHECK(m.module->onRequest(req) == Step::Continue);
    CHECK_FALSE(req.facts.accountKnown);
    CHECK(req.reply().empty());
    CHECK(contains(m.host.logText(), "user-cdb.unknown request=" + std::to_string(req.id()) +
                                         " account=mallory@example.com"));
}

TEST_CASE("an empty account (null sender) is not looked up")
{
    TempDir dir("user-cdb");
    writeCdb(dir.file("users.cdb"), {{"", "an empty key"}});
    Started m(dir.file("users.cdb"));
    Request req;
    prepare(req, "");
    CHECK(m.module->onRequest(req) == Step::Continue);
    CHECK_FALSE(req.facts.accountKnown);
    CHECK_FALSE(contains(m.host.logText(), "user-cdb.known"));
}

TEST_CASE(
    "an account already known (force-user-known, ldap-alias) is not looked up and stays known")
{
    TempDir dir("user-cdb");
    writeCdb(dir.file("users.cdb"), {{"alice@example.com", ""}});
    breakSlotOf(dir.file("users.cdb"), "alice@example.com");
    Started m(dir.file("users.cdb"));
    Request req;
    prepare(req, "carol@example.com", /*known=*/true);
    CHECK(m.module->onRequest(req) == Step::Continue);
    CHECK(req.facts.accountKnown);  // never turned false
    // Not even a damaged entry is touched for a known account.
    prepare(req, "alice@example.com", /*known=*/true);
    CHECK(m.module->onRequest(req) == Step::Continue);
    CHECK_FALSE(req.failed());
    CHECK(contains(m.host.logText(), "user-cdb.skipped request="));
}

TEST_CASE("a lookup that finds the file damaged fails the request, naming account and file")
{
    TempDir dir("user-cdb");
    writeCdb(dir.file("users.cdb"), {{"alice@example.com", ""}, {"bob@example.com", ""}});
    breakSlotOf(dir.file("users.cdb"), "alice@example.com");
    Started m(dir.file("users.cdb"));
    Request req;
    prepare(req, "alice@example.com");
    CHECK(m.module->onRequest(req) == Step::Done);
    CHECK(req.failed());
    CHECK_FALSE(req.facts.accountKnown);
    CHECK(contains(req.failure(), "lookup of alice@example.com in the known-users CDB " +
                                      dir.file("users.cdb") + " failed: the file is damaged"));
    // The rest of the file still answers.
    prepare(req, "bob@example.com");
    CHECK(m.module->onRequest(req) == Step::Continue);
    CHECK(req.facts.accountKnown);
}

TEST_CASE("running after limits is warned about once")
{
    TempDir dir("user-cdb");
    writeCdb(dir.file("users.cdb"), {{"alice@example.com", ""}});
    Started m(dir.file("users.cdb"));
    Request req;
    for (int i = 0; i < 3; ++i) {
        prepare(req, "alice@example.com");
        req.facts.verdict.evaluated = true;
        CHECK(m.module->onRequest(req) == Step::Continue);
        CHECK(req.facts.accountKnown);
    }
    CHECK(m.host.logCount("warning user-cdb.misplaced") == 1);
}
