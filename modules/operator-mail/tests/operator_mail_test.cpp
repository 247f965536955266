// operator_mail_test.cpp - the module's request path against a fake store and
// a fake transport: when a mail is queued, what it says, and that the
// request is never held up.
#include "operator_mail.hpp"

#include <doctest/doctest.h>

#include "fakes.hpp"

using namespace geopol;
using namespace geopol::operator_mail;
using geopol::testing::FakeConfig;
using geopol::testing::FakeHost;
using geopol::testing::FakeStore;
using geopol::testing::FakeTransport;
using geopol::testing::LogCapture;
using geopol::testing::Loop;
using geopol::testing::TransportLog;

namespace {

const std::string kReject = "REJECT Policy violation. Please contact your support";

struct Harness {
    LogCapture log;
    Loop loop;
    FakeStore store;
    FakeHost host{loop.get(), log.logger};
    std::shared_ptr<TransportLog> sent = std::make_shared<TransportLog>();
    std::string transportError;
    OperatorMailModule module{[this](uv_loop_t *l, const SmtpSettings &,
                                     std::string &error) -> std::unique_ptr<Transport> {
        if (!transportError.empty()) {
            error = transportError;
            return nullptr;
        }
        return std::make_unique<FakeTransport>(l, sent);
    }};
    FakeConfig cfg;
    Request req;
    uint64_t generation = 0;
    bool stopped = false;

    Harness()
    {
        cfg.set("run-actions", "true")
            .set("run-action-operator", "true")
            .set("from", "geopol@mx.example.org")
            .set("to", "ops@example.org")
            .set("server-address", "127.0.0.1")
            .set("drain-timeout", "50ms");
        host.provide("store", static_cast<Store *>(&store));
        AccountState s;
        s.foreignCountries = 2;
        s.foreignCountryList = {"US", "GB"};
        s.foreignIpList = {"8.8.8.8", "81.2.69.142"};
        s.block = BlockState::Temporary;
        store.accounts["alice@example.com"] = s;
    }
    ~Harness()
    {
        if (!stopped)
            module.stop();
    }

    Status start()
    {
        REQUIRE(module.configure(cfg));
        REQUIRE_MESSAGE(cfg.errors.empty(), cfg.errorText());
        return module.start(host);
    }

    /// A request as limits leaves it: rejected, blocked, maybe newly.
    Step send(std::string_view account, bool newly = true, bool known = true)
    {
        req.coreReset(++generation);
        Facts &f = req.facts;
        f.identity = account;
        f.account = account;
        f.accountKnown = known;
        f.clientAddress = "81.2.69.142";
        f.country = "GB";
        Verdict &v = f.verdict;
        v.evaluated = v.reject = v.blocked = true;
        v.newlyBlocked = newly;
        v.reason = "countries";
        v.countries = 2;
        v.maxCountries = 1;
        req.setReply(kReject);
        return module.onRequest(req);
    }

    void stop()
    {
        module.stop();
        stopped = true;
    }
};

}  // namespace

TEST_CASE("a request that newly blocks a known account queues one mail and goes on at once")
{
    Harness h;
    REQUIRE(h.start());
    CHECK(h.send("alice@example.com") == Step::Continue);
    CHECK(h.req.reply() == kReject);  // untouched
    // Nothing is looked up or composed inside the request.
    CHECK(h.store.inspects == 0);
    CHECK(h.sent->messages.empty());
    CHECK(h.module.outbox()->size() == 1);
    CHECK(
        h.log.contains("info operator_mail.queued request=1 account=alice@example.com "
                       "reason=countries queue=1/100"));

    REQUIRE(h.loop.runUntil([&] { return !h.sent->messages.empty(); }));
    CHECK(h.store.inspects == 1);
    const std::string &m = h.sent->messages.front();
    CHECK(m.find("To: ops@example.org\r\n") != std::string::npos);
    CHECK(m.find("alice@example.com") != std::string::npos);
    CHECK(m.find("US, GB") != std::string::npos);
    CHECK(m.find("8.8.8.8, 81.2.69.142") != std::string::npos);
    h.sent->succeed();
    CHECK(h.log.contains("operator_mail.sent account=alice@example.com"));
    CHECK(h.module.outbox()->size() == 0);
}

TEST_CASE("requests that do not newly block an account send nothing")
{
    Harness h;
    REQUIRE(h.start());
    CHECK(h.send("alice@example.com", false) == Step::Continue);
    h.req.coreReset(++h.generation);  // an accepted request: no verdict at all
    h.req.facts.account = "bob@example.com";
    CHECK(h.module.onRequest(h.req) == Step::Continue);
    h.loop.runFor(20);
    CHECK(h.store.inspects == 0);
    CHECK(h.sent->messages.empty());
    CHECK(h.module.outbox()->size() == 0);
}

