// limits_admin.cpp - the admin commands of the limits module: the custom
// settings (GET /custom-settings, PUT /update, PATCH /modify, DELETE /remove),
// unlocking an account (POST /remove) and looking at one (GET /account/<name>).
//
// They live here because limits owns the custom settings and holds the store;
// rest-admin only carries HTTP. Handlers run on the loop thread.
#include <spdlog/spdlog.h>

#include <atomic>
#include <mutex>
#include <nlohmann/json.hpp>

#include "custom_settings_edit.hpp"
#include "geopol/account_resolver.hpp"
#include "geopol/admin_json.hpp"
#include "geopol/host.hpp"
#include "limits.hpp"
#include "settings_file.hpp"

namespace geopol::limits {

using nlohmann::ordered_json;

namespace {

// The last set published through the admin interface, for every instance
// of this process: with server.workers > 1 each worker loop has its own
// limits instance, but an edit made through one (the one rest-admin talks
// to) must reach all. Each instance compares `version` with the one it has
// adopted on every request (one atomic load) and takes the new set when they
// differ. The set is tied to the file it was written to; with no file it
// also survives reloads (the reference kept a PUT-created set too), but not
// a restart.
struct Published {
    std::atomic<uint64_t> version{0};
    std::mutex mutex;  // guards the rest
    std::string path;  // the custom-settings file it was written to ("" = none)
    std::shared_ptr<const CustomSettings> settings;
};

Published &published()
{
    static Published p;
    return p;
}

AdminResponse accepted()
{
    return AdminResponse{202, "application/json", ""};
}

AdminResponse jsonError(int status, const std::string &message)
{
    return AdminResponse{status, "application/json", adminErrorBody(message)};
}

std::string dump(const ordered_json &j)
{
    return j.dump(-1, ' ', false, ordered_json::error_handler_t::replace);
}

}  // namespace

uint64_t LimitsModule::publishedCustomVersion()
{
    return published().version.load(std::memory_order_acquire);
}

void LimitsModule::syncCustomSettings()
{
    Published &pub = published();
    if (pub.version.load(std::memory_order_acquire) == customVersion_)
        return;
    std::lock_guard lock(pub.mutex);
    customVersion_ = pub.version.load(std::memory_order_relaxed);
    if (pub.settings && pub.path == settings_.customSettingsPath)
        custom_.store(pub.settings);
}

void LimitsModule::registerAdminCommands(AdminCommands &admin)
{
    if (settings_.customSettingsPath.empty()) {
        Published &pub = published();
        std::lock_guard lock(pub.mutex);
        if (pub.settings && pub.path.empty()) {
            custom_.store(pub.settings);
            log_->info(
                "limits.custom_settings kept {} entries set through the admin interface (no "
                "custom-settings file: a restart loses them)",
                pub.settings->entries().size());
        }
    }
    auto bind = [this](void (LimitsModule::*fn)(const AdminRequest &, AdminReply)) {
        return [this, fn](const AdminRequest &req, AdminReply reply) {
            (this->*fn)(req, std::move(reply));
        };
    };
    admin.add("GET", "/custom-settings", bind(&LimitsModule::getCustomSettings));
    admin.add("PUT", "/update", bind(&LimitsModule::putCustomSettings));
    admin.add("PATCH", "/modify", bind(&LimitsModule::patchCustomSettings));
    admin.add("DELETE", "/remove", bind(&LimitsModule::deleteCustomEntry));
    admin.add("POST", "/remove", bind(&LimitsModule::unlockAccount));
    admin.add("GET", "/account/", bind(&LimitsModule::showAccount));
}

void LimitsModule::resolveAccount(const std::string &identity, Resolved done)
{
    auto *resolver = host_ ? host_->find<AccountResolver>("account-resolver") : nullptr;
    if (!resolver) {
        done(true, lowerAscii(identity), {});  // what the core keys requests by
        return;
    }
    resolver->resolve(identity, std::move(done));
}

AdminResponse LimitsModule::commitCustomSettings(std::shared_ptr<const CustomSettings> next,
                                                 const char *what)
{
    const std::string &path = settings_.customSettingsPath;
    if (!path.empty()) {
        // Written before it is published: a change that cannot be kept across
        // a reload or restart is refused instead of silently lost later.
        std::string text =
            next->toJson().dump(2, ' ', false, ordered_json::error_handler_t::replace);
        text += '\n';
        Status s = writeFileAtomically(path, text);
        if (!s) {
            log_->warn("limits.custom_settings_write_failed {} ({}); nothing changed", s.message(),
                       what);
            return jsonError(
                500, "cannot write the custom settings file: " + s.message() + "; nothing changed");
        }
    }
    log_->info("limits.custom_settings {}: {} entries{}", what, next->entries().size(),
               path.empty() ? " (in memory: no custom-settings file)" : ", written to " + path);
    Published &pub = published();
    {
        std::lock_guard lock(pub.mutex);
        pub.path = path;
        pub.settings = next;
        customVersion_ = pub.version.fetch_add(1, std::memory_order_acq_rel) + 1;
    }
    replaceCustomSettings(std::move(next));
    return accepted();
}

void LimitsModule::getCustomSettings(const AdminRequest &, AdminReply reply)
{
    syncCustomSettings();
    bool loaded = !settings_.customSettingsPath.empty();
    if (!loaded) {
        Published &pub = published();
        std::lock_guard lock(pub.mutex);
        loaded = pub.settings && pub.path.empty();  // set through PUT/PATCH without a file
    }
    if (!loaded) {
        reply({204, "application/json", ""});  // the reference: nothing loaded
        return;
    }
    auto current = customSettings();
    ordered_json list = ordered_json::array();
    for (const auto &e : current->entries())
        list.push_back(CustomSettings::entryToJson(e));
    reply({200, "application/json", dump(list) + "\n"});
}

void LimitsModule::putCustomSettings(const AdminRequest &req, AdminReply reply)
{
    EditResult r = replaceAllRequest(req);
    if (!r.settings)
        return reply(jsonError(r.status, r.error));
    reply(commitCustomSettings(std::move(r.settings), "replaced (PUT /update)"));
}

void LimitsModule::patchCustomSettings(const AdminRequest &req, AdminReply reply)
{
    syncCustomSettings();
    EditResult r = modifyEntryRequest(*customSettings(), req);
    if (!r.settings)
        return reply(jsonError(r.status, r.error));
    reply(commitCustomSettings(std::move(r.settings), "entry changed (PATCH /modify)"));
}

void LimitsModule::deleteCustomEntry(const AdminRequest &req, AdminReply reply)
{
    syncCustomSettings();
    EditResult r = removeEntryRequest(*customSettings(), req);
    if (!r.settings)
        return reply(jsonError(r.status, r.error));
    reply(commitCustomSettings(std::move(r.settings), "entry removed (DELETE /remove)"));
}

void LimitsModule::unlockAccount(const AdminRequest &req, AdminReply reply)
{
    std::string error, sender;
    if (!readUnlockRequest(req, sender, error))
        return reply(badRequest(error));
    resolveAccount(sender, [this, sender, reply](bool ok, std::string account, std::string why) {
        if (!ok) {
            log_->warn("limits.unlock_failed sender={} error=\"{}\"", sender, why);
            reply(jsonError(503, "cannot resolve \"" + sender + "\" to an account: " + why));
            return;
        }
        store_->unlock(account, [this, sender, account, reply](const StoreResult &r) {
            if (!r.ok) {
                // The reference said 202 even when Redis was down.
                log_->warn("limits.unlock_failed account={} error=\"{}\"", account, r.error);
                reply(jsonError(503, "the store could not unlock \"" + account + "\": " + r.error));
                return;
            }
            log_->info("limits.unlocked sender={} account={} had_record={}", sender, account,
                       r.found);
            reply(accepted());
        });
    });
}

void LimitsModule::showAccount(const AdminRequest &req, AdminReply reply)
{
    constexpr std::string_view kPrefix = "/account/";
    std::string identity = req.path.substr(kPrefix.size());
    resolveAccount(
        identity, [this, identity, reply](bool ok, std::string account, std::string why) {
            if (!ok) {
                reply(jsonError(503, "cannot resolve \"" + identity + "\" to an account: " + why));
                return;
            }
            store_->inspect(account, [this, identity, account, reply](const StoreResult &r) {
                if (!r.ok) {
                    reply(jsonError(503, "the store could not be read: " + r.error));
                    return;
                }
                if (!r.found) {
                    ordered_json nf;
                    nf["error"] = "no record for account \"" + account +
                                  "\": not seen within the store's ttl, or unlocked";
                    nf["account"] = account;
                    reply({404, "application/json", dump(nf)});
                    return;
                }
                const AccountState &s = r.state;
                auto custom = customSettings();
                const CustomEntry *entry = custom->find(account);
                Limits limits = effectivePolicy(settings_, entry).limits;
                ordered_json out;
                out["account"] = account;
                out["identity"] = identity;
                out["blocked"] = s.block != BlockState::None;
                out["block"] = blockStateName(s.block);
                out["block_ttl_seconds"] = s.blockTtlSeconds;
                out["ttl_seconds"] = s.ttlSeconds;
                out["foreign_ips"] = s.foreignIpList;
                out["foreign_countries"] = s.foreignCountryList;
                out["home_ips"] = s.homeIpList;
                out["home_countries"] = s.homeCountryList;
                ordered_json counts;
                counts["ips"] = s.foreignIps;
                counts["countries"] = s.foreignCountries;
                counts["home_ips"] = s.homeIps;
                counts["home_countries"] = s.homeCountries;
                out["counts"] = std::move(counts);
                ordered_json lim;
                lim["max_ips"] = limits.maxIps;
                lim["max_countries"] = limits.maxCountries;
                lim["max_home_ips"] = limits.maxHomeIps;
                lim["max_home_countries"] = limits.maxHomeCountries;
                out["limits"] = std::move(lim);
                out["custom_entry"] = entry ? ordered_json(entry->sender) : ordered_json(nullptr);
                reply({200, "application/json", dump(out)});
            });
        });
}

}  // namespace geopol::limits
