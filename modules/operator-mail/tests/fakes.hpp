// fakes.hpp - stand-ins for the core and the mail server in the operator-mail
// unit tests: a store, a transport and a log capture; the config section,
// the host, the loop and temporary files are the modules' common ones
// (tests/support/module_fakes.hpp).
#pragma once

#include <doctest/doctest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <uv.h>

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "geopol/request.hpp"
#include "geopol/store.hpp"
#include "tests/support/module_fakes.hpp"
#include "transport.hpp"

namespace geopol::testing {

/// Log lines captured in memory, for checks such as "the password is never logged".
struct LogCapture {
    std::ostringstream out;
    std::shared_ptr<spdlog::logger> logger;
    explicit LogCapture(spdlog::level::level_enum level = spdlog::level::debug)
        : logger(std::make_shared<spdlog::logger>(
              "operator-mail", std::make_shared<spdlog::sinks::ostream_sink_mt>(out)))
    {
        logger->set_level(level);
        logger->set_pattern("%l %v");
    }
    std::string text() const { return out.str(); }
    bool contains(std::string_view s) const { return text().find(s) != std::string::npos; }
};

/// A store that only answers inspect(), from a fixed table; synchronously,
/// or when the test calls completeAll().
class FakeStore : public Store {
public:
    std::map<std::string, AccountState, std::less<>> accounts;
    std::string failInspect;  ///< non-empty: inspect() fails with this
    bool deferred = false;
    int inspects = 0;

    void record(const Observation &, StoreDone done) override { done(StoreResult{}); }
    void block(std::string_view, StoreDone done) override { done(StoreResult{}); }
    void unlock(std::string_view, StoreDone done) override { done(StoreResult{}); }
    void inspect(std::string_view account, StoreDone done) override
    {
        ++inspects;
        StoreResult r;
        if (!failInspect.empty()) {
            r.ok = false;
            r.error = failInspect;
        } else {
            auto it = accounts.find(account);
            r.found = it != accounts.end();
            if (r.found)
                r.state = it->second;
        }
        if (deferred)
            pending_.emplace_back([done = std::move(done), r] { done(r); });
        else
            done(r);
    }
    void completeAll()
    {
        auto jobs = std::move(pending_);
        pending_.clear();
        for (auto &j : jobs)
            j();
    }
    size_t pendingCount() const { return pending_.size(); }

private:
    std::deque<std::function<void()>> pending_;
};

/// What a FakeTransport saw; outlives the transport (the outbox deletes it).
struct TransportLog {
    struct Send {
        std::shared_ptr<const std::string> message;
        operator_mail::Transport::Done done;
    };
    std::deque<Send> inFlight;
    std::vector<std::string> messages;  ///< every message handed over, in order
    bool closed = false;
    bool destroyed = false;

    /// Completes the oldest send with `result` (from the test, never inside send()).
    void complete(operator_mail::SendResult result)
    {
        REQUIRE(!inFlight.empty());
        Send s = std::move(inFlight.front());
        inFlight.pop_front();
        s.done(result);
    }
    void succeed()
    {
        operator_mail::SendResult r;
        r.ok = true;
        complete(r);
    }
    void fail(std::string error, bool permanent = false)
    {
        operator_mail::SendResult r;
        r.error = std::move(error);
        r.permanent = permanent;
        complete(r);
    }
};

class FakeTransport : public operator_mail::Transport {
public:
    FakeTransport(uv_loop_t *loop, std::shared_ptr<TransportLog> log)
        : loop_(loop), log_(std::move(log))
    {
    }
    ~FakeTransport() override { log_->destroyed = true; }
    void send(std::shared_ptr<const std::string> message, Done done) override
    {
        log_->messages.push_back(*message);
        log_->inFlight.push_back({std::move(message), std::move(done)});
    }
    void close(std::function<void()> closed) override
    {
        log_->closed = true;
        log_->inFlight.clear();
        // Like the real one: `closed` runs later, from the loop.
        auto *t = new uv_timer_t;
        uv_timer_init(loop_, t);
        t->data = new std::function<void()>(std::move(closed));
        uv_timer_start(
            t,
            [](uv_timer_t *h) {
                auto *fn = static_cast<std::function<void()> *>(h->data);
                uv_close(reinterpret_cast<uv_handle_t *>(h),
                         [](uv_handle_t *c) { delete reinterpret_cast<uv_timer_t *>(c); });
                (*fn)();
                delete fn;
            },
            0, 0);
    }

private:
    uv_loop_t *loop_;
    std::shared_ptr<TransportLog> log_;
};

}  // namespace geopol::testing
