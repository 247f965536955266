// outbox.hpp - the bounded queue between policy requests and the mail server.
//
// Runs on the policy loop and never blocks it: a request only reserves a
// slot; the message is posted once composed; the transport sends it in the
// background and reports back. Failures are retried with doubling delays,
// then given up and logged. On shutdown() the outbox detaches from its module
// and lives on for at most `drainTimeoutMs` so that a reload or stop does not
// lose a mail that is on its way; it then deletes itself.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <string>

#include "transport.hpp"

namespace spdlog {
class logger;
}

namespace geopol::operator_mail {

struct OutboxSettings {
    size_t capacity = 100;  ///< letters reserved, queued, in flight or waiting for a retry
    int parallel = 2;       ///< letters handed to the transport at once
    int retries = 3;        ///< attempts after the first
    int64_t retryDelayMs = 10'000;
    int64_t retryDelayMaxMs = 600'000;
    int64_t drainTimeoutMs = 2'000;
    std::string recipients;  ///< for the log lines
};

struct Letter {
    std::string account;  ///< for the log lines
    std::string messageId;
    std::shared_ptr<const std::string> data;
};

struct OutboxStats {
    uint64_t sent = 0;
    uint64_t failed = 0;     ///< given up after the last attempt
    uint64_t abandoned = 0;  ///< still queued when the drain time was over
    uint64_t attempts = 0;
};

class Outbox {
public:
    Outbox(uv_loop_t *loop, OutboxSettings settings, std::unique_ptr<Transport> transport,
           std::shared_ptr<spdlog::logger> log);
    Outbox(const Outbox &) = delete;
    Outbox &operator=(const Outbox &) = delete;

    /// Takes a slot for a letter about to be composed; false when full.
    bool reserve();
    /// Gives back a reserved slot that will not be posted.
    void release();
    /// Queues a letter in a slot taken by reserve().
    void post(Letter letter);

    /// Slots in use (reserved, queued, in flight, waiting for a retry).
    size_t size() const { return reserved_ + entries_.size(); }
    size_t capacity() const { return settings_.capacity; }
    const OutboxStats &stats() const { return stats_; }

    /// Stops taking letters, gives those in hand until the drain timeout,
    /// then abandons the rest (logged), closes the transport and deletes
    /// itself. `finished` (tests) runs just before. The caller must not touch
    /// the outbox afterwards.
    void shutdown(std::function<void(const OutboxStats &)> finished = {});

private:
    enum class State { Queued, Sending, Waiting };
    struct Entry {
        uint64_t id = 0;
        Letter letter;
        State state = State::Queued;
        int attempts = 0;
        uint64_t dueMs = 0;  ///< uv_now() of the next attempt, when Waiting
    };

    ~Outbox() = default;  // only finish() ends an outbox

    void pump();
    void onResult(uint64_t id, const SendResult &result);
    void armRetryTimer();
    void onRetryTimer();
    void finish();

    uv_loop_t *loop_;
    OutboxSettings settings_;
    std::unique_ptr<Transport> transport_;
    std::shared_ptr<spdlog::logger> log_;
    uv_timer_t *retryTimer_ = nullptr;
    uv_timer_t *drainTimer_ = nullptr;
    std::list<Entry> entries_;
    size_t reserved_ = 0;
    int sending_ = 0;
    uint64_t nextId_ = 0;
    bool pumping_ = false;
    bool stopping_ = false;
    bool finished_ = false;
    OutboxStats stats_;
    std::function<void(const OutboxStats &)> onFinished_;
};

}  // namespace geopol::operator_mail
