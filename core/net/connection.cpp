// connection.cpp
#include "net/connection.hpp"

#include "log/logging.hpp"
#include "net/server.hpp"

namespace geopol::core {

namespace {

// A client that never reads its replies must not grow our memory.
constexpr size_t kMaxUnwritten = 1 << 20;

}  // namespace

Connection::Connection(Server &server, bool unixSocket) : server_(server)
{
    if (unixSocket)
        uv_pipe_init(server.loop(), &handle_.pipe, 0);
    else
        uv_tcp_init(server.loop(), &handle_.tcp);
    handle()->data = this;
    uv_timer_init(server.loop(), &timer_);
    timer_.data = this;
    writeReq_.data = this;
    settings_ = server.settings();
    parser_.setLimits(settings_->parser);
    run_ = std::make_shared<RequestRun>(server.loop(), server.stats(), server.failureLog(),
                                        [this](std::string_view a) { requestFinished(a); });
}

void Connection::start(std::string peer)
{
    peer_ = std::move(peer);
    run_->request().coreBind(run_, &peer_);
    lastActivityMs_ = uv_now(server_.loop());
    armTimer();
    int rc = uv_read_start(stream(), onAlloc, onRead);
    if (rc != 0)
        close(uv_strerror(rc));
}

void Connection::close(const char *why)
{
    if (closing_)
        return;
    closing_ = true;
    if (why)
        namedLogger("geopol")->debug("connection {} closed: {}", peer_, why);
    run_->close();  // a request in flight is abandoned; its module's late answer is ignored
    uv_read_stop(stream());
    uv_close(handle(), onClosed);
    uv_close(reinterpret_cast<uv_handle_t *>(&timer_), onClosed);
}

void Connection::onClosed(uv_handle_t *h)
{
    Connection *c = static_cast<Connection *>(h->data);
    if (--c->openHandles_ == 0)
        c->server_.connectionClosed(c);  // destroys c
}

// ---- reading ------------------------------------------------------------------

void Connection::onAlloc(uv_handle_t *h, size_t, uv_buf_t *buf)
{
    // One buffer per loop: the read callback copies what it keeps.
    auto &b = static_cast<Connection *>(h->data)->server_.readBuffer();
    *buf = uv_buf_init(b.data(), static_cast<unsigned>(b.size()));
}

void Connection::onRead(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    Connection *c = static_cast<Connection *>(s->data);
    if (n < 0) {
        if (n != UV_EOF)
            c->close(uv_strerror(static_cast<int>(n)));
        else
            c->close(c->parser_.inRequest() ? "EOF inside a request (dropped)" : "EOF");
        return;
    }
    if (n == 0 || c->closing_)
        return;
    std::string_view fresh(buf->base, static_cast<size_t>(n));
    c->lastActivityMs_ = uv_now(c->server_.loop());
    if (c->run_->busy()) {
        c->pending_.append(fresh);
        // Postfix waits for each reply; a client that keeps sending while a
        // request is in flight is bounded like any other request.
        if (c->pending_.size() - c->pendingOff_ > c->settings_->parser.maxRequestSize * 2) {
            uv_read_stop(s);
            c->readStopped_ = true;
        }
        return;
    }
    if (c->pendingOff_ < c->pending_.size()) {
        c->pending_.append(fresh);  // the rest of a line or request read earlier
        c->processInput();
    } else {
        c->processInput(fresh);  // the usual case: whole requests, parsed in place
    }
}

void Connection::processInput(std::string_view fresh)
{
    // The bytes come from `fresh` (the loop's shared read buffer, when
    // nothing was pending: no copy) or else from pending_. The parser copies
    // what a request keeps, so only bytes it has not consumed yet (a partial
    // line, or requests pipelined behind one in flight) are saved.
    bool direct = !fresh.empty();
    auto input = [&]() -> std::string_view {
        return direct ? fresh : std::string_view(pending_).substr(pendingOff_);
    };
    parsing_ = true;
    Request &req = run_->request();
    while (!closing_ && !run_->busy() && !input().empty()) {
        if (!parser_.inRequest()) {
            settings_ = server_.settings();  // a reload applies between requests
            parser_.setLimits(settings_->parser);
            req.coreReset(server_.nextRequestId());
        }
        size_t used = 0;
        PolicyParser::Result r = parser_.feed(input(), used, req);
        if (direct)
            fresh.remove_prefix(used);
        else
            pendingOff_ += used;
        if (r == PolicyParser::Result::Error) {
            server_.stats().protocolErrors.bump();
            uint64_t skipped = 0;
            if (server_.protocolErrorLog().allow(uv_now(server_.loop()), skipped))
                namedLogger("geopol")->warn(
                    "protocol error from {}: {}; connection dropped without a reply{}", peer_,
                    parser_.error(),
                    skipped ? " (" + std::to_string(skipped) + " similar errors not logged)"
                            : std::string());
            parsing_ = false;
            close("protocol error");
            return;
        }
        if (r == PolicyParser::Result::NeedMore)
            break;
        run_->begin(server_.chain(), settings_);  // may answer before it returns
    }
    if (direct && !fresh.empty() && !closing_)
        pending_.append(fresh);  // pending_ was empty: the read buffer is reused next read
    parsing_ = false;
    if (closing_)
        return;
    if (pendingOff_ == pending_.size()) {
        pending_.clear();
        pendingOff_ = 0;
        if (pending_.capacity() > 16384)
            pending_.shrink_to_fit();  // idle connections hold no big buffers
    } else if (pendingOff_ > 0 && !run_->busy()) {
        pending_.erase(0, pendingOff_);
        pendingOff_ = 0;
    }
    flush();
    if (server_.shuttingDown() && !run_->busy() && !writeBusy_) {
        close("shutting down");
        return;
    }
    armTimer();
}

void Connection::requestFinished(std::string_view action)
{
    out_ += "action=";
    out_ += action;
    out_ += "\n\n";
    if (timerMode_ == TimerMode::Read)
        timerMode_ = TimerMode::Off;  // the next request gets its own read timeout
    if (readStopped_) {
        readStopped_ = false;  // backpressure is over
        uv_read_start(stream(), onAlloc, onRead);
    }
    // Synchronous answers are collected by the parsing loop and written in
    // one go; an asynchronous one continues the input here.
    if (!parsing_)
        processInput();
}

// ---- writing ------------------------------------------------------------------

void Connection::flush()
{
    if (out_.empty() || writeBusy_ || closing_)
        return;
    uv_buf_t b = uv_buf_init(out_.data(), static_cast<unsigned>(out_.size()));
    int n = uv_try_write(stream(), &b, 1);
    if (n == static_cast<int>(out_.size())) {
        out_.clear();
        return;
    }
    if (n < 0 && n != UV_EAGAIN) {
        close(uv_strerror(n));
        return;
    }
    size_t done = n > 0 ? static_cast<size_t>(n) : 0;
    writing_.assign(out_, done);
    out_.clear();
    writeBusy_ = true;
    uv_buf_t wb = uv_buf_init(writing_.data(), static_cast<unsigned>(writing_.size()));
    int rc = uv_write(&writeReq_, stream(), &wb, 1, onWrite);
    if (rc != 0) {
        writeBusy_ = false;
        close(uv_strerror(rc));
    }
}

void Connection::onWrite(uv_write_t *w, int status)
{
    Connection *c = static_cast<Connection *>(w->data);
    c->writeBusy_ = false;
    if (status < 0) {
        c->close(uv_strerror(status));
        return;
    }
    if (c->out_.size() > kMaxUnwritten) {
        c->close("client does not read its replies");
        return;
    }
    c->flush();
    if (!c->writeBusy_ && c->server_.shuttingDown() && !c->run_->busy())
        c->close("shutting down");
}

// ---- timers ---------------------------------------------------------------------

void Connection::armTimer()
{
    if (closing_ || run_->busy())
        return;  // the request's deadline is the run's
    if (parser_.inRequest()) {
        if (timerMode_ != TimerMode::Read) {  // not re-armed per byte: slow clients time out
            timerMode_ = TimerMode::Read;
            uv_timer_start(&timer_, onTimer, static_cast<uint64_t>(settings_->readTimeoutMs), 0);
        }
    } else if (timerMode_ != TimerMode::Idle) {
        // Idle expiry is checked lazily against lastActivityMs_, so a busy
        // connection does not restart a timer for every request.
        timerMode_ = TimerMode::Idle;
        uv_timer_start(&timer_, onTimer, static_cast<uint64_t>(settings_->idleTimeoutMs), 0);
    }
}

void Connection::onTimer(uv_timer_t *t)
{
    Connection *c = static_cast<Connection *>(t->data);
    uint64_t now = uv_now(c->server_.loop());
    if (c->timerMode_ == TimerMode::Read && !c->run_->busy()) {
        // A client that starts a request and trickles it (or stops) must not
        // hold a connection forever: counted and logged, then dropped.
        c->server_.stats().slowClients.bump();
        uint64_t skipped = 0;
        if (c->server_.slowClientLog().allow(now, skipped))
            namedLogger("geopol")->warn(
                "slow client {}: request not complete within server.read-timeout ({} ms); "
                "connection dropped{}",
                c->peer_, c->settings_->readTimeoutMs,
                skipped ? " (" + std::to_string(skipped) + " more not logged)" : std::string());
        c->close("request not completed within server.read-timeout");
        return;
    }
    if (c->timerMode_ == TimerMode::Idle) {
        uint64_t idle = now - c->lastActivityMs_;
        auto limit = static_cast<uint64_t>(c->settings_->idleTimeoutMs);
        if (!c->run_->busy() && !c->parser_.inRequest()) {
            if (idle >= limit) {
                c->close("idle timeout");
                return;
            }
            uv_timer_start(&c->timer_, onTimer, limit - idle, 0);
            return;
        }
    }
    c->timerMode_ = TimerMode::Off;
    c->armTimer();
}

}  // namespace geopol::core
