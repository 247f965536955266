// ldap_connection.cpp
#include "ldap_connection.hpp"

#include <fmt/format.h>
#include <ldap.h>
#include <sys/time.h>

#include <algorithm>
#include <cstring>
#include <memory>

namespace geopol::ldap_alias {

namespace {

// What is left until `deadline`, at least 1 ms (0 means "no limit" to libldap).
timeval remaining(Clock::time_point deadline)
{
    auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - Clock::now());
    int64_t us = std::max<int64_t>(left.count(), 1000);
    timeval tv;
    tv.tv_sec = static_cast<time_t>(us / 1'000'000);
    tv.tv_usec = static_cast<suseconds_t>(us % 1'000'000);
    return tv;
}

int ldapScope(Scope s)
{
    switch (s) {
        case Scope::Base:
            return LDAP_SCOPE_BASE;
        case Scope::One:
            return LDAP_SCOPE_ONELEVEL;
        case Scope::Sub:
            return LDAP_SCOPE_SUBTREE;
    }
    return LDAP_SCOPE_SUBTREE;
}

bool connectionError(int rc)
{
    return rc == LDAP_SERVER_DOWN || rc == LDAP_CONNECT_ERROR;
}

bool usableValue(const berval *v)
{
    if (v->bv_len == 0 || v->bv_len > kMaxValueLength)
        return false;
    for (ber_len_t i = 0; i < v->bv_len; ++i) {
        auto c = static_cast<unsigned char>(v->bv_val[i]);
        if (c < 0x20 || c == 0x7f)
            return false;  // would end up in keys and log lines
    }
    return true;
}

// libldap's connect callback: lc_arg is the connection's SocketState.
int onConnect(LDAP *, Sockbuf *sb, LDAPURLDesc *, sockaddr *, ldap_conncb *ctx)
{
    auto *state = static_cast<LdapConnection::SocketState *>(ctx->lc_arg);
    state->tcpConnected = true;
    ber_socket_t fd = -1;
    if (state->hook && ber_sockbuf_ctrl(sb, LBER_SB_OPT_GET_FD, &fd) == 1 && fd >= 0)
        state->hook(fd);
    return 0;
}

// Said when the TCP connection stood but TLS failed: libldap's own message is
// then "Connect error" or "Can't contact LDAP server" with "(unknown error code)".
constexpr const char *kTlsHint =
    "TLS handshake failed: is the server's certificate signed by a CA in tls-ca-file (or the "
    "system's), and issued for the host in the URI?";

void onDisconnect(LDAP *, Sockbuf *, ldap_conncb *) {}

}  // namespace

LdapConnection::LdapConnection(const Settings &settings, SocketHook hook)
    : settings_(settings), callback_(new ldap_conncb)
{
    socket_.hook = std::move(hook);
    callback_->lc_add = onConnect;
    callback_->lc_del = onDisconnect;
    callback_->lc_arg = &socket_;
}

LdapConnection::~LdapConnection()
{
    close();
    delete callback_;
}

std::string LdapConnection::failure(const char *step, int rc) const
{
    std::string message = fmt::format("{}: {}: {}", uri_, step, ldap_err2string(rc));
    char *diag = nullptr;
    if (ld_ && ldap_get_option(ld_, LDAP_OPT_DIAGNOSTIC_MESSAGE, &diag) == LDAP_OPT_SUCCESS &&
        diag) {
        // GnuTLS failures leave "(unknown error code)" here, which helps nobody.
        if (*diag && std::strcmp(diag, "(unknown error code)") != 0)
            message += fmt::format(" ({})", diag);
        ldap_memfree(diag);
    }
    return message;
}

bool LdapConnection::setTimeouts(Clock::time_point deadline)
{
    timeval tv = remaining(deadline);
    return ldap_set_option(ld_, LDAP_OPT_NETWORK_TIMEOUT, &tv) == LDAP_OPT_SUCCESS &&
           ldap_set_option(ld_, LDAP_OPT_TIMEOUT, &tv) == LDAP_OPT_SUCCESS;
}

