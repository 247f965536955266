// server_settings.hpp - the `server:` section, read once per (re)load.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "geopol/action_text.hpp"
#include "protocol/policy_parser.hpp"

namespace geopol::core {

class SectionView;

struct ServerSettings {
    std::vector<std::string> listen = {"inet:127.0.0.1:4646"};
    mode_t socketMode = 0660;
    std::string socketOwner, socketGroup;

    std::string identity = "sender";  ///< or "sasl_username" (--sasl-username)
    bool forceUserKnown = false;

    int64_t requestTimeoutMs = 2000;  ///< per-request deadline across all modules
    std::string failureAction = "DEFER Service temporarily not available";
    int64_t idleTimeoutMs = 600'000;  ///< longer than Postfix's max_idle (300 s)
    int64_t readTimeoutMs = 10'000;   ///< to finish a request once begun
    size_t maxConnections = 20'000;
    size_t workers = 1;       ///< event-loop threads serving connections
    std::string user, group;  ///< drop to these after binding (when started as root)
    int64_t shutdownGraceMs = 5000;
    ParserLimits parser;

    std::string moduleDir;               ///< empty: defaultModuleDir()
    std::string statusFile;              ///< empty: none
    bool logJson = false;                ///< from log.format, for the decision line
    bool logReferenceDecisions = false;  ///< from log.decision-format
};

ServerSettings readServerSettings(SectionView &view);

/// One line of well-formed UTF-8, as Postfix requires (include/geopol/action_text.hpp).
using geopol::validActionText;

}  // namespace geopol::core
