// resolver.hpp - identity -> account, on the loop thread: the cache, one
// directory lookup per identity at a time, the deadline of every lookup, and
// the up/down state of the directory with its log lines.
#pragma once

#include <spdlog/logger.h>
#include <uv.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "geopol/module.hpp"
#include "result_cache.hpp"
#include "settings.hpp"
#include "worker_pool.hpp"

namespace geopol::ldap_alias {

struct Resolution {
    enum class Kind {
        Found,     ///< `account` is the lower-cased value of the result attribute
        NotFound,  ///< no entry, or no usable value
        Failed,    ///< the directory could not answer; `error` says why
    };
    Kind kind = Kind::Failed;
    std::string account;
    std::string error;
    bool cached = false;
};

using ResolveDone = std::function<void(const Resolution &)>;

/// Lookups waiting at most for this many distinct identities; beyond, new
/// ones fail at once rather than queue behind a directory that is not keeping up.
constexpr size_t kMaxPending = 4096;

class Resolver {
public:
    Resolver(uv_loop_t *loop, const Settings &settings, std::shared_ptr<spdlog::logger> log);
    ~Resolver();
    Resolver(const Resolver &) = delete;
    Resolver &operator=(const Resolver &) = delete;

    Status start();
    /// Fails the pending lookups ("stopping") and ends the workers.
    void stop();

    /// The cached answer for `key` (a lower-cased identity), or nullptr. The
    /// pointer is valid until the next call into the resolver.
    const CachedAnswer *cached(std::string_view key);

    /// Asks the directory (the cache is not consulted: call cached() first).
    /// `done` runs on the loop thread, possibly before resolve() returns (when
    /// the lookup cannot even start).
    void resolve(std::string_view key, ResolveDone done);

    uint64_t lookups() const { return lookups_; }

private:
    struct Pending {
        std::shared_ptr<Lookup> lookup;
        std::vector<ResolveDone> waiters;
        uint64_t startedMs = 0;
        uint64_t startedNs = 0;
    };
    struct DeadlineEntry {
        uint64_t atMs;
        std::string key;
        std::shared_ptr<Lookup> lookup;
    };

    void completed(const std::shared_ptr<Lookup> &lookup);
    Resolution interpret(const std::string &key, const Lookup &lookup);
    void finish(const std::string &key, const Resolution &r);
    void armTimer();
    static void onTimer(uv_timer_t *t);
    void expire();
    void noteSuccess(const Lookup &lookup);
    void noteFailure(const std::string &error);

    uv_loop_t *loop_;
    const Settings &settings_;
    std::shared_ptr<spdlog::logger> log_;
    ResultCache cache_;
    std::unique_ptr<WorkerPool> pool_;
    std::map<std::string, Pending, std::less<>> pending_;  // by key
    std::map<const Lookup *, std::string> keyOf_;          // lookup -> key
    std::deque<DeadlineEntry> deadlines_;                  // in submission order = deadline order
    uv_timer_t *timer_ = nullptr;                          // heap: freed by its close callback
    bool started_ = false;
    bool stopped_ = false;

    // Directory state, for one warning per change instead of one per request.
    enum class State { Unknown, Up, Down };
    State state_ = State::Unknown;
    uint64_t downSinceMs_ = 0;
    uint64_t failuresWhileDown_ = 0;
    std::string lastServer_;  // URI of the last answer, for the failover warning
    uint64_t lookups_ = 0;
};

}  // namespace geopol::ldap_alias
