// query_service.hpp - the "policy-query" service: runs a what-if request
// (REST POST /query) through the server's current chain, without Postfix.
#pragma once

#include <memory>
#include <unordered_map>

#include "chain/request_run.hpp"
#include "geopol/policy_query.hpp"
#include "net/server.hpp"

namespace geopol::core {

class QueryService : public PolicyQuery {
public:
    explicit QueryService(Server &server) : server_(server) {}
    ~QueryService() override;

    void query(std::vector<Attribute> attributes,
               std::function<void(const QueryResult &)> done) override;

private:
    Server &server_;
    ServerStats stats_;  // kept apart: what-if questions are not mail traffic
    RateLimitedLog failureLog_;
    std::unordered_map<RequestRun *, std::shared_ptr<RequestRun>> active_;
    const std::string peer_ = "admin-query";
};

}  // namespace geopol::core
