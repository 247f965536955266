// services.hpp - the services the core itself provides to every chain:
// "admin" (AdminCommands) and "metrics" (Metrics). Modules add to them in
// start(); rest-admin serves them. Each chain has its own tables, so a
// reload never leaves a handler pointing into a retired module.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "geopol/admin.hpp"
#include "geopol/metrics.hpp"

namespace geopol::core {

class AdminTable : public AdminCommands {
public:
    void add(std::string method, std::string path, AdminHandler handler) override;
    void dispatch(const AdminRequest &req, AdminReply reply) override;

private:
    // path -> method -> handler; paths ending in '/' are prefixes.
    std::map<std::string, std::map<std::string, AdminHandler>> routes_;
};

class MetricsTable : public Metrics {
public:
    void addSource(std::function<void(std::string &out)> source) override;
    void addHealthCheck(std::string name, std::function<std::string()> check) override;
    void render(std::string &out) override;
    std::vector<std::string> problems() override;

private:
    std::vector<std::function<void(std::string &)>> sources_;
    std::vector<std::pair<std::string, std::function<std::string()>>> checks_;
};

}  // namespace geopol::core
