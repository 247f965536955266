// module.hpp - the C++ interface behind a module's C entry point.
//
// Life cycle, driven by the core (see core/chain/):
//   create()     the descriptor's factory; no I/O.
//   configure()  read and validate the module's YAML section; no I/O, no handles.
//                Every module of a chain is configured before any is started,
//                so a bad configuration changes nothing (also on reload).
//   start()      open files, connect, start timers, provide services.
//   onRequest()  once per policy request, on the loop thread; never blocks.
//   stop()       close handles; the loop still runs for their close callbacks.
//
// No exception may leave a module: the core catches anything that escapes,
// logs it as a module failure and answers with the failure action.
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include "geopol/module_abi.h"

namespace geopol {

class ConfigSection;
class Host;
class Request;

/// What a module tells the chain runner after looking at a request.
enum class Step {
    Continue,  ///< go on with the next module
    Done,      ///< a reply was set (or req.fail() was called): answer now
    Suspend,   ///< the module called req.suspend() and will resume the chain later
};

/// Success, or an error message meant for the admin's eyes.
class Status {
public:
    static Status ok() { return Status(); }
    static Status error(std::string message) { return Status(std::move(message)); }

    bool isOk() const { return !failed_; }
    explicit operator bool() const { return isOk(); }
    const std::string &message() const { return message_; }

private:
    Status() = default;
    explicit Status(std::string message) : failed_(true), message_(std::move(message)) {}

    bool failed_ = false;
    std::string message_;
};

class Module {
public:
    virtual ~Module() = default;

    /// Read the module's section. Report problems through cfg.error() or by
    /// returning an error; both refuse the configuration.
    virtual Status configure(ConfigSection &cfg) = 0;

    /// Acquire resources; may provide services through the host. A module
    /// starts after the providers of what it needs(), else in YAML order.
    virtual Status start(Host &host) = 0;

    /// Names of the services this module provides (space-separated), e.g. "store".
    virtual std::string_view provides() const { return {}; }

    /// Names of the services this module finds in start() (space-separated).
    /// The core starts their providers first, and refuses a chain in which
    /// no enabled module provides one of them.
    virtual std::string_view needs() const { return {}; }

    /// False for modules that only offer services or side channels (stores,
    /// rest-admin): the chain runner then skips them per request.
    virtual bool handlesRequests() const { return true; }

    virtual Step onRequest(Request &req)
    {
        (void)req;
        return Step::Continue;
    }

    /// Release what start() acquired. Called once, on the loop thread.
    virtual void stop() {}
};

}  // namespace geopol

/// Defines the module's entry symbol. Use once per module, in <name>_module.cpp:
///   GEOPOL_MODULE("limits", geopol::limits::LimitsModule)
#define GEOPOL_MODULE(NAME, CLASS)                                                        \
    extern "C" GEOPOL_EXPORT const struct geopol_module_info *geopol_module_entry(void)   \
    {                                                                                     \
        static const struct geopol_module_info info = {                                   \
            GEOPOL_MODULE_ABI, sizeof(struct geopol_module_info), NAME, GEOPOL_BUILD_TAG, \
            []() -> void * {                                                              \
                try {                                                                     \
                    return static_cast<geopol::Module *>(new CLASS());                    \
                } catch (...) {                                                           \
                    return nullptr;                                                       \
                }                                                                         \
            }};                                                                           \
        return &info;                                                                     \
    }
