// rest_admin.hpp - the rest-admin module: the admin commands of the chain,
// served over HTTP(S) by civetweb.
//
// The module knows no other module: it serves whatever the chain's modules
// registered with the core's "admin" service (AdminCommands), and adds
// GET /metrics (the "metrics" service), POST /query and POST /dovecotpolicy
// (both use the core's "policy-query" service). The HTTP side lives in the process-wide Hub so a
// reload does not rebind the port.
#pragma once

#include <memory>

#include "geopol/admin.hpp"
#include "geopol/metrics.hpp"
#include "geopol/module.hpp"
#include "geopol/policy_query.hpp"
#include "hub.hpp"
#include "settings.hpp"

namespace spdlog {
class logger;
}

namespace geopol::rest_admin {

class RestAdminModule final : public Module, public Endpoint {
public:
    ~RestAdminModule() override;

    Status configure(ConfigSection &cfg) override;
    Status start(Host &host) override;
    bool handlesRequests() const override { return false; }
    void stop() override;

    // Endpoint
    const Settings &settings() const override { return settings_; }
    void dispatch(const AdminRequest &req, AdminReply reply) override;

private:
    Settings settings_;
    AdminCommands *admin_ = nullptr;
    Metrics *metrics_ = nullptr;
    PolicyQuery *query_ = nullptr;
    std::shared_ptr<spdlog::logger> log_;
    bool attached_ = false;
};

}  // namespace geopol::rest_admin
