// connection_test.cpp - LdapConnection against servers that refuse or never
// answer: every step ends by the deadline, and the TLS handshake, which
// libldap does not time out, ends when the pool shuts the socket down.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "fakes.hpp"
#include "ldap_connection.hpp"

using namespace geopol::ldap_alias;
using geopol::ldap_alias::test::LocalPort;
using Ms = std::chrono::milliseconds;

namespace {

ServerUri uriFor(const LocalPort &p, UriKind kind)
{
    ServerUri u;
    u.kind = kind;
    u.uri = std::string(kind == UriKind::Ldaps ? "ldaps" : "ldap") +
            "://127.0.0.1:" + std::to_string(p.port) + "/";
    return u;
}

struct Outcome {
    bool ok;
    bool timedOut;
    std::string error;
    Clock::duration took;
};

Outcome openWith(LdapConnection &c, const ServerUri &u, Ms budget)
{
    Outcome o{};
    auto t0 = Clock::now();
    o.ok = c.open(u, t0 + budget, o.error, o.timedOut);
    o.took = Clock::now() - t0;
    return o;
}

}  // namespace

TEST_CASE("a refused connection fails at once, not as a timeout")
{
    LocalPort refused(false);
    Settings s;
    LdapConnection c(s);
    Outcome o = openWith(c, uriFor(refused, UriKind::Ldap), Ms(2000));
    CHECK_FALSE(o.ok);
    CHECK_FALSE(o.timedOut);
    CHECK(o.took < Ms(500));
    CHECK(o.error.find("connect: Can't contact LDAP server") != std::string::npos);
    CHECK_FALSE(c.isOpen());
    SearchResult r = c.search("(uid=x)", Clock::now() + Ms(100));
    CHECK(r.status == SearchResult::Status::ConnectionLost);
}

TEST_CASE("StartTLS and bind against a silent server end at the deadline")
{
    LocalPort silent(true);
    {
        Settings s;
        s.startTls = true;
        LdapConnection c(s);
        Outcome o = openWith(c, uriFor(silent, UriKind::Ldap), Ms(300));
        CHECK_FALSE(o.ok);
        CHECK(o.timedOut);
        CHECK(o.took >= Ms(290));
        CHECK(o.took < Ms(1000));
        CHECK(o.error.find("StartTLS") != std::string::npos);
    }
    {
        Settings s;
        s.bindDn = "cn=reader,dc=example,dc=com";
        s.bindPassword = "secret";
        LdapConnection c(s);
        Outcome o = openWith(c, uriFor(silent, UriKind::Ldap), Ms(300));
        CHECK_FALSE(o.ok);
        CHECK(o.timedOut);
        CHECK(o.took < Ms(1000));
        CHECK(o.error.find("bind") != std::string::npos);
    }
}

TEST_CASE("a search on a silent server ends at the deadline")
{
    LocalPort silent(true);
    Settings s;  // anonymous: open() only connects
    LdapConnection c(s);
    Outcome o = openWith(c, uriFor(silent, UriKind::Ldap), Ms(300));
    REQUIRE_MESSAGE(o.ok, o.error);
    auto t0 = Clock::now();
    SearchResult r = c.search("(mailAlias=a@example.com)", t0 + Ms(300));
    CHECK(r.status == SearchResult::Status::TimedOut);
    CHECK(Clock::now() - t0 < Ms(1000));
}

TEST_CASE("the ldaps:// handshake with a silent server ends when the socket is shut down")
{
    // libldap 2.5 waits for the handshake without a limit; the pool's hard
    // stop is what ends it. The hook sees the socket before the handshake.
    LocalPort silent(true);
    std::atomic<int> published{-1};
    Settings s;
    LdapConnection c(s, [&](int fd) { published = ::fcntl(fd, F_DUPFD_CLOEXEC, 0); });
    std::thread stopper([&] {
        auto until = Clock::now() + Ms(5000);
        while (published.load() < 0 && Clock::now() < until)
            std::this_thread::sleep_for(Ms(5));
        std::this_thread::sleep_for(Ms(200));
        if (published.load() >= 0)
            ::shutdown(published.load(), SHUT_RDWR);
    });
    Outcome o = openWith(c, uriFor(silent, UriKind::Ldaps), Ms(300));
    stopper.join();
    CHECK(published.load() >= 0);
    CHECK_FALSE(o.ok);
    CHECK(o.took < Ms(2000));
    CHECK(o.error.find("connect (TLS)") != std::string::npos);
    if (published.load() >= 0)
        ::close(published.load());
}
