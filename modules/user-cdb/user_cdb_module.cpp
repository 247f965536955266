// user_cdb_module.cpp - the user-cdb module: accounts listed in a CDB file
// count as known (facts.accountKnown), which is what operator-mail asks
// before it mails. See README.md for keys, order in the chain and log lines.
#include <fmt/format.h>
#include <spdlog/logger.h>

#include <memory>
#include <string>

#include "geopol/config.hpp"
#include "geopol/host.hpp"
#include "geopol/module.hpp"
#include "geopol/request.hpp"
#include "known_users.hpp"

namespace geopol::user_cdb {

class UserCdbModule final : public Module {
public:
    Status configure(ConfigSection &cfg) override
    {
        // The reference's default is "" too, and it refused to start without a file.
        path_ = cfg.getPath("path", "");
        if (path_.empty())
            cfg.error("path",
                      "must name the CDB file of known accounts (--cdb-path, "
                      "GEOIPPOLICYD_CDB_PATH); build one with `cdb -c -m FILE < accounts.txt`");
        return Status::ok();
    }

    Status start(Host &host) override
    {
        log_ = host.logger();
        if (Status s = users_.open(path_); !s)
            return s;
        log_->info("user-cdb.opened path={} bytes={}", users_.path(), users_.sizeBytes());
        return Status::ok();
    }

    Step onRequest(Request &req) override
    {
        Facts &f = req.facts;
        // No sender (a bounce) or no SASL login: no account to know.
        if (f.account.empty())
            return Step::Continue;
        warnIfAfterLimits(f);
        // force-user-known or an ldap-alias hit: the reference asks the CDB
        // only when LDAP said no, and a damaged file then defers no one.
        if (f.accountKnown) {
            log_->debug("user-cdb.skipped request={} account={}: already known", req.id(),
                        f.account);
            return Step::Continue;
        }
        switch (users_.find(f.account)) {
            case Lookup::Found:
                f.accountKnown = true;
                log_->debug("user-cdb.known request={} account={}", req.id(), f.account);
                break;
            case Lookup::NotFound:
                log_->debug("user-cdb.unknown request={} account={}", req.id(), f.account);
                break;
            case Lookup::Damaged:
                // The reference answers DEFER on a CDB error; the core answers
                // with this module's failure action (DEFER by default).
                req.fail(fmt::format(
                    "lookup of {} in the known-users CDB {} failed: the file is damaged (its "
                    "index points outside the file); rebuild it with cdb -c and reload",
                    f.account, users_.path()));
                return Step::Done;
        }
        return Step::Continue;
    }

    void stop() override { users_.close(); }

private:
    /// limits has already looked at the request, so operator-mail may have
    /// too: then this answer comes too late to matter. Said once.
    void warnIfAfterLimits(const Facts &f)
    {
        if (!f.verdict.evaluated || warnedOrder_)
            return;
        warnedOrder_ = true;
        log_->warn(
            "user-cdb.misplaced: user-cdb runs after limits; put it right after ldap-alias in "
            "modules:, before limits and operator-mail, or operator-mail may not see its answer");
    }

    std::string path_;
    KnownUsers users_;
    std::shared_ptr<spdlog::logger> log_;
    bool warnedOrder_ = false;
};

}  // namespace geopol::user_cdb

GEOPOL_MODULE("user-cdb", geopol::user_cdb::UserCdbModule)
