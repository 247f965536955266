// The chain runner through the real server: synchronous and asynchronous
// modules, the per-request deadline, failure actions and ordering.
#include <doctest/doctest.h>

#include <chrono>

#include "live_server.hpp"

using namespace geopol::test;

TEST_CASE("a synchronous module's reply is sent; no reply means DUNNO")
{
    LiveServer s("modules:\n  - name: test-reply\n");
    int fd = s.connect();
    sendAll(fd, request("test_reply=REJECT Policy violation. Please contact your support\n"));
    sendAll(fd, request());
    auto r = readReplies(fd, 2);
    REQUIRE(r.size() == 2);
    CHECK(r[0] == "REJECT Policy violation. Please contact your support");
    CHECK(r[1] == "DUNNO");
    close(fd);
}

TEST_CASE("a request other than smtpd_access_policy gets DUNNO without running modules")
{
    LiveServer s("modules:\n  - name: test-reply\n    action: REJECT no\n");
    int fd = s.connect();
    sendAll(fd, "request=junk_policy\nsender=a\n\n");
    sendAll(fd, "sender=no-request-attribute\n\n");
    sendAll(fd, request());
    auto r = readReplies(fd, 3);
    CHECK(r == std::vector<std::string>{"DUNNO", "DUNNO", "REJECT no"});
    close(fd);
}

TEST_CASE("an asynchronous module resumes the chain from a libuv callback")
{
    LiveServer s(
        "modules:\n  - name: test-async\n    delay-ms: 20\n"
        "  - name: test-reply\n    action: REJECT after the wait\n");
    int fd = s.connect();
    sendAll(fd, request());
    auto r = readReplies(fd, 1);
    CHECK(r == std::vector<std::string>{"REJECT after the wait"});
    close(fd);
}

TEST_CASE("a module that completes before returning Suspend continues without recursion")
{
    LiveServer s(
        "modules:\n  - name: test-async\n    mode: sync\n"
        "  - name: test-reply\n");
    int fd = s.connect();
    std::string many;
    for (int i = 0; i < 2000; ++i)
        many += request("test_reply=OK " + std::to_string(i) + "\n");
    sendAll(fd, many);
    auto r = readReplies(fd, 2000);
    REQUIRE(r.size() == 2000);
    CHECK(r.front() == "OK 0");
    CHECK(r.back() == "OK 1999");
    close(fd);
}

TEST_CASE("pipelined requests through an asynchronous module are answered in order")
{
    LiveServer s("modules:\n  - name: test-async\n    delay-ms: 5\n  - name: test-reply\n");
    int fd = s.connect();
    std::string batch;
    for (int i = 0; i < 5; ++i)
        batch += request("test_reply=OK " + std::to_string(i) + "\n");
    sendAll(fd, batch);
    auto r = readReplies(fd, 5);
    CHECK(r == std::vector<std::string>{"OK 0", "OK 1", "OK 2", "OK 3", "OK 4"});
    close(fd);
}

TEST_CASE("a module that never answers gets its failure action at the deadline")
{
    LiveServer s(
        "server:\n  request-timeout: 150ms\n"
        "modules:\n  - name: test-async\n    mode: never\n    failure-action: DUNNO\n");
    int fd = s.connect();
    auto t0 = std::chrono::steady_clock::now();
    sendAll(fd, request());
    auto r = readReplies(fd, 1);
    auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
            .count();
    CHECK(r == std::vector<std::string>{"DUNNO"});
    CHECK(ms >= 140);  // answered because of the deadline, not earlier
    close(fd);
}

TEST_CASE("without a module failure action the server's failure action applies")
{
    LiveServer s(
        "server:\n  request-timeout: 100ms\n"
        "modules:\n  - name: test-async\n    mode: never\n");
    int fd = s.connect();
    sendAll(fd, request());
    CHECK(readReplies(fd, 1) ==
          std::vector<std::string>{"DEFER Service temporarily not available"});
    close(fd);
}

TEST_CASE(
    "a failing or throwing module is answered with its failure action and the "
    "connection keeps serving")
{
    LiveServer s(
        "modules:\n  - name: test-async\n    mode: fail\n"
        "    failure-action: DEFER store unavailable\n");
    int fd = s.connect();
    sendAll(fd, request());
    sendAll(fd, request());
    CHECK(readReplies(fd, 2) ==
          std::vector<std::string>{"DEFER store unavailable", "DEFER store unavailable"});
    close(fd);

    LiveServer t("modules:\n  - name: test-async\n    mode: throw\n");
    int fd2 = t.connect();
    sendAll(fd2, request());
    sendAll(fd2, request());
    CHECK(readReplies(fd2, 2) ==
          std::vector<std::string>{"DEFER Service temporarily not available",
                                   "DEFER Service temporarily not available"});
    close(fd2);
}

TEST_CASE("a completion arriving after the deadline does not touch the next request")
{
    // Request 1 times out at 100 ms; its late completion fires at 150 ms,
    // while request 2 is suspended. Request 2 must still time out itself.
    LiveServer s(
        "server:\n  request-timeout: 100ms\n"
        "modules:\n  - name: test-async\n    delay-ms: 150\n"
        "    failure-action: DEFER timed out\n  - name: test-reply\n    action: REJECT "
        "late\n");
    int fd = s.connect();
    sendAll(fd, request());
    auto r1 = readReplies(fd, 1);
    sendAll(fd, request());
    auto r2 = readReplies(fd, 1);
    CHECK(r1 == std::vector<std::string>{"DEFER timed out"});
    CHECK(r2 == std::vector<std::string>{"DEFER timed out"});
    close(fd);
}

TEST_CASE("many connections are served concurrently by one loop")
{
    LiveServer s(
        "modules:\n  - name: test-async\n    delay-ms: 30\n"
        "  - name: test-reply\n    action: OK\n");
    std::vector<int> fds;
    for (int i = 0; i < 200; ++i)
        fds.push_back(s.connect());
    auto t0 = std::chrono::steady_clock::now();
    for (int fd : fds)
        sendAll(fd, request());
    for (int fd : fds) {
        CHECK(readReplies(fd, 1) == std::vector<std::string>{"OK"});
        close(fd);
    }
    auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
            .count();
    CHECK(ms < 3000);  // 200 x 30 ms serially would be 6 s: they overlapped
}
