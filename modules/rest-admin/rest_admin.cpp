// rest_admin.cpp
#include "rest_admin.hpp"

#include <spdlog/logger.h>

#include "dovecot_policy.hpp"
#include "geopol/config.hpp"
#include "geopol/host.hpp"
#include "query_command.hpp"

namespace geopol::rest_admin {

RestAdminModule::~RestAdminModule()
{
    // stop() normally detached; never leave the hub pointing at us.
    if (attached_)
        Hub::instance().detach(*this);
}

Status RestAdminModule::configure(ConfigSection &cfg)
{
    readSettings(cfg, settings_);
    return Status::ok();
}

Status RestAdminModule::start(Host &host)
{
    log_ = host.logger();
    admin_ = host.find<AdminCommands>("admin");
    metrics_ = host.find<Metrics>("metrics");
    query_ = host.find<PolicyQuery>("policy-query");
    if (!admin_ || !metrics_)
        return Status::error("rest-admin: the core provides no admin or metrics service");

    admin_->add("GET", "/metrics", [this](const AdminRequest &, AdminReply reply) {
        std::string out;
        metrics_->render(out);
        reply({200, "text/plain; version=0.0.4; charset=utf-8", std::move(out)});
    });
    admin_->add("POST", "/query", [this](const AdminRequest &req, AdminReply reply) {
        handleQuery(query_, req, std::move(reply));
    });
    admin_->add("POST", "/dovecotpolicy", [this](const AdminRequest &req, AdminReply reply) {
        handleDovecotPolicy(query_, req, std::move(reply));
    });
    metrics_->addSource([](std::string &out) { Hub::instance().renderMetrics(out); });

    Status st = Hub::instance().attach(*this, host.loop(), log_);
    if (!st)
        return st;
    attached_ = true;
    return Status::ok();
}

void RestAdminModule::stop()
{
    if (!attached_)
        return;
    attached_ = false;
    Hub::instance().detach(*this);
}

void RestAdminModule::dispatch(const AdminRequest &req, AdminReply reply)
{
    admin_->dispatch(req, std::move(reply));
}

}  // namespace geopol::rest_admin
