// settings.cpp
#include "settings.hpp"

#include <arpa/inet.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "geopol/config.hpp"
#include "mime.hpp"

namespace geopol::operator_mail {

namespace {

// The reference's default (--operator-subject).
constexpr const char *kDefaultSubject = "[geoip-policyd] An e-mail account was compromised";
// A message template larger than this is a mistake (the wrong file).
constexpr size_t kMaxTemplateBytes = 1 << 20;

bool isIpv6Literal(const std::string &s)
{
    in6_addr a;
    return inet_pton(AF_INET6, s.c_str(), &a) == 1;
}

bool isHostName(const std::string &s)
{
    if (s.empty() || s.size() > 253)
        return false;
    for (char c : s)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.' && c != '_')
            return false;
    return true;
}

bool isLoopback(const std::string &host)
{
    if (host == "localhost" || host == "::1")
        return true;
    in_addr a;
    return inet_pton(AF_INET, host.c_str(), &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

// "text/plain", "text/html; format=flowed": a text type, one line.
bool isTextContentType(const std::string &ct)
{
    std::string lower;
    for (char c : ct) {
        if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7F)
            return false;
        lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    if (lower.rfind("text/", 0) != 0)
        return false;
    size_t end = lower.find(';');
    std::string subtype = lower.substr(5, end == std::string::npos ? std::string::npos : end - 5);
    while (!subtype.empty() && subtype.back() == ' ')
        subtype.pop_back();
    if (subtype.empty())
        return false;
    for (char c : subtype)
        if (!std::isalnum(static_cast<unsigned char>(c)) && !std::strchr("!#$&-^_.+", c))
            return false;
    return true;
}

}  // namespace

std::string SmtpSettings::url() const
{
    std::string hostPart = host.find(':') != std::string::npos ? "[" + host + "]" : host;
    // curl URL-decodes the path into the EHLO name; escape what a URL path
    // cannot hold as it is (the brackets of an address literal).
    std::string path;
    for (char c : helo) {
        if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_') {
            path += c;
        } else {
            char buf[4];
            std::snprintf(buf, sizeof buf, "%%%02X", static_cast<unsigned char>(c));
            path += buf;
        }
    }
    return std::string(implicitTls ? "smtps://" : "smtp://") + hostPart + ":" +
           std::to_string(port) + "/" + path;
}

bool SmtpSettings::requireTls() const
{
    if (implicitTls)
        return true;
    if (startTls == StartTls::Always)
        return true;
    // Like the reference's Go client, which refuses to send a password in
    // clear text except to localhost.
    return startTls == StartTls::Auto && !username.empty() && !isLoopback(host);
}

std::string SmtpSettings::tlsMode() const
{
    if (implicitTls)
        return "implicit";
    if (startTls == StartTls::Never)
        return "none";
    return requireTls() ? "starttls" : "starttls-if-offered";
}

bool readTemplateFile(const std::string &path, std::string &text, std::string &error)
{
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        error = "cannot read the template file " + path + ": " + std::strerror(errno);
        return false;
    }
    std::ostringstream buf;
    buf << in.rdbuf();
    if (in.bad()) {
        error = "cannot read the template file " + path + ": " + std::strerror(errno);
        return false;
    }
    text = buf.str();
    if (text.size() > kMaxTemplateBytes) {
        error = "the template file " + path + " is larger than 1 MiB";
        return false;
    }
    if (!isValidUtf8(text)) {
        error = "the template file " + path + " is not valid UTF-8";
        return false;
    }
    return true;
}

void readSettings(ConfigSection &cfg, Settings &s)
{
    // Read everything first: every key is consumed even when inactive.
    s.runActions = cfg.getBool("run-actions", false);
    s.runActionOperator = cfg.getBool("run-action-operator", false);
    s.onlyKnownAccounts = cfg.getBool("only-known-accounts", true);
    std::string to = cfg.getString("to", "");
    std::string from = cfg.getString("from", "");
    std::string subject = cfg.getString("subject", kDefaultSubject);
    std::string contentType = cfg.getString("content-type", "text/plain");
    s.templatePath = cfg.getPath("template", "");

    SmtpSettings &m = s.smtp;
    m.host = cfg.getString("server-address", "");
    m.port = static_cast<int>(cfg.getInt("server-port", 587, 1, 65535));
    m.helo = cfg.getString("helo", "localhost");
    m.username = cfg.getString("username", "");
    m.password = cfg.getString("password", "");
    std::string passwordFile = cfg.getPath("password-file", "");
    m.implicitTls = cfg.getBool("ssl-on-connect", false);
    std::string starttls = cfg.getString("starttls", "auto");
    m.caFile = cfg.getPath("tls-ca-file", "");
    m.skipVerify = cfg.getBool("tls-skip-verify", false);
    m.connectTimeoutMs = cfg.getDurationMs("connect-timeout", 10'000, 100, 300'000);
    m.timeoutMs = cfg.getDurationMs("timeout", 30'000, 1'000, 600'000);

    s.queueSize = static_cast<size_t>(cfg.getInt("queue-size", 100, 1, 100'000));
    s.parallel = static_cast<int>(cfg.getInt("parallel", 2, 1, 32));
    s.retries = static_cast<int>(cfg.getInt("retries", 3, 0, 20));
    s.retryDelayMs = cfg.getDurationMs("retry-delay", 10'000, 100, 3'600'000);
    s.drainTimeoutMs = cfg.getDurationMs("drain-timeout", 2'000, 0, 60'000);

    if (starttls == "auto")
        m.startTls = StartTls::Auto;
    else if (starttls == "always")
        m.startTls = StartTls::Always;
    else if (starttls == "never")
        m.startTls = StartTls::Never;
    else
        cfg.error("starttls", "must be auto, always or never (got '" + starttls + "')");

    // The reference reads the operator options only when both switches are
    // on; so do we, so a half-configured section stays harmless while off.
    if (!s.active())
        return;

    auto composer = std::make_shared<Composer>();
    std::string error;

    std::vector<Mailbox> fromList;
    if (from.empty())
        cfg.error("from", "must be set: the operator mail's sender (--operator-from)");
    else if (!parseMailboxList(from, fromList, error))
        cfg.error("from", error);
    else if (fromList.size() != 1)
        cfg.error("from", "must be exactly one address");
    else
        composer->from = fromList.front();

    if (to.empty())
        cfg.error("to", "must be set: the operator's address (--operator-to)");
    else if (!parseMailboxList(to, composer->to, error))
        cfg.error("to", error);

    m.mailFrom = composer->from.address;
    m.rcptTo.clear();
    for (const Mailbox &r : composer->to)
        m.rcptTo.push_back(r.address);

    if (m.host.empty())
        cfg.error("server-address",
                  "must be set: the mail server that takes the operator mail "
                  "(--mail-server-address)");
    else if (m.host.find(':') != std::string::npos ? !isIpv6Literal(m.host) : !isHostName(m.host))
        cfg.error("server-address", "must be a host name or an IP address (got '" + m.host + "')");

    if (m.helo.empty() || !(isHostName(m.helo) ||
                            (m.helo.size() > 2 && m.helo.front() == '[' && m.helo.back() == ']')))
        cfg.error("helo", "must be a host name or an address literal such as [192.0.2.1] (got '" +
                              m.helo + "')");

    if (!passwordFile.empty()) {
        if (!m.password.empty()) {
            cfg.error("password-file", "set either password or password-file, not both");
        } else {
            errno = 0;
            std::ifstream in(passwordFile);
            if (!in || !std::getline(in, m.password))
                cfg.error("password-file", "cannot read " + passwordFile + ": " +
                                               (errno ? std::strerror(errno) : "empty file"));
        }
    }
    if (!m.username.empty() && m.password.empty())
        cfg.error("password", "must be set when username is set (or use password-file)");
    if (m.username.empty() && !m.password.empty())
        cfg.error("username", "must be set when a password is set");

    if (!m.caFile.empty() && access(m.caFile.c_str(), R_OK) != 0)
        cfg.error("tls-ca-file", "cannot read " + m.caFile + ": " + std::strerror(errno));

    if (!isTextContentType(contentType))
        cfg.error("content-type", "must be a text type such as text/plain or text/html (got '" +
                                      contentType + "')");
    composer->contentType = contentType;

    if (!isValidUtf8(subject))
        cfg.error("subject", "is not valid UTF-8");
    else if (!composer->subject.parse(subject, placeholderNames(), error))
        cfg.error("subject", error);

    std::string body = kDefaultBody;
    if (!s.templatePath.empty() && !readTemplateFile(s.templatePath, body, error))
        cfg.error("template", error);
    else if (!composer->body.parse(body, placeholderNames(), error))
        cfg.error("template", s.templatePath + ": " + error);

    char host[256] = {};
    if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0')
        std::strcpy(host, "localhost");
    composer->hostname = host;
    s.composer = std::move(composer);
}

}  // namespace geopol::operator_mail
