// admin.hpp - the "admin" service: commands that an admin interface
// (rest-admin) exposes, registered by the modules that implement them.
//
// The core provides one AdminCommands per chain. A module registers its
// commands in start():
//   auto *admin = host.find<geopol::AdminCommands>("admin");
//   admin->add("POST", "/remove", [this](const AdminRequest &r, AdminReply reply) {...});
// Handlers run on the loop thread and call `reply` exactly once, possibly
// later (after a store round trip). rest-admin knows no module by name: it
// passes every HTTP request to dispatch().
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "geopol/action_text.hpp"

namespace geopol {

struct AdminRequest {
    std::string method;       ///< GET, POST, PUT, PATCH, DELETE
    std::string path;         ///< "/remove", "/account/alice@example.com" (decoded)
    std::string query;        ///< raw query string, without '?'
    std::string contentType;  ///< the request's Content-Type header
    std::string body;         ///< raw body (bounded by the admin interface)
    std::string remote;       ///< "ip:port" of the client, for logs
};

struct AdminResponse {
    int status = 200;
    std::string contentType = "application/json";
    std::string body;
};

using AdminReply = std::function<void(AdminResponse)>;
using AdminHandler = std::function<void(const AdminRequest &, AdminReply)>;

class AdminCommands {
public:
    virtual ~AdminCommands() = default;

    /// `path` matches exactly; a path ending in '/' ("/account/") matches as a
    /// prefix. A later registration of the same method and path replaces it.
    virtual void add(std::string method, std::string path, AdminHandler handler) = 0;

    /// Runs the matching handler; answers 404 (unknown path) or 405 (known
    /// path, other method) itself, with a JSON error body.
    virtual void dispatch(const AdminRequest &req, AdminReply reply) = 0;
};

/// {"error":"..."} with the text escaped: always valid JSON, whatever the
/// message holds. Messages quote what a client sent (a path, a method, a
/// Content-Type, a parser's "last read" bytes), and those bytes need not be
/// UTF-8, which JSON requires (RFC 8259): each byte that is not part of a
/// well-formed UTF-8 sequence becomes U+FFFD, as nlohmann's "replace" does.
/// Found by tests/fuzz/admin_body.
inline std::string adminErrorBody(const std::string &message)
{
    static const char hex[] = "0123456789abcdef";
    std::string out = "{\"error\":\"";
    size_t i = 0;
    while (i < message.size()) {
        unsigned char c = static_cast<unsigned char>(message[i]);
        if (c >= 0x80) {
            // validActionText() holds the one copy of the RFC 3629 rule; on
            // bytes >= 0x80 alone it checks exactly that.
            size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
            std::string_view seq = std::string_view(message).substr(i, len);
            if (seq.size() == len && validActionText(seq)) {
                out += seq;
                i += len;
            } else {
                out += "\\ufffd";
                ++i;
            }
            continue;
        }
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < 0x20) {
            out += "\\u00";
            out += hex[c >> 4];
            out += hex[c & 15];
        } else {
            out += static_cast<char>(c);
        }
        ++i;
    }
    return out + "\"}";
}

}  // namespace geopol
