// http_server.cpp
#include "http_server.hpp"

#include <arpa/inet.h>
#include <civetweb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "tls.hpp"

namespace geopol::rest_admin {

namespace {

void initLibraryOnce()
{
    static std::once_flag once;
    // Never mg_exit_library(): other instances (a reload's) may still run.
    std::call_once(once, [] { mg_init_library(0); });
}

}  // namespace

std::unique_ptr<HttpServer> HttpServer::start(const ListenerSettings &settings, RequestSink &sink,
                                              std::string &error)
{
    if (settings.tls) {
        if (!mg_check_feature(2)) {
            error = "this civetweb was built without TLS; use tls: false behind a TLS proxy";
            return nullptr;
        }
        error = prepareCivetwebTls();
        if (!error.empty())
            return nullptr;
    }
    initLibraryOnce();
    std::unique_ptr<HttpServer> server(new HttpServer(settings, sink));

    std::string ports = settings.civetwebPorts();
    std::string threads = std::to_string(settings.threads);
    std::string timeout = std::to_string(settings.ioTimeoutMs);
    std::vector<const char *> options = {
        "listening_ports",
        ports.c_str(),
        "num_threads",
        threads.c_str(),
        "request_timeout_ms",
        timeout.c_str(),
        // One request per connection: an idle keep-alive client would hold
        // one of the few worker threads.
        "enable_keep_alive",
        "no",
        nullptr,
    };
    mg_callbacks callbacks{};
    callbacks.begin_request = &HttpServer::onBeginRequest;
    callbacks.log_message = &HttpServer::onLogMessage;
    if (settings.tls)
        callbacks.init_ssl = &HttpServer::onInitSsl;

    char text[512] = "";
    unsigned code = 0;
    mg_error_data err{&code, text, sizeof text};
    mg_init_data init{&callbacks, server.get(), options.data()};
    server->ctx_ = mg_start2(&init, &err);
    if (!server->ctx_) {
        error = "cannot listen on " + settings.url() + ": " +
                (!server->sslError_.empty() ? server->sslError_
                 : text[0]                  ? std::string(text)
                                            : std::string("civetweb refused to start"));
        return nullptr;
    }
    mg_server_port bound[4];
    int n = mg_get_server_ports(server->ctx_, 4, bound);
    server->port_ = n > 0 ? bound[0].port : settings.port;
    return server;
}

HttpServer::~HttpServer()
{
    if (!ctx_)
        return;
    // civetweb's accept loop polls its sockets with a 2 s timeout and only
    // then sees the stop flag; a connection to ourselves wakes it at once,
    // so geopold stops (and a reload swaps listeners) without that delay.
    std::atomic<bool> stopped{false};
    std::string address = settings_.address;
    if (address == "0.0.0.0")
        address = "127.0.0.1";
    else if (address == "::")
        address = "::1";
    int port = port_;
    std::thread waker([&stopped, address, port] {
        while (!stopped.load()) {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
            if (!stopped.load())
                touchPort(address, port);
        }
    });
    mg_stop(ctx_);
    stopped = true;
    waker.join();
}

int HttpServer::onBeginRequest(mg_connection *conn)
{
    auto *self = static_cast<HttpServer *>(mg_get_request_info(conn)->user_data);
    return self->sink_.onRequest(conn);
}

int HttpServer::onLogMessage(const mg_connection *conn, const char *message)
{
    const mg_context *ctx = conn ? mg_get_context(conn) : nullptr;
    auto *self = ctx ? static_cast<HttpServer *>(mg_get_user_data(ctx)) : nullptr;
    if (self)
        self->sink_.onServerMessage(message);
    return 1;  // handled: civetweb writes nothing itself
}

int HttpServer::onInitSsl(void *sslCtx, void *userData)
{
    auto *self = static_cast<HttpServer *>(userData);
    self->sslError_ =
        configureSslContext(sslCtx, self->settings_.certFile, self->settings_.keyFile);
    return self->sslError_.empty() ? 1 : -1;
}

namespace {

bool fillAddress(const std::string &address, int port, sockaddr_storage &ss, socklen_t &len,
                 int &family)
{
    ss = {};
    if (address.find(':') != std::string::npos) {
        auto *a = reinterpret_cast<sockaddr_in6 *>(&ss);
        a->sin6_family = family = AF_INET6;
        a->sin6_port = htons(static_cast<uint16_t>(port));
        len = sizeof *a;
        return inet_pton(AF_INET6, address.c_str(), &a->sin6_addr) == 1;
    }
    auto *a = reinterpret_cast<sockaddr_in *>(&ss);
    a->sin_family = family = AF_INET;
    a->sin_port = htons(static_cast<uint16_t>(port));
    len = sizeof *a;
    return inet_pton(AF_INET, address.c_str(), &a->sin_addr) == 1;
}

}  // namespace

void touchPort(const std::string &address, int port)
{
    sockaddr_storage ss;
    socklen_t len = 0;
    int family = AF_INET;
    if (!fillAddress(address, port, ss, len, family))
        return;
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    (void)connect(fd, reinterpret_cast<sockaddr *>(&ss), len);
    close(fd);
}

std::string probeBind(const std::string &address, int port)
{
    if (port == 0)
        return {};
    sockaddr_storage ss;
    socklen_t len = 0;
    int family = AF_INET;
    if (!fillAddress(address, port, ss, len, family))
        return "not an IP address: " + address;
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return std::string("socket: ") + std::strerror(errno);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    std::string error;
    if (bind(fd, reinterpret_cast<sockaddr *>(&ss), len) != 0)
        error = std::strerror(errno);
    close(fd);
    return error;
}

}  // namespace geopol::rest_admin
