// limits_module_test.cpp - the module's request flow against a fake store:
// replies, verdicts, suspension, blocking, failures.
#include <doctest/doctest.h>

#include "fakes.hpp"
#include "geopol/request.hpp"
#include "limits.hpp"

using namespace geopol;
using namespace geopol::limits;

namespace {

const std::string kReject = "REJECT Policy violation. Please contact your support";

struct Outcome {
    Step step;
    std::vector<Step> resumes;
    std::string reply;
    bool failed;
    std::string failure;
    Verdict verdict;
};

// One module, one fake store, one Request bound to a test resume target:
// the pieces of the core that a request passes through.
struct Harness {
    testing::FakeConfig cfg;
    testing::FakeStore store;
    testing::FakeHost host;
    LimitsModule module;
    Request req;
    std::shared_ptr<testing::TestResumeTarget> target;
    uint64_t generation = 0;
    std::string peer = "test";

    explicit Harness(spdlog::level::level_enum level = spdlog::level::info)
        : host(nullptr, level), target(std::make_shared<testing::TestResumeTarget>(&req))
    {
        host.provide("store", static_cast<Store *>(&store));
        req.coreBind(target, &peer);
    }

    void start()
    {
        REQUIRE(module.configure(cfg));
        REQUIRE_MESSAGE(cfg.errors.empty(), cfg.errorText());
        REQUIRE(module.start(host));
    }

    Step send(std::string_view account, std::string_view address, std::string_view country = "")
    {
        req.coreReset(++generation);
        target->steps.clear();
        Facts &f = req.facts;
        f.identity = account;
        f.account = lowerAscii(account);
        f.clientAddress = address;
        if (auto ip = IpAddress::parse(address)) {
            f.clientValid = true;
            f.client = *ip;
            f.addressClass = ip->classify();
        }
        if (!country.empty()) {
            f.located = true;
            f.country = country;
        }
        return module.onRequest(req);
    }

    Outcome collect(Step step)
    {
        return Outcome{step,         target->steps, req.reply(),
                       req.failed(), req.failure(), req.facts.verdict};
    }

    Outcome run(std::string_view account, std::string_view address, std::string_view country = "")
    {
        Step step = send(account, address, country);
        store.completeAll();
        return collect(step);
    }
};

bool continued(const Outcome &o)
{
    return o.step == Step::Suspend && o.resumes == std::vector<Step>{Step::Continue};
}

}  // namespace

TEST_CASE("start fails with a clear message when no store is enabled")
{
    testing::FakeConfig cfg;
    testing::FakeHost host;
    LimitsModule m;
    REQUIRE(m.configure(cfg));
    Status s = m.start(host);
    CHECK_FALSE(s);
    CHECK(s.message() == "limits needs an account store: enable memory-store or redis-store");
}

TEST_CASE("a request without identity gets the no-identity action and records nothing")
{
    Harness h;
    h.start();
    Outcome o = h.run("", "8.8.8.8", "US");
    CHECK(o.step == Step::Done);
    CHECK(o.reply == "DUNNO");
    CHECK_FALSE(o.verdict.evaluated);
    CHECK(h.store.seen.empty());
}

TEST_CASE("the no-identity action is configurable")
{
    Harness h;
    h.cfg.set("no-identity-action", "OK");
    h.start();
    CHECK(h.run("", "8.8.8.8").reply == "OK");
}

TEST_CASE("an accepted request continues without a reply and fills the verdict")
{
    Harness h;
    h.start();
    Outcome o = h.run("Alice@Example.com", "8.8.8.8", "US");
    CHECK(continued(o));
    CHECK(o.reply.empty());
    CHECK_FALSE(o.failed);
    CHECK(o.verdict.evaluated);
    CHECK_FALSE(o.verdict.reject);
    CHECK_FALSE(o.verdict.home);
    CHECK(o.verdict.reason.empty());
    CHECK(o.verdict.countries == 1);
    CHECK(o.verdict.ips == 1);
    CHECK(o.verdict.maxCountries == 3);
    CHECK(o.verdict.maxIps == 10);
    CHECK(o.verdict.maxHomeCountries == 3);
    CHECK(o.verdict.maxHomeIps == 10);
    REQUIRE(h.store.seen.size() == 1);
    CHECK(h.store.seen[0].account == "alice@example.com");
    CHECK(h.store.seen[0].ip == "8.8.8.8");
    CHECK(h.store.seen[0].country == "US");
}

