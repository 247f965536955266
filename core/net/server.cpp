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
    std::string name;  ///< as bound: "inet:127.0.0.1:4646"
    bool unixSocket = false;
    bool ownsPath = false;  ///< this worker created the socket file (and removes it)
    bool bound = false;
    bool listening = false;
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

void ServerStats::render(std::string &out, const std::vector<const ServerStats *> &all,
                         size_t connections)
{
    auto sum = [&all](Counter ServerStats::*field) {
        uint64_t total = 0;
        for (const ServerStats *s : all)
            total += (s->*field).get();
        return static_cast<double>(total);
    };
    auto sample = [&out](const std::string &name, double v) {
        char buf[64];
        std::snprintf(buf, sizeof buf, " %.17g\n", v);
        out += name;
        out += buf;
    };
    out +=
        "# HELP geopol_policy_requests_total Policy requests answered, by action.\n"
        "# TYPE geopol_policy_requests_total counter\n";
    sample("geopol_policy_requests_total{action=\"dunno\"}", sum(&ServerStats::dunno));
    sample("geopol_policy_requests_total{action=\"reject\"}", sum(&ServerStats::reject));
    sample("geopol_policy_requests_total{action=\"defer\"}", sum(&ServerStats::defer));
    sample("geopol_policy_requests_total{action=\"info\"}", sum(&ServerStats::info));
    sample("geopol_policy_requests_total{action=\"other\"}", sum(&ServerStats::other));
    out +=
        "# HELP geopol_policy_failures_total Requests answered with a failure action "
        "(a module failed or missed the deadline).\n"
        "# TYPE geopol_policy_failures_total counter\n";
    sample("geopol_policy_failures_total", sum(&ServerStats::failures));
    out +=
        "# HELP geopol_policy_timeouts_total Requests that missed server.request-timeout.\n"
        "# TYPE geopol_policy_timeouts_total counter\n";
    sample("geopol_policy_timeouts_total", sum(&ServerStats::timeouts));
    out +=
        "# HELP geopol_protocol_errors_total Connections dropped for malformed input.\n"
        "# TYPE geopol_protocol_errors_total counter\n";
    sample("geopol_protocol_errors_total", sum(&ServerStats::protocolErrors));
    out +=
        "# HELP geopol_connections Open policy connections.\n"
        "# TYPE geopol_connections gauge\n";
    sample("geopol_connections", static_cast<double>(connections));
    out +=
        "# HELP geopol_connections_accepted_total Policy connections accepted.\n"
        "# TYPE geopol_connections_accepted_total counter\n";
    sample("geopol_connections_accepted_total", sum(&ServerStats::accepted));
    out +=
        "# HELP geopol_connections_refused_total Connections closed at once because "
        "server.max-connections was reached.\n"
        "# TYPE geopol_connections_refused_total counter\n";
    sample("geopol_connections_refused_total", sum(&ServerStats::refused));
    out +=
        "# HELP geopol_slow_clients_total Connections closed because a request was not "
        "complete within server.read-timeout.\n"
        "# TYPE geopol_slow_clients_total counter\n";
    sample("geopol_slow_clients_total", sum(&ServerStats::slowClients));
    out +=
        "# HELP geopol_decision_seconds Time from a complete request to its answer.\n"
        "# TYPE geopol_decision_seconds histogram\n";
    uint64_t cumulative = 0;
    for (size_t i = 0; i < kBucketCount; ++i) {
        for (const ServerStats *s : all)
            cumulative += s->latencyBuckets[i].get();
        char le[32];
        std::snprintf(le, sizeof le, "%g", kBuckets[i]);
        sample(std::string("geopol_decision_seconds_bucket{le=\"") + le + "\"}",
               static_cast<double>(cumulative));
    }
    sample("geopol_decision_seconds_bucket{le=\"+Inf\"}", sum(&ServerStats::latencyCount));
    sample("geopol_decision_seconds_sum", sum(&ServerStats::latencySumNs) / 1e9);
    sample("geopol_decision_seconds_count", sum(&ServerStats::latencyCount));
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

namespace {

/// An inet listening socket, bound. SO_REUSEADDR so a restart rebinds while
/// old connections sit in TIME_WAIT; SO_REUSEPORT when several workers each
/// bind their own socket to the address; IPv6 sockets are v6-only so [::]
/// and 0.0.0.0 can both be listed. Returns the fd or a negative libuv error.
int bindInet(const std::string &host, int port, bool reusePort)
{
    sockaddr_storage addr{};
    socklen_t len;
    bool v6 = host.find(':') != std::string::npos;
    if (v6) {
        uv_ip6_addr(host.c_str(), port, reinterpret_cast<sockaddr_in6 *>(&addr));
        len = sizeof(sockaddr_in6);
    } else {
        uv_ip4_addr(host.c_str(), port, reinterpret_cast<sockaddr_in *>(&addr));
        len = sizeof(sockaddr_in);
    }
    int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return uv_translate_sys_error(errno);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (reusePort)
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if (v6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, reinterpret_cast<sockaddr *>(&addr), len) != 0) {
        int err = uv_translate_sys_error(errno);
        ::close(fd);
        return err;
    }
    return fd;
}

int boundPort(uv_tcp_t *tcp)
{
    sockaddr_storage ss{};
    int len = sizeof ss;
    uv_tcp_getsockname(tcp, reinterpret_cast<sockaddr *>(&ss), &len);
    if (ss.ss_family == AF_INET6)
        return ntohs(reinterpret_cast<sockaddr_in6 *>(&ss)->sin6_port);
    return ntohs(reinterpret_cast<sockaddr_in *>(&ss)->sin_port);
}

/// Creates, modes and owns a unix socket; returns 0 or a libuv error.
int bindUnix(uv_pipe_t *pipe, const std::string &path, const ServerSettings &settings,
             std::vector<std::string> &errors)
{
    std::string error;
    if (!clearStaleSocket(path, error)) {
        errors.push_back("server.listen: " + error);
        return UV_EEXIST;
    }
    // Create the socket with no access, then open it up as configured.
    mode_t old = umask(0777);
    int rc = uv_pipe_bind(pipe, path.c_str());
    umask(old);
    if (rc == 0 && chmod(path.c_str(), settings.socketMode) != 0)
        rc = uv_translate_sys_error(errno);
    if (rc != 0 || (settings.socketOwner.empty() && settings.socketGroup.empty()))
        return rc;
    uid_t uid = static_cast<uid_t>(-1);
    gid_t gid = static_cast<gid_t>(-1);
    if (!settings.socketOwner.empty()) {
        struct passwd *pw = getpwnam(settings.socketOwner.c_str());
        if (!pw) {
            errors.push_back("server.socket-owner: no such user '" + settings.socketOwner + "'");
            return UV_EINVAL;
        }
        uid = pw->pw_uid;
    }
    if (!settings.socketGroup.empty()) {
        struct group *gr = getgrnam(settings.socketGroup.c_str());
        if (!gr) {
            errors.push_back("server.socket-group: no such group '" + settings.socketGroup + "'");
            return UV_EINVAL;
        }
        gid = gr->gr_gid;
    }
    if (chown(path.c_str(), uid, gid) != 0)
        return uv_translate_sys_error(errno);
    return 0;
}

}  // namespace

