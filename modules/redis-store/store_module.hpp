// store_module.hpp - the redis-store module: reads its section and provides
// the "store" service backed by Redis (see README.md).
#pragma once

#include <memory>

#include "geopol/module.hpp"
#include "geopol/store.hpp"
#include "settings.hpp"

namespace spdlog {
class logger;
}

namespace geopol::redis_store {

class RedisStore;

class RedisStoreModule final : public Module, public Store {
public:
    RedisStoreModule() = default;
    ~RedisStoreModule() override;

    Status configure(ConfigSection &cfg) override;
    Status start(Host &host) override;
    std::string_view provides() const override { return "store"; }
    bool handlesRequests() const override { return false; }
    void stop() override;

    // geopol::Store, forwarded to the RedisStore.
    void record(const Observation &obs, StoreDone done) override;
    void block(std::string_view account, StoreDone done) override;
    void unlock(std::string_view account, StoreDone done) override;
    void inspect(std::string_view account, StoreDone done) override;

    const Settings &settings() const { return settings_; }
    /// The running store, for tests and a future REST view; null when stopped.
    RedisStore *store() { return store_; }

private:
    Settings settings_;
    std::shared_ptr<spdlog::logger> log_;
    // Owns itself after shutdown(): its handles may close after this module
    // is destroyed.
    RedisStore *store_ = nullptr;
};

}  // namespace geopol::redis_store
