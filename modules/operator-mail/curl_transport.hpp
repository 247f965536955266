// curl_transport.hpp - SMTP with libcurl, on a thread of its own.
//
// The thread runs its own libuv loop and drives libcurl's multi interface
// with uv_poll_t and uv_timer_t (the pattern of curl's docs/examples/
// multi-uv.c). It is a thread, not the policy loop, because libcurl 7.88's
// SMTP code waits synchronously for the reply to the end of the message and
// for the reply to QUIT: a server that stalls there would stall the policy
// loop for as long as the server-response timeout (measured: 30 s with the
// default, 4 s with 2 s). On the thread such a stall delays other mails only.
//
// All logging and all decisions stay on the policy loop (Outbox); the thread
// only moves messages and reports results back through a uv_async_t.
#pragma once

#include <uv.h>

#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include "settings.hpp"
#include "transport.hpp"

namespace geopol::operator_mail {

class CurlTransport final : public Transport {
public:
    /// Starts the sending thread; nullptr with `error` set if it cannot.
    static std::unique_ptr<CurlTransport> start(uv_loop_t *loop, const SmtpSettings &settings,
                                                std::string &error);
    ~CurlTransport() override;

    void send(std::shared_ptr<const std::string> message, Done done) override;
    void close(std::function<void()> closed) override;

private:
    struct Worker;
    struct Job {
        uint64_t id = 0;
        std::shared_ptr<const std::string> message;
    };
    struct Report {
        uint64_t id = 0;
        SendResult result;
    };

    explicit CurlTransport(uv_loop_t *loop);
    void onWake();                         // policy loop: reports waiting, or the thread ended
    void report(Report r);                 // sending thread
    bool takeJobs(std::deque<Job> &jobs);  // sending thread; true: stop instead
    void workerEnded();                    // sending thread, its last act

    // Policy loop only.
    uv_loop_t *loop_;
    uv_async_t *wake_ = nullptr;
    std::unordered_map<uint64_t, Done> pending_;
    uint64_t nextId_ = 0;
    bool closing_ = false;
    std::function<void()> closed_;

    std::atomic<bool> abort_{false};  // set by close(); read by the thread inside curl

    // Shared; guarded by mu_.
    std::mutex mu_;
    std::deque<Job> jobs_;
    std::deque<Report> reports_;
    bool stop_ = false;
    bool workerWakeClosed_ = false;  // no uv_async_send to the worker any more
    bool workerEnded_ = false;

    std::unique_ptr<Worker> worker_;  // touched by the thread only, once it runs
    std::thread thread_;
};

}  // namespace geopol::operator_mail
