// tls.cpp
#include "tls.hpp"

#include <dlfcn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>

namespace geopol::rest_admin {

namespace {

std::string opensslError()
{
    unsigned long e = ERR_get_error();
    std::string out;
    while (e != 0) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        if (!out.empty())
            out += "; ";
        out += buf;
        e = ERR_get_error();
    }
    return out.empty() ? "unknown OpenSSL error" : out;
}

std::string loadPair(SSL_CTX *ctx, const std::string &cert, const std::string &key)
{
    ERR_clear_error();
    for (const std::string *f : {&cert, &key}) {
        std::ifstream in(*f);
        if (!in)
            return "cannot read " + *f + ": " + std::strerror(errno) +
                   (f == &cert ? " (tls-cert, --http-tls-cert)" : " (tls-key, --http-tls-key)");
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, cert.c_str()) != 1)
        return "tls-cert " + cert + " is not a PEM certificate chain: " + opensslError();
    if (SSL_CTX_use_PrivateKey_file(ctx, key.c_str(), SSL_FILETYPE_PEM) != 1) {
        if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH)
            return "tls-key " + key + " does not belong to the certificate in " + cert + ": " +
                   opensslError();
        return "tls-key " + key + " is not a PEM private key (or is encrypted): " + opensslError();
    }
    if (SSL_CTX_check_private_key(ctx) != 1)
        return "tls-key " + key + " does not belong to the certificate in " + cert + ": " +
               opensslError();
    return {};
}

// Where this code was loaded from: the module's folder holds the shims.
std::string ownDirectory()
{
    Dl_info info{};
    if (dladdr(reinterpret_cast<void *>(&prepareCivetwebTls), &info) == 0 || !info.dli_fname)
        return ".";
    std::string path = info.dli_fname;
    auto slash = path.rfind('/');
    return slash == std::string::npos ? "." : path.substr(0, slash);
}

}  // namespace

std::string prepareCivetwebTls()
{
    static std::mutex mutex;
    static bool done = false;
    static std::string result;
    std::lock_guard lock(mutex);
    if (done)
        return result;
    std::string dir = ownDirectory();
    // libcrypto first: the libssl shim needs it, and civetweb opens both.
    for (const char *name : {"rest-admin-tls-libcrypto.so", "rest-admin-tls-libssl.so"}) {
        std::string path = dir + "/" + name;
        // RTLD_NODELETE: civetweb keeps function pointers into them for good.
        if (!dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE)) {
            const char *why = dlerror();
            result = "cannot load " + path + " (" + (why ? why : "unknown error") +
                     "): it adapts Debian's civetweb to OpenSSL 3 and is installed next to "
                     "rest-admin.so; reinstall geopol";
            done = true;
            return result;
        }
    }
    done = true;
    return result;
}

std::string checkCertificatePair(const std::string &cert, const std::string &key)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx)
        return "cannot create a TLS context: " + opensslError();
    std::string error = loadPair(ctx, cert, key);
    SSL_CTX_free(ctx);
    return error;
}

std::string configureSslContext(void *sslCtx, const std::string &cert, const std::string &key)
{
    auto *ctx = static_cast<SSL_CTX *>(sslCtx);
    std::string error = loadPair(ctx, cert, key);
    if (!error.empty())
        return error;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    return {};
}

std::string filesDigest(std::initializer_list<std::string> paths)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(md, EVP_sha256(), nullptr);
    for (const std::string &p : paths) {
        std::ifstream in(p, std::ios::binary);
        if (!in) {
            EVP_MD_CTX_free(md);
            return {};
        }
        std::ostringstream text;
        text << in.rdbuf();
        std::string s = text.str();
        EVP_DigestUpdate(md, p.data(), p.size() + 1);  // the NUL separates name and content
        EVP_DigestUpdate(md, s.data(), s.size());
    }
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(md, out, &len);
    EVP_MD_CTX_free(md);
    static const char hex[] = "0123456789abcdef";
    std::string h;
    for (unsigned int i = 0; i < len; ++i) {
        h += hex[out[i] >> 4];
        h += hex[out[i] & 15];
    }
    return h;
}

}  // namespace geopol::rest_admin
