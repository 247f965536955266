// ldap_alias_module.cpp - the ldap-alias module: replaces the account key of
// each request by the account the directory maps the sender (or SASL login)
// to, and offers the same translation as the "account-resolver" service.
// See README.md for keys, behaviour and log lines.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/logger.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "geopol/account_resolver.hpp"
#include "geopol/config.hpp"
#include "geopol/host.hpp"
#include "geopol/module.hpp"
#include "geopol/request.hpp"
#include "resolver.hpp"
#include "settings.hpp"

namespace geopol::ldap_alias {

namespace {

void asciiLower(std::string &s)
{
    for (char &c : s)
        if (c >= 'A' && c <= 'Z')
            c = static_cast<char>(c - 'A' + 'a');
}

const char *tlsSummary(const Settings &s)
{
    bool ldaps = false, ldap = false;
    for (const auto &server : s.servers) {
        ldaps |= server.kind == UriKind::Ldaps;
        ldap |= server.kind == UriKind::Ldap;
    }
    if (ldap && s.startTls)
        return ldaps ? "starttls+ldaps" : "starttls";
    return ldaps ? "ldaps" : "none";
}

}  // namespace

class LdapAliasModule final : public Module, public AccountResolver {
public:
    Status configure(ConfigSection &cfg) override
    {
        settings_ = readSettings(cfg);
        return Status::ok();
    }

    Status start(Host &host) override
    {
        log_ = host.logger();
        // Files are checked here, not at configure time (no I/O there), and
        // before anything starts, so a typo refuses the configuration.
        for (auto [key, path] : {std::pair{"tls-ca-file", &settings_.tlsCaFile},
                                 std::pair{"tls-client-cert", &settings_.tlsClientCert},
                                 std::pair{"tls-client-key", &settings_.tlsClientKey}}) {
            if (!path->empty() && ::access(path->c_str(), R_OK) != 0)
                return Status::error(fmt::format("{} {}: {}", key, *path, std::strerror(errno)));
        }
        resolver_ = std::make_unique<Resolver>(host.loop(), settings_, log_);
        if (Status s = resolver_->start(); !s)
            return s;
        host.provide("account-resolver", static_cast<AccountResolver *>(this));

        std::vector<std::string> uris;
        for (const auto &server : settings_.servers)
            uris.push_back(server.uri);
        log_->info(
            "ldap-alias.started servers=[{}] base-dn=\"{}\" scope={} filter={} attribute={} "
            "bind={}{} tls={}{} pool={}/{} timeout={}ms cache={} not-found={} "
            "multiple-values={}",
            fmt::join(uris, ", "), settings_.baseDn, scopeName(settings_.scope), settings_.filter,
            settings_.resultAttribute, bindModeName(settings_.bindMode()),
            settings_.bindDn.empty() ? "" : " bind-dn=\"" + settings_.bindDn + "\"",
            tlsSummary(settings_), settings_.tlsSkipVerify ? " (no certificate check)" : "",
            settings_.idlePoolSize, settings_.poolSize, settings_.timeoutMs,
            settings_.cacheEnabled()
                ? fmt::format("{}s/{}s/{}", settings_.cacheTtlMs / 1000,
                              settings_.cacheNegativeTtlMs / 1000, settings_.cacheSize)
                : std::string("off"),
            settings_.notFound, multipleValuesName(settings_.multipleValues));
        return Status::ok();
    }

    std::string_view provides() const override { return "account-resolver"; }

    Step onRequest(Request &req) override
    {
        Facts &f = req.facts;
        // No sender (a bounce) or no SASL login: nothing to resolve; limits
        // decides what such a request gets.
        if (f.account.empty())
            return Step::Continue;
        // force-user-known: the reference skips the directory then, too.
        if (f.accountKnown) {
            log_->debug("ldap-alias.skipped request={} identity={}: force-user-known", req.id(),
                        f.account);
            return Step::Continue;
        }
        if (const CachedAnswer *hit = resolver_->cached(f.account))
            return applyAnswer(req, hit->found, hit->account, true);

        Resume resume = req.suspend();
        resolver_->resolve(f.account, [this, resume](const Resolution &r) {
            Request *q = resume.request();
            if (!q)
                return;  // the core gave up on the request (its own deadline, or a disconnect)
            resume(applyResolution(*q, r));
        });
        return Step::Suspend;
    }

    void stop() override
    {
        if (resolver_)
            resolver_->stop();
    }

    // AccountResolver
    void resolve(std::string_view identity,
                 std::function<void(bool ok, std::string account, std::string error)> done) override
    {
        std::string key(identity);
        asciiLower(key);
        if (key.empty()) {
            done(false, {}, "empty identity");
            return;
        }
        if (!resolver_) {
            done(false, {}, "ldap-alias is not running");
            return;
        }
        if (const CachedAnswer *hit = resolver_->cached(key)) {
            std::string account = hit->found ? hit->account : key;
            done(true, std::move(account), {});
            return;
        }
        resolver_->resolve(key, [key, done = std::move(done)](const Resolution &r) {
            if (r.kind == Resolution::Kind::Failed)
                done(false, {}, r.error);
            else
                done(true, r.kind == Resolution::Kind::Found ? r.account : key, {});
        });
    }

private:
    Step applyResolution(Request &req, const Resolution &r)
    {
        if (r.kind == Resolution::Kind::Failed) {
            log_->debug("ldap-alias.failed request={} identity={}: {}", req.id(), req.facts.account,
                        r.error);
            req.fail("LDAP lookup of " + req.facts.account + " failed: " + r.error);
            return Step::Done;
        }
        return applyAnswer(req, r.kind == Resolution::Kind::Found, r.account, false);
    }

    Step applyAnswer(Request &req, bool found, const std::string &account, bool cached)
    {
        Facts &f = req.facts;
        if (found) {
            log_->debug("ldap-alias.resolved request={} identity={} account={}{}", req.id(),
                        f.account, account, cached ? " (cached)" : "");
            f.account.assign(account);
            f.accountKnown = true;
            return Step::Continue;
        }
        if (settings_.keepWhenNotFound()) {
            log_->debug("ldap-alias.not_found request={} identity={} action=keep{}", req.id(),
                        f.account, cached ? " (cached)" : "");
            return Step::Continue;
        }
        log_->info("ldap-alias.not_found request={} identity={} action=\"{}\"{}", req.id(),
                   f.account, settings_.notFound, cached ? " (cached)" : "");
        req.setReply(settings_.notFound);
        return Step::Done;
    }

    Settings settings_;
    std::shared_ptr<spdlog::logger> log_;
    std::unique_ptr<Resolver> resolver_;
};

}  // namespace geopol::ldap_alias

GEOPOL_MODULE("ldap-alias", geopol::ldap_alias::LdapAliasModule)