bool Server::listen(const ServerSettings &settings, std::vector<std::string> &errors,
                    bool reusePort, bool accept)
{
    for (const auto &text : settings.listen) {
        std::string error;
        auto spec = parseListenSpec(text, error);
        if (!spec) {
            errors.push_back("server.listen: " + error);
            continue;
        }
        openListener(*spec, text, settings, reusePort, -1, accept, errors);
    }
    return errors.empty();
}

bool Server::listenLike(const Server &first, const ServerSettings &settings,
                        std::vector<std::string> &errors, bool accept)
{
    for (const auto &l : first.listeners_) {
        if (!l->bound)
            continue;
        ListenSpec spec = l->spec;
        int sharedFd = -1;
        if (l->unixSocket) {
            uv_os_fd_t fd;
            uv_fileno(const_cast<Listener &>(*l).h(), &fd);
            sharedFd = dup(fd);
        } else {
            spec.port = boundPort(&const_cast<Listener &>(*l).handle.tcp);
        }
        openListener(spec, l->name, settings, true, sharedFd, accept, errors);
    }
    return errors.empty();
}

bool Server::startAccepting(std::vector<std::string> &errors)
{
    for (auto &l : listeners_) {
        if (!l->bound || l->listening)
            continue;
        int rc = uv_listen(l->s(), SOMAXCONN, onConnection);
        if (rc != 0) {
            errors.push_back("server.listen: cannot listen on " + l->name + ": " + uv_strerror(rc));
            continue;
        }
        l->listening = true;
    }
    return errors.empty();
}

void Server::openListener(const ListenSpec &spec, const std::string &text,
                          const ServerSettings &settings, bool reusePort, int sharedFd, bool accept,
                          std::vector<std::string> &errors)
{
    auto l = std::make_unique<Listener>();
    l->server = this;
    l->spec = spec;
    int rc;
    if (spec.kind == ListenSpec::Kind::Unix) {
        l->unixSocket = true;
        l->ownsPath = sharedFd < 0;
        uv_pipe_init(loop_, &l->handle.pipe, 0);
        l->h()->data = l.get();
        rc = sharedFd >= 0 ? uv_pipe_open(&l->handle.pipe, sharedFd)
                           : bindUnix(&l->handle.pipe, spec.path, settings, errors);
    } else {
        uv_tcp_init(loop_, &l->handle.tcp);
        l->h()->data = l.get();
        int fd = bindInet(spec.host, spec.port, reusePort);
        rc = fd < 0 ? fd : uv_tcp_open(&l->handle.tcp, fd);
    }
    if (rc == 0 && accept)
        rc = uv_listen(l->s(), SOMAXCONN, onConnection);
    if (rc != 0) {
        if (rc != UV_EEXIST && rc != UV_EINVAL)
            errors.push_back("server.listen: cannot listen on " + text + ": " + uv_strerror(rc));
        uv_close(l->h(), nullptr);
        listeners_.push_back(std::move(l));  // freed with the server, after the close
        return;
    }
    l->bound = true;
    l->listening = accept;
    l->name = l->unixSocket ? "unix:" + spec.path : boundName(&l->handle.tcp);
    namedLogger("geopol")->info("listening on {}", l->name);
    bound_.push_back(l->name);
    listeners_.push_back(std::move(l));
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
        self->connectionCount_.store(self->connections_.size(), std::memory_order_relaxed);
        return;
    }
    self->connections_.emplace(conn.get(), conn);
    self->connectionCount_.store(self->connections_.size(), std::memory_order_relaxed);
    if (self->connections_.size() > self->settings_->maxConnections) {
        self->stats_.refused.bump();
        uint64_t skipped = 0;
        if (self->refuseLog_.allow(uv_now(self->loop_), skipped))
            namedLogger("geopol")->warn(
                "server.max-connections ({}) reached: closing new connections ({} refused so far)",
                self->settings_->maxConnections, self->stats_.refused.get());
        conn->close(nullptr);
        return;
    }
    self->stats_.accepted.bump();
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
    connectionCount_.store(connections_.size(), std::memory_order_relaxed);
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
        if (l->unixSocket && l->ownsPath && l->bound)
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
