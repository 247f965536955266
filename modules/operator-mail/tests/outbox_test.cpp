// outbox_test.cpp - the bounded queue: capacity, parallelism, retries with
// backoff, permanent failures, draining on shutdown.
#include "outbox.hpp"

#include <doctest/doctest.h>

#include "fakes.hpp"

using namespace geopol::operator_mail;
using geopol::testing::FakeTransport;
using geopol::testing::LogCapture;
using geopol::testing::Loop;
using geopol::testing::TransportLog;

namespace {

struct Fixture {
    LogCapture log;  // before the loop: the outbox may log while the loop winds down
    Loop loop;
    std::shared_ptr<TransportLog> sent = std::make_shared<TransportLog>();
    Outbox *outbox = nullptr;
    bool finished = false;
    OutboxStats final;

    explicit Fixture(OutboxSettings s = {})
    {
        s.recipients = "ops@example.org";
        outbox = new Outbox(loop.get(), s, std::make_unique<FakeTransport>(loop.get(), sent),
                            log.logger);
    }
    ~Fixture()
    {
        if (outbox)
            outbox->shutdown();  // finishes while ~Loop runs the loop dry
    }
    void shutdown()
    {
        outbox->shutdown([this](const OutboxStats &s) {
            finished = true;
            final = s;
        });
        outbox = nullptr;
    }
    void post(const std::string &account)
    {
        REQUIRE(outbox->reserve());
        Letter l;
        l.account = account;
        l.messageId = "<" + account + ">";
        l.data = std::make_shared<const std::string>("message for " + account);
        outbox->post(std::move(l));
    }
};

}  // namespace

TEST_CASE("the outbox takes no more than its capacity, counting reserved slots")
{
    OutboxSettings s;
    s.capacity = 2;
    Fixture f(s);
    CHECK(f.outbox->reserve());
    CHECK(f.outbox->reserve());
    CHECK_FALSE(f.outbox->reserve());
    CHECK(f.outbox->size() == 2);
    f.outbox->release();
    CHECK(f.outbox->size() == 1);
    Letter l;
    l.account = "a";
    l.data = std::make_shared<const std::string>("x");
    f.outbox->post(l);  // into the remaining reservation
    CHECK(f.outbox->size() == 1);
    CHECK(f.sent->inFlight.size() == 1);
    CHECK(f.outbox->reserve());
    CHECK_FALSE(f.outbox->reserve());
    f.sent->succeed();
    CHECK(f.outbox->size() == 1);
    CHECK(f.outbox->reserve());
}

TEST_CASE("no more letters are in flight than `parallel`")
{
    OutboxSettings s;
    s.parallel = 2;
    Fixture f(s);
    f.post("a");
    f.post("b");
    f.post("c");
    CHECK(f.sent->inFlight.size() == 2);
    f.sent->succeed();
    CHECK(f.sent->inFlight.size() == 2);
    CHECK(f.sent->messages.back() == "message for c");
    f.sent->succeed();
    f.sent->succeed();
    CHECK(f.outbox->size() == 0);
    CHECK(f.outbox->stats().sent == 3);
    CHECK(
        f.log.contains("info operator_mail.sent account=a to=\"ops@example.org\" "
                       "message_id=<a> attempt=1/4"));
}

TEST_CASE("a failed send is retried after doubling delays, then given up and logged")
{
    OutboxSettings s;
    s.retries = 2;
    s.retryDelayMs = 20;
    Fixture f(s);
    f.post("a");
    f.sent->fail("Failed to connect to 127.0.0.1 port 1: Connection refused");
    CHECK(f.sent->inFlight.empty());
    CHECK(
        f.log.contains("warning operator_mail.send_failed account=a message_id=<a> attempt=1/3 "
                       "error=\"Failed to connect to 127.0.0.1 port 1: Connection refused\" "
                       "retry_in=20ms"));
    auto t0 = uv_now(f.loop.get());
    REQUIRE(f.loop.runUntil([&] { return !f.sent->inFlight.empty(); }));
    CHECK(uv_now(f.loop.get()) - t0 >= 19);
    f.sent->fail("again");
    CHECK(f.log.contains("attempt=2/3 error=\"again\" retry_in=40ms"));
    t0 = uv_now(f.loop.get());
    REQUIRE(f.loop.runUntil([&] { return !f.sent->inFlight.empty(); }));
    CHECK(uv_now(f.loop.get()) - t0 >= 39);
    f.sent->fail("still down");
    CHECK(f.sent->inFlight.empty());
    CHECK(f.outbox->size() == 0);
    CHECK(f.outbox->stats().failed == 1);
    CHECK(f.outbox->stats().attempts == 3);
    CHECK(f.sent->messages.size() == 3);
    CHECK(
        f.log.contains("error operator_mail.gave_up account=a to=\"ops@example.org\" "
                       "message_id=<a> attempts=3 error=\"still down\""));
}

