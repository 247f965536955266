// request_checks.cpp
#include "request_checks.hpp"

namespace geopol::rest_admin {

bool knownMethod(std::string_view m)
{
    return m == "GET" || m == "POST" || m == "PUT" || m == "PATCH" || m == "DELETE";
}

AdminResponse tooLarge(size_t maxBodySize)
{
    return AdminResponse{413, "application/json",
                         adminErrorBody("the request body is larger than max-body-size (" +
                                        std::to_string(maxBodySize) + " bytes)")};
}

AdminResponse unauthorized()
{
    return AdminResponse{401, "application/json",
                         adminErrorBody("authentication required: HTTP basic auth with the "
                                        "configured username and password")};
}

std::optional<AdminResponse> precheck(std::string_view method, const char *authorization,
                                      long long contentLength, const RequestSettings &settings)
{
    // Credentials first: an unauthenticated client learns nothing, not even
    // which methods exist.
    if (settings.basicAuth &&
        (!authorization || !settings.credentials.accepts(std::string_view(authorization))))
        return unauthorized();
    if (!knownMethod(method))
        return AdminResponse{405, "application/json",
                             adminErrorBody(std::string(method) +
                                            " is not served here (GET, POST, PUT, PATCH, DELETE)")};
    if (contentLength > static_cast<long long>(settings.maxBodySize))
        return tooLarge(settings.maxBodySize);
    return std::nullopt;
}

std::string logSafe(std::string_view text)
{
    static const char hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(text.size());
    for (unsigned char c : text) {
        if (c < 0x20 || c >= 0x7f || c == '\\') {
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 15];
        } else {
            out += static_cast<char>(c);
        }
    }
    return out;
}

}  // namespace geopol::rest_admin
