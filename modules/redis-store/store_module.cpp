// store_module.cpp - RedisStoreModule: configure, start, stop, forwarding.
#include "store_module.hpp"

#include <spdlog/spdlog.h>

#include "geopol/config.hpp"
#include "geopol/host.hpp"
#include "redis_store.hpp"

namespace geopol::redis_store {

namespace {

StoreResult notStarted()
{
    StoreResult r;
    r.ok = false;
    r.error = "redis-store is not started";
    return r;
}

std::string describeServers(const Settings &s)
{
    std::string text;
    if (s.useSentinel()) {
        text = "master " + s.sentinelMasterName + " via Sentinel";
        for (const Endpoint &e : s.sentinels)
            text += " " + e.text();
    } else {
        text = "master " + s.master.text();
        if (s.separateReplica())
            text += ", replica " + s.replica.text();
    }
    return text;
}

}  // namespace

RedisStoreModule::~RedisStoreModule()
{
    // stop() normally did this.
    if (store_)
        store_->shutdown();
}

Status RedisStoreModule::configure(ConfigSection &cfg)
{
    settings_ = readSettings(cfg);  // problems went to cfg.error()
    return Status::ok();
}

Status RedisStoreModule::start(Host &host)
{
    log_ = host.logger();
    if (!host.loop())
        return Status::error("redis-store needs the daemon's event loop");
    store_ = new RedisStore(host.loop(), log_, settings_);
    store_->start();  // connects in the background
    host.provide("store", static_cast<Store *>(this));
    log_->info(
        "redis-store.started {} database={} prefix=\"{}\" ttl={}s block-permanent={} "
        "command-timeout={}ms",
        describeServers(settings_), settings_.database, settings_.prefix, settings_.ttlSeconds,
        settings_.blockPermanent, settings_.commandTimeoutMs);
    return Status::ok();
}

void RedisStoreModule::stop()
{
    if (store_)
        store_->shutdown();
    store_ = nullptr;
}

void RedisStoreModule::record(const Observation &obs, StoreDone done)
{
    if (!store_)
        return done(notStarted());
    store_->record(obs, std::move(done));
}

void RedisStoreModule::block(std::string_view account, StoreDone done)
{
    if (!store_)
        return done(notStarted());
    store_->block(account, std::move(done));
}

void RedisStoreModule::unlock(std::string_view account, StoreDone done)
{
    if (!store_)
        return done(notStarted());
    store_->unlock(account, std::move(done));
}

void RedisStoreModule::inspect(std::string_view account, StoreDone done)
{
    if (!store_)
        return done(notStarted());
    store_->inspect(account, std::move(done));
}

}  // namespace geopol::redis_store
