// settings.hpp - the rest-admin section, read and validated.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "basic_auth.hpp"

namespace geopol {
class ConfigSection;
}

namespace geopol::rest_admin {

inline constexpr const char *kDefaultAddress = "127.0.0.1";
inline constexpr int kDefaultPort = 8080;
inline constexpr const char *kDefaultTlsCert = "/localhost.pem";
inline constexpr const char *kDefaultTlsKey = "/localhost-key.pem";
inline constexpr size_t kDefaultMaxBodySize = 64 * 1024;
inline constexpr int kDefaultThreads = 4;
inline constexpr int64_t kDefaultRequestTimeoutMs = 10000;

/// What the civetweb server is started with; a change restarts it.
struct ListenerSettings {
    std::string address = kDefaultAddress;  ///< an IP literal ("localhost" is mapped to 127.0.0.1)
    int port = kDefaultPort;                ///< 0: any free port (logged)
    bool tls = false;
    std::string certFile = kDefaultTlsCert;  ///< PEM, the full chain
    std::string keyFile = kDefaultTlsKey;    ///< PEM
    int threads = kDefaultThreads;
    int64_t ioTimeoutMs = kDefaultRequestTimeoutMs;  ///< civetweb's socket timeout
    /// Digest of the certificate and key files' contents, taken when the
    /// configuration was read: a renewed certificate at the same path
    /// restarts the listener on the next reload.
    std::string tlsFingerprint;

    bool operator==(const ListenerSettings &) const = default;

    /// "http://127.0.0.1:8080", "https://[::1]:8443"
    std::string url() const;
    /// civetweb's listening_ports value: "127.0.0.1:8080", "[::1]:8443s"
    std::string civetwebPorts() const;
};

/// What the workers apply per request; a reload changes it in place.
struct RequestSettings {
    bool basicAuth = false;
    CredentialCheck credentials;  ///< digests only; the password itself is not kept
    size_t maxBodySize = kDefaultMaxBodySize;
    int64_t requestTimeoutMs = kDefaultRequestTimeoutMs;  ///< wait for the loop's answer
};

struct Settings {
    ListenerSettings listener;
    RequestSettings request;
};

/// Reads and checks every key; problems go to cfg.error(). Reads the TLS
/// files when tls is on, so --check-config reports a bad certificate.
void readSettings(ConfigSection &cfg, Settings &out);

}  // namespace geopol::rest_admin
