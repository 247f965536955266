// listen_spec.cpp
#include "net/listen_spec.hpp"

#include "geopol/ip_address.hpp"

namespace geopol::core {

std::optional<ListenSpec> parseListenSpec(const std::string &text, std::string &error)
{
    ListenSpec s;
    if (text.rfind("unix:", 0) == 0) {
        s.kind = ListenSpec::Kind::Unix;
        s.path = text.substr(5);
        if (s.path.empty() || s.path[0] != '/') {
            error =
                "'" + text + "': a unix listener needs an absolute path (unix:/run/geopol.sock)";
            return std::nullopt;
        }
        if (s.path.size() >= 108) {
            error = "'" + text + "': socket path longer than 107 bytes";
            return std::nullopt;
        }
        return s;
    }
    std::string rest = text.rfind("inet:", 0) == 0 ? text.substr(5) : text;
    std::string portText;
    if (!rest.empty() && rest[0] == '[') {
        auto close = rest.find(']');
        if (close == std::string::npos || close + 1 >= rest.size() || rest[close + 1] != ':') {
            error = "'" + text + "': expected inet:[IPv6]:PORT";
            return std::nullopt;
        }
        s.host = rest.substr(1, close - 1);
        portText = rest.substr(close + 2);
    } else {
        auto colon = rest.rfind(':');
        if (colon == std::string::npos || rest.find(':') != colon) {
            error = "'" + text + "': expected inet:HOST:PORT (IPv6 in brackets: inet:[::1]:4646)";
            return std::nullopt;
        }
        s.host = rest.substr(0, colon);
        portText = rest.substr(colon + 1);
    }
    if (s.host == "localhost")
        s.host = "127.0.0.1";
    if (!IpAddress::parse(s.host)) {
        error = "'" + text + "': '" + s.host + "' is not an IP address";
        return std::nullopt;
    }
    char *end = nullptr;
    long port = std::strtol(portText.c_str(), &end, 10);
    if (portText.empty() || *end != '\0' || port < 0 || port > 65535) {
        error = "'" + text + "': port must be 0-65535";
        return std::nullopt;
    }
    s.port = static_cast<int>(port);
    return s;
}

}  // namespace geopol::core
