// embedded_defaults.hpp - the configuration geopold runs on without --config.
//
// Only the chain is spelled out; every key left out takes the default that
// its module documents (README of each module, etc/geopol.yaml). Modules
// whose issue has not landed yet are listed disabled so that the reference
// flags that enable them (--use-ldap, --use-cdb, --redis-*, --run-actions)
// have a place.
#pragma once

namespace geopol::core {

inline constexpr const char *kEmbeddedDefaults = R"(
server:
  listen: ["inet:127.0.0.1:4646"]
log:
  level: warning
modules:
  - name: geoip
  - name: ldap-alias
    enabled: false
  - name: user-cdb
    enabled: false
  - name: memory-store
  - name: redis-store
    enabled: false
  - name: limits
  - name: operator-mail
    enabled: false
  - name: rest-admin
    enabled: false
)";

}  // namespace geopol::core
