// database_refresh.hpp - picks up a new GeoIP database file without a reload,
// as the reference did every 300 s (geoipupdate from cron, then nothing else
// to do).
//
// Every `interval` it asks, off the loop, whether the file at the database's
// path is still the one mapped; when it is not, it maps the new file, also off
// the loop, and hands it to the module, which swaps it in between two
// requests. A file that cannot be opened is refused once (logged by the
// module) and the old database keeps serving; it is tried again only when the
// file changes again.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "geo_database.hpp"

namespace geopol::geoip {

class DatabaseRefresh {
public:
    /// A new database was mapped and checked; the callee takes it.
    using Swap = std::function<void(std::unique_ptr<GeoDatabase>)>;
    /// The file changed but cannot be used; `error` names it and why.
    using Refused = std::function<void(const std::string &error)>;

    DatabaseRefresh() = default;
    ~DatabaseRefresh() { stop(); }
    DatabaseRefresh(const DatabaseRefresh &) = delete;
    DatabaseRefresh &operator=(const DatabaseRefresh &) = delete;

    /// Checks every `intervalMs` (> 0) on `loop`. `current` is the database
    /// in use; after a Swap the callee must call adopt() with the new one.
    void start(uv_loop_t *loop, int64_t intervalMs, const GeoDatabase &current, Swap swap,
               Refused refused);

    /// The database now in use, so that later checks compare against it.
    void adopt(const GeoDatabase &current);

    /// No callback runs after this; a check in flight finishes in the thread
    /// pool and is thrown away. Safe to call twice.
    void stop();

private:
    struct Check;
    static void onTimer(uv_timer_t *timer);
    static void work(uv_work_t *req);
    static void afterWork(uv_work_t *req, int status);

    uv_loop_t *loop_ = nullptr;
    uv_timer_t *timer_ = nullptr;  // heap: closed asynchronously, freed in its close callback
    Check *inFlight_ = nullptr;    // at most one check at a time
    std::string path_;
    std::optional<FileStamp> inUse_;    // the mapped file
    std::optional<FileStamp> refused_;  // the last file that could not be used (nullopt: missing)
    bool hasRefused_ = false;
    Swap onSwap_;
    Refused onRefused_;
};

}  // namespace geopol::geoip