TEST_CASE("the fourth IP with max-ips 3 is rejected and blocks the account exactly once")
{
    Harness h;
    h.cfg.set("max-ips", "3");
    h.start();
    for (const char *ip : {"8.8.8.8", "8.8.4.4", "8.8.1.1"})
        CHECK_FALSE(h.run("alice@example.com", ip, "US").verdict.reject);

    Outcome o = h.run("alice@example.com", "8.8.2.2", "US");
    CHECK(continued(o));  // Continue, so operator-mail still runs
    CHECK(o.reply == kReject);
    CHECK(o.verdict.reject);
    CHECK(o.verdict.reason == "ips");
    CHECK(o.verdict.ips == 4);
    CHECK(o.verdict.blocked);
    CHECK(o.verdict.newlyBlocked);
    CHECK_FALSE(o.verdict.permanent);
    CHECK(h.store.blockCalls == 1);

    // Now blocked: rejected from anywhere, no second transition.
    Outcome again = h.run("alice@example.com", "8.8.8.8", "US");
    CHECK(again.reply == kReject);
    CHECK(again.verdict.reason == "blocked");
    CHECK(again.verdict.blocked);
    CHECK_FALSE(again.verdict.newlyBlocked);
    CHECK(h.store.blockCalls == 1);
}

TEST_CASE("the reject action is configurable")
{
    Harness h;
    h.cfg.set("max-countries", "0").set("reject-action", "REJECT go away");
    h.start();
    CHECK(h.run("a@b.c", "8.8.8.8", "US").reply == "REJECT go away");
}

TEST_CASE("a permanent block in the store is reported as permanent")
{
    Harness h;
    h.store.blockPermanent = true;
    h.cfg.set("max-countries", "1");
    h.start();
    h.run("a@b.c", "8.8.8.8", "US");
    Outcome o = h.run("a@b.c", "81.2.69.142", "GB");
    CHECK(o.verdict.reason == "countries");
    CHECK(o.verdict.permanent);
    CHECK(o.verdict.newlyBlocked);
    Outcome later = h.run("a@b.c", "8.8.8.8", "US");
    CHECK(later.verdict.reason == "blocked");
    CHECK(later.verdict.permanent);
}

TEST_CASE("with a store that completes later the request resumes only then")
{
    Harness h;
    h.store.deferred = true;
    h.start();
    Step step = h.send("a@b.c", "8.8.8.8", "US");
    CHECK(step == Step::Suspend);
    CHECK(h.target->steps.empty());
    CHECK_FALSE(h.req.facts.verdict.evaluated);
    h.store.completeAll();
    CHECK(h.target->steps == std::vector<Step>{Step::Continue});
    CHECK(h.req.facts.verdict.evaluated);
}

TEST_CASE("a rejection waits for the block before it continues")
{
    Harness h;
    h.store.deferred = true;
    h.cfg.set("max-ips", "0");
    h.start();
    h.send("a@b.c", "8.8.8.8", "US");
    h.store.completeOne();  // record
    CHECK(h.target->steps.empty());
    CHECK(h.store.pendingCount() == 1);  // the block
    h.store.completeOne();
    CHECK(h.target->steps == std::vector<Step>{Step::Continue});
    CHECK(h.req.facts.verdict.newlyBlocked);
    CHECK(h.req.reply() == kReject);
}

TEST_CASE("a store failure fails the request and ends the chain")
{
    Harness h;
    h.store.failRecord = "redis: timeout after 500 ms";
    h.start();
    Outcome o = h.run("a@b.c", "8.8.8.8", "US");
    CHECK(o.resumes == std::vector<Step>{Step::Done});
    CHECK(o.failed);
    CHECK(o.failure == "redis: timeout after 500 ms");
    CHECK(o.reply.empty());
}

