// custom_settings_edit.hpp - the admin interface's changes to the custom
// settings, as pure functions from (current set, request body) to a new set.
//
// Every change goes through CustomSettings::fromJson(), so an edited set is
// validated exactly like a file: a bad value refuses the whole request and
// nothing changes. Unlike the file, request bodies may not carry unknown
// keys (a typo such as "ip" would otherwise be silently ignored).
#pragma once

#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>

#include "custom_settings.hpp"
#include "geopol/admin.hpp"

namespace geopol::limits {

struct EditResult {
    std::shared_ptr<const CustomSettings> settings;  ///< null on error
    int status = 400;                                ///< for errors: 400, or 404 (no such sender)
    std::string error;
};

/// PUT /update: {"data":[...]} replaces everything. "data" is required (an
/// empty list clears); duplicate senders are refused.
EditResult replaceAll(const nlohmann::json &body);

/// PATCH /modify: {"key":"sender","value":{"sender":"...", ...}} merges the
/// given fields into the first entry for that sender (ignoring case), or
/// appends a new entry. Fields left out keep their value; null resets one
/// (a list to none, a count to 0 = the default, home_countries to absent).
/// home_countries given as an object merges its own fields the same way.
EditResult modifyEntry(const CustomSettings &current, const nlohmann::json &body);

/// DELETE /remove: {"key":"sender","value":"..."} drops every entry for that
/// sender (ignoring case), keeping the order of the others; 404 when none.
EditResult removeEntry(const CustomSettings &current, const nlohmann::json &body);

/// POST /remove (unlock) and DELETE /remove share this body: the sender, or
/// an error message.
bool readSenderKey(const nlohmann::json &body, std::string &sender, std::string &error);

// The same, from the whole request: the body through parseJsonBody()
// (Content-Type, one JSON value, nesting depth), then the function above.
// This is everything a handler does with the request before it commits or
// unlocks; kept pure and out of the handlers so that the fuzz target
// (tests/fuzz/admin_body_fuzz.cpp) runs exactly the handlers' code.

/// PUT /update.
EditResult replaceAllRequest(const AdminRequest &req);
/// PATCH /modify.
EditResult modifyEntryRequest(const CustomSettings &current, const AdminRequest &req);
/// DELETE /remove.
EditResult removeEntryRequest(const CustomSettings &current, const AdminRequest &req);
/// POST /remove (unlock): the sender, or a message for a 400.
bool readUnlockRequest(const AdminRequest &req, std::string &sender, std::string &error);

}  // namespace geopol::limits
