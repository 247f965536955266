// chain.hpp - one configured set of module instances, in YAML order.
//
// A Chain is built (load + configure every module, no side effects), then
// started (providers first), used for requests, and finally retired: stop()
// runs, and the instances are destroyed a little later, once the loop has
// run the close callbacks of the handles they closed. A reload builds a new
// Chain and swaps it in; requests in flight keep the old one alive through
// their shared_ptr.
#pragma once

#include <uv.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "chain/services.hpp"
#include "config/config_tree.hpp"
#include "geopol/host.hpp"
#include "geopol/module.hpp"
#include "loader/module_loader.hpp"

namespace geopol::core {

class Chain;

class ModuleHost : public Host {
public:
    ModuleHost(Chain &chain, uv_loop_t *loop, std::shared_ptr<spdlog::logger> log)
        : chain_(chain), loop_(loop), log_(std::move(log))
    {
    }
    uv_loop_t *loop() override { return loop_; }
    std::shared_ptr<spdlog::logger> logger() override { return log_; }
    void provide(std::string_view service, void *impl) override;
    void *find(std::string_view service) override;

private:
    Chain &chain_;
    uv_loop_t *loop_;
    std::shared_ptr<spdlog::logger> log_;
};

struct ChainModule {
    std::string name;
    std::unique_ptr<Module> module;
    std::unique_ptr<ModuleHost> host;
    std::string failureAction;  ///< what to answer when this module fails or times out
    bool started = false;
};

class Chain {
public:
    /// Loads and configures the enabled modules of `tree`. Returns nullptr and
    /// appends to `errors` if anything is wrong; nothing has been started.
    /// `coreServices` are offered to the modules besides admin and metrics.
    static std::unique_ptr<Chain> build(ConfigTree &tree, const ModuleLoader &loader,
                                        uv_loop_t *loop, const std::string &defaultFailureAction,
                                        std::vector<std::string> &errors,
                                        const std::map<std::string, void *> &coreServices = {});

    ~Chain();

    /// Starts providers, then the rest. On failure stops what started.
    bool start(std::vector<std::string> &errors);
    void stop();

    /// Modules that look at requests, in order.
    const std::vector<ChainModule *> &requestModules() const { return requestModules_; }
    const std::vector<std::unique_ptr<ChainModule>> &modules() const { return modules_; }

    std::map<std::string, void *, std::less<>> services;

    /// The core's own services, present before any module starts.
    AdminTable admin;
    MetricsTable metrics;

private:
    bool orderStart(std::vector<std::string> &errors);

    Chain()
    {
        services["admin"] = static_cast<AdminCommands *>(&admin);
        services["metrics"] = static_cast<Metrics *>(&metrics);
    }

    std::vector<std::unique_ptr<ChainModule>> modules_;
    std::vector<ChainModule *> requestModules_;
    std::vector<ChainModule *> startOrder_;
    bool stopped_ = false;
};

/// Stops `chain` now and destroys it once pending close callbacks have run.
/// Used as the shared_ptr deleter of live chains.
void retireChain(uv_loop_t *loop, Chain *chain);

/// Wraps a started chain so that its last owner retires it.
std::shared_ptr<Chain> shareChain(uv_loop_t *loop, std::unique_ptr<Chain> chain);

}  // namespace geopol::core
