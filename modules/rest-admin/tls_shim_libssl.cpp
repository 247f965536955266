// tls_shim_libssl.cpp - built as rest-admin-tls-libssl.so with the SONAME
// "libssl.so"; see tls.hpp for why. Declared by hand: OpenSSL 3's ssl.h turns
// SSL_get_peer_certificate into a macro for the new name.
extern "C" {

typedef struct ssl_st SSL;
typedef struct x509_st X509;

X509 *SSL_get1_peer_certificate(const SSL *s);

// OpenSSL 1.1's SSL_get_peer_certificate already returned a new reference,
// exactly what SSL_get1_peer_certificate does: civetweb frees it.
__attribute__((visibility("default"))) X509 *SSL_get_peer_certificate(const SSL *s)
{
    return SSL_get1_peer_certificate(s);
}
}
