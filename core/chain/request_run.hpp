// request_run.hpp - one request's way through the chain.
//
// A RequestRun owns a Request and runs it module by module. A module may
// suspend it and resume it later from a libuv callback (Resume tokens point
// here); the run owns the per-request deadline and answers with the failing
// module's failure action when a module fails, throws or misses the
// deadline. When the request is answered the run calls its owner's finished
// callback with the action. Connections own one run each, reused for every
// request; the policy-query service makes one per question.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>

#include "geopol/request.hpp"

namespace geopol::core {

class Chain;
struct ServerSettings;
struct ServerStats;
class RateLimitedLog;

class RequestRun : public ResumeTarget, public std::enable_shared_from_this<RequestRun> {
public:
    using Finished = std::function<void(std::string_view action)>;

    /// `finished` runs once per request, on the loop, possibly inside begin().
    RequestRun(uv_loop_t *loop, ServerStats &stats, RateLimitedLog &failureLog, Finished finished);
    ~RequestRun() override = default;

    Request &request() { return req_; }
    void setFinished(Finished finished) { finished_ = std::move(finished); }
    bool busy() const { return inFlight_; }

    /// Runs the request now in request() through `chain`.
    void begin(std::shared_ptr<Chain> chain, std::shared_ptr<const ServerSettings> settings);

    /// The owner is going away: outstanding tokens go stale, no callback
    /// follows, and the timer is closed (the run keeps itself alive until then).
    void close();

    Request *live(uint64_t serial) override;
    void resume(uint64_t serial, Step step) override;

private:
    void runChain(size_t from);
    Step callModule(size_t index);
    void finish();
    void armDeadline();
    static void onDeadline(uv_timer_t *t);
    const std::string &failureActionOf(size_t index) const;

    uv_loop_t *loop_;
    ServerStats &stats_;
    RateLimitedLog &failureLog_;
    Finished finished_;
    uv_timer_t timer_;
    std::shared_ptr<RequestRun> selfWhileClosing_;

    Request req_;
    std::shared_ptr<Chain> chain_;
    std::shared_ptr<const ServerSettings> settings_;
    bool inFlight_ = false;
    bool suspended_ = false;
    bool inCall_ = false;         ///< inside a module's onRequest()
    bool pendingResume_ = false;  ///< resumed before onRequest() returned
    Step pendingStep_ = Step::Continue;
    size_t index_ = 0;  ///< module being run
    uint64_t startNs_ = 0;
    bool closed_ = false;
    std::string action_;  ///< the answer, kept past the chain's lifetime
};

/// ASCII lower-casing in place (e-mail addresses compare case-insensitively).
void asciiLower(std::string &s);

}  // namespace geopol::core
