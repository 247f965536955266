// dunno_server.cpp - geopol-dunno-server: a policy server that answers
// "action=DUNNO" to every request and does nothing else.
//
// It is the ceiling for geopold on the same machine with the same client:
// the cost of the sockets, the framing and the loop, and no policy. It is
// written the way the fastest real server would be (one thread, epoll,
// level-triggered, no allocation per request, one read and one write per
// request batch) so the ratio geopold/ceiling measures geopol's own work.
//
// The framing is complete: a request is any number of "name=value" lines
// ended by an empty line; several requests in one read (pipelining) get
// their replies in order in one write; a request split over reads is
// completed by the next ones; a lone empty line before any attribute is
// skipped (as geopold does). Limits as geopold's defaults: 4096 bytes per
// line and 64 KiB per request, beyond which the connection is dropped.
//
// C-style C++ on purpose: no library on the request path.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

constexpr size_t kMaxLine = 4096;
constexpr size_t kMaxRequest = 65536;
constexpr size_t kReadSize = 65536;

volatile sig_atomic_t gStop = 0;

void onSignal(int)
{
    gStop = 1;
}

struct Conn {
    int fd = -1;
    std::string in;         // unparsed tail: an incomplete line or request
    size_t attributes = 0;  // lines of the request being read
    size_t requestBytes = 0;
    std::string out;  // replies not yet written
    size_t outOff = 0;
    bool wantOut = false;
};

struct Listener {
    int fd = -1;
    std::string name;  // "inet:127.0.0.1:PORT" or "unix:/path"
    std::string unixPath;
};

const char kReply[] = "action=DUNNO\n\n";
constexpr size_t kReplyLen = sizeof kReply - 1;

uint64_t gRequests = 0;

/// Consumes complete lines of `data`; appends a reply per complete request.
/// Returns how many bytes were used, or -1 on a protocol error.
ssize_t parse(Conn &c, const char *data, size_t len)
{
    size_t pos = 0;
    while (pos < len) {
        const char *nl = static_cast<const char *>(std::memchr(data + pos, '\n', len - pos));
        if (!nl) {
            if (len - pos > kMaxLine)
                return -1;
            break;
        }
        size_t lineLen = static_cast<size_t>(nl - (data + pos));
        if (lineLen > kMaxLine)
            return -1;
        c.requestBytes += lineLen + 1;
        if (c.requestBytes > kMaxRequest)
            return -1;
        pos += lineLen + 1;
        bool empty = lineLen == 0 || (lineLen == 1 && data[pos - 2] == '\r');
        if (!empty) {
            ++c.attributes;
            continue;
        }
        if (c.attributes > 0) {
            c.out.append(kReply, kReplyLen);
            ++gRequests;
        }
        c.attributes = 0;
        c.requestBytes = 0;
    }
    return static_cast<ssize_t>(pos);
}

class Server {
public:
    bool listenOn(const std::string &spec, std::string &error);
    int run();
    const std::vector<Listener> &listeners() const { return listeners_; }
    void cleanup();

private:
    void accept(const Listener &l);
    void readable(Conn &c);
    void flush(Conn &c);
    void drop(Conn &c);
    Conn *conn(int fd) { return static_cast<size_t>(fd) < conns_.size() ? conns_[fd] : nullptr; }

    int ep_ = -1;
    std::vector<Listener> listeners_;
    std::vector<Conn *> conns_;  // by descriptor
    char buf_[kReadSize];
};

