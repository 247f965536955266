// dovecot_policy.hpp - POST /dovecotpolicy: Dovecot's auth policy protocol
// (auth_policy_server_url), answered as the reference answered it.
//
// Dovecot asks ?command=allow before and/or after it checks a password
// (auth_policy_check_before_auth, auth_policy_check_after_auth) and tells
// the outcome with ?command=report. An allow runs the login through the
// chain as a real decision, like a Postfix request whose client_address is
// the body's "remote" and whose sender and sasl_username are its "login":
// the account's IP and country are recorded, it may be blocked, the operator
// may be mailed. The answer is 200 {"status":0,"msg":"ok"} or
// {"status":-1,"msg":"<reject text>"}; Dovecot refuses the login and shows
// msg to the client. A report changes nothing.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "geopol/admin.hpp"
#include "geopol/policy_query.hpp"

namespace geopol::rest_admin {

enum class DovecotCommand { Allow, Report };

struct DovecotPolicyInput {
    DovecotCommand command = DovecotCommand::Allow;
    std::string remote;        ///< the client's IP (%{rip}); allow only
    std::string login;         ///< the account (%{requested_username}); allow only
    bool failedLogin = false;  ///< the body says "success": false
};

/// Reads ?command= and, for allow, Dovecot's JSON body: "remote" and "login"
/// must be non-empty strings, "success" a boolean if present; every other
/// key is ignored (Dovecot sends what auth_policy_request_attributes lists).
/// A report is accepted whatever its body. nullopt and a message for a 400
/// otherwise.
std::optional<DovecotPolicyInput> parseDovecotPolicyRequest(const AdminRequest &req,
                                                            std::string &error);

/// The text Dovecot shows the client for a rejecting action: the action
/// without its verb and status codes ("REJECT Policy violation. ..." ->
/// "Policy violation. ..."), the reference's text when nothing is left.
std::string dovecotRejectMessage(std::string_view action);

/// The 200 body for a chain run that did not fail.
std::string formatDovecotReply(const QueryResult &result);

/// The 200 body for command=report.
std::string_view dovecotReportReply();

/// The handler registered for POST /dovecotpolicy. A login the body calls
/// failed is only asked about (what-if): a wrong password must not count.
/// A failed chain is 500, so Dovecot's auth_policy_reject_on_fail decides.
void handleDovecotPolicy(PolicyQuery *service, const AdminRequest &req, AdminReply reply);

}  // namespace geopol::rest_admin
