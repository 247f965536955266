// transport.hpp - what the outbox needs from whatever talks SMTP: hand over a
// finished message, learn later how it went. CurlTransport is the real one;
// the unit tests use a fake.
#pragma once

#include <functional>
#include <memory>
#include <string>

namespace geopol::operator_mail {

struct SendResult {
    bool ok = false;
    bool permanent = false;  ///< retrying cannot help (a 5xx reply, login denied)
    long smtpCode = 0;       ///< the server's last reply code; 0 if none
    std::string error;       ///< what went wrong, for the log; never holds the password
};

class Transport {
public:
    using Done = std::function<void(const SendResult &)>;

    virtual ~Transport() = default;

    /// Starts sending `message` (headers and body, CRLF) to the configured
    /// server. `done` runs on the loop thread, never inside send(), unless
    /// close() was called first.
    virtual void send(std::shared_ptr<const std::string> message, Done done) = 0;

    /// Abandons what is in flight (no `done` runs any more) and releases every
    /// resource; then `closed` runs on the loop thread. The transport may be
    /// destroyed inside `closed`.
    virtual void close(std::function<void()> closed) = 0;
};

}  // namespace geopol::operator_mail
