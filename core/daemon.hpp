// daemon.hpp - geopold's life: load, start, serve, reload, stop.
#pragma once

#include <uv.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "chain/chain.hpp"
#include "cli/command_line.hpp"
#include "log/logging.hpp"
#include "net/server.hpp"
#include "query_service.hpp"

namespace geopol::core {

/// A configuration read and checked, with its chain configured but not started.
struct LoadedConfig {
    std::shared_ptr<const ServerSettings> settings;
    LogSettings log;
    std::unique_ptr<Chain> chain;
    std::vector<std::string> moduleNames;  ///< enabled, in chain order
};

/// Reads the YAML (or the embedded defaults), applies GEOIPPOLICYD_* and
/// flags, validates the core sections and configures every module.
std::optional<LoadedConfig> loadConfig(const CommandLine &cli, uv_loop_t *loop,
                                       std::vector<std::string> &errors,
                                       const std::map<std::string, void *> &coreServices = {});

class Daemon {
public:
    explicit Daemon(CommandLine cli);
    ~Daemon();

    /// Runs until SIGTERM/SIGINT; returns the process exit code.
    int run();

    /// --check-config: 0 if the configuration and every module are fine.
    static int checkConfig(const CommandLine &cli);

private:
    /// Re-reads everything and swaps in a new chain; false (and the old chain
    /// keeps running) if anything is wrong.
    bool reload(const char *why, std::vector<std::string> &errors);
    /// The core's admin commands and metrics sources, added to each chain.
    void installCoreServices(Chain &chain);
    /// Services of the daemon offered to every chain ("policy-query").
    std::map<std::string, void *> coreServices();
    void beginShutdown(const char *why);
    void finishShutdown();
    void writeStatusFile();

    CommandLine cli_;
    uv_loop_t loop_;
    std::unique_ptr<Server> server_;
    std::unique_ptr<QueryService> query_;
    uint64_t startedMs_ = 0;
    std::shared_ptr<const ServerSettings> settings_;
    std::shared_ptr<Chain> chain_;
    uv_signal_t sighup_, sigterm_, sigint_;
    uv_timer_t graceTimer_;
    int reloads_ = 0;
    bool stopping_ = false;
};

}  // namespace geopol::core