bool Server::listenOn(const std::string &spec, std::string &error)
{
    if (ep_ < 0)
        ep_ = epoll_create1(EPOLL_CLOEXEC);
    Listener l;
    if (spec.rfind("unix:", 0) == 0) {
        l.unixPath = spec.substr(5);
        sockaddr_un sun{};
        if (l.unixPath.empty() || l.unixPath.size() >= sizeof sun.sun_path) {
            error = "bad unix socket path: " + spec;
            return false;
        }
        sun.sun_family = AF_UNIX;
        std::memcpy(sun.sun_path, l.unixPath.c_str(), l.unixPath.size() + 1);
        struct stat st;
        if (lstat(l.unixPath.c_str(), &st) == 0 && S_ISSOCK(st.st_mode))
            unlink(l.unixPath.c_str());  // stale socket of an earlier run
        l.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (l.fd < 0 || bind(l.fd, reinterpret_cast<sockaddr *>(&sun), sizeof sun) != 0) {
            error = "cannot bind " + spec + ": " + std::strerror(errno);
            return false;
        }
        l.name = spec;
    } else {
        std::string hp = spec.rfind("inet:", 0) == 0 ? spec.substr(5) : spec;
        size_t colon = hp.rfind(':');
        if (colon == std::string::npos) {
            error = "listen address must be inet:HOST:PORT or unix:/path, not " + spec;
            return false;
        }
        std::string host = hp.substr(0, colon), port = hp.substr(colon + 1);
        if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
            host = host.substr(1, host.size() - 2);
        addrinfo hints{}, *res = nullptr;
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST;
        int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &res);
        if (rc != 0 || !res) {
            error = "bad listen address " + spec + ": " + gai_strerror(rc);
            return false;
        }
        l.fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        int one = 1;
        if (l.fd >= 0)
            setsockopt(l.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (l.fd < 0 || bind(l.fd, res->ai_addr, res->ai_addrlen) != 0) {
            error = "cannot bind " + spec + ": " + std::strerror(errno);
            freeaddrinfo(res);
            return false;
        }
        freeaddrinfo(res);
        // Port 0 picks a free port: name the one we got.
        sockaddr_storage ss{};
        socklen_t len = sizeof ss;
        getsockname(l.fd, reinterpret_cast<sockaddr *>(&ss), &len);
        char ip[INET6_ADDRSTRLEN] = "";
        if (ss.ss_family == AF_INET6) {
            auto *a = reinterpret_cast<sockaddr_in6 *>(&ss);
            inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
            l.name = "inet:[" + std::string(ip) + "]:" + std::to_string(ntohs(a->sin6_port));
        } else {
            auto *a = reinterpret_cast<sockaddr_in *>(&ss);
            inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
            l.name = "inet:" + std::string(ip) + ":" + std::to_string(ntohs(a->sin_port));
        }
    }
    if (::listen(l.fd, SOMAXCONN) != 0) {
        error = "cannot listen on " + spec + ": " + std::strerror(errno);
        return false;
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = l.fd;
    epoll_ctl(ep_, EPOLL_CTL_ADD, l.fd, &ev);
    listeners_.push_back(l);
    return true;
}

void Server::accept(const Listener &l)
{
    // Drain the backlog: a burst of connects (10,000 idle clients) is
    // accepted in few wake-ups.
    for (;;) {
        int fd = accept4(l.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            return;  // EAGAIN, or EMFILE: try again on the next wake-up
        }
        if (l.unixPath.empty()) {
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        }
        if (static_cast<size_t>(fd) >= conns_.size())
            conns_.resize(static_cast<size_t>(fd) + 1024, nullptr);
        Conn *c = new Conn;
        c->fd = fd;
        conns_[fd] = c;
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.fd = fd;
        epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev);
    }
}

void Server::drop(Conn &c)
{
    conns_[c.fd] = nullptr;
    close(c.fd);
    delete &c;
}

void Server::readable(Conn &c)
{
    ssize_t n = read(c.fd, buf_, sizeof buf_);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        drop(c);
        return;
    }
    ssize_t used;
    if (c.in.empty()) {
        // The usual case: whole requests in one read, parsed in place.
        used = parse(c, buf_, static_cast<size_t>(n));
        if (used >= 0 && used < n)
            c.in.assign(buf_ + used, static_cast<size_t>(n - used));
    } else {
        c.in.append(buf_, static_cast<size_t>(n));
        used = parse(c, c.in.data(), c.in.size());
        if (used > 0)
            c.in.erase(0, static_cast<size_t>(used));
    }
    if (used < 0) {
        drop(c);
        return;
    }
    flush(c);
}

void Server::flush(Conn &c)
{
    while (c.outOff < c.out.size()) {
        ssize_t n = send(c.fd, c.out.data() + c.outOff, c.out.size() - c.outOff, MSG_NOSIGNAL);
        if (n > 0) {
            c.outOff += static_cast<size_t>(n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            if (!c.wantOut) {
                epoll_event ev{};
                ev.events = EPOLLIN | EPOLLOUT;
                ev.data.fd = c.fd;
                epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd, &ev);
                c.wantOut = true;
            }
            return;
        }
        drop(c);
        return;
    }
    c.out.clear();
    c.outOff = 0;
    if (c.wantOut) {
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.fd = c.fd;
        epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd, &ev);
        c.wantOut = false;
    }
}

