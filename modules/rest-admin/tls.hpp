// tls.hpp - HTTPS for civetweb on Debian 12.
//
// Debian's libcivetweb1 (1.15) loads OpenSSL at run time by the names
// "libssl.so" and "libcrypto.so" (which only libssl-dev provides) and was
// built against the OpenSSL 1.1 API: it looks up SSL_get_peer_certificate,
// which OpenSSL 3 renamed to SSL_get1_peer_certificate, and calls the NULL it
// got for every TLS connection (a crash). We ship two tiny shim libraries
// whose SONAMEs are "libssl.so" and "libcrypto.so"; once loaded, the dynamic
// loader hands them to civetweb's dlopen() by SONAME. They depend on the real
// libssl.so.3 / libcrypto.so.3 (so every other symbol resolves there), and the
// libssl one defines the missing SSL_get_peer_certificate.
//
// The certificate chain and the key are separate files (the reference's
// --http-tls-cert / --http-tls-key); civetweb wants one file with both, so we
// load them into its SSL_CTX ourselves (its init_ssl callback).
#pragma once

#include <initializer_list>
#include <string>

namespace geopol::rest_admin {

/// Loads the shims (once per process). "" on success, else what is wrong.
/// Must run before civetweb first touches OpenSSL.
std::string prepareCivetwebTls();

/// Checks that `cert` (PEM chain) and `key` (PEM) load and belong together.
/// "" when fine, else a message naming the file and the problem.
std::string checkCertificatePair(const std::string &cert, const std::string &key);

/// Puts the chain and key into civetweb's SSL_CTX and sets TLS 1.2 as the
/// minimum. "" on success.
std::string configureSslContext(void *sslCtx, const std::string &cert, const std::string &key);

/// Hex SHA-256 over the contents of the files ("" if one cannot be read).
std::string filesDigest(std::initializer_list<std::string> paths);

}  // namespace geopol::rest_admin
