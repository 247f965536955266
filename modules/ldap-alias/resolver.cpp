// resolver.cpp
#include "resolver.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "filter.hpp"

namespace geopol::ldap_alias {

namespace {

// Milliseconds on the monotonic clock, read now. uv_now() is the time the
// loop iteration began and lags behind while it runs; deadlines use this.
uint64_t nowMs()
{
    return uv_hrtime() / 1'000'000;
}

void asciiLower(std::string &s)
{
    for (char &c : s)
        if (c >= 'A' && c <= 'Z')
            c = static_cast<char>(c - 'A' + 'a');
}

}  // namespace

Resolver::Resolver(uv_loop_t *loop, const Settings &settings, std::shared_ptr<spdlog::logger> log)
    : loop_(loop),
      settings_(settings),
      log_(std::move(log)),
      cache_(settings.cacheSize, settings.cacheTtlMs, settings.cacheNegativeTtlMs)
{
}

Resolver::~Resolver()
{
    stop();
}

Status Resolver::start()
{
    pool_ = std::make_unique<WorkerPool>(
        loop_, settings_, [this](const std::shared_ptr<Lookup> &l) { completed(l); });
    if (Status s = pool_->start(); !s)
        return s;
    timer_ = new uv_timer_t;
    if (int rc = uv_timer_init(loop_, timer_); rc != 0) {
        delete timer_;
        timer_ = nullptr;
        return Status::error(std::string("uv_timer_init: ") + uv_strerror(rc));
    }
    timer_->data = this;
    started_ = true;
    return Status::ok();
}

void Resolver::stop()
{
    if (stopped_)
        return;
    stopped_ = true;
    if (pool_)
        pool_->stop();
    if (timer_) {
        uv_timer_stop(timer_);
        uv_close(reinterpret_cast<uv_handle_t *>(timer_),
                 [](uv_handle_t *h) { delete reinterpret_cast<uv_timer_t *>(h); });
        timer_ = nullptr;
    }
    auto pending = std::move(pending_);
    pending_.clear();
    keyOf_.clear();
    deadlines_.clear();
    Resolution r;
    r.kind = Resolution::Kind::Failed;
    r.error = "ldap-alias is stopping (reload or shutdown)";
    for (auto &[key, p] : pending)
        for (auto &done : p.waiters)
            done(r);
}

const CachedAnswer *Resolver::cached(std::string_view key)
{
    if (!settings_.cacheEnabled())
        return nullptr;
    return cache_.find(key, static_cast<int64_t>(uv_now(loop_)));
}

void Resolver::resolve(std::string_view key, ResolveDone done)
{
    Resolution fail;
    fail.kind = Resolution::Kind::Failed;
    if (!started_ || stopped_) {
        fail.error = "ldap-alias is not running";
        done(fail);
        return;
    }
    if (auto it = pending_.find(key); it != pending_.end()) {
        // The same identity is already being looked up: share its answer.
        it->second.waiters.push_back(std::move(done));
        return;
    }
    if (pending_.size() >= kMaxPending) {
        fail.error = fmt::format("{} lookups are already waiting for the directory", kMaxPending);
        done(fail);
        return;
    }
    uint64_t startedNs = uv_hrtime();
    auto lookup = std::make_shared<Lookup>();
    lookup->filter = buildFilter(settings_.filter, key);
    lookup->deadline = Clock::now() + std::chrono::milliseconds(settings_.timeoutMs);
    if (!pool_->submit(lookup)) {
        fail.error = "ldap-alias is stopping (reload or shutdown)";
        done(fail);
        return;
    }
    ++lookups_;
    std::string k(key);
    Pending p;
    p.lookup = lookup;
    p.waiters.push_back(std::move(done));
    p.startedMs = startedNs / 1'000'000;
    p.startedNs = startedNs;
    deadlines_.push_back({p.startedMs + static_cast<uint64_t>(settings_.timeoutMs), k, lookup});
    keyOf_[lookup.get()] = k;
    pending_.emplace(std::move(k), std::move(p));
    if (deadlines_.size() == 1)
        armTimer();
}

void Resolver::armTimer()
{
    if (!timer_)
        return;
    if (deadlines_.empty()) {
        uv_timer_stop(timer_);
        return;
    }
    uint64_t now = nowMs();
    uint64_t at = deadlines_.front().atMs;
    uv_timer_start(timer_, onTimer, at > now ? at - now : 0, 0);
}

void Resolver::onTimer(uv_timer_t *t)
{
    static_cast<Resolver *>(t->data)->expire();
}

void Resolver::expire()
{
    uint64_t now = nowMs();
    while (!deadlines_.empty() && deadlines_.front().atMs <= now) {
        DeadlineEntry entry = std::move(deadlines_.front());
        deadlines_.pop_front();
        auto it = pending_.find(entry.key);
        if (it == pending_.end() || it->second.lookup != entry.lookup)
            continue;  // answered already
        if (!pool_->abandon(entry.lookup))
            continue;  // finished a moment ago: its answer is on the way
        Resolution r;
        r.kind = Resolution::Kind::Failed;
        r.error =
            fmt::format("no answer from the directory within {} ms (timeout)", settings_.timeoutMs);
        log_->debug("ldap-alias.lookup identity={} result=timeout ms={}", entry.key,
                    settings_.timeoutMs);
        noteFailure(r.error);
        finish(entry.key, r);
    }
    armTimer();
}

void Resolver::completed(const std::shared_ptr<Lookup> &lookup)
{
    auto k = keyOf_.find(lookup.get());
    if (k == keyOf_.end())
        return;  // abandoned in the meantime
    std::string key = k->second;
    auto it = pending_.find(key);
    if (it == pending_.end() || it->second.lookup != lookup) {
        keyOf_.erase(k);
        return;
    }
    double ms = static_cast<double>(uv_hrtime() - it->second.startedNs) / 1e6;
    Resolution r = interpret(key, *lookup);
    switch (r.kind) {
        case Resolution::Kind::Found:
            log_->debug(
                "ldap-alias.lookup identity={} result=found account={} ms={:.2f} "
                "server={}{}",
                key, r.account, ms, lookup->server,
                lookup->connected ? (lookup->reconnected ? " reconnected" : " connected") : "");
            break;
        case Resolution::Kind::NotFound:
            log_->debug(
                "ldap-alias.lookup identity={} result=not_found entries={} ms={:.2f} "
                "server={}{}",
                key, lookup->result.entries, ms, lookup->server,
                lookup->connected ? (lookup->reconnected ? " reconnected" : " connected") : "");
            break;
        case Resolution::Kind::Failed:
            log_->debug("ldap-alias.lookup identity={} result=error ms={:.2f}: {}", key, ms,
                        r.error);
            break;
    }
    if (r.kind != Resolution::Kind::Failed) {
        CachedAnswer a;
        a.found = r.kind == Resolution::Kind::Found;
        a.account = r.account;
        cache_.put(key, std::move(a), static_cast<int64_t>(uv_now(loop_)));
    }
    finish(key, r);
}

Resolution Resolver::interpret(const std::string &key, const Lookup &lookup)
{
    Resolution r;
    const SearchResult &res = lookup.result;
    if (res.status != SearchResult::Status::Ok) {
        r.kind = Resolution::Kind::Failed;
        r.error = res.error.empty() ? "the directory did not answer" : res.error;
        // The worker's own timeout and the loop's deadline race; either way
        // the message is the same.
        if (res.status == SearchResult::Status::TimedOut)
            r.error = fmt::format("no answer from the directory within {} ms (timeout): {}",
                                  settings_.timeoutMs, r.error);
        noteFailure(r.error);
        return r;
    }
    noteSuccess(lookup);
    if (res.skippedValues > 0)
        log_->info(
            "ldap-alias.unusable_value identity={} attribute={} skipped={}: empty, longer "
            "than {} bytes, or with control characters",
            key, settings_.resultAttribute, res.skippedValues, kMaxValueLength);

    // Lower-cased and without repeats, in the server's order.
    std::vector<std::string> values;
    for (std::string v : res.values) {
        asciiLower(v);
        if (std::find(values.begin(), values.end(), v) == values.end())
            values.push_back(std::move(v));
    }
    if (values.empty()) {
        r.kind = Resolution::Kind::NotFound;
        return r;
    }
    if (values.size() == 1) {
        r.kind = Resolution::Kind::Found;
        r.account = std::move(values.front());
        return r;
    }
    switch (settings_.multipleValues) {
        case MultipleValues::First:
            r.account = values.front();
            break;
        case MultipleValues::Lowest:
            r.account = *std::min_element(values.begin(), values.end());
            break;
        case MultipleValues::Fail:
            r.kind = Resolution::Kind::Failed;
            r.error = fmt::format(
                "{} has {} values of {} in {} entries ({}); multiple-values is "
                "fail",
                key, values.size(), settings_.resultAttribute, res.entries,
                fmt::join(values, ", "));
            log_->warn(
                "ldap-alias.multiple_values identity={} entries={} values=[{}] "
                "policy=fail: answered with the failure action",
                key, res.entries, fmt::join(values, ", "));
            return r;
    }
    r.kind = Resolution::Kind::Found;
    log_->info("ldap-alias.multiple_values identity={} entries={} values=[{}] chose={} policy={}",
               key, res.entries, fmt::join(values, ", "), r.account,
               multipleValuesName(settings_.multipleValues));
    return r;
}

void Resolver::finish(const std::string &key, const Resolution &r)
{
    auto it = pending_.find(key);
    if (it == pending_.end())
        return;
    std::vector<ResolveDone> waiters = std::move(it->second.waiters);
    keyOf_.erase(it->second.lookup.get());
    pending_.erase(it);
    // A waiter may start another lookup for this key: the entry is gone first.
    for (auto &done : waiters)
        done(r);
}

void Resolver::noteSuccess(const Lookup &lookup)
{
    if (lookup.connected && !lookup.connectErrors.empty())
        log_->debug("ldap-alias.connected server={} after: {}", lookup.server,
                    fmt::join(lookup.connectErrors, "; "));
    if (!lastServer_.empty() && lookup.server != lastServer_)
        log_->warn("ldap-alias.failover from={} to={}", lastServer_, lookup.server);
    lastServer_ = lookup.server;
    if (state_ == State::Down) {
        log_->warn(
            "ldap-alias.server_up server={} after={:.1f}s failed_lookups={}: lookups "
            "answer again",
            lookup.server, static_cast<double>(nowMs() - downSinceMs_) / 1000.0,
            failuresWhileDown_);
    } else if (state_ == State::Unknown) {
        log_->info("ldap-alias.server_up server={}: first answer", lookup.server);
    }
    state_ = State::Up;
}

void Resolver::noteFailure(const std::string &error)
{
    if (state_ != State::Down) {
        log_->warn(
            "ldap-alias.server_down error=\"{}\": requests get the failure action until "
            "a server answers",
            error);
        state_ = State::Down;
        downSinceMs_ = nowMs();
        failuresWhileDown_ = 0;
    }
    ++failuresWhileDown_;
}

}  // namespace geopol::ldap_alias
