// redis_server.hpp - real redis-server processes for the server tests, a
// blocking client to look at what the store wrote, and a store call driven
// on a test loop (testing::Loop, tests/support/module_fakes.hpp).
//
// Each server runs on a free loopback port in its own temp dir and is killed
// by PID when the test ends (or when the test process dies: PDEATHSIG). A
// missing redis-server fails the test; it is never skipped.
#pragma once

#include <doctest/doctest.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "fakes.hpp"
#include "geopol/store.hpp"
#include "resp.hpp"

namespace geopol::testing {

inline constexpr const char *kRedisServer = "/usr/bin/redis-server";

/// A TCP port on 127.0.0.1 that was free a moment ago.
inline int freePort()
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(bind(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) == 0);
    socklen_t len = sizeof a;
    REQUIRE(getsockname(fd, reinterpret_cast<sockaddr *>(&a), &len) == 0);
    close(fd);
    return ntohs(a.sin_port);
}

inline void sleepMs(int ms)
{
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

/// A blocking connection for the test's own look at Redis (never used by
/// the code under test).
class RedisClient {
public:
    explicit RedisClient(int port, std::string user = {}, std::string password = {}, int db = 0)
    {
        timeval tv{2, 0};
        ctx_ = redisConnectWithTimeout("127.0.0.1", port, tv);
        REQUIRE(ctx_);
        REQUIRE_MESSAGE(!ctx_->err, ctx_->errstr);
        redisSetTimeout(ctx_, tv);
        if (!password.empty())
            user.empty() ? cmd({"AUTH", password}) : cmd({"AUTH", user, password});
        if (db)
            cmd({"SELECT", std::to_string(db)});
    }
    ~RedisClient() { redisFree(ctx_); }
    RedisClient(const RedisClient &) = delete;
    RedisClient &operator=(const RedisClient &) = delete;

    ReplyPtr cmd(const std::vector<std::string> &args)
    {
        std::vector<const char *> argv;
        std::vector<size_t> len;
        for (const auto &a : args) {
            argv.push_back(a.data());
            len.push_back(a.size());
        }
        auto *r = static_cast<redisReply *>(
            redisCommandArgv(ctx_, static_cast<int>(args.size()), argv.data(), len.data()));
        REQUIRE_MESSAGE(r, "redis command failed: ", ctx_->errstr);
        return ReplyPtr(r);
    }
    std::string str(const std::vector<std::string> &args)
    {
        ReplyPtr r = cmd(args);
        if (r->type == REDIS_REPLY_NIL)
            return "(nil)";
        return std::string(r->str ? r->str : "", r->str ? r->len : 0);
    }
    long long integer(const std::vector<std::string> &args)
    {
        ReplyPtr r = cmd(args);
        REQUIRE_MESSAGE(r->type == REDIS_REPLY_INTEGER, "not an integer: ", str(args));
        return r->integer;
    }

private:
    redisContext *ctx_ = nullptr;
};

/// One redis-server process.
class RedisServer {
public:
    /// `extra`: more command-line options, e.g. {"--user", "geo", "on", ">pw", "~*", "+@all"}.
    explicit RedisServer(std::vector<std::string> extra = {}, int port = 0)
        : extra_(std::move(extra)), port_(port ? port : freePort()), fixedPort_(port != 0)
    {
        REQUIRE_MESSAGE(access(kRedisServer, X_OK) == 0,
                        "redis-server is missing: apt-get install redis-server");
        start();
    }
    ~RedisServer()
    {
        kill();
        std::error_code ec;
        std::filesystem::remove_all(dir_.path, ec);
    }
    RedisServer(const RedisServer &) = delete;
    RedisServer &operator=(const RedisServer &) = delete;

    int port() const { return port_; }
    pid_t pid() const { return pid_; }
    const std::string &dir() const { return dir_.path; }

    /// Starts it; a port freePort() picked that another test took meanwhile
    /// is replaced (not one the caller chose).
    void start()
    {
        for (int attempt = 0;; ++attempt) {
            pid_ = spawn(arguments());
            if (waitReady()) {
                fixedPort_ = true;  // a restart must come back where clients expect it
                return;
            }
            std::string log = readLog();
            waitpid(pid_, nullptr, 0);
            pid_ = -1;
            bool taken = log.find("Address already in use") != std::string::npos;
            REQUIRE_MESSAGE((taken && !fixedPort_ && attempt < 2),
                            "redis-server did not start on port ", port_, ":\n", log);
            port_ = freePort();
        }
    }

    std::vector<std::string> arguments() const
    {
        std::vector<std::string> args = {kRedisServer, "--port",       std::to_string(port_),
                                         "--bind",     "127.0.0.1",    "--save",
                                         "",           "--appendonly", "no",
                                         "--dir",      dir_.path,      "--daemonize",
                                         "no",         "--logfile",    dir_.file("redis.log")};
        args.insert(args.end(), extra_.begin(), extra_.end());
        return args;
    }
    void kill()
    {
        if (pid_ <= 0)
            return;
        ::kill(pid_, SIGCONT);
        ::kill(pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
        pid_ = -1;
    }
    void pause() { ::kill(pid_, SIGSTOP); }
    void resume() { ::kill(pid_, SIGCONT); }
    /// Kill, then start again on the same port (with empty data).
    void restart()
    {
        kill();
        start();
    }

    RedisClient client(std::string user = {}, std::string password = {}, int db = 0) const
    {
        return RedisClient(port_, std::move(user), std::move(password), db);
    }

    static pid_t spawn(const std::vector<std::string> &args)
    {
        pid_t parent = getpid();
        pid_t pid = fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() != parent)
                _exit(1);
            std::vector<char *> argv;
            for (const auto &a : args)
                argv.push_back(const_cast<char *>(a.c_str()));
            argv.push_back(nullptr);
            execv(argv[0], argv.data());
            _exit(127);
        }
        return pid;
    }

private:
    std::string readLog() const
    {
        std::ifstream in(dir_.file("redis.log"));
        return std::string(std::istreambuf_iterator<char>(in), {});
    }

    /// True once it answers; false if it exited first.
    bool waitReady()
    {
        for (int i = 0; i < 500; ++i) {
            timeval tv{0, 200000};
            redisContext *c = redisConnectWithTimeout("127.0.0.1", port_, tv);
            bool up = c && !c->err;
            if (up) {
                redisSetTimeout(c, tv);
                auto *r = static_cast<redisReply *>(redisCommand(c, "PING"));
                up = r != nullptr;  // PONG, or NOAUTH when the default user is off
                if (r)
                    freeReplyObject(r);
            }
            if (c)
                redisFree(c);
            if (up)
                return true;
            if (::kill(pid_, 0) != 0 || exited())
                return false;
            sleepMs(10);
        }
        FAIL("redis-server did not answer on port " << port_);
        return false;
    }

    bool exited()
    {
        // A zombie is still there for kill(0): look at its state instead.
        std::ifstream stat("/proc/" + std::to_string(pid_) + "/stat");
        std::string text((std::istreambuf_iterator<char>(stat)), {});
        auto paren = text.rfind(')');
        return paren == std::string::npos || text.substr(paren + 2, 1) == "Z";
    }

    TempDir dir_;
    std::vector<std::string> extra_;
    int port_;
    bool fixedPort_;
    pid_t pid_ = -1;
};

/// Starts an async store call on `loop` and turns it until the call completes.
inline StoreResult callStore(Loop &loop, const std::function<void(StoreDone)> &start,
                             int timeoutMs = 5000)
{
    uv_update_time(loop.get());  // the test may have slept with the loop idle
    auto result = std::make_shared<std::optional<StoreResult>>();
    start([result](const StoreResult &r) { *result = r; });
    REQUIRE_MESSAGE(loop.runUntil([&] { return result->has_value(); }, timeoutMs),
                    "the store did not call back within ", timeoutMs, " ms");
    return **result;
}

}  // namespace geopol::testing