TEST_CASE("a retry that succeeds is logged as sent with its attempt")
{
    OutboxSettings s;
    s.retryDelayMs = 1;
    Fixture f(s);
    f.post("a");
    f.sent->fail("timeout");
    REQUIRE(f.loop.runUntil([&] { return !f.sent->inFlight.empty(); }));
    f.sent->succeed();
    CHECK(
        f.log.contains("operator_mail.sent account=a to=\"ops@example.org\" message_id=<a> "
                       "attempt=2/4"));
    CHECK(f.outbox->stats().sent == 1);
}

TEST_CASE("a permanent failure is not retried")
{
    Fixture f;
    f.post("a");
    f.sent->fail("Login denied (last reply 535)", true);
    CHECK(f.outbox->size() == 0);
    CHECK(f.outbox->stats().failed == 1);
    CHECK(
        f.log.contains("attempts=1 error=\"Login denied (last reply 535)\" (permanent: not "
                       "retried)"));
}

TEST_CASE("the delay stops doubling at the maximum")
{
    OutboxSettings s;
    s.retries = 5;
    s.retryDelayMs = 10;
    s.retryDelayMaxMs = 25;
    s.drainTimeoutMs = 10;
    Fixture f(s);
    f.post("a");
    f.sent->fail("x");
    CHECK(f.log.contains("retry_in=10ms"));
    REQUIRE(f.loop.runUntil([&] { return !f.sent->inFlight.empty(); }));
    f.sent->fail("x");
    CHECK(f.log.contains("retry_in=20ms"));
    REQUIRE(f.loop.runUntil([&] { return !f.sent->inFlight.empty(); }));
    f.sent->fail("x");
    CHECK(f.log.contains("attempt=3/6 error=\"x\" retry_in=25ms"));
}

TEST_CASE("shutdown of an empty outbox finishes at once and closes the transport")
{
    Fixture f;
    f.shutdown();
    CHECK(f.finished);
    CHECK(f.sent->closed);
    f.loop.runUntil([&] { return f.sent->destroyed; });
    CHECK(f.sent->destroyed);
}

TEST_CASE("shutdown waits for a letter in flight, up to the drain timeout")
{
    OutboxSettings s;
    s.drainTimeoutMs = 2000;
    Fixture f(s);
    f.post("a");
    f.shutdown();
    CHECK_FALSE(f.finished);
    CHECK(f.log.contains("operator_mail.draining letters=1"));
    f.loop.runFor(20);
    CHECK_FALSE(f.finished);
    f.sent->succeed();
    CHECK(f.finished);
    CHECK(f.final.sent == 1);
    CHECK(f.final.abandoned == 0);
    f.loop.runUntil([&] { return f.sent->destroyed; });
    CHECK(f.sent->destroyed);
}

TEST_CASE("what is left after the drain timeout is abandoned and logged")
{
    OutboxSettings s;
    s.drainTimeoutMs = 30;
    s.retryDelayMs = 10'000;
    s.parallel = 1;
    Fixture f(s);
    f.post("a");
    f.post("b");
    f.sent->fail("down");  // a waits for a retry, b goes out
    f.shutdown();
    REQUIRE(f.loop.runUntil([&] { return f.finished; }));
    CHECK(f.final.abandoned == 2);
    CHECK(f.sent->closed);
    CHECK(
        f.log.contains("error operator_mail.abandoned account=a to=\"ops@example.org\" "
                       "message_id=<a> attempts=1: geopold stopped or reloaded"));
    CHECK(f.log.contains("operator_mail.abandoned account=b"));
}

TEST_CASE("a drain timeout of zero abandons at once")
{
    OutboxSettings s;
    s.drainTimeoutMs = 0;
    Fixture f(s);
    f.post("a");
    f.shutdown();
    CHECK(f.finished);
    CHECK(f.final.abandoned == 1);
}
