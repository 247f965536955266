// request_checks.hpp - what a civetweb worker decides on its own, before a
// request reaches the event loop: method, credentials, body size.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "geopol/admin.hpp"
#include "settings.hpp"

namespace geopol::rest_admin {

/// The methods the admin interface serves (the reference's set).
bool knownMethod(std::string_view method);

/// 405 for an unknown method, 401 without valid credentials (when basic auth
/// is on), 413 when the declared body is larger than max-body-size; nullopt
/// when the request may go on. `authorization` is the header value or null;
/// `contentLength` is -1 when the request declared none.
std::optional<AdminResponse> precheck(std::string_view method, const char *authorization,
                                      long long contentLength, const RequestSettings &settings);

AdminResponse tooLarge(size_t maxBodySize);
AdminResponse unauthorized();

/// Control characters and non-ASCII bytes as \xNN: a path in a log line must
/// not start a new line.
std::string logSafe(std::string_view text);

}  // namespace geopol::rest_admin