int Server::run()
{
    epoll_event events[256];
    while (!gStop) {
        int n = epoll_wait(ep_, events, 256, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            std::perror("epoll_wait");
            return 1;
        }
        for (int k = 0; k < n; ++k) {
            int fd = events[k].data.fd;
            const Listener *l = nullptr;
            for (const Listener &x : listeners_)
                if (x.fd == fd)
                    l = &x;
            if (l) {
                accept(*l);
                continue;
            }
            Conn *c = conn(fd);
            if (!c)
                continue;
            if (events[k].events & EPOLLOUT) {
                flush(*c);
                if (!(c = conn(fd)))
                    continue;
            }
            if (events[k].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
                readable(*c);
        }
    }
    return 0;
}

void Server::cleanup()
{
    for (Conn *c : conns_)
        if (c)
            drop(*c);
    for (const Listener &l : listeners_) {
        close(l.fd);
        if (!l.unixPath.empty())
            unlink(l.unixPath.c_str());
    }
}

bool writeStatusFile(const std::string &path, const Server &s)
{
    // The shape of geopold's status file, so scripts read both alike.
    std::string json = "{\"pid\":" + std::to_string(getpid()) +
                       ",\"version\":\"dunno\",\"reloads\":0,\"listeners\":[";
    for (size_t i = 0; i < s.listeners().size(); ++i)
        json += (i ? ",\"" : "\"") + s.listeners()[i].name + "\"";
    json += "]}\n";
    std::string tmp = path + ".tmp";
    FILE *f = std::fopen(tmp.c_str(), "w");
    if (!f)
        return false;
    bool ok = std::fputs(json.c_str(), f) >= 0;
    ok = std::fclose(f) == 0 && ok;
    return ok && std::rename(tmp.c_str(), path.c_str()) == 0;
}

void usage(FILE *to)
{
    std::fputs(
        "usage: geopol-dunno-server [--listen inet:HOST:PORT|unix:/path]... "
        "[--status-file PATH]\n"
        "Answers action=DUNNO to every Postfix policy request: the ceiling geopold is\n"
        "measured against. Default: --listen inet:127.0.0.1:0 (a free port). Prints\n"
        "\"listening on ADDRESS\" for each listener; SIGTERM or SIGINT stops it.\n",
        to);
}

}  // namespace

int main(int argc, char **argv)
{
    std::vector<std::string> listen;
    std::string statusFile;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto value = [&](const char *name) -> std::string {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "geopol-dunno-server: %s needs a value\n", name);
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--listen" || a == "-l")
            listen.push_back(value("--listen"));
        else if (a.rfind("--listen=", 0) == 0)
            listen.push_back(a.substr(9));
        else if (a == "--status-file")
            statusFile = value("--status-file");
        else if (a.rfind("--status-file=", 0) == 0)
            statusFile = a.substr(14);
        else if (a == "--help" || a == "-h") {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (listen.empty())
        listen.push_back("inet:127.0.0.1:0");

    rlimit rl;  // one descriptor per connection: 10,000 idle ones must fit
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);

    struct sigaction sa {};
    sa.sa_handler = onSignal;  // no SA_RESTART: epoll_wait returns EINTR
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGINT, &sa, nullptr);
    signal(SIGPIPE, SIG_IGN);

    static Server server;  // static: the read buffer is not on the stack
    for (const auto &spec : listen) {
        std::string error;
        if (!server.listenOn(spec, error)) {
            std::fprintf(stderr, "geopol-dunno-server: %s\n", error.c_str());
            server.cleanup();
            return 1;
        }
    }
    for (const Listener &l : server.listeners())
        std::printf("listening on %s\n", l.name.c_str());
    std::fflush(stdout);
    if (!statusFile.empty() && !writeStatusFile(statusFile, server)) {
        std::fprintf(stderr, "geopol-dunno-server: cannot write %s\n", statusFile.c_str());
        server.cleanup();
        return 1;
    }
    int rc = server.run();
    server.cleanup();
    if (!statusFile.empty())
        unlink(statusFile.c_str());
    std::fprintf(stderr, "geopol-dunno-server: %llu requests answered\n",
                 static_cast<unsigned long long>(gRequests));
    return rc;
}
