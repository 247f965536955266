// operator_mail.hpp - the operator-mail module: when a request turns an
// account blocked, mail the operator once, without delaying any reply.
//
// onRequest() only copies what the request knew and reserves a slot in the
// bounded outbox. On the next loop turn the account's entries are read from
// the store, the message is composed, and the outbox hands it to the
// transport, which sends it from its own thread (curl_transport.hpp).
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "geopol/module.hpp"
#include "geopol/request.hpp"
#include "geopol/store.hpp"
#include "message.hpp"
#include "outbox.hpp"
#include "settings.hpp"
#include "transport.hpp"

namespace spdlog {
class logger;
}

namespace geopol::operator_mail {

class OperatorMailModule final : public Module {
public:
    /// Makes the transport at start(); tests pass a fake.
    using TransportFactory = std::function<std::unique_ptr<Transport>(
        uv_loop_t *loop, const SmtpSettings &settings, std::string &error)>;

    OperatorMailModule();
    explicit OperatorMailModule(TransportFactory factory);

    Status configure(ConfigSection &cfg) override;
    Status start(Host &host) override;
    Step onRequest(Request &req) override;
    void stop() override;

    const Settings &settings() const { return settings_; }
    /// Notices refused because the outbox was full.
    uint64_t dropped() const { return dropped_; }
    /// The outbox while started and active (tests); nullptr otherwise.
    Outbox *outbox() const { return outbox_; }

private:
    // A notice on its way into the outbox. Shared with the store callback,
    // which must find out whether stop() has composed it meanwhile.
    struct Pending {
        Notice notice;
        bool done = false;
    };

    void onKick();
    void lookUp(const std::shared_ptr<Pending> &p);
    void compose(Pending &p, const StoreResult *inspected);

    TransportFactory factory_;
    Settings settings_;
    std::shared_ptr<spdlog::logger> log_;
    uv_loop_t *loop_ = nullptr;
    Store *store_ = nullptr;
    Outbox *outbox_ = nullptr;  // detaches itself in stop() (Outbox::shutdown)
    uv_timer_t *kick_ = nullptr;
    std::vector<std::shared_ptr<Pending>> inbox_;      // accepted, not yet looked up
    std::vector<std::shared_ptr<Pending>> composing_;  // waiting for the store
    uint64_t dropped_ = 0;
    uint64_t droppedInARow_ = 0;
};

}  // namespace geopol::operator_mail
