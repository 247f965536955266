// http_server.hpp - one running civetweb server.
//
// civetweb accepts connections and runs each request on one of its own
// worker threads; it calls RequestSink::onRequest() there. Nothing here
// touches the event loop.
#pragma once

#include <memory>
#include <string>

#include "settings.hpp"

struct mg_context;
struct mg_connection;

namespace geopol::rest_admin {

class RequestSink {
public:
    virtual ~RequestSink() = default;
    /// Answers one request completely; returns the HTTP status sent.
    virtual int onRequest(mg_connection *conn) = 0;
    /// civetweb's own error messages (TLS handshake failures, ...).
    virtual void onServerMessage(const char *message) = 0;
};

class HttpServer {
public:
    /// Binds and starts the worker threads; nullptr and `error` on failure.
    static std::unique_ptr<HttpServer> start(const ListenerSettings &settings, RequestSink &sink,
                                             std::string &error);
    /// Stops accepting and waits for the workers to finish their requests.
    ~HttpServer();

    HttpServer(const HttpServer &) = delete;
    HttpServer &operator=(const HttpServer &) = delete;

    const ListenerSettings &settings() const { return settings_; }
    /// The port actually bound (settings().port may be 0).
    int port() const { return port_; }

private:
    HttpServer(ListenerSettings settings, RequestSink &sink)
        : settings_(std::move(settings)), sink_(sink)
    {
    }

    static int onBeginRequest(mg_connection *conn);
    static int onLogMessage(const mg_connection *conn, const char *message);
    static int onInitSsl(void *sslCtx, void *userData);

    ListenerSettings settings_;
    RequestSink &sink_;
    mg_context *ctx_ = nullptr;
    int port_ = 0;
    std::string sslError_;  // set by onInitSsl, read after mg_start2 returned
};

/// Connects to `address`:`port` and hangs up (wakes civetweb's accept loop).
void touchPort(const std::string &address, int port);

/// Binds `address`:`port` once and lets go: catches a busy or foreign
/// address before a reload that moves the listener is accepted. "" if free.
std::string probeBind(const std::string &address, int port);

}  // namespace geopol::rest_admin
