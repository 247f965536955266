// link.cpp - Link: connecting, the handshake, sending, deadlines, reconnects.
#include "link.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <limits>

#include "reply.hpp"
#include "scripts.hpp"
#include "uv_adapter.hpp"

namespace geopol::redis_store {

namespace {

constexpr size_t kMaxArgs = 12;
// A connection that worked this long earns an immediate reconnect when it
// breaks; one that breaks sooner backs off, so a server that accepts and then
// drops every connection is not hammered.
constexpr uint64_t kStableMs = 1000;

std::string contextError(const redisAsyncContext *ac, std::string_view fallback)
{
    if (ac && ac->c.err && ac->c.errstr[0])
        return ac->c.errstr;
    return std::string(fallback);
}

ScriptId scriptOf(Op op)
{
    switch (op) {
        case Op::Block:
            return ScriptId::Block;
        case Op::Inspect:
            return ScriptId::Inspect;
        default:
            return ScriptId::Record;
    }
}

}  // namespace

Link::Link(uv_loop_t *loop, std::shared_ptr<spdlog::logger> log, LinkOptions options,
           Locator locator, std::function<void()> onClosed)
    : loop_(loop),
      log_(std::move(log)),
      options_(std::move(options)),
      locator_(std::move(locator)),
      onClosed_(std::move(onClosed)),
      backoff_(100, options_.backoffMaxMs),
      timer_(new uv_timer_t)
{
    uv_timer_init(loop_, timer_);
    timer_->data = this;
}

Link::~Link()
{
    // close() ran (the store never deletes a link before); nothing is left.
}

uint64_t Link::now() const
{
    return uv_now(loop_);
}

std::string Link::where() const
{
    if (endpoint_.host.empty())
        return options_.role;
    return options_.role + " " + endpoint_.text();
}

std::string Link::downReason() const
{
    uint64_t t = now();
    double in = retryAt_ > t ? static_cast<double>(retryAt_ - t) / 1000.0 : 0.0;
    return fmt::format("{} unreachable ({}); next attempt in {:.1f} s", where(), lastError_, in);
}

void Link::subscribe(std::string channel, std::function<void(std::string_view)> onMessage)
{
    channel_ = std::move(channel);
    onMessage_ = std::move(onMessage);
}

void Link::start()
{
    // The first attempt starts when the loop runs, not now: other modules
    // may still take their time starting, and the connect-timeout should
    // not run out before anything could happen.
    if (state_ == State::Idle) {
        state_ = State::Reconnecting;
        arm();
    }
}

// ---- connecting -------------------------------------------------------------

void Link::attempt()
{
    state_ = State::Locating;
    fatal_.clear();
    const uint64_t generation = ++generation_;
    attemptDeadline_ = now() + options_.connectTimeoutMs;
    arm();
    locator_([this, generation](bool ok, const Endpoint &where, const std::string &error) {
        onLocated(generation, ok, where, error);
    });
}

void Link::onLocated(uint64_t generation, bool ok, const Endpoint &where, const std::string &error)
{
    if (generation != generation_ || state_ != State::Locating)
        return;  // the attempt timed out, or the link was closed, meanwhile
    if (!ok) {
        drop(false, error, Retry::Backoff);
        return;
    }
    connectTo(where);
}

void Link::connectTo(const Endpoint &where)
{
    endpoint_ = where;
    log_->debug("redis-store.connecting {}", this->where());
    // A numeric address or a socket path: hiredis' own getaddrinfo() then
    // cannot block the loop on DNS (the Locator resolved names already).
    redisAsyncContext *ac = where.unixSocket ? redisAsyncConnectUnix(where.host.c_str())
                                             : redisAsyncConnect(where.host.c_str(), where.port);
    if (!ac) {
        drop(false, "out of memory", Retry::Backoff);
        return;
    }
    if (ac->err) {
        std::string error = contextError(ac, "connect failed");
        redisAsyncFree(ac);
        drop(false, error, Retry::Backoff);
        return;
    }
    if (attachToLoop(ac, loop_) != REDIS_OK) {
        redisAsyncFree(ac);
        drop(false, "cannot watch the socket on the loop", Retry::Backoff);
        return;
    }
    ac->data = this;
    if (!where.unixSocket)
        redisEnableKeepAlive(&ac->c);  // notices a peer that vanished while idle
    redisAsyncSetConnectCallback(ac, &Link::onConnectCb);
    redisAsyncSetDisconnectCallback(ac, &Link::onDisconnectCb);
    ac_ = ac;
    state_ = State::Connecting;
    // Queued now, written by hiredis as soon as the socket is connected.
    sendHandshake();
}

void Link::handshakeCall(std::vector<std::string> args, CallDone onReply)
{
    if (!ac_)
        return;  // an earlier step of this handshake already ended the connection
    auto *cmd = new Command;
    cmd->op = Op::Call;
    cmd->handshake = true;
    cmd->args = std::move(args);
    cmd->onReply = std::move(onReply);
    cmd->deadline = attemptDeadline_;
    if (!send(cmd))
        delete cmd;
}

void Link::sendHandshake()
{
    // Each step's callback runs only while this connection is current: a
    // dropped connection deletes its handshake commands without calling them.
    if (!options_.username.empty() || !options_.password.empty()) {
        std::vector<std::string> auth = {"AUTH"};
        if (!options_.username.empty())
            auth.push_back(options_.username);
        auth.push_back(options_.password);
        handshakeCall(std::move(auth), [this](const redisReply *r, const std::string &) {
            if (r && r->type == REDIS_REPLY_ERROR) {
                fatal_ = "AUTH refused: " + describe(r);
                drop(true, fatal_, Retry::Backoff);
            }
        });
    }
    if (options_.database != 0)
        handshakeCall({"SELECT", std::to_string(options_.database)}, [this](const redisReply *r,
                                                                            const std::string &) {
            if (r && r->type == REDIS_REPLY_ERROR) {
                fatal_ = fmt::format("SELECT {} refused: {}", options_.database, describe(r));
                drop(true, fatal_, Retry::Backoff);
            }
        });
    if (options_.requireMaster)
        handshakeCall({"ROLE"}, [this](const redisReply *r, const std::string &) {
            // An error (ROLE not allowed to this ACL user, a proxy) proves
            // nothing: READONLY replies still catch a replica later.
            std::string_view role = roleOf(r);
            if (!role.empty() && role != "master") {
                fatal_ = fmt::format("the server is a {}, not the master", role);
                drop(true, fatal_, Retry::Backoff);
            }
        });
    if (options_.loadScripts)
        for (ScriptId id : {ScriptId::Record, ScriptId::Block, ScriptId::Inspect})
            handshakeCall({"SCRIPT", "LOAD", script(id).body},
                          [this, id](const redisReply *r, const std::string &) {
                              if (!r)
                                  return;
                              // Not fatal: EVAL still works when SCRIPT is not allowed.
                              if (r->type == REDIS_REPLY_ERROR)
                                  log_->debug("redis-store.script_load {} {}: {}", where(),
                                              script(id).name, describe(r));
                              else if (describe(r) != script(id).sha)
                                  log_->warn(
                                      "redis-store.script_sha {} {}: Redis says {}, "
                                      "expected {}",
                                      where(), script(id).name, describe(r), script(id).sha);
                          });
    handshakeCall({"PING"}, [this](const redisReply *r, const std::string &) {
        if (!r)
            return;
        if (r->type == REDIS_REPLY_ERROR) {
            fatal_ = "PING refused: " + describe(r) +
                     (options_.password.empty() ? " (set username and password)" : "");
            drop(true, fatal_, Retry::Backoff);
            return;
        }
        onHandshakeDone();
    });
}

void Link::onHandshakeDone()
{
    state_ = State::Ready;
    loggedFatal_.clear();
    lastError_.clear();
    const uint64_t t = now();
    readySince_ = t;
    if (incident_)
        log_->warn(
            "redis-store.{} {} after {:.1f} s; {} requests got the failure action "
            "meanwhile",
            everReady_ ? "reconnected" : "connected", where(),
            static_cast<double>(t - downSince_) / 1000.0, failedThisIncident_);
    else
        log_->info("redis-store.connected {}{}", where(),
                   options_.database ? fmt::format(" database {}", options_.database) : "");
    everReady_ = true;
    incident_ = false;
    if (!channel_.empty())
        redisAsyncCommand(ac_, &Link::onMessageCb, this, "SUBSCRIBE %b", channel_.data(),
                          channel_.size());
    // What queued up while connecting goes out now, oldest first. A callback
    // run by fail() may change the state; stop sending if it did.
    while (Command *cmd = waiting_.popFront()) {
        if (state_ != State::Ready || cmd->deadline <= t) {
            fail(cmd, state_ == State::Ready ? "timeout waiting for the connection" : lastError_);
            continue;
        }
        if (!send(cmd))
            fail(cmd, "cannot queue the command");
    }
}

// ---- hiredis callbacks ----------------------------------------------------------

void Link::onConnectCb(const redisAsyncContext *ac, int status)
{
    auto *link = static_cast<Link *>(ac->data);
    if (!link || link->ac_ != ac)
        return;
    // Success needs nothing: the handshake is queued and its replies decide.
    // On failure hiredis frees the context after this returns.
    if (status != REDIS_OK)
        link->drop(false, contextError(ac, "connect failed"), Retry::Backoff);
}

void Link::onDisconnectCb(const redisAsyncContext *ac, int)
{
    auto *link = static_cast<Link *>(ac->data);
    if (!link || link->ac_ != ac)
        return;
    link->drop(false, contextError(ac, "connection closed by the server"), Retry::IfStable);
}

void Link::onReplyCb(redisAsyncContext *ac, void *reply, void *privdata)
{
    auto *ticket = static_cast<Ticket *>(privdata);
    Command *cmd = ticket->cmd;
    Link *link = ticket->link;
    delete ticket;
    if (!cmd)
        return;  // failed or moved already; hiredis is just letting go of it
    cmd->ticket = nullptr;
    if (!reply) {
        // hiredis frees the context (read error, EOF) and calls back every
        // pending command with NULL; the first one ends the connection.
        link->drop(false, contextError(ac, "connection lost"), Retry::IfStable);
        return;
    }
    link->onReply(cmd, static_cast<const redisReply *>(reply));
}

void Link::onMessageCb(redisAsyncContext *ac, void *reply, void *privdata)
{
    auto *link = static_cast<Link *>(privdata);
    auto *r = static_cast<const redisReply *>(reply);
    if (!r || link->ac_ != ac || !link->onMessage_)
        return;
    if (r->type == REDIS_REPLY_ARRAY && r->elements >= 3 &&
        r->element[0]->type == REDIS_REPLY_STRING &&
        std::string_view(r->element[0]->str, r->element[0]->len) == "message" &&
        r->element[2]->type == REDIS_REPLY_STRING)
        link->onMessage_(std::string_view(r->element[2]->str, r->element[2]->len));
}

// ---- commands ---------------------------------------------------------------------

void Link::submit(Command *cmd)
{
    if (!cmd->deadline) {
        // The loop's cached time may be old if something held the loop (a
        // reload reading files): a deadline from it could be in the past.
        uv_update_time(loop_);
        cmd->deadline = now() + options_.commandTimeoutMs;
    }
    switch (state_) {
        case State::Ready:
            if (!send(cmd))
                fail(cmd, "cannot queue the command");
            return;
        case State::Idle:
        case State::Reconnecting:
        case State::Locating:
        case State::Connecting:
            // An attempt is under way: wait for it, within the deadline.
            waiting_.insertByDeadline(cmd);
            arm();
            return;
        case State::Backoff:
            fail(cmd, downReason());
            return;
        case State::Closed:
            fail(cmd, "redis-store is stopped");
            return;
    }
}

bool Link::send(Command *cmd)
{
    std::array<const char *, kMaxArgs> argv;
    std::array<size_t, kMaxArgs> len;
    int argc = 0;
    auto add = [&](std::string_view s) {
        argv[argc] = s.data();
        len[argc] = s.size();
        ++argc;
    };
    if (cmd->isScript()) {
        const Script &s = script(scriptOf(cmd->op));
        add(cmd->eval ? "EVAL" : "EVALSHA");
        add(cmd->eval ? std::string_view(s.body) : std::string_view(s.sha));
        add("1");
        add(cmd->key);
        add(options_.ttlText);
        if (cmd->op == Op::Record) {
            add(cmd->ip);
            add(cmd->country);
            add(cmd->home ? "1" : "0");
            add(cmd->lists ? "1" : "0");
        } else if (cmd->op == Op::Block) {
            add(options_.blockPermanent ? "1" : "0");
        }
    } else if (cmd->op == Op::Unlock) {
        add("DEL");
        add(cmd->key);
    } else {
        if (cmd->args.empty() || cmd->args.size() > kMaxArgs)
            return false;
        for (const std::string &a : cmd->args)
            add(a);
    }

    auto *ticket = new Ticket{cmd, this};
    if (!ac_ || redisAsyncCommandArgv(ac_, &Link::onReplyCb, ticket, argc, argv.data(),
                                      len.data()) != REDIS_OK) {
        delete ticket;
        return false;
    }
    cmd->ticket = ticket;
    ++cmd->sends;
    inflight_.insertByDeadline(cmd);
    if (inflight_.front() == cmd)
        arm();
    return true;
}

void Link::onReply(Command *cmd, const redisReply *reply)
{
    inflight_.remove(cmd);
    if (reply->type == REDIS_REPLY_ERROR) {
        switch (classifyError({reply->str, reply->len})) {
            case ErrorKind::NoScript:
                // Restarted or flushed server: send the text once; Redis caches it.
                if (cmd->isScript() && !cmd->eval) {
                    cmd->eval = true;
                    if (send(cmd))
                        return;
                }
                break;
            case ErrorKind::ReadOnly:
                // A failover demoted this server. Nothing was written, so the
                // command may go to the master once we have found it again.
                if (cmd->writes()) {
                    waiting_.insertByDeadline(cmd);
                    drop(true, "the server turned read-only (a replica now)", Retry::IfStable);
                    return;
                }
                break;
            case ErrorKind::Busy:
            case ErrorKind::Plain:
                break;
        }
    }
    // where() formats: only errors need it.
    finish(cmd, reply, {}, reply->type == REDIS_REPLY_ERROR ? where() : std::string());
}

void Link::fail(Command *cmd, std::string_view why)
{
    if (!cmd->handshake) {
        ++failedWhileDown_;
        ++failedThisIncident_;
    }
    finish(cmd, nullptr, why, where());
}

void Link::failWaiting(std::string_view why)
{
    CommandList doomed;
    doomed.prepend(waiting_);
    while (Command *cmd = doomed.popFront())
        fail(cmd, why);
}

void Link::reconnect(std::string_view why)
{
    switch (state_) {
        case State::Ready:
            drop(true, std::string(why), Retry::Now);
            break;
        case State::Backoff:
            state_ = State::Reconnecting;
            arm();
            break;
        default:
            break;  // an attempt is under way already, or the link is idle/closed
    }
}

// ---- losing a connection ------------------------------------------------------------

void Link::drop(bool byUs, const std::string &reason, Retry retry)
{
    if (state_ == State::Closed)
        return;
    const bool wasReady = state_ == State::Ready;
    const uint64_t t = now();
    redisAsyncContext *ac = ac_;
    ac_ = nullptr;
    ++generation_;
    if (ac)
        ac->data = nullptr;  // its connect/disconnect callbacks are no longer ours

    // Detach what was sent: hiredis will call back with NULL and find no command.
    CommandList sent;
    sent.prepend(inflight_);
    for (Command *c = sent.front(); c; c = c->next)
        if (c->ticket) {
            c->ticket->cmd = nullptr;
            c->ticket = nullptr;
        }
    if (ac && byUs)
        redisAsyncFree(ac);  // deferred by hiredis if we are inside its callback

    lastError_ = reason;
    const bool stable = wasReady && t - readySince_ >= kStableMs;
    if (stable)
        backoff_.reset();
    const bool immediate = fatal_.empty() && ((retry == Retry::IfStable && stable) ||
                                              (retry == Retry::Now && wasReady));
    if (immediate) {
        state_ = State::Reconnecting;
        retryAt_ = t;
    } else {
        state_ = State::Backoff;
        retryAt_ = t + backoff_.next();
    }

    if (wasReady) {
        log_->warn(
            "redis-store.lost {}: {}; reconnecting, requests get the failure action "
            "until it is back",
            where(), reason);
        incident_ = true;
        downSince_ = t;
        failedThisIncident_ = 0;
    } else if (!fatal_.empty()) {
        if (fatal_ != loggedFatal_)
            log_->error("redis-store.refused {}: {}; retrying every {:.1f} s at most", where(),
                        fatal_, static_cast<double>(options_.backoffMaxMs) / 1000.0);
        loggedFatal_ = fatal_;
        if (!incident_) {
            incident_ = true;
            downSince_ = t;
            failedThisIncident_ = 0;
        }
    } else if (!incident_) {
        log_->warn(
            "redis-store.unreachable {}: {}; retrying every {:.1f} s at most, requests get "
            "the failure action until it answers",
            where(), reason, static_cast<double>(options_.backoffMaxMs) / 1000.0);
        incident_ = true;
        downSince_ = t;
        failedThisIncident_ = 0;
    } else {
        log_->debug("redis-store.attempt_failed {}: {}; next in {} ms", where(), reason,
                    retryAt_ - t);
    }

    // Sent commands: on an immediate retry they go out again on the new
    // connection (once, and only within their deadline); otherwise they fail.
    std::vector<Command *> failing;
    while (Command *c = sent.popFront()) {
        if (c->handshake)
            delete c;
        else if (immediate && c->deadline > t && c->sends < 2)
            waiting_.insertByDeadline(c);
        else
            failing.push_back(c);
    }
    arm();
    // Callbacks last: the link is consistent now, whatever they do.
    const std::string why = fmt::format("{} ({})", reason, where());
    for (Command *c : failing)
        fail(c, c->deadline <= t
                    ? fmt::format("timeout after {} ms ({})", options_.commandTimeoutMs, where())
                    : why);
    if (!immediate && state_ == State::Backoff)
        failWaiting(downReason());
}

// ---- timer ------------------------------------------------------------------------------

void Link::onTimer()
{
    timerActive_ = false;
    const uint64_t t = now();
    switch (state_) {
        case State::Reconnecting:
            attempt();
            break;
        case State::Backoff:
            if (t >= retryAt_)
                attempt();
            break;
        case State::Locating:
        case State::Connecting:
            if (t >= attemptDeadline_)
                drop(ac_ != nullptr,
                     fmt::format("not ready within connect-timeout ({} ms)",
                                 options_.connectTimeoutMs),
                     Retry::Backoff);
            break;
        case State::Ready:
            // A hung server (SIGSTOP, a stuck script, a dead peer without
            // RST): give up on this connection and make a fresh one.
            if (!inflight_.empty() && inflight_.front()->deadline <= t)
                drop(true, fmt::format("no reply within {} ms", options_.commandTimeoutMs),
                     Retry::IfStable);
            break;
        case State::Idle:
        case State::Closed:
            break;
    }
    while (!waiting_.empty() && waiting_.front()->deadline <= t)
        fail(waiting_.popFront(), fmt::format("timeout after {} ms waiting for a connection ({})",
                                              options_.commandTimeoutMs,
                                              lastError_.empty() ? "connecting" : lastError_));
    arm();
}

void Link::arm()
{
    if (state_ == State::Closed)
        return;
    const uint64_t t = now();
    uint64_t due = std::numeric_limits<uint64_t>::max();
    switch (state_) {
        case State::Reconnecting:
            due = t;
            break;
        case State::Backoff:
            due = retryAt_;
            break;
        case State::Locating:
        case State::Connecting:
            due = attemptDeadline_;
            break;
        default:
            break;
    }
    if (!inflight_.empty())
        due = std::min(due, inflight_.front()->deadline);
    if (!waiting_.empty())
        due = std::min(due, waiting_.front()->deadline);
    if (due == std::numeric_limits<uint64_t>::max()) {
        if (timerActive_) {
            uv_timer_stop(timer_);
            timerActive_ = false;
        }
        return;
    }
    // An earlier wake-up is harmless (onTimer() re-arms), a later one is not.
    if (timerActive_ && timerDue_ <= due)
        return;
    timerDue_ = due;
    timerActive_ = true;
    uv_timer_start(
        timer_, [](uv_timer_t *h) { static_cast<Link *>(h->data)->onTimer(); },
        due > t ? due - t : 0, 0);
}

// ---- closing ----------------------------------------------------------------------------

void Link::close()
{
    if (state_ == State::Closed)
        return;
    state_ = State::Closed;
    ++generation_;
    redisAsyncContext *ac = ac_;
    ac_ = nullptr;
    if (ac)
        ac->data = nullptr;
    CommandList pending;
    pending.prepend(inflight_);
    for (Command *c = pending.front(); c; c = c->next)
        if (c->ticket) {
            c->ticket->cmd = nullptr;
            c->ticket = nullptr;
        }
    // Frees at once, or when the hiredis callback we are inside returns; the
    // adapter closes its poll handle and frees itself in the close callback.
    if (ac)
        redisAsyncFree(ac);

    uv_timer_stop(timer_);
    timerActive_ = false;
    uv_close(reinterpret_cast<uv_handle_t *>(timer_), [](uv_handle_t *h) {
        auto *timer = reinterpret_cast<uv_timer_t *>(h);
        auto *link = static_cast<Link *>(timer->data);
        std::function<void()> closed = std::move(link->onClosed_);
        delete timer;
        if (closed)
            closed();  // may delete the link
    });

    pending.prepend(waiting_);
    while (Command *c = pending.popFront()) {
        if (c->handshake)
            delete c;
        else
            finish(c, nullptr, "redis-store is stopped", where());
    }
}

}  // namespace geopol::redis_store
