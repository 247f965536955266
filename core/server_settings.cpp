// server_settings.cpp
#include "server_settings.hpp"

#include "config/config_tree.hpp"

namespace geopol::core {

ServerSettings readServerSettings(SectionView &v)
{
    ServerSettings s;
    auto listen = v.getStringList("listen");
    if (v.has("listen"))
        s.listen = listen;
    if (s.listen.empty())
        v.error("listen", "needs at least one listener, e.g. inet:127.0.0.1:4646");

    std::string mode = v.getString("socket-mode", "0660");
    char *end = nullptr;
    long m = std::strtol(mode.c_str(), &end, 8);
    if (mode.empty() || *end != '\0' || m < 0 || m > 0777)
        v.error("socket-mode", "must be an octal file mode such as 0660 (got '" + mode + "')");
    else
        s.socketMode = static_cast<mode_t>(m);
    s.socketOwner = v.getString("socket-owner", "");
    s.socketGroup = v.getString("socket-group", "");

    s.identity = v.getString("identity", "sender");
    if (s.identity != "sender" && s.identity != "sasl_username")
        v.error("identity", "must be sender or sasl_username");
    s.forceUserKnown = v.getBool("force-user-known", false);

    s.requestTimeoutMs = v.getDurationMs("request-timeout", 2000, 10, 600'000);
    s.failureAction = v.getString("failure-action", s.failureAction);
    if (!validActionText(s.failureAction))
        v.error("failure-action", "must be one line of printable text, e.g. DUNNO or DEFER ...");
    s.idleTimeoutMs = v.getDurationMs("idle-timeout", 600'000, 100, 86'400'000);
    s.readTimeoutMs = v.getDurationMs("read-timeout", 10'000, 100, 3'600'000);
    s.maxConnections = static_cast<size_t>(v.getInt("max-connections", 20'000, 1, 1'000'000));
    s.workers = static_cast<size_t>(v.getInt("workers", 1, 1, 64));
    s.user = v.getString("user", "");
    s.group = v.getString("group", "");
    s.shutdownGraceMs = v.getDurationMs("shutdown-grace", 5000, 0, 600'000);
    s.parser.maxLineLength = static_cast<size_t>(v.getInt("max-line-length", 4096, 64, 1 << 20));
    s.parser.maxRequestSize =
        static_cast<size_t>(v.getInt("max-request-size", 65536, 256, 16 << 20));
    s.parser.maxAttributes = static_cast<size_t>(v.getInt("max-attributes", 128, 4, 100'000));
    s.moduleDir = v.getString("module-dir", "");
    s.statusFile = v.getString("status-file", "");
    return s;
}

}  // namespace geopol::core
