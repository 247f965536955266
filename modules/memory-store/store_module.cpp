// store_module.cpp - MemoryStoreModule: configuration, state file life cycle,
// background sweeping and snapshots.
#include "store_module.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <exception>
#include <filesystem>

#include "geopol/config.hpp"
#include "geopol/host.hpp"
#include "geopol/metrics.hpp"
#include "snapshot.hpp"

namespace geopol::memory_store {

namespace {

constexpr uint64_t kSweepIntervalMs = 1000;  // one shard per tick: a full pass per ~64 s
constexpr uint64_t kEvictionWarnIntervalMs = 60000;

// A background snapshot. Owns what it needs, so it may finish after the
// module that queued it was stopped and destroyed.
struct SnapshotJob {
    uv_work_t req;
    std::shared_ptr<SharedState> state;
    std::shared_ptr<spdlog::logger> log;
    Status status = Status::ok();
    bool wrote = false;
};

void runSnapshot(uv_work_t *req)
{
    auto *job = static_cast<SnapshotJob *>(req->data);
    try {
        job->status = job->state->saveIfChanged(job->wrote);
    } catch (const std::exception &e) {
        job->status = Status::error(std::string("snapshot failed: ") + e.what());
    }
}

void snapshotDone(uv_work_t *req, int)
{
    auto *job = static_cast<SnapshotJob *>(req->data);
    SharedState &st = *job->state;
    st.writing = false;
    if (!job->status) {
        ++st.snapshotFailures;
        // Once per failure streak, not every interval.
        if (!st.writeFailing.exchange(true))
            job->log->error("memory-store.snapshot_failed {}; retrying every snapshot-interval",
                            job->status.message());
    } else {
        if (st.writeFailing.exchange(false))
            job->log->info("memory-store.snapshot_recovered state file {} written again", st.path);
        if (job->wrote)
            job->log->debug("memory-store.snapshot_written path={} accounts={}", st.path,
                            st.store.accountCount());
    }
    delete job;
}

void sample(std::string &out, const std::string &name, uint64_t value)
{
    out += name;
    out += ' ';
    out += std::to_string(value);
    out += '\n';
}

}  // namespace

void renderStoreMetrics(const SharedState &state, std::string &out)
{
    const MemoryStore &store = state.store;
    out +=
        "# HELP geopol_store_accounts Accounts the store remembers.\n"
        "# TYPE geopol_store_accounts gauge\n";
    sample(out, "geopol_store_accounts{store=\"memory\"}", store.accountCount());
    BlockedCounts blocked = store.blockedCounts();
    out +=
        "# HELP geopol_store_blocked_accounts Accounts blocked right now.\n"
        "# TYPE geopol_store_blocked_accounts gauge\n";
    sample(out, "geopol_store_blocked_accounts{store=\"memory\",kind=\"temporary\"}",
           blocked.temporary);
    sample(out, "geopol_store_blocked_accounts{store=\"memory\",kind=\"permanent\"}",
           blocked.permanent);
    out +=
        "# HELP geopol_store_operations_total Store calls, by operation.\n"
        "# TYPE geopol_store_operations_total counter\n";
    for (size_t i = 0; i < static_cast<size_t>(Operation::kCount); ++i) {
        auto op = static_cast<Operation>(i);
        sample(out,
               std::string("geopol_store_operations_total{store=\"memory\",op=\"") +
                   operationName(op) + "\"}",
               store.operations(op));
    }
    out +=
        "# HELP geopol_store_errors_total Store calls that failed, by operation.\n"
        "# TYPE geopol_store_errors_total counter\n";
    for (size_t i = 0; i < static_cast<size_t>(Operation::kCount); ++i) {
        auto op = static_cast<Operation>(i);
        sample(out,
               std::string("geopol_store_errors_total{store=\"memory\",op=\"") + operationName(op) +
                   "\"}",
               store.errors(op));
    }
    out +=
        "# HELP geopol_store_evictions_total Accounts forgotten because max-accounts was "
        "reached.\n"
        "# TYPE geopol_store_evictions_total counter\n";
    sample(out, "geopol_store_evictions_total{store=\"memory\"}", store.evictions());
    out +=
        "# HELP geopol_store_snapshot_failures_total State file writes that failed.\n"
        "# TYPE geopol_store_snapshot_failures_total counter\n";
    sample(out, "geopol_store_snapshot_failures_total{store=\"memory\"}",
           state.snapshotFailures.load());
}

namespace {

void closeTimer(uv_timer_t *&timer)
{
    if (!timer)
        return;
    uv_timer_stop(timer);
    uv_close(reinterpret_cast<uv_handle_t *>(timer),
             [](uv_handle_t *h) { delete reinterpret_cast<uv_timer_t *>(h); });
    timer = nullptr;
}

}  // namespace

MemoryStoreModule::MemoryStoreModule(Clock clock) : clock_(std::move(clock)) {}

MemoryStoreModule::~MemoryStoreModule()
{
    // stop() normally did this; if it was skipped, still hand the state back.
    if (state_ && !released_)
        StateRegistry::release(state_, {});
}

Status MemoryStoreModule::configure(ConfigSection &cfg)
{
    options_.ttlSeconds = cfg.getInt("ttl", 3600, 1, int64_t{10} * 365 * 86400);
    options_.blockPermanent = cfg.getBool("block-permanent", false);
    options_.maxAccounts = static_cast<size_t>(cfg.getInt("max-accounts", 100000, 1, 1000000000));
    stateFile_ = cfg.getPath("state-file", kDefaultStateFile);
    snapshotIntervalMs_ = cfg.getDurationMs("snapshot-interval", 60000, 1000, 86400000);
    if (!stateFile_.empty() && stateFile_.back() == '/')
        cfg.error("state-file", "must name a file, not a directory (or be \"\" for no file)");
    return Status::ok();
}

// Runs under the registry lock, only when no instance holds this path yet.
std::shared_ptr<SharedState> MemoryStoreModule::openState(std::string &error)
{
    namespace fs = std::filesystem;
    bool persist = !stateFile_.empty();
    if (persist) {
        fs::path dir = fs::path(stateFile_).parent_path();
        if (dir.empty())
            dir = ".";
        std::error_code ec;
        if (!fs::is_directory(dir, ec)) {
            fs::create_directories(dir, ec);
            if (ec) {
                // The embedded defaults must work for a non-root user: run
                // without a file rather than refuse to start.
                log_->warn(
                    "memory-store.persistence_off cannot create directory {} ({}): "
                    "accounts and blocks are kept in memory only and lost at exit; "
                    "set state-file to a writable path, or \"\" to silence this",
                    dir.string(), ec.message());
                persist = false;
            } else {
                log_->info("memory-store.directory_created {}", dir.string());
            }
        } else if (::access(dir.c_str(), W_OK) != 0) {
            log_->warn(
                "memory-store.persistence_off directory {} is not writable: accounts and "
                "blocks are kept in memory only and lost at exit",
                dir.string());
            persist = false;
        }
    }

    auto state = std::make_shared<SharedState>(stateFile_, persist, options_, clock_);
    if (!stateFile_.empty()) {
        LoadResult loaded = loadSnapshot(stateFile_);
        if (!loaded.error.empty()) {
            // Refuse: starting empty would silently lift every block in the file.
            error = "memory-store: " + loaded.error +
                    ". Move the file aside to start with an empty store (its blocks are then "
                    "forgotten), or restore a good copy";
            return nullptr;
        }
        if (!loaded.exists) {
            log_->info("memory-store.state_missing {} does not exist yet; starting empty",
                       stateFile_);
        } else {
            size_t inFile = loaded.accounts.size();
            state->store.restore(std::move(loaded.accounts));
            log_->info("memory-store.state_loaded {} accounts from {}, {} still live", inFile,
                       stateFile_, state->store.accountCount());
        }
    }
    state->markSaved();
    return state;
}

Status MemoryStoreModule::start(Host &host)
{
    log_ = host.logger();
    loop_ = host.loop();
    bool adopted = false;
    std::string error;
    state_ = StateRegistry::acquire(
        stateFile_, [this](std::string &e) { return openState(e); }, adopted, error);
    if (!state_)
        return Status::error(error);
    // A reload's new ttl, block-permanent and max-accounts apply to the shared store.
    state_->store.setOptions(options_);
    if (adopted)
        log_->info("memory-store.adopted {} accounts from the running instance",
                   state_->store.accountCount());
    host.provide("store", static_cast<Store *>(this));
    // The source holds the state: it outlives this instance's stop(), as the
    // chain's metrics table does.
    if (auto *metrics = host.find<Metrics>("metrics"))
        metrics->addSource([state = state_](std::string &out) { renderStoreMetrics(*state, out); });
    startTimers();
    return Status::ok();
}

void MemoryStoreModule::startTimers()
{
    if (!loop_)
        return;
    // Housekeeping must never keep the loop alive on its own: unref.
    sweepTimer_ = new uv_timer_t;
    uv_timer_init(loop_, sweepTimer_);
    sweepTimer_->data = this;
    uv_timer_start(
        sweepTimer_,
        [](uv_timer_t *t) { static_cast<MemoryStoreModule *>(t->data)->onSweepTimer(); },
        kSweepIntervalMs, kSweepIntervalMs);
    uv_unref(reinterpret_cast<uv_handle_t *>(sweepTimer_));

    if (state_->persist) {
        snapshotTimer_ = new uv_timer_t;
        uv_timer_init(loop_, snapshotTimer_);
        snapshotTimer_->data = this;
        auto interval = static_cast<uint64_t>(snapshotIntervalMs_);
        uv_timer_start(
            snapshotTimer_,
            [](uv_timer_t *t) { static_cast<MemoryStoreModule *>(t->data)->onSnapshotTimer(); },
            interval, interval);
        uv_unref(reinterpret_cast<uv_handle_t *>(snapshotTimer_));
    }
}

void MemoryStoreModule::onSweepTimer()
{
    size_t shard = state_->sweepCursor.fetch_add(1) % MemoryStore::kShards;
    size_t dropped = state_->store.sweep(shard);
    if (dropped)
        log_->debug("memory-store.swept shard={} dropped={} accounts={}", shard, dropped,
                    state_->store.accountCount());

    uint64_t evictions = state_->store.evictions();
    uint64_t now = uv_now(loop_);
    if (evictions > warnedEvictions_ &&
        (!evictionWarned_ || now - lastEvictionWarnMs_ >= kEvictionWarnIntervalMs)) {
        log_->warn(
            "memory-store.evicting {} accounts evicted so far because max-accounts ({}) "
            "was reached; the least recently seen are forgotten first: raise "
            "max-accounts",
            evictions, state_->store.options().maxAccounts);
        warnedEvictions_ = evictions;
        lastEvictionWarnMs_ = now;
        evictionWarned_ = true;
    }
}

void MemoryStoreModule::onSnapshotTimer()
{
    if (state_->writing.exchange(true))
        return;  // the previous one is still running: skip a round
    auto *job = new SnapshotJob{{}, state_, log_};
    job->req.data = job;
    int rc = uv_queue_work(loop_, &job->req, runSnapshot, snapshotDone);
    if (rc != 0) {
        state_->writing = false;
        log_->error("memory-store.snapshot_failed cannot queue the snapshot: {}", uv_strerror(rc));
        delete job;
    }
}

void MemoryStoreModule::stop()
{
    closeTimer(sweepTimer_);
    closeTimer(snapshotTimer_);
    if (!state_ || released_)
        return;
    released_ = true;
    // Only the last instance writes (a reload's new instance carries on);
    // synchronous, because after this the process may exit.
    StateRegistry::release(state_, [this] {
        if (!state_->persist)
            return;
        bool wrote = false;
        Status s = state_->saveIfChanged(wrote);
        if (!s)
            log_->error("memory-store.snapshot_failed {}; changes since the last snapshot are lost",
                        s.message());
        else if (wrote)
            log_->info("memory-store.saved {} accounts to {}", state_->store.accountCount(),
                       state_->path);
    });
    // state_ stays: requests of this chain still in flight may record until
    // the module is destroyed (after the final snapshot their changes are
    // not saved, which only matters at shutdown).
}

// ---- Store: forward to the shared store --------------------------------------

namespace {

StoreResult notStarted()
{
    StoreResult r;
    r.ok = false;
    r.error = "memory-store is not started";
    return r;
}

}  // namespace

void MemoryStoreModule::record(const Observation &obs, StoreDone done)
{
    if (!state_)
        return done(notStarted());
    state_->store.record(obs, std::move(done));
}

void MemoryStoreModule::block(std::string_view account, StoreDone done)
{
    if (!state_)
        return done(notStarted());
    state_->store.block(account, std::move(done));
}

void MemoryStoreModule::unlock(std::string_view account, StoreDone done)
{
    if (!state_)
        return done(notStarted());
    state_->store.unlock(account, std::move(done));
}

void MemoryStoreModule::inspect(std::string_view account, StoreDone done)
{
    if (!state_)
        return done(notStarted());
    state_->store.inspect(account, std::move(done));
}

}  // namespace geopol::memory_store
