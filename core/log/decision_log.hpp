// decision_log.hpp - the one info line per request, in the reference's shape:
//   sender=<a@example.com>; client_address=8.8.8.8; country=US; countries=[US];
//   ip_addresses=[8.8.8.8]; #countries=1/3; #ip_addresses=1/10; action=DUNNO
// Fields appear when the module that fills them ran. With log.format json the
// same fields are one JSON object.
#pragma once

#include <spdlog/logger.h>

#include <string_view>

#include "geopol/request.hpp"

namespace geopol::core {

void logDecision(spdlog::logger &log, bool json, std::string_view identityName, const Request &req,
                 std::string_view action);

}  // namespace geopol::core
