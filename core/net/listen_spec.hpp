// listen_spec.hpp - "inet:127.0.0.1:4646", "inet:[::1]:4646", "unix:/path".
#pragma once

#include <optional>
#include <string>

namespace geopol::core {

struct ListenSpec {
    enum class Kind { Inet, Unix } kind = Kind::Inet;
    std::string host;  ///< IP literal, no brackets
    int port = 0;      ///< 0: any free port (tests)
    std::string path;  ///< unix socket path
};

/// Parses a listener; host names are refused (no DNS at start-up).
std::optional<ListenSpec> parseListenSpec(const std::string &text, std::string &error);

}  // namespace geopol::core