TEST_CASE("a failed block still rejects but does not claim a block")
{
    Harness h;
    h.store.failBlock = "redis: connection lost";
    h.cfg.set("max-ips", "0");
    h.start();
    Outcome o = h.run("a@b.c", "8.8.8.8", "US");
    CHECK(continued(o));
    CHECK(o.reply == kReject);
    CHECK(o.verdict.reject);
    CHECK_FALSE(o.verdict.blocked);
    CHECK_FALSE(o.verdict.newlyBlocked);
    CHECK_FALSE(o.failed);
}

TEST_CASE("a completion after the client went away changes nothing")
{
    Harness h;
    h.store.deferred = true;
    h.cfg.set("max-ips", "0");
    h.start();
    h.send("a@b.c", "8.8.8.8", "US");
    h.target->disconnect();
    h.store.completeAll();
    CHECK(h.target->steps.empty());
    CHECK(h.req.reply().empty());
    CHECK_FALSE(h.req.facts.verdict.evaluated);
    CHECK(h.store.blockCalls == 0);
}

TEST_CASE("two IPv6 addresses in one /64 count once and another /64 counts again")
{
    Harness h;
    h.start();
    h.run("a@b.c", "2a00:1450:4001:80b::200e", "DE");
    CHECK(h.run("a@b.c", "2a00:1450:4001:80b::1", "DE").verdict.ips == 1);
    CHECK(h.run("a@b.c", "2a00:1450:4001:80c::1", "DE").verdict.ips == 2);
    CHECK(h.store.seen.back().ip == "2a00:1450:4001:80c::/64");
}

TEST_CASE("private addresses count as IPs, never as countries, unless switched off")
{
    Harness on;
    on.start();
    Outcome o = on.run("a@b.c", "10.0.0.1");
    CHECK(o.verdict.ips == 1);
    CHECK(o.verdict.countries == 0);

    Harness off;
    off.cfg.set("count-unplaceable-ips", "false");
    off.start();
    CHECK(off.run("a@b.c", "10.0.0.1").verdict.ips == 0);
    CHECK(off.run("a@b.c", "8.8.8.8", "US").verdict.ips == 1);
}

TEST_CASE("a client address that is not an IP is never recorded")
{
    Harness h;
    h.start();
    Outcome o = h.run("a@b.c", "unknown");
    CHECK(o.verdict.evaluated);
    CHECK(o.verdict.ips == 0);
    REQUIRE(h.store.seen.size() == 1);
    CHECK(h.store.seen[0].ip.empty());
}

TEST_CASE("the IP of a request rejected by the country rule is still recorded")
{
    Harness h;
    h.cfg.set("max-countries", "1");
    h.start();
    h.run("a@b.c", "8.8.8.8", "US");
    Outcome o = h.run("a@b.c", "81.2.69.142", "GB");
    CHECK(o.verdict.reason == "countries");
    CHECK(h.store.accounts["a@b.c"].foreignIps.count("81.2.69.142") == 1);
    CHECK(o.verdict.ips == 2);
}

TEST_CASE("home requests count against the home limits only")
{
    Harness h;
    h.cfg.setList("home-countries", {"de"}).set("max-home-ips", "1").set("max-ips", "1");
    h.start();
    Outcome first = h.run("a@b.c", "217.160.0.1", "DE");
    CHECK(first.verdict.home);
    CHECK(first.verdict.homeIps == 1);
    CHECK(first.verdict.homeCountries == 1);
    CHECK(first.verdict.ips == 0);
    CHECK(h.run("a@b.c", "8.8.8.8", "US").verdict.ips == 1);  // foreign: its own count
    Outcome second = h.run("a@b.c", "193.99.144.80", "DE");
    CHECK(second.verdict.reason == "home-ips");
}

TEST_CASE("custom settings apply to the account whatever the case of its sender field")
{
    testing::TempFile file(
        R"({"data":[{"sender":"Alice@Example.COM","ips":1},{"sender":"alice@example.com","ips":50}]})");
    Harness h;
    h.cfg.set("custom-settings", file.path);
    h.start();
    CHECK_FALSE(h.run("alice@example.com", "8.8.8.8", "US").verdict.reject);
    Outcome o = h.run("ALICE@example.com", "8.8.4.4", "US");
    CHECK(o.verdict.reason == "ips");
    CHECK(o.verdict.maxIps == 1);  // the first entry, not the duplicate
}

