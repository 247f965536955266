// limits.hpp - the limits module: records each request in the account store
// and rejects accounts seen from too many countries or addresses.
//
// The rules live in decision.hpp; this class only moves data between the
// request, the store and those functions.
#pragma once

#include <atomic>
#include <memory>

#include "custom_settings.hpp"
#include "decision.hpp"
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

    /// The custom settings in force. The future "custom-settings" service
    /// (REST) reads them here and publishes a replacement with
    /// replaceCustomSettings(); requests in flight keep the set they started with.
    std::shared_ptr<const CustomSettings> customSettings() const { return custom_.load(); }
    void replaceCustomSettings(std::shared_ptr<const CustomSettings> settings);

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

    Settings settings_;
    std::atomic<std::shared_ptr<const CustomSettings>> custom_;
    Store *store_ = nullptr;
    std::shared_ptr<spdlog::logger> log_;
};

}  // namespace geopol::limits
