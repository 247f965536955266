// services.cpp
#include "chain/services.hpp"

namespace geopol::core {

void AdminTable::add(std::string method, std::string path, AdminHandler handler)
{
    routes_[std::move(path)][std::move(method)] = std::move(handler);
}

void AdminTable::dispatch(const AdminRequest &req, AdminReply reply)
{
    auto route = routes_.find(req.path);
    if (route != routes_.end() && route->first.back() == '/')
        route = routes_.end();  // a prefix route needs something after the prefix
    if (route == routes_.end()) {
        // The longest registered prefix ("/account/") that the path starts with.
        size_t best = 0;
        for (auto it = routes_.begin(); it != routes_.end(); ++it) {
            const std::string &p = it->first;
            if (p.size() > best && p.back() == '/' && req.path.size() > p.size() &&
                req.path.compare(0, p.size(), p) == 0) {
                best = p.size();
                route = it;
            }
        }
    }
    if (route == routes_.end()) {
        reply({404, "application/json", adminErrorBody("no such endpoint: " + req.path)});
        return;
    }
    auto handler = route->second.find(req.method);
    if (handler == route->second.end()) {
        std::string allowed;
        for (const auto &[m, h] : route->second)
            allowed += (allowed.empty() ? "" : ", ") + m;
        reply({405, "application/json",
               adminErrorBody(req.method + " is not allowed on " + req.path +
                              " (allowed: " + allowed + ")")});
        return;
    }
    handler->second(req, std::move(reply));
}

void MetricsTable::addSource(std::function<void(std::string &out)> source)
{
    sources_.push_back(std::move(source));
}

void MetricsTable::addHealthCheck(std::string name, std::function<std::string()> check)
{
    checks_.emplace_back(std::move(name), std::move(check));
}

void MetricsTable::render(std::string &out)
{
    for (auto &s : sources_)
        s(out);
}

std::vector<std::string> MetricsTable::problems()
{
    std::vector<std::string> out;
    for (auto &[name, check] : checks_) {
        std::string p = check();
        if (!p.empty())
            out.push_back(name + ": " + p);
    }
    return out;
}

}  // namespace geopol::core
