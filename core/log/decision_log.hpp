// decision_log.hpp - the one info line per request, in the reference's shape:
//   sender=<a@example.com>; client_address=8.8.8.8; country=US; countries=[US];
//   ip_addresses=[8.8.8.8]; #countries=1/3; #ip_addresses=1/10; action=DUNNO
// Fields appear when the module that fills them ran. With log.format json the
// same fields are one JSON object. A what-if question (REST /query) is marked
// "what_if=yes": it recorded nothing and answered no one.
//
// With log.decision-format: reference, the line has geoip-policyd 1.0.10's
// logfmt keys instead, for log searches and dashboards built on them:
//   guid=2FOLGk... sender=a@example.com current_client_ip=8.8.8.8
//   current_country_code=US foreign_countries_seen=US home_countries_seen=N/A ...
//   allowed_max_home_ips=10 action=ok
// (JSON: the same keys in one object.) Like the reference, it is written only
// for requests the limits module evaluated.
#pragma once

#include <spdlog/logger.h>

#include <string>
#include <string_view>

#include "geopol/request.hpp"

namespace geopol::core {

struct DecisionLogFormat {
    bool json = false;
    bool reference = false;
    std::string_view identityName;  ///< "sender" or "sasl_username"
};

void logDecision(spdlog::logger &log, const DecisionLogFormat &format, const Request &req,
                 std::string_view action);

/// The reference-format line (without the logger's prefix); `guid` given so
/// that tests can compare whole lines.
std::string referenceDecisionLine(const DecisionLogFormat &format, const Request &req,
                                  std::string_view action, std::string_view guid);

}  // namespace geopol::core