bool LdapConnection::open(const ServerUri &server, Clock::time_point deadline, std::string &error,
                          bool &timedOut)
{
    close();
    timedOut = false;
    uri_ = server.uri;
    int rc = ldap_initialize(&ld_, server.uri.c_str());
    if (rc != LDAP_SUCCESS || ld_ == nullptr) {
        ld_ = nullptr;
        error = fmt::format("{}: ldap_initialize: {}", uri_, ldap_err2string(rc));
        return false;
    }

    auto fail = [&](const char *step, int code) {
        error = failure(step, code);
        timedOut = code == LDAP_TIMEOUT || Clock::now() >= deadline;
        close();
        return false;
    };

    if (ldap_set_option(ld_, LDAP_OPT_CONNECT_CB, callback_) != LDAP_OPT_SUCCESS)
        return fail("setting the connect callback", LDAP_OTHER);

    int version = LDAP_VERSION3;
    int deref = LDAP_DEREF_NEVER;  // as the reference
    // Kept connections sit idle between lookups: TCP keepalive holds NAT and
    // firewall state open, and finds a peer that vanished without a word.
    int keepIdle = 60, keepProbes = 3, keepInterval = 10;
    if (ldap_set_option(ld_, LDAP_OPT_PROTOCOL_VERSION, &version) != LDAP_OPT_SUCCESS ||
        ldap_set_option(ld_, LDAP_OPT_REFERRALS, LDAP_OPT_OFF) != LDAP_OPT_SUCCESS ||
        ldap_set_option(ld_, LDAP_OPT_DEREF, &deref) != LDAP_OPT_SUCCESS ||
        ldap_set_option(ld_, LDAP_OPT_X_KEEPALIVE_IDLE, &keepIdle) != LDAP_OPT_SUCCESS ||
        ldap_set_option(ld_, LDAP_OPT_X_KEEPALIVE_PROBES, &keepProbes) != LDAP_OPT_SUCCESS ||
        ldap_set_option(ld_, LDAP_OPT_X_KEEPALIVE_INTERVAL, &keepInterval) != LDAP_OPT_SUCCESS)
        return fail("setting options", LDAP_OTHER);

    bool tls =
        server.kind == UriKind::Ldaps || (server.kind == UriKind::Ldap && settings_.startTls);
    if (tls) {
        // Every TLS option is set on this handle, then LDAP_OPT_X_TLS_NEWCTX
        // builds the handle's own context from them; without NEWCTX libldap
        // silently keeps the global context (from /etc/ldap/ldap.conf).
        int require = settings_.tlsSkipVerify ? LDAP_OPT_X_TLS_NEVER : LDAP_OPT_X_TLS_HARD;
        int minimum = LDAP_OPT_X_TLS_PROTOCOL_TLS1_2;
        int isServer = 0;
        if (ldap_set_option(ld_, LDAP_OPT_X_TLS_REQUIRE_CERT, &require) != LDAP_OPT_SUCCESS ||
            ldap_set_option(ld_, LDAP_OPT_X_TLS_PROTOCOL_MIN, &minimum) != LDAP_OPT_SUCCESS)
            return fail("setting TLS options", LDAP_OTHER);
        if (!settings_.tlsCaFile.empty() &&
            ldap_set_option(ld_, LDAP_OPT_X_TLS_CACERTFILE, settings_.tlsCaFile.c_str()) !=
                LDAP_OPT_SUCCESS)
            return fail("setting tls-ca-file", LDAP_OTHER);
        if (!settings_.tlsClientCert.empty() &&
            (ldap_set_option(ld_, LDAP_OPT_X_TLS_CERTFILE, settings_.tlsClientCert.c_str()) !=
                 LDAP_OPT_SUCCESS ||
             ldap_set_option(ld_, LDAP_OPT_X_TLS_KEYFILE, settings_.tlsClientKey.c_str()) !=
                 LDAP_OPT_SUCCESS))
            return fail("setting tls-client-cert/tls-client-key", LDAP_OTHER);
        rc = ldap_set_option(ld_, LDAP_OPT_X_TLS_NEWCTX, &isServer);
        if (rc != LDAP_OPT_SUCCESS)
            return fail(
                "creating the TLS context (check tls-ca-file, tls-client-cert, "
                "tls-client-key)",
                rc == LDAP_OPT_ERROR ? LDAP_OTHER : rc);
    }

    if (!setTimeouts(deadline))
        return fail("setting timeouts", LDAP_OTHER);
    socket_.tcpConnected = false;
    rc = ldap_connect(ld_);
    if (rc != LDAP_SUCCESS) {
        bool tlsFailed =
            server.kind == UriKind::Ldaps && socket_.tcpConnected && Clock::now() < deadline;
        fail(server.kind == UriKind::Ldaps ? "connect (TLS)" : "connect", rc);
        if (tlsFailed)
            error += std::string(": ") + kTlsHint;
        return false;
    }

    if (server.kind == UriKind::Ldap && settings_.startTls) {
        if (!setTimeouts(deadline))
            return fail("setting timeouts", LDAP_OTHER);
        rc = ldap_start_tls_s(ld_, nullptr, nullptr);
        if (rc != LDAP_SUCCESS) {
            // CONNECT_ERROR: the server agreed to StartTLS, the handshake failed.
            bool tlsFailed = rc == LDAP_CONNECT_ERROR;
            fail("StartTLS", rc);
            if (tlsFailed)
                error += std::string(": ") + kTlsHint;
            return false;
        }
    }

    switch (settings_.bindMode()) {
        case BindMode::Anonymous:
            break;
        case BindMode::Simple: {
            if (!setTimeouts(deadline))
                return fail("setting timeouts", LDAP_OTHER);
            berval password;
            password.bv_val = const_cast<char *>(settings_.bindPassword.data());
            password.bv_len = settings_.bindPassword.size();
            rc = ldap_sasl_bind_s(ld_, settings_.bindDn.c_str(), LDAP_SASL_SIMPLE, &password,
                                  nullptr, nullptr, nullptr);
            if (rc != LDAP_SUCCESS)
                return fail(rc == LDAP_INVALID_CREDENTIALS ? "bind (check bind-dn and "
                                                             "bind-password)"
                                                           : "bind",
                            rc);
            break;
        }
        case BindMode::SaslExternal: {
            if (!setTimeouts(deadline))
                return fail("setting timeouts", LDAP_OTHER);
            // The server takes the identity from the TLS client certificate
            // or the ldapi:// peer. An empty initial response (an empty
            // authzid, RFC 4422) completes the exchange in one round trip;
            // absent credentials would make slapd ask for a second step.
            static char empty[] = "";
            berval initial{0, empty};
            rc = ldap_sasl_bind_s(ld_, nullptr, "EXTERNAL", &initial, nullptr, nullptr, nullptr);
            if (rc != LDAP_SUCCESS) {
                fail("SASL EXTERNAL bind", rc);
                if (rc == LDAP_AUTH_METHOD_NOT_SUPPORTED)
                    error +=
                        ": the server saw no identity; present a client certificate "
                        "(tls-client-cert, tls-client-key with starttls or ldaps://) or "
                        "connect over ldapi://";
                return false;
            }
            break;
        }
    }
    return true;
}

