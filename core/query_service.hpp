// query_service.hpp - the "policy-query" service: runs a what-if request
// (REST POST /query) or a real decision (REST POST /dovecotpolicy) through
// the server's current chain, without Postfix.
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

    void query(std::vector<Attribute> attributes, QueryMode mode,
               std::function<void(const QueryResult &)> done) override;

private:
    Server &server_;
    // What-if questions are kept apart: they are not traffic. Real decisions
    // use the server's counters and failure log, like Postfix requests.
    ServerStats whatIfStats_;
    RateLimitedLog whatIfFailureLog_;
    std::unordered_map<RequestRun *, std::shared_ptr<RequestRun>> active_;
    const std::string whatIfPeer_ = "admin-query";
    const std::string decisionPeer_ = "admin-decision";
};

}  // namespace geopol::core
