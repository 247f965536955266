// geoip_module.cpp - the geoip module: configuration and glue around
// GeoDatabase and IgnoreNetworks. See README.md for keys and log lines.
#include <fmt/format.h>
#include <spdlog/logger.h>

#include <memory>
#include <string>

#include "database_refresh.hpp"
#include "geo_database.hpp"
#include "geopol/config.hpp"
#include "geopol/host.hpp"
#include "geopol/module.hpp"
#include "geopol/request.hpp"
#include "ignore_networks.hpp"

namespace geopol::geoip {

namespace {

// The reference's default (-g/--geoip-path), also where Debian's
// geoipupdate writes.
constexpr const char *kDefaultDatabase = "/usr/share/GeoIP/GeoLite2-City.mmdb";

// How often the file is checked for a new version: the reference's 300 s.
constexpr int64_t kDefaultRefreshMs = 300'000;
constexpr int64_t kMaxRefreshMs = 86'400'000;

// The reference's reply, word for word: sites may match on it in their logs.
constexpr std::string_view kIgnoredReplyHead = "INFO Client IP address ";
constexpr std::string_view kIgnoredReplyTail = " is defined in ignore-networks";

}  // namespace

class GeoipModule final : public Module {
public:
    Status configure(ConfigSection &cfg) override
    {
        path_ = cfg.getPath("database", kDefaultDatabase);
        if (path_.empty())
            cfg.error("database", "must name a GeoIP2/GeoLite2 City or Country .mmdb file");

        // Every bad entry is reported at once, each naming itself; the
        // reference instead logged them on every request and went on.
        for (const std::string &entry : cfg.getStringList("ignore-networks")) {
            if (!ignore_.add(entry))
                cfg.error("ignore-networks",
                          fmt::format("\"{}\" is neither an IP address nor a network in CIDR "
                                      "notation (192.0.2.0/24, 2001:db8::/32)",
                                      entry));
        }
        refreshMs_ = cfg.getDurationMs("refresh-interval", kDefaultRefreshMs, 0, kMaxRefreshMs);
        return Status::ok();
    }

    Status start(Host &host) override
    {
        log_ = host.logger();
        auto db = std::make_unique<GeoDatabase>();
        if (Status s = db->open(path_); !s)
            return s;
        db_ = std::move(db);

        log_->info(
            "geoip.opened database={} type={} built={} ip_version={} ignore_networks={} "
            "refresh_interval_ms={}",
            db_->path(), db_->type(), db_->buildDate(), db_->ipVersion(), ignore_.size(),
            refreshMs_);
        warnAboutContents(*db_);
        if (refreshMs_ > 0)
            refresh_.start(
                host.loop(), refreshMs_, *db_,
                [this](std::unique_ptr<GeoDatabase> fresh) { swapIn(std::move(fresh)); },
                [this](const std::string &error) {
                    log_->error("geoip.refresh_refused {}; still using the database built {}",
                                error, db_->buildDate());
                });
        return Status::ok();
    }

    Step onRequest(Request &req) override
    {
        Facts &facts = req.facts;

        // Before the lookup and before the class check: ignoring the site's
        // own private ranges is the main use of ignore-networks.
        if (facts.clientValid) {
            if (const std::string *entry = ignore_.match(facts.client)) {
                reply_.assign(kIgnoredReplyHead);
                reply_.append(facts.clientAddress);
                reply_.append(kIgnoredReplyTail);
                req.setReply(reply_);
                log_->info("geoip.ignored client_address={} matched ignore-networks entry {}",
                           facts.clientAddress, *entry);
                return Step::Done;
            }
        }

        // GeoIP cannot place these, and a guess would count as a new country.
        if (facts.addressClass != AddressClass::Public) {
            log_->debug("geoip.not_looked_up client_address={} class={}", facts.clientAddress,
                        addressClassName(facts.addressClass));
            return Step::Continue;
        }

        LookupResult r = db_->lookup(facts.client, facts);
        switch (r.status) {
            case LookupStatus::Located:
                log_->debug("geoip.located client_address={} country={} continent={}{}",
                            facts.clientAddress, facts.country, facts.continent,
                            r.registeredCountry ? " (registered country)" : "");
                break;
            case LookupStatus::NoCountry:
                log_->debug("geoip.unlocated client_address={} continent={}: no country in record",
                            facts.clientAddress, facts.continent);
                break;
            case LookupStatus::NotFound:
                log_->debug("geoip.unlocated client_address={}: not in database",
                            facts.clientAddress);
                break;
            case LookupStatus::Error:
                // Not a request failure: the client is merely unplaced, as the
                // reference treats it. Warn once so a damaged file is noticed.
                if (!warnedLookupError_) {
                    warnedLookupError_ = true;
                    log_->warn(
                        "geoip.lookup_error client_address={} database={}: {} (further lookup "
                        "errors are logged at debug)",
                        facts.clientAddress, db_->path(), r.error);
                } else {
                    log_->debug("geoip.lookup_error client_address={}: {}", facts.clientAddress,
                                r.error);
                }
                break;
        }
        return Step::Continue;
    }

    void stop() override
    {
        refresh_.stop();
        db_.reset();
    }

private:
    /// Between two requests (lookups are synchronous): nothing refers to the
    /// old database once this returns.
    void swapIn(std::unique_ptr<GeoDatabase> fresh)
    {
        log_->info("geoip.refreshed database={} type={} built={} (was built {})", fresh->path(),
                   fresh->type(), fresh->buildDate(), db_->buildDate());
        warnAboutContents(*fresh);
        db_ = std::move(fresh);
        refresh_.adopt(*db_);
        warnedLookupError_ = false;
    }

    void warnAboutContents(const GeoDatabase &db)
    {
        // An ASN or anonymous-IP database opens fine but never yields a
        // country, which would silently turn off the country limits.
        std::string_view type = db.type();
        if (type.find("City") == std::string_view::npos &&
            type.find("Country") == std::string_view::npos)
            log_->warn(
                "geoip.unexpected_type database={} type={}: not a City or Country database; "
                "clients may stay unlocated",
                db.path(), type);
        if (db.ipVersion() == 4)
            log_->warn("geoip.ipv4_only database={}: IPv6 clients stay unlocated", db.path());
    }

    std::string path_;
    int64_t refreshMs_ = kDefaultRefreshMs;
    IgnoreNetworks ignore_;
    std::unique_ptr<GeoDatabase> db_;
    DatabaseRefresh refresh_;
    std::shared_ptr<spdlog::logger> log_;
    std::string reply_;  // reused, so an ignored client costs no allocation
    bool warnedLookupError_ = false;
};

}  // namespace geopol::geoip

GEOPOL_MODULE("geoip", geopol::geoip::GeoipModule)
