// redis_store.cpp - RedisStore: commands for the Store calls, locating the
// servers (DNS off the loop, Sentinel), failover, shutdown.
#include "redis_store.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netdb.h>
#include <spdlog/spdlog.h>

#include "reply.hpp"

namespace geopol::redis_store {

namespace {

bool numericAddress(const std::string &host)
{
    unsigned char buf[sizeof(in6_addr)];
    return inet_pton(AF_INET, host.c_str(), buf) == 1 ||
           inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

StoreResult stopped()
{
    StoreResult r;
    r.ok = false;
    r.error = "redis-store is stopped";
    return r;
}

}  // namespace

RedisStore::RedisStore(uv_loop_t *loop, std::shared_ptr<spdlog::logger> log, Settings settings)
    : loop_(loop), log_(std::move(log)), settings_(std::move(settings))
{
    auto closed = [this] { linkClosed(); };
    if (settings_.useSentinel()) {
        LinkOptions sentinel = linkOptions("sentinel");
        sentinel.username = settings_.sentinelUsername;
        sentinel.password = settings_.sentinelPassword;
        sentinel.database = 0;
        sentinel.loadScripts = false;
        // Each attempt tries the next Sentinel of the list.
        auto nextSentinel = [this](size_t &index) {
            return [this, &index](LocateDone done) {
                const Endpoint &where = settings_.sentinels[index++ % settings_.sentinels.size()];
                resolve(where, std::move(done));
            };
        };
        sentinel_ =
            std::make_unique<Link>(loop_, log_, sentinel, nextSentinel(nextSentinel_), closed);
        LinkOptions events = sentinel;
        events.role = "sentinel-events";
        events_ =
            std::make_unique<Link>(loop_, log_, events, nextSentinel(nextEventsSentinel_), closed);
        events_->subscribe("+switch-master",
                           [this](std::string_view message) { onSwitchMaster(message); });
        open_ += 2;
    }

    LinkOptions master = linkOptions("master");
    master.requireMaster = true;
    master_ = std::make_unique<Link>(
        loop_, log_, master,
        [this](LocateDone done) {
            if (settings_.useSentinel())
                locateMaster(std::move(done));
            else
                resolve(settings_.master, std::move(done));
        },
        closed);
    ++open_;

    if (settings_.useSentinel() || settings_.separateReplica()) {
        replica_ = std::make_unique<Link>(
            loop_, log_, linkOptions("replica"),
            [this](LocateDone done) {
                if (settings_.useSentinel())
                    locateReplica(std::move(done));
                else
                    resolve(settings_.replica, std::move(done));
            },
            closed);
        ++open_;
    }
}

RedisStore::~RedisStore() = default;

LinkOptions RedisStore::linkOptions(std::string role) const
{
    LinkOptions o;
    o.role = std::move(role);
    o.username = settings_.username;
    o.password = settings_.password;
    o.database = settings_.database;
    o.loadScripts = true;
    o.commandTimeoutMs = static_cast<uint64_t>(settings_.commandTimeoutMs);
    o.connectTimeoutMs = static_cast<uint64_t>(settings_.connectTimeoutMs);
    o.backoffMaxMs = static_cast<uint64_t>(settings_.reconnectBackoffMaxMs);
    o.ttlText = std::to_string(settings_.ttlSeconds);
    o.blockPermanent = settings_.blockPermanent;
    return o;
}

void RedisStore::start()
{
    for (Link *link : {sentinel_.get(), events_.get(), master_.get(), replica_.get()})
        if (link)
            link->start();
}

uint64_t RedisStore::failedWhileDown() const
{
    uint64_t n = master_ ? master_->failedWhileDown() : 0;
    if (replica_)
        n += replica_->failedWhileDown();
    return n;
}

// ---- the Store ------------------------------------------------------------------

Command *RedisStore::command(Op op, std::string_view account, StoreDone done) const
{
    auto *cmd = new Command;
    cmd->op = op;
    cmd->key = accountKey(settings_.prefix, account);
    cmd->done = std::move(done);
    return cmd;
}

void RedisStore::record(const Observation &obs, StoreDone done)
{
    if (stopping_)
        return done(stopped());
    Command *cmd = command(Op::Record, obs.account, std::move(done));
    cmd->ip = obs.ip;
    cmd->country = obs.country;
    cmd->home = obs.home;
    cmd->lists = obs.wantLists;
    master_->submit(cmd);
}

void RedisStore::block(std::string_view account, StoreDone done)
{
    if (stopping_)
        return done(stopped());
    master_->submit(command(Op::Block, account, std::move(done)));
}

void RedisStore::unlock(std::string_view account, StoreDone done)
{
    if (stopping_)
        return done(stopped());
    master_->submit(command(Op::Unlock, account, std::move(done)));
}

void RedisStore::inspect(std::string_view account, StoreDone done)
{
    if (stopping_)
        return done(stopped());
    // The replica only while it is connected: an operator looking at an
    // account should not get an error because a replica is down.
    Link *link = replica_ && replica_->ready() ? replica_.get() : master_.get();
    link->submit(command(Op::Inspect, account, std::move(done)));
}

// ---- locating servers -----------------------------------------------------------

// A DNS lookup on libuv's thread pool; owns what its callback needs.
struct RedisStore::Lookup {
    uv_getaddrinfo_t req;
    Endpoint where;
    LocateDone done;
    RedisStore *store;
};

void RedisStore::resolve(const Endpoint &where, LocateDone done)
{
    if (stopping_)
        return done(false, where, "redis-store is stopped");
    if (where.unixSocket || numericAddress(where.host))
        return done(true, where, {});

    auto *lookup = new Lookup{{}, where, std::move(done), this};
    lookup->req.data = lookup;
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int rc = uv_getaddrinfo(loop_, &lookup->req, &RedisStore::onResolved, where.host.c_str(),
                            nullptr, &hints);
    if (rc != 0) {
        LocateDone d = std::move(lookup->done);
        delete lookup;
        return d(false, where, fmt::format("cannot resolve {}: {}", where.host, uv_strerror(rc)));
    }
    ++open_;  // shutdown() waits for the lookup: its callback needs the store
}

void RedisStore::onResolved(uv_getaddrinfo_t *req, int status, addrinfo *res)
{
    std::unique_ptr<Lookup> lookup(static_cast<Lookup *>(req->data));
    Endpoint where = lookup->where;
    std::string error;
    bool ok = false;
    if (status != 0) {
        error = fmt::format("cannot resolve {}: {}", where.host, uv_strerror(status));
    } else if (res) {
        char text[INET6_ADDRSTRLEN] = "";
        if (res->ai_family == AF_INET6)
            uv_ip6_name(reinterpret_cast<const sockaddr_in6 *>(res->ai_addr), text, sizeof text);
        else
            uv_ip4_name(reinterpret_cast<const sockaddr_in *>(res->ai_addr), text, sizeof text);
        where.host = text;
        ok = true;
    } else {
        error = fmt::format("{} has no address", where.host);
    }
    uv_freeaddrinfo(res);
    // A link closed meanwhile ignores the result (its attempt is over).
    lookup->done(ok, where, error);
    RedisStore *store = lookup->store;
    if (--store->open_ == 0 && store->stopping_)
        delete store;
}

void RedisStore::askSentinel(std::vector<std::string> args, CallDone done)
{
    auto *cmd = new Command;
    cmd->op = Op::Call;
    cmd->args = std::move(args);
    cmd->onReply = std::move(done);
    sentinel_->submit(cmd);
}

void RedisStore::locateMaster(LocateDone done)
{
    askSentinel(
        {"SENTINEL", "get-master-addr-by-name", settings_.sentinelMasterName},
        [this, done = std::move(done)](const redisReply *r, const std::string &error) {
            if (!r)
                return done(false, {}, "asking Sentinel for the master: " + error);
            if (r->type == REDIS_REPLY_ERROR)
                return done(false, {}, "Sentinel: " + describe(r));
            Endpoint where;
            std::string why;
            if (!parseMasterAddress(r, where, why))
                return done(false, {}, fmt::format("{} ({})", why, settings_.sentinelMasterName));
            if (!sentinelMaster_)
                log_->info("redis-store.master_located Sentinel names {} as master {}",
                           where.text(), settings_.sentinelMasterName);
            else if (!(*sentinelMaster_ == where))
                log_->warn("redis-store.master_switched Sentinel names {} as master {} (was {})",
                           where.text(), settings_.sentinelMasterName, sentinelMaster_->text());
            sentinelMaster_ = where;
            resolve(where, done);
        });
}

void RedisStore::locateReplica(LocateDone done)
{
    askSentinel({"SENTINEL", "replicas", settings_.sentinelMasterName},
                [this, done = std::move(done)](const redisReply *r, const std::string &error) {
                    Endpoint where;
                    if (r && pickReplica(r, where))
                        return resolve(where, done);
                    // No replica in sync (or Sentinel unreachable): read the master.
                    log_->debug("redis-store.no_replica {}; inspect() reads the master",
                                r ? describe(r) : error);
                    locateMaster(done);
                });
}

void RedisStore::onSwitchMaster(std::string_view message)
{
    std::string name;
    Endpoint to;
    if (!parseSwitchMaster(message, name, to) || name != settings_.sentinelMasterName)
        return;
    log_->info("redis-store.switch_announced Sentinel moved master {} to {}", name, to.text());
    if (!(master_->endpoint() == to) || !master_->ready())
        master_->reconnect("Sentinel announced a new master " + to.text());
    if (replica_)
        replica_->reconnect("Sentinel announced a new master " + to.text());
}

// ---- shutdown ---------------------------------------------------------------------

void RedisStore::shutdown()
{
    if (stopping_)
        return;
    stopping_ = true;
    // Sentinel last: the master's and replica's pending lookups fail through it.
    for (Link *link : {master_.get(), replica_.get(), events_.get(), sentinel_.get()})
        if (link)
            link->close();
}

void RedisStore::linkClosed()
{
    if (--open_ == 0 && stopping_)
        delete this;
}

}  // namespace geopol::redis_store
