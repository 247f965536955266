// hub.hpp - the process-wide part of rest-admin: the civetweb server, the
// job queue and the loop's wake-up handle, shared by every module instance.
//
// A reload starts a new rest-admin instance before it stops the old one. The
// HTTP listener must not be rebound for that (a request in flight, the
// /reload request itself, would be cut off), so it lives here, in the loaded
// .so, not in the instance. Instances attach in start() and detach in stop();
// requests go to the newest attached instance's admin commands. When the new
// instance's listener settings (address, port, TLS, certificate, threads)
// differ, the server is swapped by a helper thread; credentials, body limit
// and timeout apply at once, without a restart. The last detach stops
// civetweb.
//
// Threads: attach(), detach() and the dispatch run on the loop thread.
// civetweb's workers run onRequest(); they touch only the queue, the atomic
// request settings and the counters. The helper thread owns server swaps.
//
// With server.workers > 1 every worker loop has its own chain, and so its own
// rest-admin instance. One listener serves them all: the instances of the
// loop that attached first (worker 0) serve, those of other loops are only
// counted (the core starts worker 0's chain first, on reloads too).
#pragma once

#include <uv.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "geopol/admin.hpp"
#include "geopol/module.hpp"
#include "http_server.hpp"
#include "job_queue.hpp"
#include "settings.hpp"

namespace spdlog {
class logger;
}

namespace geopol::rest_admin {

/// One started rest-admin instance, as the hub sees it.
class Endpoint {
public:
    virtual ~Endpoint() = default;
    virtual const Settings &settings() const = 0;
    /// Runs `req` through the instance's admin commands (loop thread).
    virtual void dispatch(const AdminRequest &req, AdminReply reply) = 0;
};

class Hub final : public RequestSink {
public:
    /// The one hub of this process (never destroyed: civetweb threads may
    /// outlive static destructors at exit).
    static Hub &instance();

    /// Loop thread. Starts serving for `endpoint`: the first attach binds the
    /// listener (errors fail the start); a later one adopts it, or schedules
    /// a swap when its listener settings differ (a busy new address fails).
    Status attach(Endpoint &endpoint, uv_loop_t *loop, std::shared_ptr<spdlog::logger> log);
    /// Loop thread. Requests go to the previous instance again; the last
    /// detach answers what is pending with 503 and stops civetweb.
    void detach(Endpoint &endpoint);

    /// The port the server listens on now (0 when none).
    int boundPort() const;

    /// Prometheus lines about the admin interface itself.
    void renderMetrics(std::string &out) const;

    // RequestSink (civetweb threads)
    int onRequest(mg_connection *conn) override;
    void onServerMessage(const char *message) override;

private:
    Hub() = default;

    void drain();  // loop thread: the async callback
    void managerMain();
    /// Helper thread: lets requests in progress write their answers before a
    /// server stops (civetweb drops writes once it is stopping).
    void waitForActiveRequests(int64_t maxMs);
    void requestListener(const ListenerSettings &wanted);
    void publishRequestSettings();
    void count(int status, double seconds);
    int answer(mg_connection *conn, const AdminResponse &response);

    // ---- which loop serves (attach/detach may come from several loops)
    std::mutex loopMutex_;
    uv_loop_t *servingLoop_ = nullptr;
    std::vector<Endpoint *> bystanders_;  // instances on other loops: not served

    // ---- serving loop's thread only
    std::vector<Endpoint *> endpoints_;  // attach order; back() serves
    uv_async_t *async_ = nullptr;
    uv_loop_t *loop_ = nullptr;
    std::shared_ptr<spdlog::logger> log_;
    std::vector<std::weak_ptr<Job>> inFlight_;  // dispatched, not yet answered

    // ---- shared with the workers
    JobQueue queue_;
    std::atomic<std::shared_ptr<const RequestSettings>> requestSettings_;

    // ---- the server and its helper thread
    mutable std::mutex serverMutex_;
    std::condition_variable serverCv_;
    std::unique_ptr<HttpServer> server_;  // guarded by serverMutex_
    ListenerSettings desired_;            // what the newest instance wants
    uint64_t desiredVersion_ = 0, appliedVersion_ = 0;
    bool quit_ = false;
    std::thread manager_;

    // ---- counters (any thread)
    mutable std::mutex countMutex_;
    std::map<int, uint64_t> byStatus_;
    double secondsSum_ = 0;
    uint64_t secondsCount_ = 0;
    std::atomic<uint64_t> authFailures_{0};
    std::atomic<uint64_t> timeouts_{0};
    std::atomic<uint64_t> listenerRestarts_{0};
    std::atomic<int> active_{0};  // requests between begin and answer written
};

}  // namespace geopol::rest_admin
