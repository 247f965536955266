// hub_test.cpp - the real hub with a real civetweb server on a free port and
// a real libuv loop: requests reach the loop thread, answers come back, late
// answers are harmless, and the last detach unblocks waiting workers.
#include "hub.hpp"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <thread>

#include "fakes.hpp"

using namespace geopol;
using namespace geopol::rest_admin;

namespace {

struct HttpResult {
    int status = 0;
    std::string head;
    std::string body;
};

// One request on a fresh connection (the server closes after each answer).
HttpResult http(int port, const std::string &raw)
{
    HttpResult out;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval tv{10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) != 0) {
        close(fd);
        return out;
    }
    (void)!write(fd, raw.data(), raw.size());
    std::string all;
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0)
        all.append(buf, static_cast<size_t>(n));
    close(fd);
    auto end = all.find("\r\n\r\n");
    if (all.rfind("HTTP/1.1 ", 0) != 0 || end == std::string::npos)
        return out;
    out.status = std::stoi(all.substr(9, 3));
    out.head = all.substr(0, end);
    out.body = all.substr(end + 4);
    return out;
}

std::string get(const std::string &target, const std::string &extra = "")
{
    return "GET " + target + " HTTP/1.1\r\nHost: t\r\n" + extra + "Connection: close\r\n\r\n";
}

std::string postJson(const std::string &target, const std::string &body)
{
    return "POST " + target + " HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n" +
           "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" +
           body;
}

class FakeEndpoint : public Endpoint {
public:
    Settings s;
    std::thread::id loopThread;
    std::atomic<int> calls{0};
    std::atomic<bool> sawOtherThread{false};
    AdminReply parked;  // "/park": answered later by the test
    std::atomic<bool> parkedSet{false};

    const Settings &settings() const override { return s; }
    void dispatch(const AdminRequest &req, AdminReply reply) override
    {
        ++calls;
        if (std::this_thread::get_id() != loopThread)
            sawOtherThread = true;
        if (req.path == "/park") {
            parked = std::move(reply);
            parkedSet = true;
            return;
        }
        reply({200, "text/plain",
               req.method + " " + req.path + " ?" + req.query + " ct=" + req.contentType +
                   " body=" + req.body + " from=" + req.remote.substr(0, 10)});
    }
};

// Runs the loop on this thread until `done` is true; a ref'd timer keeps
// uv_run from returning at once (the hub's async handle is unref'd).
void runUntil(uv_loop_t *loop, const std::function<bool()> &done,
              const std::function<void()> &each = {})
{
    uv_timer_t tick;
    uv_timer_init(loop, &tick);
    uv_timer_start(
        &tick, [](uv_timer_t *) {}, 5, 5);
    while (!done()) {
        uv_run(loop, UV_RUN_ONCE);
        if (each)
            each();
    }
    uv_close(reinterpret_cast<uv_handle_t *>(&tick), nullptr);
    uv_run(loop, UV_RUN_NOWAIT);
}

struct LoopFixture {
    uv_loop_t loop;
    FakeEndpoint ep;
    LoopFixture()
    {
        uv_loop_init(&loop);
        ep.loopThread = std::this_thread::get_id();
        ep.s.listener.port = 0;  // any free port
        ep.s.listener.threads = 4;
        ep.s.request.requestTimeoutMs = 400;
    }
    ~LoopFixture()
    {
        uv_run(&loop, UV_RUN_NOWAIT);
        uv_loop_close(&loop);
    }
};

}  // namespace

TEST_CASE("requests are dispatched on the loop thread and their answers reach the client")
{
    LoopFixture f;
    REQUIRE(Hub::instance().attach(f.ep, &f.loop, testing::nullLogger()));
    int port = Hub::instance().boundPort();
    REQUIRE(port > 0);

    std::atomic<bool> done{false};
    HttpResult echo, posted, big;
    std::thread client([&] {
        echo = http(port, get("/a%20b/c?x=1&y=2"));
        posted = http(port, postJson("/remove", R"({"key":"sender","value":"a@b"})"));
        big = http(port, postJson("/remove", std::string(70000, 'x')));
        done = true;
    });
    runUntil(&f.loop, [&] { return done.load(); });
    client.join();

    CHECK(echo.status == 200);
    CHECK(echo.body.rfind("GET /a b/c ?x=1&y=2 ct= body=", 0) == 0);  // the path is decoded
    CHECK(echo.body.find("from=127.0.0.1") != std::string::npos);
    CHECK(posted.status == 200);
    CHECK(posted.body.find("ct=application/json body={\"key\":\"sender\",\"value\":\"a@b\"}") !=
          std::string::npos);
    CHECK(big.status == 413);
    CHECK(big.body.find("max-body-size") != std::string::npos);
    CHECK(f.ep.calls.load() == 2);  // the oversized body never reached the loop
    CHECK_FALSE(f.ep.sawOtherThread.load());

    Hub::instance().detach(f.ep);
    CHECK(Hub::instance().boundPort() == 0);
}

