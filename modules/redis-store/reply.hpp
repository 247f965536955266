// reply.hpp - turning hiredis replies into store results. Pure functions,
// tested with replies decoded from raw RESP text.
#pragma once

#include <hiredis/hiredis.h>

#include <string>
#include <string_view>

#include "geopol/store.hpp"
#include "settings.hpp"

namespace geopol::redis_store {

/// What an error reply means for the connection it came on.
enum class ErrorKind : uint8_t {
    Plain,     ///< the command failed; the connection is fine
    NoScript,  ///< the script cache lacks the script: send it with EVAL
    ReadOnly,  ///< this server is a replica now: find the master again
    Busy,      ///< LOADING, MASTERDOWN, BUSY, TRYAGAIN: not usable right now
};

ErrorKind classifyError(std::string_view message);

/// The text of a reply for logs and error messages, shortened.
std::string describe(const redisReply *reply);

/// Fills `out.state`, `out.found` and `out.newly` from a script reply (see
/// scripts.hpp). `lists`: whether the four lists were asked for. False, with
/// `error` set, if the reply does not have that shape.
bool parseStateReply(const redisReply *reply, bool lists, StoreResult &out, std::string &error);

/// SENTINEL get-master-addr-by-name: a two-element array (host, port), or nil
/// when the Sentinel does not know the name.
bool parseMasterAddress(const redisReply *reply, Endpoint &out, std::string &error);

/// SENTINEL replicas: the first replica that is up and in sync with its
/// master; false if there is none.
bool pickReplica(const redisReply *reply, Endpoint &out);

/// ROLE: "master", "slave", "sentinel", or "" if the reply is not a ROLE reply.
std::string_view roleOf(const redisReply *reply);

/// A +switch-master message's text "<name> <old-ip> <old-port> <new-ip> <new-port>".
bool parseSwitchMaster(std::string_view text, std::string &name, Endpoint &to);

}  // namespace geopol::redis_store
