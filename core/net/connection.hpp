// connection.hpp - one persistent Postfix policy connection.
//
// Reads requests, runs each through the chain (possibly suspended by an
// asynchronous module), and writes the replies in order. While a request is
// in flight no further input is parsed, so pipelined requests are answered
// in the order they came. One timer serves three purposes, one at a time:
// the idle timeout between requests, the read timeout while a request is
// half received (a client sending one byte a second cannot hold it), and
// the request deadline while a module has it suspended.
#pragma once

#include <uv.h>

#include <memory>
#include <string>

#include "geopol/request.hpp"
#include "protocol/policy_parser.hpp"

namespace geopol::core {

class Chain;
class Server;
struct ServerSettings;

class Connection : public ResumeTarget, public std::enable_shared_from_this<Connection> {
public:
    Connection(Server &server, bool unixSocket);
    ~Connection() override = default;

    uv_stream_t *stream() { return reinterpret_cast<uv_stream_t *>(&handle_); }
    uv_handle_t *handle() { return reinterpret_cast<uv_handle_t *>(&handle_); }

    /// Begins reading; `peer` names the client in logs.
    void start(std::string peer);
    void close(const char *why);
    bool busy() const { return inFlight_; }

    Request *live(uint64_t serial) override;
    void resume(uint64_t serial, Step step) override;

private:
    enum class TimerMode { Off, Idle, Read, Deadline };

    static void onAlloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
    static void onRead(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);
    static void onTimer(uv_timer_t *t);
    static void onWrite(uv_write_t *w, int status);
    static void onClosed(uv_handle_t *h);

    void processInput();
    void handleRequest();
    void runChain(size_t from);
    Step callModule(size_t index);
    void continueAfter(Step step);
    void finishRequest();
    void flush();
    void armTimer();
    const std::string &failureActionOf(size_t index) const;

    Server &server_;
    union {
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } handle_;
    uv_timer_t timer_;
    uv_write_t writeReq_;
    std::string peer_;

    PolicyParser parser_;
    Request req_;
    std::string pending_;  ///< received, not yet parsed
    size_t pendingOff_ = 0;
    std::string out_;      ///< replies waiting to be written
    std::string writing_;  ///< the buffer of the uv_write in progress
    bool writeBusy_ = false;
    bool readStopped_ = false;

    // The request in flight.
    std::shared_ptr<Chain> chain_;
    std::shared_ptr<const ServerSettings> settings_;
    bool inFlight_ = false;
    bool suspended_ = false;
    bool inCall_ = false;         ///< inside a module's onRequest()
    bool pendingResume_ = false;  ///< resumed before onRequest() returned
    Step pendingStep_ = Step::Continue;
    size_t index_ = 0;  ///< module being run
    uint64_t startMs_ = 0;

    TimerMode timerMode_ = TimerMode::Off;
    uint64_t lastActivityMs_ = 0;
    bool closing_ = false;
    int openHandles_ = 2;
};

}  // namespace geopol::core
