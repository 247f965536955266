// query_command.hpp - POST /query: a what-if policy decision.
//
// The request runs through the current chain with facts.dryRun set (the core's
// "policy-query" service), so it records, blocks and mails nothing: unlike
// the reference, whose /query counted as a real request.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "geopol/admin.hpp"
#include "geopol/policy_query.hpp"

namespace geopol::rest_admin {

struct QueryInput {
    std::string address;
    std::string sender;
    bool details = false;
};

/// Reads {"key":"client","value":{"address":"...","sender":"..."}} and the
/// query string (details=1). nullopt and a message for a 400 otherwise.
std::optional<QueryInput> parseQueryRequest(const AdminRequest &req, std::string &error);

/// The value of `key` in a raw query string ("details=1&x=y"); a key
/// without '=' reads as "1". No percent-decoding: our parameters need none.
std::optional<std::string> queryParam(std::string_view query, std::string_view key);

/// True when Postfix would not accept the mail with this action.
bool rejectingAction(std::string_view action);

/// The 202 body: {"guid","object":"client","operation":"query","result"}, plus
/// "details" when asked for.
std::string formatQueryResponse(const std::string &guid, const QueryInput &in,
                                const QueryResult &result);

/// The handler registered for POST /query; answers 503 without the service.
void handleQuery(PolicyQuery *service, const AdminRequest &req, AdminReply reply);

/// Runs `address` and `identity` through the chain as a Postfix request from
/// that client would go (sender and sasl_username both carry the identity,
/// so either server.identity finds it) and calls `answer` with the result.
/// Without the policy-query service it replies 503; when the chain fails,
/// `failStatus` with {"error","action"}.
void askChain(PolicyQuery *service, std::string_view address, std::string_view identity,
              QueryMode mode, int failStatus, AdminReply reply,
              std::function<void(const QueryResult &, const AdminReply &)> answer);

}  // namespace geopol::rest_admin
