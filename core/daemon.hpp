// daemon.hpp - geopold's life: read the configuration, start the workers'
// chains, serve, reload, stop.
#pragma once

#include <uv.h>

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "chain/chain.hpp"
#include "cli/command_line.hpp"
#include "log/logging.hpp"
#include "worker.hpp"

namespace geopol::core {

/// The configuration read and checked: YAML (or the embedded defaults) with
/// the GEOIPPOLICYD_* variables and flags applied. No module is loaded yet.
struct ReadConfig {
    std::unique_ptr<ConfigTree> tree;
    std::unique_ptr<ModuleLoader> loader;
    std::shared_ptr<const ServerSettings> settings;
    LogSettings log;
};

std::optional<ReadConfig> readConfig(const CommandLine &cli, std::vector<std::string> &errors);

/// Loads and configures one chain per loop (nothing started). `coreServices`
/// gives the daemon's services for the chain of loop i.
std::vector<std::unique_ptr<Chain>> buildChains(
    ReadConfig &cfg, const std::vector<uv_loop_t *> &loops, std::vector<std::string> &errors,
    const std::function<std::map<std::string, void *>(size_t)> &coreServices);

class Daemon {
public:
    explicit Daemon(CommandLine cli);
    ~Daemon();

    /// Runs until SIGTERM/SIGINT; returns the process exit code.
    int run();

    /// --check-config: 0 if the configuration and every module are fine.
    static int checkConfig(const CommandLine &cli);

private:
    /// Builds and starts one chain per worker, each on its worker's loop:
    /// all of them, or none (what started is stopped again).
    bool prepareChains(ReadConfig &cfg, std::vector<std::shared_ptr<Chain>> &out,
                       std::vector<std::string> &errors);
    /// Hands each worker its new chain; the old ones retire once their
    /// requests in flight are answered.
    void commitChains(std::vector<std::shared_ptr<Chain>> &chains);
    /// Re-reads everything and swaps in new chains; false (and the old chains
    /// keep running) if anything is wrong.
    bool reload(const char *why, std::vector<std::string> &errors);
    /// The core's admin commands and metrics, added to each chain.
    void installCoreServices(Worker &worker, Chain &chain);
    void beginShutdown(const char *why);
    void workerDrained();
    void finishShutdown();
    void writeStatusFile();

    CommandLine cli_;
    uv_loop_t loop_;
    std::unique_ptr<LoopQueue> mainQueue_;  ///< jobs for the daemon's thread
    std::vector<std::unique_ptr<Worker>> workers_;
    std::shared_ptr<const ServerSettings> settings_;
    std::vector<std::string> moduleNames_;
    uint64_t startedMs_ = 0;
    uv_signal_t sighup_, sigterm_, sigint_;
    uv_timer_t graceTimer_;
    std::atomic<int> reloads_{0};
    bool stopping_ = false;
    size_t drained_ = 0;
};

}  // namespace geopol::core
