// connection.cpp
#include "net/connection.hpp"

#include <algorithm>

#include "chain/chain.hpp"
#include "log/decision_log.hpp"
#include "log/logging.hpp"
#include "net/server.hpp"

namespace geopol::core {

namespace {

// A client that never reads its replies must not grow our memory.
constexpr size_t kMaxUnwritten = 1 << 20;

void asciiLower(std::string &s)
{
    for (char &c : s)
        if (c >= 'A' && c <= 'Z')
            c = static_cast<char>(c - 'A' + 'a');
}

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
}

void Connection::start(std::string peer)
{
    peer_ = std::move(peer);
    req_.coreBind(weak_from_this(), &peer_);
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
    req_.coreInvalidate();  // outstanding Resume tokens become no-ops
    inFlight_ = suspended_ = false;
    chain_.reset();
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
    c->pending_.append(buf->base, static_cast<size_t>(n));
    c->lastActivityMs_ = uv_now(c->server_.loop());
    if (c->inFlight_) {
        // Postfix waits for each reply; a client that keeps sending while a
        // request is in flight is bounded like any other request.
        if (c->pending_.size() - c->pendingOff_ > c->settings_->parser.maxRequestSize * 2) {
            uv_read_stop(s);
            c->readStopped_ = true;
        }
        return;
    }
    c->processInput();
}

void Connection::processInput()
{
    while (!closing_ && !inFlight_ && pendingOff_ < pending_.size()) {
        if (!parser_.inRequest()) {
            settings_ = server_.settings();  // a reload applies between requests
            parser_.setLimits(settings_->parser);
            req_.coreReset(server_.nextRequestId());
        }
        size_t used = 0;
        std::string_view data(pending_.data() + pendingOff_, pending_.size() - pendingOff_);
        PolicyParser::Result r = parser_.feed(data, used, req_);
        pendingOff_ += used;
        if (r == PolicyParser::Result::Error) {
            ++server_.stats().protocolErrors;
            uint64_t skipped = 0;
            if (server_.protocolErrorLog().allow(uv_now(server_.loop()), skipped))
                namedLogger("geopol")->warn(
                    "protocol error from {}: {}; connection dropped without a reply{}", peer_,
                    parser_.error(),
                    skipped ? " (" + std::to_string(skipped) + " similar errors not logged)"
                            : std::string());
            close("protocol error");
            return;
        }
        if (r == PolicyParser::Result::NeedMore)
            break;
        handleRequest();
    }
    if (closing_)
        return;
    if (pendingOff_ == pending_.size()) {
        pending_.clear();
        pendingOff_ = 0;
        if (pending_.capacity() > 16384)
            pending_.shrink_to_fit();  // idle connections hold no big buffers
    } else if (pendingOff_ > 0 && !inFlight_) {
        pending_.erase(0, pendingOff_);
        pendingOff_ = 0;
    }
    flush();
    armTimer();
}

// ---- one request ------------------------------------------------------------

void Connection::handleRequest()
{
    inFlight_ = true;
    startMs_ = uv_now(server_.loop());
    chain_ = server_.chain();
    ++server_.stats().requests;

    if (req_.attribute("request") != "smtpd_access_policy") {
        // Not a question we answer (or no request= at all): no opinion.
        req_.setReply("DUNNO");
        finishRequest();
        return;
    }
    Facts &f = req_.facts;
    f.identity.assign(req_.attribute(settings_->identity));
    f.account = f.identity;
    asciiLower(f.account);
    f.accountKnown = settings_->forceUserKnown;
    f.clientAddress.assign(req_.attribute("client_address"));
    if (auto ip = IpAddress::parse(f.clientAddress)) {
        f.client = *ip;
        f.clientValid = true;
        f.addressClass = ip->classify();
    }
    runChain(0);
}

Step Connection::callModule(size_t index)
{
    ChainModule *m = chain_->requestModules()[index];
    inCall_ = true;
    pendingResume_ = false;
    Step step;
    try {
        step = m->module->onRequest(req_);
    } catch (const std::exception &e) {
        req_.fail(std::string("onRequest() threw: ") + e.what());
        step = Step::Done;
    } catch (...) {
        req_.fail("onRequest() threw a non-standard exception");
        step = Step::Done;
    }
    inCall_ = false;
    if (step == Step::Suspend && pendingResume_) {
        // The module's backend answered before onRequest() returned.
        pendingResume_ = false;
        step = pendingStep_;
        if (step == Step::Suspend) {
            req_.fail("resumed with Step::Suspend");
            step = Step::Done;
        }
    }
    return step;
}

void Connection::runChain(size_t from)
{
    const auto &mods = chain_->requestModules();
    for (size_t i = from; i < mods.size(); ++i) {
        index_ = i;
        Step step = callModule(i);
        if (step == Step::Suspend) {
            suspended_ = true;
            armTimer();
            return;
        }
        if (step == Step::Done || req_.failed())
            break;
    }
    finishRequest();
}

Request *Connection::live(uint64_t serial)
{
    if (closing_ || !inFlight_ || serial != req_.coreSuspendSerial())
        return nullptr;
    return &req_;
}

void Connection::resume(uint64_t serial, Step step)
{
    if (!live(serial))
        return;  // timed out, finished or disconnected: a counted no-op
    if (inCall_) {
        pendingResume_ = true;
        pendingStep_ = step;
        return;
    }
    if (!suspended_)
        return;
    suspended_ = false;
    req_.coreInvalidate();  // one resume per suspension
    continueAfter(step);
    processInput();
}

void Connection::continueAfter(Step step)
{
    if (step == Step::Suspend) {
        req_.fail("resumed with Step::Suspend");
        step = Step::Done;
    }
    if (step == Step::Done || req_.failed())
        finishRequest();
    else
        runChain(index_ + 1);
}

const std::string &Connection::failureActionOf(size_t index) const
{
    const auto &mods = chain_->requestModules();
    if (index < mods.size())
        return mods[index]->failureAction;
    return settings_->failureAction;
}

void Connection::finishRequest()
{
    std::string_view action;
    ServerStats &stats = server_.stats();
    if (req_.failed()) {
        action = failureActionOf(index_);
        ++stats.failures;
        uint64_t skipped = 0;
        if (server_.failureLog().allow(uv_now(server_.loop()), skipped)) {
            const auto &mods = chain_->requestModules();
            namedLogger("geopol")->warn(
                "request {} from {}: module {} failed: {}; answered '{}'{}", req_.id(), peer_,
                index_ < mods.size() ? mods[index_]->name : "-", req_.failure(), action,
                skipped ? " (" + std::to_string(skipped) + " similar failures not logged)"
                        : std::string());
        }
    } else if (req_.reply().empty()) {
        action = "DUNNO";
    } else if (!validActionText(req_.reply())) {
        namedLogger("geopol")->error(
            "request {}: a module set an invalid reply (not one line of "
            "UTF-8); answered with the failure action",
            req_.id());
        ++stats.failures;
        action = failureActionOf(index_);
    } else {
        action = req_.reply();
    }

    if (action.compare(0, 5, "DUNNO") == 0)
        ++stats.dunno;
    else if (action.compare(0, 6, "REJECT") == 0)
        ++stats.reject;
    else if (action.compare(0, 5, "DEFER") == 0)
        ++stats.defer;
    else if (action.compare(0, 4, "INFO") == 0)
        ++stats.info;
    else
        ++stats.other;

    out_ += "action=";
    out_ += action;
    out_ += "\n\n";

    auto decision = namedLogger("decision");
    if (decision->should_log(spdlog::level::info) && !req_.facts.account.empty())
        logDecision(*decision, settings_->logJson, settings_->identity, req_, action);

    req_.coreInvalidate();
    inFlight_ = false;
    suspended_ = false;
    chain_.reset();
    if (server_.shuttingDown() && pendingOff_ >= pending_.size()) {
        flush();
        if (!writeBusy_)
            close("shutting down");
        return;
    }
    if (timerMode_ == TimerMode::Read)
        timerMode_ = TimerMode::Off;  // the next request gets its own read timeout
    if (readStopped_) {
        readStopped_ = false;  // backpressure is over
        uv_read_start(stream(), onAlloc, onRead);
    }
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
    if (!c->writeBusy_ && c->server_.shuttingDown() && !c->inFlight_)
        c->close("shutting down");
}

// ---- timers ---------------------------------------------------------------------

void Connection::armTimer()
{
    if (closing_)
        return;
    uint64_t now = uv_now(server_.loop());
    if (inFlight_ && suspended_) {
        int64_t left = settings_->requestTimeoutMs - static_cast<int64_t>(now - startMs_);
        timerMode_ = TimerMode::Deadline;
        uv_timer_start(&timer_, onTimer, static_cast<uint64_t>(std::max<int64_t>(left, 0)), 0);
    } else if (inFlight_) {
        return;  // running synchronously; nothing to time
    } else if (parser_.inRequest()) {
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
    switch (c->timerMode_) {
        case TimerMode::Deadline: {
            if (!c->inFlight_ || !c->suspended_)
                break;
            const auto &mods = c->chain_->requestModules();
            std::string who = c->index_ < mods.size() ? mods[c->index_]->name : "-";
            c->req_.coreInvalidate();  // a late completion is ignored
            c->suspended_ = false;
            ++c->server_.stats().timeouts;
            c->req_.fail("no answer within " + std::to_string(c->settings_->requestTimeoutMs) +
                         " ms (server.request-timeout) from module " + who);
            c->timerMode_ = TimerMode::Off;
            c->finishRequest();
            c->processInput();
            return;
        }
        case TimerMode::Read:
            c->close("request not completed within server.read-timeout");
            return;
        case TimerMode::Idle: {
            uint64_t idle = now - c->lastActivityMs_;
            auto limit = static_cast<uint64_t>(c->settings_->idleTimeoutMs);
            if (c->inFlight_ || c->parser_.inRequest())
                break;
            if (idle >= limit) {
                c->close("idle timeout");
                return;
            }
            uv_timer_start(&c->timer_, onTimer, limit - idle, 0);
            return;
        }
        case TimerMode::Off:
            break;
    }
    c->timerMode_ = TimerMode::Off;
    c->armTimer();
}

}  // namespace geopol::core
