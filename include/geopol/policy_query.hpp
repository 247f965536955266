// policy_query.hpp - the "policy-query" service: ask the chain about a
// client and sender without Postfix (REST POST /query).
//
// The request runs through the current chain like one from Postfix, with
// facts.dryRun set: modules must not change state for it (the reference's
// /query recorded the address; ours only looks).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "geopol/facts.hpp"
#include "geopol/request.hpp"

namespace geopol {

struct QueryResult {
    std::string action;   ///< what Postfix would have been answered
    bool failed = false;  ///< a module failed or timed out; action is the failure action
    std::string failure;
    Facts facts;
};

class PolicyQuery {
public:
    virtual ~PolicyQuery() = default;
    /// The attributes are copied into the request before query() returns;
    /// what their views point at need only live until then.
    virtual void query(std::vector<Attribute> attributes,
                       std::function<void(const QueryResult &)> done) = 0;
};

}  // namespace geopol
