// reference_flags.cpp - the table. Names, short forms and variables are the
// Go program's (README `server --help`, plus what its code accepts).
#include "cli/reference_flags.hpp"

namespace geopol::core {

namespace {

using K = FlagKind;
constexpr uint32_t kEnables = kEnablesModule;
constexpr uint32_t kRedis = kEnablesModule | kSelectsRedis;

const std::vector<ReferenceFlag> kFlags = {
    // policy listener
    {"-a,--server-address", "SERVER_ADDRESS", K::String, "server", "address", kSpecial,
     "IPv4 or IPv6 address for the policy service (default 127.0.0.1)"},
    {"-p,--server-port", "SERVER_PORT", K::String, "server", "port", kSpecial,
     "Port for the policy service (default 4646)"},
    {"--sasl-username", "USE_SASL_USERNAME", K::Bool, "server", "identity", kSpecial,
     "Use 'sasl_username' instead of the 'sender' attribute"},
    {"--force-user-known", "FORCE_USER_KNOWN", K::Bool, "server", "force-user-known", kPlain,
     "Senders are already known by an upstream service"},
    {"-v,--verbose", "VERBOSE_LEVEL", K::Count, "log", "level", kSpecial,
     "Verbose mode; repeat for more (-v info, -vv debug)"},
    {"--log-json", "LOG_JSON", K::Bool, "log", "format", kSpecial, "Log as JSON lines"},

    // geoip
    {"-g,--geoip-path", "GEOIP_PATH", K::String, "geoip", "database", kPlain,
     "Full path to the GeoIP database file (default /usr/share/GeoIP/GeoLite2-City.mmdb)"},
    {"--ignore-network", "IGNORE_NETWORKS", K::List, "geoip", "ignore-networks", kPlain,
     "Client network (CIDR) or IP that is not counted; repeat for more"},

    // limits
    {"--max-countries", "MAX_COUNTRIES", K::Int, "limits", "max-countries", kPlain,
     "Maximum number of countries before rejecting e-mails (default 3)"},
    {"--max-ips", "MAX_IPS", K::Int, "limits", "max-ips", kPlain,
     "Maximum number of IP addresses before rejecting e-mails (default 10)"},
    {"--home-countries", "HOME_COUNTRIES", K::List, "limits", "home-countries", kPlain,
     "Known home country code; repeat for more"},
    {"--max-home-countries", "MAX_HOME_COUNTRIES", K::Int, "limits", "max-home-countries", kPlain,
     "Maximum number of home countries before rejecting e-mails (default 3)"},
    {"--max-home-ips", "MAX_HOME_IPS", K::Int, "limits", "max-home-ips", kPlain,
     "Maximum number of home IP addresses before rejecting e-mails (default 10)"},
    {"-c,--custom-settings-path", "CUSTOM_SETTINGS_PATH", K::String, "limits", "custom-settings",
     kPlain, "Custom settings with different IP and country limits"},

    // store (whichever is active)
    {"--block-permanent", "BLOCK_PERMANENT", K::Bool, "store", "block-permanent", kSpecial,
     "Do not expire senders that were blocked"},

    // redis-store
    {"-A,--redis-address", "REDIS_ADDRESS", K::String, "redis-store", "address", kRedis,
     "IPv4 or IPv6 address for the Redis service (default 127.0.0.1)"},
    {"-P,--redis-port", "REDIS_PORT", K::Int, "redis-store", "port", kRedis,
     "Port for the Redis service (default 6379)"},
    {"--redis-username", "REDIS_USERNAME", K::String, "redis-store", "username", kRedis,
     "Redis username"},
    {"--redis-password", "REDIS_PASSWORD", K::String, "redis-store", "password", kRedis,
     "Redis password"},
    {"--redis-replica-address", "REDIS_REPLICA_ADDRESS", K::String, "redis-store",
     "replica-address", kRedis, "Address of a Redis replica (default: the master's)"},
    {"--redis-replica-port", "REDIS_REPLICA_PORT", K::Int, "redis-store", "replica-port", kRedis,
     "Port of a Redis replica (default: the master's)"},
    {"--redis-sentinels", "REDIS_SENTINELS", K::List, "redis-store", "sentinels", kRedis,
     "Sentinel servers host:port; repeat for more"},
    {"--redis-sentinel-master-name", "REDIS_SENTINEL_MASTER_NAME", K::String, "redis-store",
     "sentinel-master-name", kRedis, "Sentinel master name"},
    {"--redis-sentinel-username", "REDIS_SENTINEL_USERNAME", K::String, "redis-store",
     "sentinel-username", kRedis, "Redis sentinel username"},
    {"--redis-sentinel-password", "REDIS_SENTINEL_PASSWORD", K::String, "redis-store",
     "sentinel-password", kRedis, "Redis sentinel password"},
    {"--redis-prefix", "REDIS_PREFIX", K::String, "redis-store", "prefix", kRedis,
     "Redis key prefix (default geopol_)"},
    {"--redis-database-number", "REDIS_DATABASE_NUMBER", K::Int, "redis-store", "database", kRedis,
     "Redis database number (default 0)"},
    {"--redis-ttl", "REDIS_TTL", K::Int, "redis-store", "ttl", kRedis,
     "Redis TTL in seconds (default 3600)"},

    // rest-admin
    {"--http-address", "HTTP_ADDRESS", K::String, "rest-admin", "address", kSpecial,
     "HTTP address for incoming requests (default 127.0.0.1)"},
    {"--http-port", "HTTP_PORT", K::Int, "rest-admin", "port", kEnables,
     "HTTP port for incoming requests (default 8080)"},
    {"--http-use-basic-auth", "HTTP_USE_BASIC_AUTH", K::Bool, "rest-admin", "basic-auth", kEnables,
     "Enable basic HTTP auth"},
    {"--http-use-ssl", "HTTP_USE_SSL", K::Bool, "rest-admin", "tls", kEnables, "Enable HTTPS"},
    {"--http-basic-auth-username", "HTTP_BASIC_AUTH_USERNAME", K::String, "rest-admin", "username",
     kEnables, "HTTP basic auth username"},
    {"--http-basic-auth-password", "HTTP_BASIC_AUTH_PASSWORD", K::String, "rest-admin", "password",
     kEnables, "HTTP basic auth password"},
    {"--http-tls-cert", "HTTP_TLS_CERT", K::String, "rest-admin", "tls-cert", kEnables,
     "HTTP TLS server certificate (full chain) (default /localhost.pem)"},
    {"--http-tls-key", "HTTP_TLS_KEY", K::String, "rest-admin", "tls-key", kEnables,
     "HTTP TLS server key (default /localhost-key.pem)"},

    // ldap-alias
    {"--use-ldap", "USE_LDAP", K::Bool, "ldap-alias", "enabled", kSpecial, "Enable LDAP support"},
    {"--ldap-server-uri", "LDAP_SERVER_URIS", K::List, "ldap-alias", "server-uris", kCommaList,
     "Server URI; repeat for more (default ldap://127.0.0.1:389/)"},
    {"--ldap-basedn", "LDAP_BASEDN", K::String, "ldap-alias", "base-dn", kPlain, "Base DN"},
    {"--ldap-binddn", "LDAP_BINDDN", K::String, "ldap-alias", "bind-dn", kPlain, "Bind DN"},
    {"--ldap-bindpw", "LDAP_BINDPW", K::String, "ldap-alias", "bind-password", kPlain,
     "Bind password"},
    {"--ldap-filter", "LDAP_FILTER", K::String, "ldap-alias", "filter", kPlain,
     "Filter with %s placeholder (default (&(objectClass=*)(mailAlias=%s)))"},
    {"--ldap-result-attribute", "LDAP_RESULT_ATTRIBUTE", K::String, "ldap-alias",
     "result-attribute", kPlain, "Result attribute for the sender (default mailAccount)"},
    {"--ldap-starttls", "LDAP_STARTTLS", K::Bool, "ldap-alias", "starttls", kPlain, "Use StartTLS"},
    {"--ldap-tls-skip-verify,--ldap-skip-tls-verify", "LDAP_TLS_SKIP_VERIFY", K::Bool, "ldap-alias",
     "tls-skip-verify", kPlain, "Skip TLS server name verification"},
    {"--ldap-tls-cafile", "LDAP_TLS_CAFILE", K::String, "ldap-alias", "tls-ca-file", kPlain,
     "File containing TLS CA certificate(s)"},
    {"--ldap-tls-client-cert", "LDAP_TLS_CLIENT_CERT", K::String, "ldap-alias", "tls-client-cert",
     kPlain, "File containing a TLS client certificate"},
    {"--ldap-tls-client-key", "LDAP_TLS_CLIENT_KEY", K::String, "ldap-alias", "tls-client-key",
     kPlain, "File containing a TLS client key"},
    {"--ldap-sasl-external", "LDAP_SASL_EXTERNAL", K::Bool, "ldap-alias", "sasl-external", kPlain,
     "Use SASL/EXTERNAL instead of a simple bind"},
    {"--ldap-scope", "LDAP_SCOPE", K::String, "ldap-alias", "scope", kPlain,
     "LDAP search scope [base, one, sub] (default sub)"},
    {"--ldap-idle-pool-size", "LDAP_IDLE_POOL_SIZE", K::Int, "ldap-alias", "idle-pool-size", kPlain,
     "LDAP idle pool size (default 3)"},
    {"--ldap-pool-size", "LDAP_POOL_SIZE", K::Int, "ldap-alias", "pool-size", kPlain,
     "LDAP max pool size (default 10)"},

    // operator-mail
    {"--run-actions", "RUN_ACTIONS", K::Bool, "operator-mail", "run-actions", kEnables,
     "Run actions if a sender is over limits"},
    {"--run-action-operator", "RUN_ACTION_OPERATOR", K::Bool, "operator-mail",
     "run-action-operator", kPlain, "Run the operator action"},
    {"--operator-to", "OPERATOR_TO", K::String, "operator-mail", "to", kPlain,
     "E-Mail To-header for the operator action"},
    {"--operator-from", "OPERATOR_FROM", K::String, "operator-mail", "from", kPlain,
     "E-Mail From-header for the operator action"},
    {"--operator-subject", "OPERATOR_SUBJECT", K::String, "operator-mail", "subject", kPlain,
     "E-Mail Subject-header for the operator action"},
    {"--operator-message-ct", "OPERATOR_MESSAGE_CT", K::String, "operator-mail", "content-type",
     kPlain, "E-Mail Content-Type-header (default text/plain)"},
    {"--operator-message-path", "OPERATOR_MESSAGE_PATH", K::String, "operator-mail", "template",
     kPlain, "Full path to the e-mail message template"},
    {"--mail-server-address", "MAIL_SERVER_ADDRESS", K::String, "operator-mail", "server-address",
     kPlain, "E-mail server address for notifications"},
    {"--mail-server-port,--mail-port", "MAIL_SERVER_PORT", K::Int, "operator-mail", "server-port",
     kPlain, "E-mail server port number (default 587)"},
    {"--mail-helo", "MAIL_HELO", K::String, "operator-mail", "helo", kPlain,
     "E-mail server HELO/EHLO hostname (default localhost)"},
    {"--mail-username", "MAIL_USERNAME", K::String, "operator-mail", "username", kPlain,
     "E-mail server username"},
    {"--mail-password", "MAIL_PASSWORD", K::String, "operator-mail", "password", kPlain,
     "E-mail server password"},
    {"--mail-ssl-on-connect", "MAIL_SSL_ON_CONNECT", K::Bool, "operator-mail", "ssl-on-connect",
     kPlain, "Use TLS on connect for the e-mail server"},

    // CDB "known users" (undocumented in the reference README)
    {"--use-cdb", "USE_CDB", K::Bool, "user-cdb", "enabled", kSpecial, "Use a CDB of known users"},
    {"--cdb-path", "CDB_PATH", K::String, "user-cdb", "path", kPlain, "Path to the CDB file"},
};

}  // namespace

const std::vector<ReferenceFlag> &referenceFlags()
{
    return kFlags;
}

std::string longName(const ReferenceFlag &f)
{
    std::string names = f.names;
    auto pos = names.find("--");
    if (pos == std::string::npos)
        return names;
    auto end = names.find(',', pos);
    return names.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
}

}  // namespace geopol::core
