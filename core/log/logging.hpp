// logging.hpp - spdlog set-up shared by the core and every module.
//
// Levels follow the reference's names: none, info, debug (plus error and
// warning). The default is warning: problems are always visible, decisions
// (info) only with -v. The reference logs nothing at all by default, which
// hides errors.
#pragma once

#include <spdlog/logger.h>

#include <memory>
#include <string>
#include <vector>

namespace geopol::core {

class SectionView;

struct LogSettings {
    spdlog::level::level_enum level = spdlog::level::warn;
    std::string target = "stderr";  ///< stderr | syslog
    bool json = false;
    bool timestamps = true;  ///< off by default under systemd (journald stamps)
    /// log.decision-format: reference = the decision line with geoip-policyd
    /// 1.0.10's logfmt keys (guid, current_client_ip, foreign_countries_seen, ...).
    bool referenceDecisions = false;
};

/// Reads the `log:` section. Errors go into the view.
LogSettings readLogSettings(SectionView &view);

/// Installs sinks and level for every logger, current and future.
void applyLogSettings(const LogSettings &s);

/// The named logger ("geopol", "decision", a module name), created on first use.
std::shared_ptr<spdlog::logger> namedLogger(const std::string &name);

/// Escapes a string for a JSON string literal (without the quotes).
std::string jsonEscape(std::string_view s);

}  // namespace geopol::core
