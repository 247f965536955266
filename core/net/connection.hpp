// connection.hpp - one persistent Postfix policy connection.
//
// Reads requests, hands each to its RequestRun (which runs the chain), and
// writes the replies in order. While a request is in flight no further
// input is parsed, so pipelined requests are answered in the order they
// came. One timer serves two purposes, one at a time: the idle timeout
// between requests, and the read timeout while a request is half received
// (a client sending one byte a second cannot hold the connection). The
// request deadline belongs to the RequestRun.
#pragma once

#include <uv.h>

#include <memory>
#include <string>

#include "chain/request_run.hpp"
#include "protocol/policy_parser.hpp"

namespace geopol::core {

class Server;
struct ServerSettings;

class Connection : public std::enable_shared_from_this<Connection> {
public:
    Connection(Server &server, bool unixSocket);

    uv_stream_t *stream() { return reinterpret_cast<uv_stream_t *>(&handle_); }
    uv_handle_t *handle() { return reinterpret_cast<uv_handle_t *>(&handle_); }

    /// Begins reading; `peer` names the client in logs.
    void start(std::string peer);
    void close(const char *why);
    bool busy() const { return run_->busy(); }

private:
    enum class TimerMode { Off, Idle, Read };

    static void onAlloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
    static void onRead(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);
    static void onTimer(uv_timer_t *t);
    static void onWrite(uv_write_t *w, int status);
    static void onClosed(uv_handle_t *h);

    void processInput(std::string_view fresh = {});
    void requestFinished(std::string_view action);
    void flush();
    void armTimer();

    Server &server_;
    union {
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } handle_;
    uv_timer_t timer_;
    uv_write_t writeReq_;
    std::string peer_;
    std::shared_ptr<const ServerSettings> settings_;

    PolicyParser parser_;
    std::shared_ptr<RequestRun> run_;
    std::string pending_;  ///< received, not yet parsed
    size_t pendingOff_ = 0;
    bool parsing_ = false;  ///< inside processInput()
    std::string out_;       ///< replies waiting to be written
    std::string writing_;   ///< the buffer of the uv_write in progress
    bool writeBusy_ = false;
    bool readStopped_ = false;

    TimerMode timerMode_ = TimerMode::Off;
    uint64_t lastActivityMs_ = 0;
    bool closing_ = false;
    int openHandles_ = 2;
};

}  // namespace geopol::core
