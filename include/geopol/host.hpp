// host.hpp - what the core lends a module: its loop, its logger, and the
// service registry through which modules use each other without linking.
//
// Services are named ("store", "custom-settings"); each name has one C++
// interface declared in include/geopol/ (store.hpp, ...). A provider calls
// provide() in start(); a consumer calls find<T>() in its own start().
// Providers are started first, so the lookup never depends on YAML order.
#pragma once

#include <spdlog/logger.h>
#include <uv.h>

#include <memory>
#include <string_view>

namespace geopol {

class Host {
public:
    virtual ~Host() = default;

    /// The event loop this module runs on. Never block it.
    virtual uv_loop_t *loop() = 0;

    /// A logger named after the module. Its level follows the daemon's.
    virtual std::shared_ptr<spdlog::logger> logger() = 0;

    /// Offers `impl` under `service` for the lifetime of this chain.
    virtual void provide(std::string_view service, void *impl) = 0;

    /// The provider of `service`, or nullptr.
    virtual void *find(std::string_view service) = 0;

    template <class T>
    T *find(std::string_view service)
    {
        return static_cast<T *>(find(service));
    }
};

}  // namespace geopol
