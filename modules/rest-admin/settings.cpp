// settings.cpp
#include "settings.hpp"

#include <arpa/inet.h>

#include "geopol/config.hpp"
#include "tls.hpp"

namespace geopol::rest_admin {

namespace {

bool isIpv6(const std::string &a)
{
    return a.find(':') != std::string::npos;
}

}  // namespace

std::string ListenerSettings::url() const
{
    std::string host = isIpv6(address) ? "[" + address + "]" : address;
    return std::string(tls ? "https://" : "http://") + host + ":" + std::to_string(port);
}

std::string ListenerSettings::civetwebPorts() const
{
    std::string host = isIpv6(address) ? "[" + address + "]" : address;
    return host + ":" + std::to_string(port) + (tls ? "s" : "");
}

void readSettings(ConfigSection &cfg, Settings &out)
{
    ListenerSettings &l = out.listener;
    l.address = cfg.getString("address", kDefaultAddress);
    if (l.address == "localhost")
        l.address = "127.0.0.1";
    // The reference accepted "host:port" here (its README's default says
    // 127.0.0.1:8080); the core splits --http-address, but a YAML value may
    // still carry a port: say so rather than fail to bind.
    unsigned char buf[16];
    if (inet_pton(AF_INET, l.address.c_str(), buf) != 1 &&
        inet_pton(AF_INET6, l.address.c_str(), buf) != 1)
        cfg.error("address", "\"" + l.address +
                                 "\" is not an IP address (e.g. 127.0.0.1, ::1, 0.0.0.0); "
                                 "put the port in \"port\"");
    l.port = static_cast<int>(cfg.getInt("port", kDefaultPort, 0, 65535));
    l.tls = cfg.getBool("tls", false);
    l.certFile = cfg.getPath("tls-cert", kDefaultTlsCert);
    l.keyFile = cfg.getPath("tls-key", kDefaultTlsKey);
    l.threads = static_cast<int>(cfg.getInt("threads", kDefaultThreads, 1, 64));

    RequestSettings &r = out.request;
    r.maxBodySize =
        static_cast<size_t>(cfg.getInt("max-body-size", kDefaultMaxBodySize, 64, 16 << 20));
    r.requestTimeoutMs =
        cfg.getDurationMs("request-timeout", kDefaultRequestTimeoutMs, 100, 300000);
    l.ioTimeoutMs = r.requestTimeoutMs;

    r.basicAuth = cfg.getBool("basic-auth", false);
    std::string user = cfg.getString("username", "");
    std::string password = cfg.getString("password", "");
    if (r.basicAuth) {
        // The reference let anyone in with empty credentials when they were
        // left unset; an empty user or password is a mistake, not a policy.
        if (user.empty())
            cfg.error("username", "must not be empty when basic-auth is on");
        if (password.empty())
            cfg.error("password", "must not be empty when basic-auth is on");
        if (user.find(':') != std::string::npos)
            cfg.error("username",
                      "must not contain ':' (basic auth separates user and password "
                      "with it)");
    }
    r.credentials = CredentialCheck(user, password);

    if (l.tls) {
        std::string error = checkCertificatePair(l.certFile, l.keyFile);
        if (!error.empty())
            cfg.error("tls-cert", error);
        l.tlsFingerprint = filesDigest({l.certFile, l.keyFile});
    }
}

}  // namespace geopol::rest_admin
