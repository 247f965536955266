// fakes.hpp - the ldap-alias unit tests' host (a real libuv loop of its own,
// a logger that writes into a string) and a loopback port; the config section
// and the loop are the modules' common ones (tests/support/module_fakes.hpp).
#pragma once

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <functional>
#include <string>

#include "tests/support/module_fakes.hpp"

namespace geopol::ldap_alias::test {

using testing::FakeConfig;

/// A host on a loop of its own, logging at every level: the module's worker
/// threads hand their answers back to that loop.
class FakeHost : public testing::FakeHost {
public:
    FakeHost() : testing::FakeHost(nullptr, spdlog::level::trace) { useLoop(loop_.get()); }

    /// Turns the loop until `done()` or `limitMs` passed; true if done.
    bool runUntil(const std::function<bool()> &done, int64_t limitMs = 5000)
    {
        return loop_.runUntil(done, limitMs);
    }
    std::string log() const { return logText(); }

private:
    testing::Loop loop_;  // closed before the logger the module logs to
};

// A loopback TCP socket. listening: accepts connections into its backlog and
// never answers (a frozen server); otherwise closed again (connection refused).
struct LocalPort {
    int fd = -1;
    int port = 0;

    explicit LocalPort(bool listening)
    {
        fd = ::socket(AF_INET, SOCK_STREAM, 0);
        REQUIRE(fd >= 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::bind(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) == 0);
        socklen_t len = sizeof a;
        REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr *>(&a), &len) == 0);
        port = ntohs(a.sin_port);
        if (listening) {
            REQUIRE(::listen(fd, 64) == 0);
        } else {
            ::close(fd);
            fd = -1;
        }
    }
    ~LocalPort()
    {
        if (fd >= 0)
            ::close(fd);
    }
    std::string uri() const { return "ldap://127.0.0.1:" + std::to_string(port) + "/"; }
};

}  // namespace geopol::ldap_alias::test
