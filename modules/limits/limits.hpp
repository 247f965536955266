// limits.hpp - the limits module: records each request in the account store
// and rejects accounts seen from too many countries or addresses.
//
// The rules live in decision.hpp; this class only moves data between the
// request, the store and those functions.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "custom_settings.hpp"
#include "decision.hpp"
#include "geopol/admin.hpp"
#include "geopol/module.hpp"
#include "geopol/request.hpp"
#include "geopol/store.hpp"
#include "settings.hpp"

namespace spdlog {
class logger;
}

namespace geopol::limits {

class LimitsModule final : public Module {
public:
    Status configure(ConfigSection &cfg) override;
    Status start(Host &host) override;
    /// Started after the store's provider, which the core orders by this.
    std::string_view needs() const override { return "store"; }
    Step onRequest(Request &req) override;
    void stop() override;

    const Settings &settings() const { return settings_; }

    /// The custom settings in force. The admin commands (limits_admin.cpp)
    /// publish a replacement with replaceCustomSettings(); requests in flight
    /// keep the set they started with.
    std::shared_ptr<const CustomSettings> customSettings() const { return custom_.load(); }
    void replaceCustomSettings(std::shared_ptr<const CustomSettings> settings);

    /// Registers the custom-settings, unlock and account commands with the
    /// core's "admin" service (limits_admin.cpp). Called by start().
    void registerAdminCommands(AdminCommands &admin);

    /// Adopts the set another instance published through the admin
    /// interface, if there is a newer one (loop thread; one atomic load when not).
    void syncCustomSettings();

private:
    // What the record() callback needs from onRequest(); copied into it so
    // nothing refers to the request's or the settings' memory meanwhile.
    struct Pending {
        Limits limits;
        TrustOutcome trust;
        bool home = false;
        bool wantLists = false;
    };

    struct DryRun {
        std::string ipKey;
        std::string country;
    };

    void onRecorded(const Resume &resume, const Pending &pending, const StoreResult &result);
    void onInspected(const Resume &resume, const Pending &pending, const DryRun &dry,
                     const StoreResult &result);
    void decideAndReply(Request &req, const Resume &resume, const Pending &pending,
                        const AccountState &state, bool mayBlock);
    void onBlocked(const Resume &resume, const StoreResult &result);

    // ---- admin commands (limits_admin.cpp)
    using Resolved = std::function<void(bool ok, std::string account, std::string error)>;
    static uint64_t publishedCustomVersion();
    /// The account key for an identity: through "account-resolver" when a
    /// module provides it (ldap-alias), else the identity lower-cased.
    void resolveAccount(const std::string &identity, Resolved done);
    /// Writes `next` to the custom settings file (if any), then publishes it.
    AdminResponse commitCustomSettings(std::shared_ptr<const CustomSettings> next,
                                       const char *what);
    void getCustomSettings(const AdminRequest &req, AdminReply reply);
    void putCustomSettings(const AdminRequest &req, AdminReply reply);
    void patchCustomSettings(const AdminRequest &req, AdminReply reply);
    void deleteCustomEntry(const AdminRequest &req, AdminReply reply);
    void unlockAccount(const AdminRequest &req, AdminReply reply);
    void showAccount(const AdminRequest &req, AdminReply reply);

    Settings settings_;
    std::atomic<std::shared_ptr<const CustomSettings>> custom_;
    uint64_t customVersion_ = 0;  // of the admin-published set adopted (loop thread)
    Store *store_ = nullptr;
    Host *host_ = nullptr;
    std::shared_ptr<spdlog::logger> log_;
};

}  // namespace geopol::limits