TEST_CASE("a trusted country is not recorded and an untrusted one is rejected")
{
    testing::TempFile file(R"({"data":[{"sender":"a@b.c","trusted_countries":["DE"]}]})");
    Harness h;
    h.cfg.set("custom-settings", file.path);
    h.start();
    Outcome ok = h.run("a@b.c", "217.160.0.1", "DE");
    CHECK_FALSE(ok.verdict.reject);
    CHECK(h.store.seen.back().country.empty());
    CHECK(ok.verdict.countries == 0);
    Outcome bad = h.run("a@b.c", "8.8.8.8", "US");
    CHECK(bad.verdict.reason == "trusted-countries");
    CHECK(bad.reply == kReject);
}

TEST_CASE("replaced custom settings apply from the next request on")
{
    Harness h;
    h.start();
    CHECK_FALSE(h.run("a@b.c", "8.8.8.8", "US").verdict.reject);
    auto parsed = CustomSettings::parse(R"({"data":[{"sender":"a@b.c","countries":1}]})", "rest");
    REQUIRE(parsed.settings);
    h.module.replaceCustomSettings(parsed.settings);
    CHECK(h.module.customSettings()->entries().size() == 1);
    CHECK(h.run("a@b.c", "81.2.69.142", "GB").verdict.reason == "countries");
}

TEST_CASE("the seen lists are fetched only when the decision line is logged")
{
    Harness info(spdlog::level::info);
    info.start();
    info.run("a@b.c", "8.8.8.8", "US");
    Outcome o = info.run("a@b.c", "81.2.69.142", "GB");
    CHECK(info.store.seen.back().wantLists);
    CHECK(o.verdict.seenCountries == std::vector<std::string>{"GB", "US"});
    CHECK(o.verdict.seenIps == std::vector<std::string>{"8.8.8.8", "81.2.69.142"});

    Harness quiet(spdlog::level::warn);
    quiet.start();
    Outcome q = quiet.run("a@b.c", "8.8.8.8", "US");
    CHECK_FALSE(quiet.store.seen.back().wantLists);
    CHECK(q.verdict.seenCountries.empty());
    CHECK(q.verdict.seenIps.empty());
}

TEST_CASE("a request in flight when the chain stops still completes its block")
{
    Harness h;
    h.store.deferred = true;
    h.cfg.set("max-ips", "0");
    h.start();
    h.send("a@b.c", "8.8.8.8", "US");
    h.module.stop();  // a reload retires this chain while the store is busy
    h.store.completeAll();
    CHECK(h.target->steps == std::vector<Step>{Step::Continue});
    CHECK(h.req.reply() == kReject);
    CHECK(h.req.facts.verdict.newlyBlocked);
}

TEST_CASE("a dry run answers as if recorded but records and blocks nothing")
{
    Harness h;
    h.cfg.set("max-countries", "1");
    h.start();
    h.run("a@b.c", "8.8.8.8", "US");
    size_t records = h.store.seen.size();

    h.req.coreReset(++h.generation);
    h.target->steps.clear();
    Facts &f = h.req.facts;
    f.dryRun = true;
    f.account = "a@b.c";
    f.clientAddress = "81.2.69.142";
    f.client = *IpAddress::parse("81.2.69.142");
    f.clientValid = true;
    f.addressClass = AddressClass::Public;
    f.located = true;
    f.country = "GB";
    Outcome o = h.collect(h.module.onRequest(h.req));

    CHECK(continued(o));
    CHECK(o.verdict.reject);
    CHECK(o.verdict.reason == "countries");
    CHECK(o.verdict.countries == 2);
    CHECK(o.verdict.ips == 2);
    CHECK_FALSE(o.verdict.blocked);
    CHECK_FALSE(o.verdict.newlyBlocked);
    CHECK(o.reply == kReject);
    CHECK(h.store.seen.size() == records);  // nothing recorded
    CHECK(h.store.blockCalls == 0);
    CHECK(h.store.accounts["a@b.c"].foreignCountries.size() == 1);
    CHECK(h.store.accounts["a@b.c"].block == BlockState::None);
}