TEST_CASE("an account nobody confirmed gets no mail unless only-known-accounts is off")
{
    {
        Harness h;
        REQUIRE(h.start());
        h.send("stranger@example.com", true, false);
        h.loop.runFor(20);
        CHECK(h.sent->messages.empty());
        CHECK(
            h.log.contains("info operator_mail.not_sent request=1 account=stranger@example.com:"
                           " the account is not known"));
    }
    {
        Harness h;
        h.cfg.set("only-known-accounts", "false");
        REQUIRE(h.start());
        h.send("stranger@example.com", true, false);
        CHECK(h.loop.runUntil([&] { return !h.sent->messages.empty(); }));
    }
}

TEST_CASE("a full queue drops further mails, counts them and warns once per burst")
{
    Harness h;
    h.cfg.set("queue-size", "1");
    REQUIRE(h.start());
    h.send("a@example.com");
    h.send("b@example.com");
    h.send("c@example.com");
    CHECK(h.module.dropped() == 2);
    std::string text = h.log.text();
    CHECK(text.find("warning operator_mail.dropped request=2 account=b@example.com: the queue is "
                    "full (1 mails)") != std::string::npos);
    CHECK(text.find("warning operator_mail.dropped request=3") == std::string::npos);
    CHECK(text.find("debug operator_mail.dropped request=3 account=c@example.com "
                    "dropped_in_a_row=2") != std::string::npos);

    REQUIRE(h.loop.runUntil([&] { return !h.sent->inFlight.empty(); }));
    h.sent->succeed();
    h.send("d@example.com");
    CHECK(h.module.dropped() == 2);
    CHECK(h.log.contains("operator_mail.queue_has_room again after dropping 2 mails"));
}

TEST_CASE("when the store fails the mail still goes out, with what the request knew")
{
    Harness h;
    h.store.failInspect = "redis: timeout after 500 ms";
    REQUIRE(h.start());
    h.send("alice@example.com");
    REQUIRE(h.loop.runUntil([&] { return !h.sent->messages.empty(); }));
    CHECK(
        h.log.contains("warning operator_mail.inspect_failed account=alice@example.com "
                       "error=\"redis: timeout after 500 ms\""));
    const std::string &m = h.sent->messages.front();
    CHECK(m.find("81.2.69.142") != std::string::npos);
    CHECK(m.find("GB") != std::string::npos);
}

TEST_CASE("without a store in the chain the mail still goes out")
{
    Harness h;
    h.host.provide("store", nullptr);
    REQUIRE(h.start());
    CHECK(h.log.contains("operator_mail.no_store"));
    h.send("alice@example.com");
    CHECK(h.loop.runUntil([&] { return !h.sent->messages.empty(); }));
}

TEST_CASE("stop composes what still waits for the store and lets the outbox drain it")
{
    Harness h;
    h.store.deferred = true;
    REQUIRE(h.start());
    h.send("alice@example.com");
    REQUIRE(h.loop.runUntil([&] { return h.store.pendingCount() == 1; }));
    CHECK(h.sent->messages.empty());
    h.stop();
    REQUIRE(h.sent->messages.size() == 1);  // composed without the store's lists
    CHECK(h.sent->messages.front().find("alice@example.com") != std::string::npos);
    h.store.completeAll();  // a late answer is ignored
    CHECK(h.sent->messages.size() == 1);
    REQUIRE(h.loop.runUntil([&] { return h.sent->closed; }));  // drain-timeout 50ms
    CHECK(h.log.contains("operator_mail.abandoned account=alice@example.com"));
}

TEST_CASE("stop with a mail not yet looked up composes it too")
{
    Harness h;
    REQUIRE(h.start());
    h.send("alice@example.com");
    h.stop();  // before the loop ran the lookup
    REQUIRE(h.sent->messages.size() == 1);
    CHECK(h.sent->messages.front().find("US, GB") != std::string::npos);  // the store answered
}

TEST_CASE("a module whose switches are off warns at start and never queues")
{
    Harness h;
    h.cfg.set("run-action-operator", "false");
    REQUIRE(h.start());
    CHECK(h.log.contains(
        "warning operator_mail.inactive run-actions=true run-action-operator=false"));
    CHECK(h.module.outbox() == nullptr);
    CHECK(h.send("alice@example.com") == Step::Continue);
    h.loop.runFor(10);
    CHECK(h.sent->messages.empty());
}

TEST_CASE("start fails with the transport's reason")
{
    Harness h;
    h.transportError = "cannot start the mail thread: no threads";
    Status s = h.start();
    CHECK_FALSE(s.isOk());
    CHECK(s.message().find("no threads") != std::string::npos);
}

TEST_CASE("the start-up line shows the server and the user but never the password")
{
    Harness h;
    h.cfg.set("username", "geopol").set("password", "Sup3r-Secret").set("server-port", "2525");
    REQUIRE(h.start());
    CHECK(
        h.log.contains("info operator_mail.started server=127.0.0.1:2525 "
                       "tls=starttls-if-offered auth=user geopol from=geopol@mx.example.org "
                       "to=\"ops@example.org\" template=built-in"));
    h.send("alice@example.com");
    REQUIRE(h.loop.runUntil([&] { return !h.sent->messages.empty(); }));
    h.sent->fail("Login denied (last reply 535)", true);
    h.stop();
    h.loop.runFor(10);
    CHECK(h.log.text().find("Sup3r-Secret") == std::string::npos);
}
