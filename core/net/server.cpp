// server.cpp
#include "net/server.hpp"

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "log/logging.hpp"
#include "net/connection.hpp"
#include "net/listen_spec.hpp"

namespace geopol::core {

struct Server::Listener {
    Server *server = nullptr;
    ListenSpec spec;
    bool unixSocket = false;
    union {
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } handle;
    uv_handle_t *h() { return reinterpret_cast<uv_handle_t *>(&handle); }
    uv_stream_t *s() { return reinterpret_cast<uv_stream_t *>(&handle); }
};

bool RateLimitedLog::allow(uint64_t nowMs, uint64_t &suppressed)
{
    if (first_ || nowMs - last_ >= intervalMs_) {
        first_ = false;
        last_ = nowMs;
        suppressed = skipped_;
        skipped_ = 0;
        return true;
    }
    ++skipped_;
    return false;
}

void ServerStats::render(std::string &out, size_t connections) const
{
    auto line = [&out](const char *text) { out += text; };
    auto sample = [&out](const std::string &name, double v) {
        char buf[64];
        std::snprintf(buf, sizeof buf, " %.17g\n", v);
        out += name;
        out += buf;
    };
    line(
        "# HELP geopol_policy_requests_total Policy requests answered, by action.\n"
        "# TYPE geopol_policy_requests_total counter\n");
    sample("geopol_policy_requests_total{action=\"dunno\"}", static_cast<double>(dunno));
    sample("geopol_policy_requests_total{action=\"reject\"}", static_cast<double>(reject));
    sample("geopol_policy_requests_total{action=\"defer\"}", static_cast<double>(defer));
    sample("geopol_policy_requests_total{action=\"info\"}", static_cast<double>(info));
    sample("geopol_policy_requests_total{action=\"other\"}", static_cast<double>(other));
    line(
        "# HELP geopol_policy_failures_total Requests answered with a failure action "
        "(a module failed or missed the deadline).\n"
        "# TYPE geopol_policy_failures_total counter\n");
    sample("geopol_policy_failures_total", static_cast<double>(failures));
    line(
        "# HELP geopol_policy_timeouts_total Requests that missed server.request-timeout.\n"
        "# TYPE geopol_policy_timeouts_total counter\n");
    sample("geopol_policy_timeouts_total", static_cast<double>(timeouts));
    line(
        "# HELP geopol_protocol_errors_total Connections dropped for malformed input.\n"
        "# TYPE geopol_protocol_errors_total counter\n");
    sample("geopol_protocol_errors_total", static_cast<double>(protocolErrors));
    line(
        "# HELP geopol_connections Open policy connections.\n"
        "# TYPE geopol_connections gauge\n");
    sample("geopol_connections", static_cast<double>(connections));
    line(
        "# HELP geopol_connections_accepted_total Policy connections accepted.\n"
        "# TYPE geopol_connections_accepted_total counter\n");
    sample("geopol_connections_accepted_total", static_cast<double>(accepted));
    line(
        "# HELP geopol_connections_refused_total Connections closed at once because "
        "server.max-connections was reached.\n"
        "# TYPE geopol_connections_refused_total counter\n");
    sample("geopol_connections_refused_total", static_cast<double>(refused));
    line(
        "# HELP geopol_decision_seconds Time from a complete request to its answer.\n"
        "# TYPE geopol_decision_seconds histogram\n");
    uint64_t cumulative = 0;
    for (size_t i = 0; i < kBucketCount; ++i) {
        cumulative += latencyBuckets[i];
        char le[32];
        std::snprintf(le, sizeof le, "%g", kBuckets[i]);
        sample(std::string("geopol_decision_seconds_bucket{le=\"") + le + "\"}",
               static_cast<double>(cumulative));
    }
    sample("geopol_decision_seconds_bucket{le=\"+Inf\"}", static_cast<double>(latencyCount));
    sample("geopol_decision_seconds_sum", latencySumSeconds);
    sample("geopol_decision_seconds_count", static_cast<double>(latencyCount));
}

Server::Server(uv_loop_t *loop) : loop_(loop), refuseLog_(10'000) {}

Server::~Server() = default;

namespace {

std::string boundName(uv_tcp_t *tcp)
{
    sockaddr_storage ss{};
    int len = sizeof ss;
    uv_tcp_getsockname(tcp, reinterpret_cast<sockaddr *>(&ss), &len);
    char ip[INET6_ADDRSTRLEN] = "";
    int port = 0;
    if (ss.ss_family == AF_INET6) {
        auto *a = reinterpret_cast<sockaddr_in6 *>(&ss);
        uv_ip6_name(a, ip, sizeof ip);
        port = ntohs(a->sin6_port);
        return "inet:[" + std::string(ip) + "]:" + std::to_string(port);
    }
    auto *a = reinterpret_cast<sockaddr_in *>(&ss);
    uv_ip4_name(a, ip, sizeof ip);
    port = ntohs(a->sin_port);
    return "inet:" + std::string(ip) + ":" + std::to_string(port);
}

std::string peerName(uv_tcp_t *tcp)
{
    sockaddr_storage ss{};
    int len = sizeof ss;
    if (uv_tcp_getpeername(tcp, reinterpret_cast<sockaddr *>(&ss), &len) != 0)
        return "?";
    char ip[INET6_ADDRSTRLEN] = "";
    if (ss.ss_family == AF_INET6) {
        auto *a = reinterpret_cast<sockaddr_in6 *>(&ss);
        uv_ip6_name(a, ip, sizeof ip);
        return "[" + std::string(ip) + "]:" + std::to_string(ntohs(a->sin6_port));
    }
    auto *a = reinterpret_cast<sockaddr_in *>(&ss);
    uv_ip4_name(a, ip, sizeof ip);
    return std::string(ip) + ":" + std::to_string(ntohs(a->sin_port));
}

/// Removes a stale socket left by a previous run; refuses to touch anything else.
bool clearStaleSocket(const std::string &path, std::string &error)
{
    struct stat st;
    if (lstat(path.c_str(), &st) != 0)
        return true;
    if (!S_ISSOCK(st.st_mode)) {
        error = path + " exists and is not a socket; refusing to replace it";
        return false;
    }
    unlink(path.c_str());
    return true;
}

}  // namespace

bool Server::listen(const ServerSettings &settings, std::vector<std::string> &errors)
{
    auto log = namedLogger("geopol");
    for (const auto &text : settings.listen) {
        std::string error;
        auto spec = parseListenSpec(text, error);
        if (!spec) {
            errors.push_back("server.listen: " + error);
            continue;
        }
        auto l = std::make_unique<Listener>();
        l->server = this;
        l->spec = *spec;
        int rc;
        if (spec->kind == ListenSpec::Kind::Unix) {
            l->unixSocket = true;
            uv_pipe_init(loop_, &l->handle.pipe, 0);
            l->h()->data = l.get();
            if (!clearStaleSocket(spec->path, error)) {
                errors.push_back("server.listen: " + error);
                uv_close(l->h(), nullptr);
                listeners_.push_back(std::move(l));  // freed with the server, after close
                continue;
            }
            // Create the socket with no access, then open it up as configured.
            mode_t old = umask(0777);
            rc = uv_pipe_bind(&l->handle.pipe, spec->path.c_str());
            umask(old);
            if (rc == 0 && chmod(spec->path.c_str(), settings.socketMode) != 0)
                rc = uv_translate_sys_error(errno);
            if (rc == 0 && (!settings.socketOwner.empty() || !settings.socketGroup.empty())) {
                uid_t uid = static_cast<uid_t>(-1);
                gid_t gid = static_cast<gid_t>(-1);
                if (!settings.socketOwner.empty()) {
                    struct passwd *pw = getpwnam(settings.socketOwner.c_str());
                    if (!pw) {
                        errors.push_back("server.socket-owner: no such user '" +
                                         settings.socketOwner + "'");
                        rc = UV_EINVAL;
                    } else {
                        uid = pw->pw_uid;
                    }
                }
                if (rc == 0 && !settings.socketGroup.empty()) {
                    struct group *gr = getgrnam(settings.socketGroup.c_str());
                    if (!gr) {
                        errors.push_back("server.socket-group: no such group '" +
                                         settings.socketGroup + "'");
                        rc = UV_EINVAL;
                    } else {
                        gid = gr->gr_gid;
                    }
                }
                if (rc == 0 && chown(spec->path.c_str(), uid, gid) != 0)
                    rc = uv_translate_sys_error(errno);
            }
        } else {
            uv_tcp_init(loop_, &l->handle.tcp);
            l->h()->data = l.get();
            sockaddr_storage addr{};
            unsigned flags = 0;
            if (spec->host.find(':') != std::string::npos) {
                uv_ip6_addr(spec->host.c_str(), spec->port,
                            reinterpret_cast<sockaddr_in6 *>(&addr));
                flags = UV_TCP_IPV6ONLY;  // so [::] and 0.0.0.0 can both be listed
            } else {
                uv_ip4_addr(spec->host.c_str(), spec->port, reinterpret_cast<sockaddr_in *>(&addr));
            }
            // libuv sets SO_REUSEADDR: a restart rebinds despite TIME_WAIT.
            rc = uv_tcp_bind(&l->handle.tcp, reinterpret_cast<sockaddr *>(&addr), flags);
        }
        if (rc == 0)
            rc = uv_listen(l->s(), SOMAXCONN, onConnection);
        if (rc != 0) {
            if (errors.empty() || errors.back().rfind("server.socket-", 0) != 0)
                errors.push_back("server.listen: cannot listen on " + text + ": " +
                                 uv_strerror(rc));
            uv_close(l->h(), nullptr);
            listeners_.push_back(std::move(l));
            continue;
        }
        std::string name = l->unixSocket ? "unix:" + spec->path : boundName(&l->handle.tcp);
        log->info("listening on {}", name);
        bound_.push_back(name);
        listeners_.push_back(std::move(l));
    }
    return errors.empty();
}

void Server::update(std::shared_ptr<const ServerSettings> settings, std::shared_ptr<Chain> chain)
{
    settings_ = std::move(settings);
    chain_ = std::move(chain);
}

void Server::onConnection(uv_stream_t *ls, int status)
{
    auto *l = static_cast<Listener *>(ls->data);
    Server *self = l->server;
    if (status < 0 || self->shuttingDown_)
        return;
    auto conn = std::make_shared<Connection>(*self, l->unixSocket);
    if (uv_accept(ls, conn->stream()) != 0) {
        conn->close(nullptr);
        self->connections_.emplace(conn.get(), conn);
        return;
    }
    self->connections_.emplace(conn.get(), conn);
    if (self->connections_.size() > self->settings_->maxConnections) {
        ++self->stats_.refused;
        uint64_t skipped = 0;
        if (self->refuseLog_.allow(uv_now(self->loop_), skipped))
            namedLogger("geopol")->warn(
                "server.max-connections ({}) reached: closing new connections ({} refused so far)",
                self->settings_->maxConnections, self->stats_.refused);
        conn->close(nullptr);
        return;
    }
    ++self->stats_.accepted;
    std::string peer;
    if (l->unixSocket) {
        peer = "unix:" + l->spec.path;
    } else {
        uv_tcp_nodelay(reinterpret_cast<uv_tcp_t *>(conn->stream()), 1);
        peer = peerName(reinterpret_cast<uv_tcp_t *>(conn->stream()));
    }
    conn->start(std::move(peer));
}

void Server::connectionClosed(Connection *c)
{
    connections_.erase(c);
    if (shuttingDown_ && connections_.empty() && drained_) {
        auto done = std::move(drained_);
        drained_ = nullptr;
        done();
    }
}

void Server::closeListeners()
{
    for (auto &l : listeners_) {
        if (!uv_is_closing(l->h()))
            uv_close(l->h(), nullptr);
        if (l->unixSocket)
            unlink(l->spec.path.c_str());
    }
}

void Server::shutdown(std::function<void()> drained)
{
    shuttingDown_ = true;
    drained_ = std::move(drained);
    closeListeners();
    std::vector<std::shared_ptr<Connection>> idle;
    for (auto &[ptr, conn] : connections_)
        if (!conn->busy())
            idle.push_back(conn);
    for (auto &c : idle)
        c->close("shutting down");
    if (connections_.empty() && drained_) {
        auto done = std::move(drained_);
        drained_ = nullptr;
        done();
    }
}

void Server::closeAll()
{
    std::vector<std::shared_ptr<Connection>> all;
    for (auto &[ptr, conn] : connections_)
        all.push_back(conn);
    for (auto &c : all)
        c->close("shutting down (grace period over)");
}

}  // namespace geopol::core
