// settings.hpp - the module's keys (README.md documents each), read and
// validated at configure time so that a bad section refuses the whole
// configuration before anything is started.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "message.hpp"

namespace geopol {
class ConfigSection;
}

namespace geopol::operator_mail {

enum class StartTls { Auto, Always, Never };

/// How to reach the mail server. Copied into the sending thread.
struct SmtpSettings {
    std::string host;
    int port = 587;
    std::string helo = "localhost";
    bool implicitTls = false;  ///< ssl-on-connect: TLS from the first byte (smtps://)
    StartTls startTls = StartTls::Auto;
    std::string caFile;
    bool skipVerify = false;
    std::string username;
    std::string password;  ///< never logged
    std::string mailFrom;  ///< envelope sender (MAIL FROM)
    std::vector<std::string> rcptTo;
    int64_t connectTimeoutMs = 10'000;
    int64_t timeoutMs = 30'000;

    /// "smtp://host:port/helo" (the path is curl's EHLO name), "smtps://..." with ssl-on-connect.
    std::string url() const;
    /// Whether the transfer must fail rather than go on without TLS: STARTTLS
    /// `always`, or `auto` with a password for a server that is not on this host.
    bool requireTls() const;
    /// For the start-up log line: implicit, starttls, starttls-if-offered, none.
    std::string tlsMode() const;
};

struct Settings {
    bool runActions = false;
    bool runActionOperator = false;
    /// Both switches, as in the reference: only then is anything sent.
    bool active() const { return runActions && runActionOperator; }
    bool onlyKnownAccounts = true;

    SmtpSettings smtp;
    std::shared_ptr<const Composer> composer;
    std::string templatePath;  ///< "" = the built-in body

    size_t queueSize = 100;
    int parallel = 2;
    int retries = 3;
    int64_t retryDelayMs = 10'000;
    int64_t drainTimeoutMs = 2'000;
};

/// Reads every key (also when the module is inactive, so none is reported as
/// unknown) and, when active, checks them; problems go to cfg.error().
void readSettings(ConfigSection &cfg, Settings &s);

/// The body template file's text, or an error message ("cannot read ...").
bool readTemplateFile(const std::string &path, std::string &text, std::string &error);

}  // namespace geopol::operator_mail
