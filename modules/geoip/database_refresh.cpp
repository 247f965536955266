// database_refresh.cpp - see database_refresh.hpp.
#include "database_refresh.hpp"

namespace geopol::geoip {

/// One check, owned by the thread pool from queueing until afterWork: the
/// refresh may be stopped (its module gone) while the check runs.
struct DatabaseRefresh::Check {
    uv_work_t req{};
    DatabaseRefresh *owner = nullptr;  // nullptr once stopped
    // Read by the worker thread, written before queueing.
    std::string path;
    std::optional<FileStamp> inUse, refused;
    bool hasRefused = false;
    // Written by the worker thread, read in afterWork.
    std::optional<FileStamp> seen;  // the file found at the path
    std::unique_ptr<GeoDatabase> fresh;
    std::string error;
};

void DatabaseRefresh::start(uv_loop_t *loop, int64_t intervalMs, const GeoDatabase &current,
                            Swap swap, Refused refused)
{
    stop();
    loop_ = loop;
    path_ = current.path();
    onSwap_ = std::move(swap);
    onRefused_ = std::move(refused);
    adopt(current);
    timer_ = new uv_timer_t;
    uv_timer_init(loop_, timer_);
    timer_->data = this;
    // Unreferenced: a pending check must not keep a stopping loop alive.
    uv_unref(reinterpret_cast<uv_handle_t *>(timer_));
    auto every = static_cast<uint64_t>(intervalMs);
    uv_timer_start(timer_, onTimer, every, every);
}

void DatabaseRefresh::adopt(const GeoDatabase &current)
{
    inUse_ = current.stamp();
    refused_.reset();
    hasRefused_ = false;
}

void DatabaseRefresh::stop()
{
    if (inFlight_) {
        inFlight_->owner = nullptr;  // afterWork frees it
        inFlight_ = nullptr;
    }
    if (timer_) {
        uv_close(reinterpret_cast<uv_handle_t *>(timer_),
                 [](uv_handle_t *h) { delete reinterpret_cast<uv_timer_t *>(h); });
        timer_ = nullptr;
    }
}

void DatabaseRefresh::onTimer(uv_timer_t *timer)
{
    auto *self = static_cast<DatabaseRefresh *>(timer->data);
    if (self->inFlight_)
        return;  // a slow disk: the next tick will look again
    auto *check = new Check;
    check->req.data = check;
    check->owner = self;
    check->path = self->path_;
    check->inUse = self->inUse_;
    check->refused = self->refused_;
    check->hasRefused = self->hasRefused_;
    if (uv_queue_work(self->loop_, &check->req, work, afterWork) != 0) {
        delete check;
        return;
    }
    self->inFlight_ = check;
}

// In the thread pool: stat() and MMDB_open() may wait for the disk.
void DatabaseRefresh::work(uv_work_t *req)
{
    auto *check = static_cast<Check *>(req->data);
    check->seen = GeoDatabase::stampOf(check->path);
    // A missing file (nullopt) is a state like any other: refused once.
    if (check->seen == check->inUse || (check->hasRefused && check->seen == check->refused))
        return;  // unchanged, or the same unusable file as last time
    auto fresh = std::make_unique<GeoDatabase>();
    if (Status s = fresh->open(check->path); !s) {
        check->error = s.message();
        return;
    }
    check->seen = fresh->stamp();
    check->fresh = std::move(fresh);
}

void DatabaseRefresh::afterWork(uv_work_t *req, int)
{
    std::unique_ptr<Check> check(static_cast<Check *>(req->data));
    DatabaseRefresh *self = check->owner;
    if (!self)
        return;  // stopped meanwhile; the fresh database, if any, closes here
    self->inFlight_ = nullptr;
    if (check->fresh) {
        self->onSwap_(std::move(check->fresh));
    } else if (!check->error.empty()) {
        self->refused_ = check->seen;
        self->hasRefused_ = true;
        self->onRefused_(check->error);
    }
}

}  // namespace geopol::geoip
