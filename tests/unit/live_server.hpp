// live_server.hpp - runs the real core (chain + server) on a loop thread,
// listening on a free loopback port, for tests that speak the protocol.
#pragma once

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <future>
#include <string>
#include <thread>

#include "chain/chain.hpp"
#include "net/server.hpp"

namespace geopol::test {

class LiveServer {
public:
    explicit LiveServer(const std::string &yaml)
    {
        uv_loop_init(&loop_);
        auto tree = core::ConfigTree::fromText(yaml, "test.yaml", ".");
        core::SectionView sv(tree, "server", tree.section("server"));
        auto settings = std::make_shared<core::ServerSettings>(core::readServerSettings(sv));
        settings->listen = {"inet:127.0.0.1:0"};
        REQUIRE(sv.errors().empty());
        std::vector<std::string> errors;
        core::ModuleLoader loader(GEOPOL_TEST_MODULE_DIR);
        auto chain = core::Chain::build(tree, loader, &loop_, settings->failureAction, errors);
        REQUIRE_MESSAGE(chain, (errors.empty() ? std::string() : errors.front()));
        REQUIRE(chain->start(errors));
        server_ = std::make_unique<core::Server>(&loop_);
        server_->update(settings, core::shareChain(&loop_, std::move(chain)));
        REQUIRE(server_->listen(*settings, errors));
        port_ = std::stoi(server_->bound().front().substr(server_->bound().front().rfind(':') + 1));
        uv_async_init(&loop_, &stop_, [](uv_async_t *a) {
            auto *self = static_cast<LiveServer *>(a->data);
            self->server_->update(self->server_->settings(), nullptr);
            self->server_->shutdown(nullptr);
            self->server_->closeAll();
            uv_close(reinterpret_cast<uv_handle_t *>(a), nullptr);
        });
        stop_.data = this;
        thread_ = std::thread([this] { uv_run(&loop_, UV_RUN_DEFAULT); });
    }

    ~LiveServer()
    {
        uv_async_send(&stop_);
        thread_.join();
        server_.reset();
        uv_loop_close(&loop_);
    }

    /// Counters, read after the loop stopped or racily for tests that allow it.
    const core::ServerStats &stats() const { return server_->stats(); }

    int connect() const
    {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(static_cast<uint16_t>(port_));
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::connect(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) == 0);
        timeval tv{5, 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        return fd;
    }

private:
    uv_loop_t loop_;
    uv_async_t stop_;
    std::unique_ptr<core::Server> server_;
    std::thread thread_;
    int port_ = 0;
};

inline void sendAll(int fd, const std::string &s)
{
    REQUIRE(::send(fd, s.data(), s.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(s.size()));
}

/// Reads `n` replies ("action=...\n\n"), returning the action texts; stops
/// early at EOF or after the socket's receive timeout.
inline std::vector<std::string> readReplies(int fd, size_t n)
{
    std::vector<std::string> out;
    std::string buf;
    char tmp[4096];
    while (out.size() < n) {
        size_t end;
        while ((end = buf.find("\n\n")) != std::string::npos && out.size() < n) {
            std::string line = buf.substr(0, end);
            out.push_back(line.rfind("action=", 0) == 0 ? line.substr(7) : "MALFORMED:" + line);
            buf.erase(0, end + 2);
        }
        if (out.size() == n)
            break;
        ssize_t r = recv(fd, tmp, sizeof tmp, 0);
        if (r <= 0)
            break;
        buf.append(tmp, static_cast<size_t>(r));
    }
    return out;
}

inline std::string request(const std::string &extra = "")
{
    return "request=smtpd_access_policy\nsender=a@example.com\nclient_address=8.8.8.8\n" + extra +
           "\n";
}

}  // namespace geopol::test
