// outbox.cpp
#include "outbox.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace geopol::operator_mail {

namespace {

uv_timer_t *newTimer(uv_loop_t *loop, void *data)
{
    auto *t = new uv_timer_t;
    uv_timer_init(loop, t);
    t->data = data;
    return t;
}

// The handle frees itself, so nothing depends on who outlives whom.
void closeTimer(uv_timer_t *&t)
{
    if (!t)
        return;
    uv_timer_stop(t);
    uv_close(reinterpret_cast<uv_handle_t *>(t),
             [](uv_handle_t *h) { delete reinterpret_cast<uv_timer_t *>(h); });
    t = nullptr;
}

std::string seconds(int64_t ms)
{
    return ms % 1000 == 0 ? std::to_string(ms / 1000) + "s" : std::to_string(ms) + "ms";
}

}  // namespace

Outbox::Outbox(uv_loop_t *loop, OutboxSettings settings, std::unique_ptr<Transport> transport,
               std::shared_ptr<spdlog::logger> log)
    : loop_(loop), settings_(std::move(settings)), transport_(std::move(transport)), log_(log)
{
    retryTimer_ = newTimer(loop_, this);
}

bool Outbox::reserve()
{
    if (stopping_ || size() >= settings_.capacity)
        return false;
    ++reserved_;
    return true;
}

void Outbox::release()
{
    if (reserved_ > 0)
        --reserved_;
}

void Outbox::post(Letter letter)
{
    if (reserved_ > 0)
        --reserved_;
    if (finished_)
        return;
    Entry e;
    e.id = ++nextId_;
    e.letter = std::move(letter);
    entries_.push_back(std::move(e));
    pump();
}

void Outbox::pump()
{
    if (pumping_ || finished_)
        return;
    pumping_ = true;
    while (sending_ < settings_.parallel) {
        auto it = std::find_if(entries_.begin(), entries_.end(),
                               [](const Entry &e) { return e.state == State::Queued; });
        if (it == entries_.end())
            break;
        it->state = State::Sending;
        ++it->attempts;
        ++sending_;
        ++stats_.attempts;
        uint64_t id = it->id;
        transport_->send(it->letter.data,
                         [this, id](const SendResult &result) { onResult(id, result); });
    }
    pumping_ = false;
}

void Outbox::onResult(uint64_t id, const SendResult &result)
{
    auto it =
        std::find_if(entries_.begin(), entries_.end(), [id](const Entry &e) { return e.id == id; });
    if (it == entries_.end())
        return;
    --sending_;
    Entry &e = *it;
    const int maxAttempts = settings_.retries + 1;
    if (result.ok) {
        ++stats_.sent;
        log_->info("operator_mail.sent account={} to=\"{}\" message_id={} attempt={}/{}",
                   e.letter.account, settings_.recipients, e.letter.messageId, e.attempts,
                   maxAttempts);
        entries_.erase(it);
    } else if (!result.permanent && e.attempts < maxAttempts) {
        int64_t delay = settings_.retryDelayMs;
        for (int i = 1; i < e.attempts && delay < settings_.retryDelayMaxMs; ++i)
            delay *= 2;
        delay = std::min(delay, settings_.retryDelayMaxMs);
        e.state = State::Waiting;
        e.dueMs = uv_now(loop_) + static_cast<uint64_t>(delay);
        log_->warn(
            "operator_mail.send_failed account={} message_id={} attempt={}/{} error=\"{}\" "
            "retry_in={}",
            e.letter.account, e.letter.messageId, e.attempts, maxAttempts, result.error,
            seconds(delay));
        armRetryTimer();
    } else {
        ++stats_.failed;
        log_->error(
            "operator_mail.gave_up account={} to=\"{}\" message_id={} attempts={} error=\"{}\"{}",
            e.letter.account, settings_.recipients, e.letter.messageId, e.attempts, result.error,
            result.permanent ? " (permanent: not retried)" : "");
        entries_.erase(it);
    }
    pump();
    if (stopping_ && entries_.empty())
        finish();
}

void Outbox::armRetryTimer()
{
    if (!retryTimer_)
        return;
    uint64_t due = UINT64_MAX;
    for (const Entry &e : entries_)
        if (e.state == State::Waiting)
            due = std::min(due, e.dueMs);
    if (due == UINT64_MAX) {
        uv_timer_stop(retryTimer_);
        return;
    }
    uint64_t now = uv_now(loop_);
    uv_timer_start(
        retryTimer_, [](uv_timer_t *t) { static_cast<Outbox *>(t->data)->onRetryTimer(); },
        due > now ? due - now : 0, 0);
}

void Outbox::onRetryTimer()
{
    uint64_t now = uv_now(loop_);
    for (Entry &e : entries_)
        if (e.state == State::Waiting && e.dueMs <= now)
            e.state = State::Queued;
    pump();
    armRetryTimer();
}

void Outbox::shutdown(std::function<void(const OutboxStats &)> finished)
{
    if (stopping_)
        return;
    stopping_ = true;
    onFinished_ = std::move(finished);
    reserved_ = 0;  // the module posts what it composed before it calls this
    if (entries_.empty() || settings_.drainTimeoutMs == 0) {
        finish();
        return;
    }
    log_->info("operator_mail.draining letters={} for_at_most={}", entries_.size(),
               seconds(settings_.drainTimeoutMs));
    drainTimer_ = newTimer(loop_, this);
    uv_timer_start(
        drainTimer_, [](uv_timer_t *t) { static_cast<Outbox *>(t->data)->finish(); },
        static_cast<uint64_t>(settings_.drainTimeoutMs), 0);
}

void Outbox::finish()
{
    if (finished_)
        return;
    finished_ = true;
    for (const Entry &e : entries_) {
        ++stats_.abandoned;
        log_->error(
            "operator_mail.abandoned account={} to=\"{}\" message_id={} attempts={}: geopold "
            "stopped or reloaded before the mail could be sent",
            e.letter.account, settings_.recipients, e.letter.messageId, e.attempts);
    }
    entries_.clear();
    closeTimer(retryTimer_);
    closeTimer(drainTimer_);
    if (onFinished_)
        onFinished_(stats_);
    transport_->close([this] { delete this; });
}

}  // namespace geopol::operator_mail