TEST_CASE("basic auth is checked by the worker: 401 with a challenge, nothing dispatched")
{
    LoopFixture f;
    f.ep.s.request.basicAuth = true;
    f.ep.s.request.credentials = CredentialCheck("testuser", "testsecret");
    REQUIRE(Hub::instance().attach(f.ep, &f.loop, testing::nullLogger()));
    int port = Hub::instance().boundPort();

    std::atomic<bool> done{false};
    HttpResult none, wrong, right;
    std::thread client([&] {
        none = http(port, get("/custom-settings"));
        wrong = http(port, get("/custom-settings", "Authorization: Basic dGVzdHVzZXI6eA==\r\n"));
        right = http(
            port, get("/custom-settings", "Authorization: Basic dGVzdHVzZXI6dGVzdHNlY3JldA==\r\n"));
        done = true;
    });
    runUntil(&f.loop, [&] { return done.load(); });
    client.join();

    CHECK(none.status == 401);
    CHECK(none.head.find("WWW-Authenticate: Basic realm=\"geopol\"") != std::string::npos);
    CHECK(wrong.status == 401);
    CHECK(right.status == 200);
    CHECK(f.ep.calls.load() == 1);
    Hub::instance().detach(f.ep);
}

TEST_CASE("a late answer after the worker gave up (504) is dropped without harm")
{
    LoopFixture f;
    REQUIRE(Hub::instance().attach(f.ep, &f.loop, testing::nullLogger()));
    int port = Hub::instance().boundPort();

    std::atomic<bool> done{false};
    HttpResult parked, after;
    std::thread client([&] {
        parked = http(port, get("/park"));  // nobody answers within 400 ms
        done = true;
    });
    runUntil(&f.loop, [&] { return done.load(); });
    client.join();
    CHECK(parked.status == 504);
    REQUIRE(f.ep.parkedSet.load());
    f.ep.parked({200, "text/plain", "too late"});  // the job is gone: a no-op

    done = false;
    std::thread again([&] {
        after = http(port, get("/still-works"));
        done = true;
    });
    runUntil(&f.loop, [&] { return done.load(); });
    again.join();
    CHECK(after.status == 200);
    Hub::instance().detach(f.ep);
}

TEST_CASE("the last detach answers a waiting worker with 503 instead of deadlocking")
{
    LoopFixture f;
    f.ep.s.request.requestTimeoutMs = 20000;  // only the detach can free the worker
    REQUIRE(Hub::instance().attach(f.ep, &f.loop, testing::nullLogger()));
    int port = Hub::instance().boundPort();

    std::atomic<bool> done{false};
    HttpResult parked;
    std::thread client([&] {
        parked = http(port, get("/park"));
        done = true;
    });
    runUntil(&f.loop, [&] { return f.ep.parkedSet.load(); });
    auto t0 = std::chrono::steady_clock::now();
    Hub::instance().detach(f.ep);  // joins the helper that stops civetweb
    auto took = std::chrono::steady_clock::now() - t0;
    client.join();
    CHECK(parked.status == 503);
    CHECK(took < std::chrono::seconds(5));
    f.ep.parked({200, "text/plain", "after shutdown"});  // harmless
}

TEST_CASE("a second instance adopts the listener; requests go to the newest instance")
{
    LoopFixture f;
    FakeEndpoint second;
    second.loopThread = f.ep.loopThread;
    second.s = f.ep.s;
    REQUIRE(Hub::instance().attach(f.ep, &f.loop, testing::nullLogger()));
    int port = Hub::instance().boundPort();
    second.s.listener.port = port;  // what a reload of the same config would say
    f.ep.s.listener.port = port;
    // The first instance asked for port 0; make the "same settings" explicit.
    REQUIRE(Hub::instance().attach(second, &f.loop, testing::nullLogger()));

    std::atomic<bool> done{false};
    HttpResult r;
    std::thread client([&] {
        // A swap (port 0 -> the bound port) may run first: retry briefly.
        for (int i = 0; i < 100 && r.status != 200; ++i) {
            r = http(port, get("/who"));
            if (r.status != 200)
                std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        done = true;
    });
    runUntil(&f.loop, [&] { return done.load(); });
    client.join();
    CHECK(r.status == 200);
    // The client retries while a swap runs, so the newest instance may have
    // been asked more than once; the old one must never be.
    CHECK(second.calls.load() >= 1);
    CHECK(f.ep.calls.load() == 0);
    Hub::instance().detach(second);
    Hub::instance().detach(f.ep);
}
