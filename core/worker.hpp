// worker.hpp - an event loop that serves policy connections.
//
// With server.workers: 1 (the default) there is one worker and it runs on
// the daemon's own loop. With N > 1 each worker is a thread with its own
// loop, its own chain of module instances and its own listeners on the same
// addresses (SO_REUSEPORT for inet, the shared socket for unix): the kernel
// spreads connections over the workers. Modules are loop-bound, so each
// worker has its own instances; memory-store shares one state between them.
//
// The daemon's thread drives workers with call() (run on the worker's loop
// and wait) and post() (run there, don't wait). A worker never waits for the
// daemon's thread, so the two cannot deadlock.
#pragma once

#include <uv.h>

#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "chain/chain.hpp"
#include "net/server.hpp"
#include "query_service.hpp"

namespace geopol::core {

/// A queue of functions run on one loop; post() may be called from any thread.
class LoopQueue {
public:
    explicit LoopQueue(uv_loop_t *loop);
    void post(std::function<void()> f);
    /// Closes the async handle (on the loop thread); jobs still queued are dropped.
    void close();

private:
    static void onAsync(uv_async_t *a);

    uv_async_t async_;
    std::mutex mutex_;
    std::deque<std::function<void()>> jobs_;
    bool closed_ = false;  ///< under mutex_: later posts are dropped
};

class Worker {
public:
    /// `sharedLoop`: run on that loop (the daemon's), no thread of our own.
    Worker(size_t index, uv_loop_t *sharedLoop);
    ~Worker();
    Worker(const Worker &) = delete;
    Worker &operator=(const Worker &) = delete;

    size_t index() const { return index_; }
    uv_loop_t *loop() { return loop_; }
    Server &server() { return *server_; }
    QueryService &query() { return *query_; }

    /// The chain this worker serves with (loop thread only).
    std::shared_ptr<Chain> chain;

    /// Runs `f` on the worker's loop and returns when it has run.
    void call(const std::function<void()> &f);
    /// Runs `f` on the worker's loop later.
    void post(std::function<void()> f);

    /// Ends the loop thread once everything on the loop is closed (threaded
    /// workers only; call after the server drained and the chain is gone).
    void finish();

private:
    size_t index_;
    bool threaded_;
    uv_loop_t ownLoop_;
    uv_loop_t *loop_;
    std::unique_ptr<LoopQueue> queue_;
    std::unique_ptr<Server> server_;
    std::unique_ptr<QueryService> query_;
    std::thread thread_;
    bool finished_ = false;
};

}  // namespace geopol::core
