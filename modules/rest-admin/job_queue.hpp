// job_queue.hpp - the hand-off between civetweb's threads and the event loop.
//
// A civetweb worker copies the HTTP request into a Job, posts it and waits
// (with a timeout) for the answer. Posting wakes the loop through `wake`
// (uv_async_send, the one libuv call that is safe from another thread); the
// loop takes every queued job at once, because async wake-ups coalesce, and
// dispatches them. The answer may come later (after a store round trip) and
// completes the Job, which wakes the worker.
//
// A Job is shared: the worker holds it while it waits, the reply callback
// holds only a weak_ptr, so an answer for a worker that gave up (timeout) or
// whose client left is dropped without touching freed memory.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "geopol/admin.hpp"

namespace geopol::rest_admin {

class Job {
public:
    explicit Job(AdminRequest req) : request(std::move(req)) {}

    const AdminRequest request;

    /// Stores the answer and wakes the waiting worker. Only the first call
    /// counts; false for later ones, and after the worker gave up.
    bool complete(AdminResponse response);

    /// Waits for complete(); nullopt after `timeout`. A job that timed out is
    /// abandoned: a later complete() is ignored.
    std::optional<AdminResponse> wait(std::chrono::milliseconds timeout);

    bool completed() const;

private:
    mutable std::mutex mutex_;
    std::condition_variable cv_;
    bool done_ = false;
    bool abandoned_ = false;
    AdminResponse response_;
};

/// A log line produced on a civetweb thread, written on the loop thread:
/// the core may swap the loggers' sinks on a reload, which is only safe there.
struct LogRecord {
    int level = 2;  // spdlog::level::level_enum
    std::string text;
};

class JobQueue {
public:
    using Wake = std::function<void()>;

    /// Starts accepting; `wake` is called (under the queue lock) after each post.
    void open(Wake wake);
    /// Stops accepting. Jobs still queued are completed with `answer`; from
    /// now on post() fails, and `wake` is never called again once this returns.
    void close(const AdminResponse &answer);
    bool isOpen() const;

    /// Queues a job; false (nothing queued) when the queue is closed.
    bool post(std::shared_ptr<Job> job);
    /// Queues a log line; dropped when closed.
    void postLog(int level, std::string text);

    /// Everything queued so far, oldest first (the loop's drain).
    std::deque<std::shared_ptr<Job>> takeJobs();
    std::vector<LogRecord> takeLogs();

private:
    mutable std::mutex mutex_;
    bool open_ = false;
    Wake wake_;
    std::deque<std::shared_ptr<Job>> jobs_;
    std::vector<LogRecord> logs_;
};

}  // namespace geopol::rest_admin