SearchResult LdapConnection::search(const std::string &filter, Clock::time_point deadline)
{
    SearchResult r;
    if (!ld_) {
        r.status = SearchResult::Status::ConnectionLost;
        r.error = "not connected";
        return r;
    }
    if (Clock::now() >= deadline) {
        r.status = SearchResult::Status::TimedOut;
        r.error = fmt::format("{}: search: deadline passed before the search", uri_);
        return r;
    }
    char *attrs[] = {const_cast<char *>(settings_.resultAttribute.c_str()), nullptr};
    timeval tv = remaining(deadline);
    setTimeouts(deadline);
    LDAPMessage *res = nullptr;
    int rc = ldap_search_ext_s(ld_, settings_.baseDn.empty() ? nullptr : settings_.baseDn.c_str(),
                               ldapScope(settings_.scope), filter.c_str(), attrs, 0, nullptr,
                               nullptr, &tv, kSizeLimit, &res);
    if (rc == LDAP_SUCCESS || rc == LDAP_SIZELIMIT_EXCEEDED) {
        r.status = SearchResult::Status::Ok;
        for (LDAPMessage *e = ldap_first_entry(ld_, res); e; e = ldap_next_entry(ld_, e)) {
            ++r.entries;
            // Every attribute returned is the one asked for, or a subtype or
            // alias of it: take them all, in order.
            BerElement *ber = nullptr;
            for (char *a = ldap_first_attribute(ld_, e, &ber); a;
                 a = ldap_next_attribute(ld_, e, ber)) {
                if (berval **vals = ldap_get_values_len(ld_, e, a)) {
                    for (berval **v = vals; *v; ++v) {
                        if (usableValue(*v))
                            r.values.emplace_back((*v)->bv_val, (*v)->bv_len);
                        else
                            ++r.skippedValues;
                    }
                    ldap_value_free_len(vals);
                }
                ldap_memfree(a);
            }
            if (ber)
                ber_free(ber, 0);
        }
    } else if (rc == LDAP_NO_SUCH_OBJECT) {
        // A missing base DN, or ACLs that hide it from this identity: slapd
        // answers 32 rather than an empty result. Not found, as the reference.
        r.status = SearchResult::Status::Ok;
    } else if (rc == LDAP_TIMEOUT || rc == LDAP_TIMELIMIT_EXCEEDED) {
        r.status = SearchResult::Status::TimedOut;
        r.error = failure("search", rc);
    } else if (connectionError(rc)) {
        r.status = SearchResult::Status::ConnectionLost;
        r.error = failure("search", rc);
    } else {
        r.status = SearchResult::Status::Failed;
        r.error = failure("search", rc);
        if (rc == LDAP_FILTER_ERROR)
            r.error += fmt::format(" in filter {}", filter);
    }
    if (res)
        ldap_msgfree(res);
    return r;
}

int LdapConnection::fd() const
{
    int fd = -1;
    if (!ld_ || ldap_get_option(ld_, LDAP_OPT_DESC, &fd) != LDAP_OPT_SUCCESS)
        return -1;
    return fd;
}

void LdapConnection::close()
{
    if (ld_) {
        ldap_unbind_ext_s(ld_, nullptr, nullptr);
        ld_ = nullptr;
    }
}

}  // namespace geopol::ldap_alias
