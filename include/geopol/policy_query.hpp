// policy_query.hpp - the "policy-query" service: run a request through the
// chain without Postfix (REST POST /query and POST /dovecotpolicy).
//
// The request runs through the current chain like one from Postfix. A
// what-if question sets facts.dryRun: modules must not change state for it
// (the reference's /query recorded the address; ours only looks). A real
// decision (a Dovecot login) records, blocks and mails like a Postfix
// request, and counts in the server's request metrics.
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

enum class QueryMode {
    WhatIf,    ///< facts.dryRun: nothing is recorded, blocked or mailed
    Decision,  ///< a real decision, as if Postfix had asked
};

class PolicyQuery {
public:
    virtual ~PolicyQuery() = default;
    /// The attributes are copied into the request before query() returns;
    /// what their views point at need only live until then.
    virtual void query(std::vector<Attribute> attributes, QueryMode mode,
                       std::function<void(const QueryResult &)> done) = 0;
};

}  // namespace geopol
