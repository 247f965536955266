// command_line.hpp - geopold's command line (CLI11) and the environment.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "cli/reference_flags.hpp"
#include "config/config_tree.hpp"

namespace geopol::core {

/// A reference flag or variable that was given, with its value(s).
struct GivenValue {
    const ReferenceFlag *flag = nullptr;
    std::vector<std::string> values;  ///< one for String/Int/Bool, n for List; Count: "n"
    std::string who;                  ///< "--max-ips" or "GEOIPPOLICYD_MAX_IPS"
};

struct CommandLine {
    std::string configPath;  ///< empty: the embedded defaults
    bool checkConfig = false;
    std::string moduleDir;
    std::string statusFile;
    std::vector<std::string> listen;  ///< --listen, replaces server.listen
    std::string workers;              ///< --workers, server.workers
    std::vector<GivenValue> flags;    ///< reference flags given, in table order
};

/// Parses argv. Returns an exit code when the program should exit now
/// (--help, --version, a usage error), otherwise fills `out`.
std::optional<int> parseCommandLine(int argc, const char *const *argv, CommandLine &out);

/// The GEOIPPOLICYD_* variables that are set and not empty.
std::vector<GivenValue> readEnvironment(const std::function<const char *(const char *)> &getenv);

/// Applies variables, then flags, onto the tree. `moduleAvailable` tells
/// whether a module's shared object exists; flags of a missing module are
/// refused with a clear message. Problems are appended to `errors`.
void applyOverrides(ConfigTree &tree, const std::vector<GivenValue> &env, const CommandLine &cli,
                    const std::function<bool(const std::string &)> &moduleAvailable,
                    std::vector<std::string> &errors);

}  // namespace geopol::core
