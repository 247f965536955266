// policy_load.cpp - geopol-load: drives a Postfix policy server the way
// Postfix's smtpd does, and measures it.
//
// Postfix keeps persistent connections to a policy service and has exactly
// one request outstanding on each (smtpd waits for the reply before the SMTP
// dialogue goes on), so this client does the same: N connections, each one a
// closed loop of "send a request, wait for its reply". Throughput is then a
// function of server latency and N, as it is in production; there is no
// pipelining and no open-loop arrival rate.
//
// Requests carry the attribute set Postfix sends at RCPT time, with client
// addresses sampled from the real GeoLite2 database so that geoip lookups
// walk the real tree and the limits module sees real countries.
//
// epoll rather than libuv: the client shares the machine with the server it
// measures, so it does the least work possible per request (one send(), one
// recv(), an amortised epoll_wait()), and its own CPU cost is reported so a
// client-bound run can be recognised.

#include <arpa/inet.h>
#include <fcntl.h>
#include <maxminddb.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "geopol_paths.h"

namespace {

uint64_t nowNs()
{
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(ts.tv_nsec);
}

// ---- random numbers -------------------------------------------------------------
// splitmix64: tiny state, fast, and good enough to pick senders and IPs; each
// thread owns one so the hot path shares nothing.
class Rng {
public:
    explicit Rng(uint64_t seed) : s_(seed) {}
    uint64_t next()
    {
        uint64_t z = (s_ += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    }
    /// Uniform in [0, n); n > 0. The multiply-shift bias is irrelevant here.
    uint64_t below(uint64_t n)
    {
        return static_cast<uint64_t>((static_cast<unsigned __int128>(next()) * n) >> 64);
    }
    double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

private:
    uint64_t s_;
};

// ---- latency histogram ------------------------------------------------------------
// HDR-style log-linear buckets over nanoseconds: values below 2^kSubBits are
// exact, above that each power of two is split into 2^kSubBits linear
// buckets, so every reported value is within 1/128 (0.8 %) of the truth at a
// fixed 58 KB per histogram, whatever the number of samples.
class Histogram {
public:
    static constexpr unsigned kSubBits = 7;
    static constexpr uint64_t kSub = uint64_t{1} << kSubBits;
    static constexpr size_t kBuckets = (64 - kSubBits + 1) * kSub;

    Histogram() : counts_(kBuckets, 0) {}

    void record(uint64_t v)
    {
        ++counts_[index(v)];
        ++count_;
        sum_ += v;
        max_ = std::max(max_, v);
    }

    void merge(const Histogram &o)
    {
        for (size_t i = 0; i < kBuckets; ++i)
            counts_[i] += o.counts_[i];
        count_ += o.count_;
        sum_ += o.sum_;
        max_ = std::max(max_, o.max_);
    }

    uint64_t count() const { return count_; }
    uint64_t max() const { return max_; }
    double mean() const { return count_ ? static_cast<double>(sum_) / count_ : 0; }

    /// The smallest bucket bound below which p % of the samples fall (the
    /// bucket's highest value, so a percentile is never under-reported).
    uint64_t percentile(double p) const
    {
        if (count_ == 0)
            return 0;
        auto rank = static_cast<uint64_t>(std::ceil(p / 100.0 * static_cast<double>(count_)));
        rank = std::clamp<uint64_t>(rank, 1, count_);
        uint64_t seen = 0;
        for (size_t i = 0; i < kBuckets; ++i) {
            seen += counts_[i];
            if (seen >= rank)
                return std::min(highestIn(i), max_);
        }
        return max_;
    }

private:
    static size_t index(uint64_t v)
    {
        if (v < kSub)
            return static_cast<size_t>(v);
        unsigned msb = 63u - static_cast<unsigned>(__builtin_clzll(v));
        unsigned shift = msb - kSubBits;
        return (shift + 1) * kSub + static_cast<size_t>((v >> shift) - kSub);
    }

    static uint64_t highestIn(size_t i)
    {
        if (i < kSub)
            return i;
        unsigned shift = static_cast<unsigned>(i / kSub) - 1;
        uint64_t sub = i % kSub;
        return ((kSub + sub) << shift) + ((uint64_t{1} << shift) - 1);
    }

    std::vector<uint64_t> counts_;
    uint64_t count_ = 0;
    uint64_t sum_ = 0;
    uint64_t max_ = 0;
};

// ---- client addresses from GeoLite2 ----------------------------------------------

/// What geopol's IpAddress::classify() calls Public for IPv4: only those are
/// looked up by the geoip module, so only those make a realistic client.
bool isPublicV4(uint32_t a)
{
    unsigned b0 = a >> 24, b1 = (a >> 16) & 0xff, b2 = (a >> 8) & 0xff;
    if (b0 == 0 || b0 == 10 || b0 == 127 || b0 >= 224)
        return false;
    if ((b0 == 172 && (b1 & 0xf0) == 16) || (b0 == 192 && b1 == 168) || (b0 == 169 && b1 == 254) ||
        (b0 == 100 && (b1 & 0xc0) == 64))
        return false;
    if ((b0 == 192 && b1 == 0 && (b2 == 0 || b2 == 2)) || (b0 == 198 && b1 == 51 && b2 == 100) ||
        (b0 == 203 && b1 == 0 && b2 == 113) || (b0 == 198 && (b1 & 0xfe) == 18))
        return false;
    return true;
}

std::string v4Text(uint32_t a)
{
    char buf[INET_ADDRSTRLEN];
    in_addr in{htonl(a)};
    inet_ntop(AF_INET, &in, buf, sizeof buf);
    return buf;
}

/// Public IPv4 addresses the database places in a country, grouped by
/// country. Sampled uniformly from the address space, so big countries get
/// many addresses and small ones few, roughly as in real traffic.
struct GeoPool {
    std::vector<std::string> country;        // ISO code per country index
    std::vector<std::vector<uint32_t>> ips;  // addresses per country index
    std::vector<uint32_t> sampleCountry;     // country index of each sample, for weighted picks
    uint64_t lookups = 0;
};

std::optional<GeoPool> sampleGeoPool(const std::string &dbPath, size_t want, Rng &rng,
                                     std::string &error)
{
    MMDB_s db;
    int rc = MMDB_open(dbPath.c_str(), MMDB_MODE_MMAP, &db);
    if (rc != MMDB_SUCCESS) {
        error = dbPath + ": " + MMDB_strerror(rc);
        return std::nullopt;
    }
    GeoPool pool;
    std::map<std::string, uint32_t> index;
    size_t have = 0;
    // Bounded: roughly 70 % of public addresses are placed; the cap only
    // matters for a database that places almost nothing.
    const uint64_t maxLookups = want * 50 + 100'000;
    while (have < want && pool.lookups < maxLookups) {
        auto a = static_cast<uint32_t>(rng.next());
        if (!isPublicV4(a))
            continue;
        ++pool.lookups;
        sockaddr_in sin{};
        sin.sin_family = AF_INET;
        sin.sin_addr.s_addr = htonl(a);
        int mmdbError = 0;
        MMDB_lookup_result_s res =
            MMDB_lookup_sockaddr(&db, reinterpret_cast<sockaddr *>(&sin), &mmdbError);
        if (mmdbError != MMDB_SUCCESS || !res.found_entry)
            continue;
        MMDB_entry_data_s data;
        // "country", as the geoip module reads it; registered_country alone
        // (anycast, satellite) does not place a client.
        if (MMDB_get_value(&res.entry, &data, "country", "iso_code", nullptr) != MMDB_SUCCESS ||
            !data.has_data || data.type != MMDB_DATA_TYPE_UTF8_STRING || data.data_size != 2)
            continue;
        std::string cc(data.utf8_string, data.data_size);
        auto [it, fresh] = index.emplace(cc, static_cast<uint32_t>(pool.country.size()));
        if (fresh) {
            pool.country.push_back(cc);
            pool.ips.emplace_back();
        }
        pool.ips[it->second].push_back(a);
        pool.sampleCountry.push_back(it->second);
        ++have;
    }
    MMDB_close(&db);
    if (have == 0) {
        error = dbPath + ": no sampled address was placed in a country";
        return std::nullopt;
    }
    return pool;
}

// ---- the workload -------------------------------------------------------------------

struct Client {
    std::string address;  // client_address
    std::string name;     // client_name and reverse_client_name ("unknown" if none)
    std::string helo;
};

struct Sender {
    std::string address;
    std::vector<uint32_t> clients;  // indexes into Workload::clients
};

struct Workload {
    std::vector<Client> clients;
    std::vector<Sender> senders;
    std::vector<uint32_t> compromised;  // sender indexes
    std::vector<uint32_t> botnet;       // client indexes, many countries
    size_t countries = 0;               // distinct countries among all clients
    size_t botnetCountries = 0;
    double compromiseShare = 0;
    bool sasl = false;
};

uint32_t addClient(Workload &w, uint32_t ip, const std::string &cc, Rng &rng)
{
    Client c;
    c.address = v4Text(ip);
    // About a third of real SMTP submission clients have no usable PTR
    // record; Postfix then sends "unknown".
    if (rng.below(3) == 0) {
        c.name = "unknown";
        c.helo = "[" + c.address + "]";
    } else {
        std::string dashed = c.address;
        std::replace(dashed.begin(), dashed.end(), '.', '-');
        std::string lcc = cc;
        for (char &ch : lcc)
            ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        c.name = "ip-" + dashed + ".dyn.isp-" + lcc + ".example.net";
        c.helo = rng.below(2) ? c.name : "laptop-" + std::to_string(rng.below(10000)) + ".local";
    }
    w.clients.push_back(std::move(c));
    return static_cast<uint32_t>(w.clients.size() - 1);
}

uint32_t pickIp(const std::vector<uint32_t> &ips, Rng &rng)
{
    return ips[rng.below(ips.size())];
}

struct WorkloadOptions {
    size_t senders = 1000;
    size_t ipsPerSender = 5;
    bool compromise = false;
    size_t compromised = 10;
    size_t compromiseCountries = 20;
    double compromiseShare = 0.05;
    bool sasl = false;
    double travellers = 0.2;
};

Workload buildWorkload(const GeoPool &pool, const WorkloadOptions &o, Rng &rng)
{
    Workload w;
    w.sasl = o.sasl;
    w.compromiseShare = o.compromise ? o.compromiseShare : 0;
    std::vector<bool> used(pool.country.size(), false);
    auto randomCountry = [&] {
        // Weighted by sampled address space: a big country hosts more senders.
        return pool.sampleCountry[rng.below(pool.sampleCountry.size())];
    };
    w.senders.reserve(o.senders);
    for (size_t i = 0; i < o.senders; ++i) {
        Sender s;
        char buf[64];
        std::snprintf(buf, sizeof buf, "user%05zu@dept%02zu.example.org", i, i % 37);
        s.address = buf;
        // Normal accounts: one home country; some travel and use one address
        // from a second country. Two countries stay under the default
        // max-countries (3), so the normal scenario expects only DUNNO.
        uint32_t home = randomCountry();
        bool travels = o.ipsPerSender >= 2 && rng.unit() < o.travellers;
        for (size_t k = 0; k < o.ipsPerSender; ++k) {
            uint32_t cc = (travels && k + 1 == o.ipsPerSender) ? randomCountry() : home;
            used[cc] = true;
            s.clients.push_back(addClient(w, pickIp(pool.ips[cc], rng), pool.country[cc], rng));
        }
        w.senders.push_back(std::move(s));
    }
    if (o.compromise) {
        // A botnet spread over many countries, shared by the compromised
        // accounts: each account soon exceeds max-countries and is blocked.
        std::vector<uint32_t> order(pool.country.size());
        for (uint32_t i = 0; i < order.size(); ++i)
            order[i] = i;
        for (size_t i = order.size(); i > 1; --i)
            std::swap(order[i - 1], order[rng.below(i)]);
        size_t n = std::min(o.compromiseCountries, order.size());
        for (size_t i = 0; i < n; ++i) {
            uint32_t cc = order[i];
            used[cc] = true;
            for (int k = 0; k < 2; ++k)
                w.botnet.push_back(addClient(w, pickIp(pool.ips[cc], rng), pool.country[cc], rng));
        }
        w.botnetCountries = n;
        size_t m = std::min(o.compromised, w.senders.size());
        for (size_t i = 0; i < m; ++i)  // spread over the sender list
            w.compromised.push_back(static_cast<uint32_t>(i * w.senders.size() / m));
    }
    w.countries = static_cast<size_t>(std::count(used.begin(), used.end(), true));
    return w;
}

// ---- one request, as Postfix 3.7+ writes it at RCPT time -----------------------------

class Writer {
public:
    explicit Writer(std::string &out) : out_(out) { out_.clear(); }
    Writer &s(std::string_view v)
    {
        out_.append(v);
        return *this;
    }
    Writer &u(uint64_t v)
    {
        char buf[24];
        char *e = buf + sizeof buf, *p = e;
        do {
            *--p = static_cast<char>('0' + v % 10);
            v /= 10;
        } while (v);
        out_.append(p, static_cast<size_t>(e - p));
        return *this;
    }
    Writer &hex(uint64_t v, int digits)
    {
        static const char kHex[] = "0123456789ABCDEF";
        char buf[16];
        for (int i = digits - 1; i >= 0; --i, v >>= 4)
            buf[i] = kHex[v & 15];
        out_.append(buf, static_cast<size_t>(digits));
        return *this;
    }

private:
    std::string &out_;
};

/// Picks who sends and from where, and writes the request into `out`.
/// Returns nothing: the reply is checked only for its action.
void buildRequest(const Workload &w, Rng &rng, std::string &out)
{
    const Sender *sender;
    const Client *client;
    if (!w.compromised.empty() && rng.unit() < w.compromiseShare) {
        sender = &w.senders[w.compromised[rng.below(w.compromised.size())]];
        client = &w.clients[w.botnet[rng.below(w.botnet.size())]];
    } else {
        sender = &w.senders[rng.below(w.senders.size())];
        client = &w.clients[sender->clients[rng.below(sender->clients.size())]];
    }
    uint64_t r = rng.next();
    Writer o(out);
    // Attribute order and values follow SMTPD_POLICY_README. queue_id is
    // empty at RCPT time with smtpd_delay_open_until_valid_rcpt=yes (the
    // default); ccert_* are empty because clients rarely present certificates.
    o.s("request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\nhelo_name=")
        .s(client->helo)
        .s("\nqueue_id=\nsender=")
        .s(sender->address)
        .s("\nrecipient=rcpt")
        .u(r % 100'000)
        .s("@mx")
        .u((r >> 20) % 500)
        .s(".example.com\nrecipient_count=0\nclient_address=")
        .s(client->address)
        .s("\nclient_name=")
        .s(client->name)
        .s("\nreverse_client_name=")
        .s(client->name)
        .s("\ninstance=")
        .hex(r >> 8, 4)
        .s(".")
        .hex(r >> 24, 8)
        .s(".")
        .hex(r >> 40, 5)
        .s(".0\nsasl_method=")
        .s(w.sasl ? "PLAIN" : "")
        .s("\nsasl_username=")
        .s(w.sasl ? sender->address : std::string_view())
        .s("\nsasl_sender=\nsize=")
        .u((r >> 12) % 2'000'000 + 800)
        .s("\nccert_subject=\nccert_issuer=\nccert_fingerprint=\nccert_pubkey_fingerprint=\n"
           "encryption_protocol=TLSv1.3\nencryption_cipher=TLS_AES_256_GCM_SHA384\n"
           "encryption_keysize=256\netrn_domain=\nstress=\nclient_port=")
        .u(1024 + (r >> 48) % 64000)
        .s("\npolicy_context=\nserver_address=192.0.2.25\nserver_port=")
        .s(w.sasl ? "587" : "25")
        // Postfix 3.8 added these two; sending them keeps the request at the
        // size current Postfix versions send (a slightly harder test for 3.7).
        .s("\ncompatibility_level=3.6\nmail_version=3.8.6\n\n");
}

// ---- the target -------------------------------------------------------------------------

struct Target {
    sockaddr_storage addr{};
    socklen_t len = 0;
    bool unixSocket = false;
    std::string text;
};

std::optional<Target> parseTarget(const std::string &text, std::string &error)
{
    Target t;
    t.text = text;
    if (text.rfind("unix:", 0) == 0) {
        std::string path = text.substr(5);
        auto *sun = reinterpret_cast<sockaddr_un *>(&t.addr);
        if (path.empty() || path.size() >= sizeof sun->sun_path) {
            error = "bad unix socket path in " + text;
            return std::nullopt;
        }
        sun->sun_family = AF_UNIX;
        std::memcpy(sun->sun_path, path.c_str(), path.size() + 1);
        t.len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
        t.unixSocket = true;
        return t;
    }
    std::string hp = text.rfind("inet:", 0) == 0 ? text.substr(5) : text;
    size_t colon = hp.rfind(':');
    if (colon == std::string::npos) {
        error = "target must be inet:HOST:PORT or unix:/path, not " + text;
        return std::nullopt;
    }
    std::string host = hp.substr(0, colon), port = hp.substr(colon + 1);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
    addrinfo hints{}, *res = nullptr;
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &res);
    if (rc != 0 || !res) {
        error = "cannot resolve " + text + ": " + gai_strerror(rc);
        return std::nullopt;
    }
    std::memcpy(&t.addr, res->ai_addr, res->ai_addrlen);
    t.len = res->ai_addrlen;
    freeaddrinfo(res);
    return t;
}

// ---- the server's /proc figures --------------------------------------------------------

struct ProcSample {
    bool ok = false;
    uint64_t cpuTicks = 0;  // utime + stime, all threads, dead ones included
    uint64_t hwmKb = 0, rssKb = 0, anonKb = 0, fileKb = 0;
};

ProcSample sampleProc(int pid)
{
    ProcSample s;
    if (pid <= 0)
        return s;
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(stat, line))
        return s;
    // The command name may contain spaces and parentheses: fields start
    // after the last ')'. utime and stime are fields 14 and 15.
    size_t close = line.rfind(')');
    if (close == std::string::npos)
        return s;
    std::istringstream rest(line.substr(close + 2));
    std::string field;
    for (int i = 3; i <= 15 && rest >> field; ++i)
        if (i == 14 || i == 15)
            s.cpuTicks += std::strtoull(field.c_str(), nullptr, 10);
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    while (std::getline(status, line)) {
        auto kb = [&](const char *key, uint64_t &out) {
            size_t n = std::strlen(key);
            if (line.compare(0, n, key) == 0)
                out = std::strtoull(line.c_str() + n, nullptr, 10);
        };
        kb("VmHWM:", s.hwmKb);
        kb("VmRSS:", s.rssKb);
        kb("RssAnon:", s.anonKb);
        kb("RssFile:", s.fileKb);
    }
    s.ok = true;
    return s;
}

uint64_t selfCpuUs()
{
    rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    auto us = [](const timeval &tv) {
        return static_cast<uint64_t>(tv.tv_sec) * 1'000'000u + static_cast<uint64_t>(tv.tv_usec);
    };
    return us(ru.ru_utime) + us(ru.ru_stime);
}

// ---- the client threads ------------------------------------------------------------

enum class Phase : int { Connect, Warmup, Measure, Stop };

struct Shared {
    const Workload *workload = nullptr;
    const Target *target = nullptr;
    std::atomic<Phase> phase{Phase::Connect};
    std::atomic<int64_t> budget{INT64_MAX};  // requests still to send while measuring
    uint64_t timeoutNs = 0;
    uint64_t seed = 0;
};

struct Counters {
    uint64_t requests = 0;  // measured replies
    uint64_t dunno = 0, reject = 0, defer = 0, other = 0;
    uint64_t errors = 0;      // measured requests without a valid reply
    uint64_t timeouts = 0;    // of which: no reply within --timeout
    uint64_t badReplies = 0;  // of which: not "action=...\n\n"
    uint64_t connectFailures = 0;
    uint64_t reconnects = 0;
    uint64_t serverCloses = 0;  // the server closed an idle connection
};

class Worker {
public:
    Worker(Shared &shared, unsigned id, size_t active, size_t idle)
        : shared_(shared), rng_(shared.seed * 0x2545f4914f6cdd1dull + id + 1), conns_(active + idle)
    {
        for (size_t i = 0; i < conns_.size(); ++i)
            conns_[i].idleConn = i >= active;
        active_ = active;
    }

    void start()
    {
        thread_ = std::thread([this] { run(); });
    }
    void join() { thread_.join(); }

    /// Connections ready for the run: active ones connected, idle ones
    /// connected and past their one request. Read by the main thread.
    size_t ready() const { return ready_.load(std::memory_order_relaxed); }
    uint64_t measuredDone() const { return done_.load(std::memory_order_relaxed); }
    uint64_t lastReplyNs() const { return lastReplyNs_.load(std::memory_order_relaxed); }
    size_t idleHeld() const;

    const Histogram &latency() const { return hist_; }
    const Counters &counters() const { return c_; }
    std::string fatal;

private:
    enum class State { Closed, Connecting, Ready, Waiting };
    struct Conn {
        int fd = -1;
        State state = State::Closed;
        bool idleConn = false;
        bool warmed = false;    // idle connection: its one request was answered
        bool measured = false;  // the request in flight was sent while measuring
        bool wantOut = false;   // EPOLLOUT registered (a partial send)
        std::string out;
        size_t outOff = 0;
        char in[4096];
        size_t inLen = 0;
        uint64_t sentNs = 0;
        uint64_t retryAtNs = 0;
        bool everConnected = false;
        bool readyCounted = false;  // included in ready_ (and idleHeld_)
    };

    void run();
    void openConn(size_t i, uint64_t now);
    void connected(size_t i, uint64_t now);
    void fail(size_t i, uint64_t now, bool serverClosed);
    void sendNext(size_t i, uint64_t now);
    void writeOut(size_t i, uint64_t now);
    void readIn(size_t i, uint64_t now);
    void housekeeping(uint64_t now, Phase phase);
    void setReady(Conn &c, bool on);

    Shared &shared_;
    Rng rng_;
    std::vector<Conn> conns_;
    size_t active_ = 0;
    int ep_ = -1;
    size_t connecting_ = 0;
    Phase seen_ = Phase::Connect;
    std::atomic<size_t> ready_{0};
    std::atomic<uint64_t> done_{0};
    std::atomic<uint64_t> lastReplyNs_{0};
    std::atomic<size_t> idleHeld_{0};
    Histogram hist_;
    Counters c_;
    std::thread thread_;

    // Connects are paced so 10,000 idle connections do not overflow the
    // server's listen backlog (SYN drops would stall the start by seconds).
    static constexpr size_t kMaxConnecting = 256;
    static constexpr uint64_t kRetryNs = 100'000'000;
};

size_t Worker::idleHeld() const
{
    return idleHeld_.load(std::memory_order_relaxed);
}

void Worker::setReady(Conn &c, bool on)
{
    if (c.readyCounted == on)
        return;
    c.readyCounted = on;
    if (on)
        ready_.fetch_add(1, std::memory_order_relaxed);
    else
        ready_.fetch_sub(1, std::memory_order_relaxed);
    if (c.idleConn) {
        if (on)
            idleHeld_.fetch_add(1, std::memory_order_relaxed);
        else
            idleHeld_.fetch_sub(1, std::memory_order_relaxed);
    }
}

void Worker::openConn(size_t i, uint64_t now)
{
    Conn &c = conns_[i];
    const Target &t = *shared_.target;
    int fd = socket(t.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        ++c_.connectFailures;
        c.retryAtNs = now + kRetryNs;
        return;
    }
    if (!t.unixSocket) {
        int one = 1;  // Postfix writes a whole request and waits: no Nagle delay
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    if (c.everConnected)
        ++c_.reconnects;
    c.fd = fd;
    c.inLen = 0;
    c.wantOut = false;
    epoll_event ev{};
    ev.data.u64 = i;
    int rc = connect(fd, reinterpret_cast<const sockaddr *>(&t.addr), t.len);
    if (rc == 0) {
        ev.events = EPOLLIN;
        epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev);
        connected(i, now);
        return;
    }
    if (errno != EINPROGRESS) {
        // A unix socket answers EAGAIN when the server's backlog is full:
        // that is back-pressure, retried soon; anything else is a failure.
        bool backlog = errno == EAGAIN;
        close(fd);
        c.fd = -1;
        if (!backlog)
            ++c_.connectFailures;
        c.retryAtNs = now + (backlog ? kRetryNs / 10 : kRetryNs);
        return;
    }
    ev.events = EPOLLOUT;
    epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev);
    c.state = State::Connecting;
    ++connecting_;
}

void Worker::connected(size_t i, uint64_t now)
{
    Conn &c = conns_[i];
    c.everConnected = true;
    c.state = State::Ready;
    if (c.idleConn) {
        if (c.warmed) {
            setReady(c, true);  // reconnected idle connection: hold it
            return;
        }
        // An idle connection does one request first, so the server holds the
        // memory a used connection holds, as Postfix's would.
        sendNext(i, now);
        return;
    }
    setReady(c, true);
    if (seen_ != Phase::Connect)
        sendNext(i, now);
}

void Worker::fail(size_t i, uint64_t now, bool serverClosed)
{
    Conn &c = conns_[i];
    if (c.state == State::Connecting) {
        --connecting_;
        ++c_.connectFailures;
    } else if (c.state == State::Waiting) {
        if (c.measured)
            ++c_.errors;
    } else if (serverClosed) {
        ++c_.serverCloses;
    }
    setReady(c, false);
    if (c.fd >= 0)
        close(c.fd);  // also removes it from the epoll set
    c.fd = -1;
    c.state = State::Closed;
    c.retryAtNs = now + kRetryNs;
}

void Worker::sendNext(size_t i, uint64_t now)
{
    Conn &c = conns_[i];
    c.measured = false;
    if (!c.idleConn) {
        Phase p = seen_;
        if (p == Phase::Connect || p == Phase::Stop)
            return;
        if (p == Phase::Measure) {
            if (shared_.budget.fetch_sub(1, std::memory_order_relaxed) <= 0)
                return;  // --requests reached: this connection rests
            c.measured = true;
        }
    }
    buildRequest(*shared_.workload, rng_, c.out);
    c.outOff = 0;
    c.inLen = 0;
    c.state = State::Waiting;
    c.sentNs = now;
    writeOut(i, now);
}

void Worker::writeOut(size_t i, uint64_t now)
{
    Conn &c = conns_[i];
    while (c.outOff < c.out.size()) {
        ssize_t n = send(c.fd, c.out.data() + c.outOff, c.out.size() - c.outOff, MSG_NOSIGNAL);
        if (n > 0) {
            c.outOff += static_cast<size_t>(n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!c.wantOut) {
                epoll_event ev{};
                ev.events = EPOLLIN | EPOLLOUT;
                ev.data.u64 = i;
                epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd, &ev);
                c.wantOut = true;
            }
            return;
        }
        fail(i, now, false);
        return;
    }
    if (c.wantOut) {
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u64 = i;
        epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd, &ev);
        c.wantOut = false;
    }
}

void Worker::readIn(size_t i, uint64_t now)
{
    Conn &c = conns_[i];
    ssize_t n = recv(c.fd, c.in + c.inLen, sizeof c.in - c.inLen, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0) {
        fail(i, now, n == 0 && c.state != State::Waiting);
        return;
    }
    if (c.state != State::Waiting) {
        // Bytes nobody asked for: the server broke the framing.
        ++c_.badReplies;
        ++c_.errors;
        fail(i, now, false);
        return;
    }
    c.inLen += static_cast<size_t>(n);
    std::string_view got(c.in, c.inLen);
    size_t end = got.find("\n\n");
    if (end == std::string_view::npos) {
        if (c.inLen == sizeof c.in) {
            if (c.measured)
                ++c_.badReplies;
            fail(i, now, false);
        }
        return;
    }
    // Exactly one reply per request, and nothing after it.
    std::string_view line = got.substr(0, end);
    bool ok = end + 2 == got.size() && line.rfind("action=", 0) == 0 &&
              line.find('\n') == std::string_view::npos;
    if (!ok) {
        if (c.measured)
            ++c_.badReplies;
        fail(i, now, false);
        return;
    }
    if (c.idleConn) {
        c.state = State::Ready;
        c.inLen = 0;
        if (!c.warmed) {
            c.warmed = true;
            setReady(c, true);
        }
        return;
    }
    if (c.measured) {
        std::string_view action = line.substr(7);
        if (action.rfind("DUNNO", 0) == 0)
            ++c_.dunno;
        else if (action.rfind("REJECT", 0) == 0 || (!action.empty() && action[0] == '5'))
            ++c_.reject;
        else if (action.rfind("DEFER", 0) == 0 || (!action.empty() && action[0] == '4'))
            ++c_.defer;
        else
            ++c_.other;
        ++c_.requests;
        hist_.record(now - c.sentNs);
        done_.store(c_.requests, std::memory_order_relaxed);
        lastReplyNs_.store(now, std::memory_order_relaxed);
    }
    c.state = State::Ready;
    sendNext(i, now);
}

void Worker::housekeeping(uint64_t now, Phase phase)
{
    for (size_t i = 0; i < conns_.size(); ++i) {
        Conn &c = conns_[i];
        if (c.state == State::Closed && now >= c.retryAtNs && connecting_ < kMaxConnecting &&
            phase != Phase::Stop)
            openConn(i, now);
        else if (c.state == State::Waiting && now - c.sentNs > shared_.timeoutNs) {
            if (c.measured)
                ++c_.timeouts;
            fail(i, now, false);
        }
    }
}

void Worker::run()
{
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    if (ep_ < 0) {
        fatal = std::string("epoll_create1: ") + std::strerror(errno);
        return;
    }
    std::vector<epoll_event> events(512);
    uint64_t nextHousekeeping = 0;
    for (;;) {
        uint64_t now = nowNs();
        Phase phase = shared_.phase.load(std::memory_order_acquire);
        if (phase == Phase::Stop)
            break;
        if (phase != seen_ || now >= nextHousekeeping) {
            // A phase change starts the requests of connections that waited
            // for the warm-up or measurement to begin.
            Phase before = seen_;
            seen_ = phase;
            if (before != phase) {
                for (size_t i = 0; i < conns_.size(); ++i)
                    if (conns_[i].state == State::Ready && !conns_[i].idleConn)
                        sendNext(i, now);
            }
            housekeeping(now, phase);
            nextHousekeeping = now + 20'000'000;
        }
        int n = epoll_wait(ep_, events.data(), static_cast<int>(events.size()), 20);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            fatal = std::string("epoll_wait: ") + std::strerror(errno);
            break;
        }
        now = nowNs();
        for (int k = 0; k < n; ++k) {
            size_t i = events[k].data.u64;
            Conn &c = conns_[i];
            uint32_t ev = events[k].events;
            if (c.state == State::Connecting) {
                int err = 0;
                socklen_t len = sizeof err;
                getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
                if (err != 0 || (ev & (EPOLLERR | EPOLLHUP))) {
                    fail(i, now, false);
                    continue;
                }
                --connecting_;
                epoll_event mod{};
                mod.events = EPOLLIN;
                mod.data.u64 = i;
                epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd, &mod);
                connected(i, now);
                continue;
            }
            if (c.fd < 0)
                continue;
            if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP))
                readIn(i, now);
            if (c.fd >= 0 && (ev & EPOLLOUT) && c.state == State::Waiting)
                writeOut(i, now);
        }
    }
    for (Conn &c : conns_)
        if (c.fd >= 0)
            close(c.fd);
    close(ep_);
}

// ---- output --------------------------------------------------------------------------

std::string jsonString(std::string_view s)
{
    std::string r = "\"";
    for (char ch : s) {
        if (ch == '"' || ch == '\\')
            r += '\\';
        if (static_cast<unsigned char>(ch) < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", ch);
            r += buf;
            continue;
        }
        r += ch;
    }
    return r + "\"";
}

std::string fixed(double v, int decimals)
{
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    return buf;
}

std::string defaultDatabase()
{
    if (const char *d = std::getenv("GEOPOL_DATA_DIR"); d && *d)
        return std::string(d) + "/GeoLite2-City.mmdb";
    return std::string(GEOPOL_SOURCE_ROOT) + "/data/GeoLite2-City.mmdb";
}

}  // namespace

int main(int argc, char **argv)
{
    CLI::App app{
        "geopol-load: Postfix-like load for a policy server (persistent connections, one "
        "request outstanding on each)"};
    std::string targetText = "inet:127.0.0.1:4646";
    size_t connections = 50, idle = 0;
    double duration = 10, warmup = 1, timeoutS = 10;
    uint64_t requests = 0;
    std::string scenario = "normal";
    WorkloadOptions wo;
    uint64_t seed = 1;
    int serverPid = 0;
    unsigned threads = 1;
    std::string db = defaultDatabase(), label;
    bool quiet = false;

    app.add_option("--target,-t", targetText, "inet:HOST:PORT, inet:[V6]:PORT or unix:/path")
        ->capture_default_str();
    app.add_option("--connections,-c", connections, "persistent connections sending requests")
        ->capture_default_str();
    auto *durOpt = app.add_option("--duration,-d", duration, "seconds measured (after warm-up)")
                       ->capture_default_str()
                       ->check(CLI::Range(0.1, 3600.0));
    app.add_option("--requests,-n", requests,
                   "measure this many requests instead (--duration then caps the run; 300 s "
                   "unless given)");
    app.add_option("--warmup,-w", warmup, "seconds of load before measuring")
        ->capture_default_str()
        ->check(CLI::Range(0.0, 600.0));
    app.add_option("--senders", wo.senders, "distinct senders (accounts)")
        ->capture_default_str()
        ->check(CLI::Range(size_t{1}, size_t{10'000'000}));
    app.add_option("--ips-per-sender", wo.ipsPerSender, "client addresses per sender")
        ->capture_default_str()
        ->check(CLI::Range(size_t{1}, size_t{1000}));
    app.add_option("--scenario", scenario,
                   "normal: accounts seen from one home country (a fifth of them also from a "
                   "second one); compromise: as normal, plus --compromised accounts hit from "
                   "--compromise-countries countries")
        ->capture_default_str()
        ->check(CLI::IsMember({"normal", "compromise"}));
    app.add_option("--compromised", wo.compromised, "compromise: accounts under attack")
        ->capture_default_str();
    app.add_option("--compromise-countries", wo.compromiseCountries,
                   "compromise: countries the attack comes from")
        ->capture_default_str();
    app.add_option("--compromise-share", wo.compromiseShare,
                   "compromise: fraction of requests that are the attack")
        ->capture_default_str()
        ->check(CLI::Range(0.0, 1.0));
    app.add_flag("--sasl", wo.sasl,
                 "authenticated submission: the account also in sasl_username, port 587");
    app.add_option("--seed", seed, "random seed (same seed and database: same workload)")
        ->capture_default_str();
    app.add_option("--server-pid", serverPid,
                   "report this process's peak RSS and CPU per request (from /proc)");
    app.add_option("--idle-connections", idle,
                   "extra connections that send one request, then stay open and idle")
        ->capture_default_str();
    app.add_option("--threads", threads, "client threads (connections are split among them)")
        ->capture_default_str()
        ->check(CLI::Range(1u, 64u));
    app.add_option("--timeout", timeoutS, "seconds to wait for a reply before reconnecting")
        ->capture_default_str()
        ->check(CLI::Range(0.01, 600.0));
    app.add_option("--geoip-db", db, "GeoLite2/GeoIP2 City or Country database to sample from")
        ->capture_default_str();
    app.add_option("--label", label, "name of this run in the RESULT line");
    app.add_flag("--quiet,-q", quiet, "print only the RESULT line");
    CLI11_PARSE(app, argc, argv);

    if (connections == 0 && idle == 0) {
        std::fprintf(stderr, "geopol-load: nothing to do (no connections)\n");
        return 2;
    }
    if (requests > 0 && durOpt->count() == 0)
        duration = 300;  // the cap of a --requests run
    wo.compromise = scenario == "compromise";

    std::string error;
    auto target = parseTarget(targetText, error);
    if (!target) {
        std::fprintf(stderr, "geopol-load: %s\n", error.c_str());
        return 2;
    }

    // Every connection is a descriptor; raise the soft limit as far as allowed.
    rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    if (connections + idle + 64 > rl.rlim_cur) {
        std::fprintf(stderr,
                     "geopol-load: %zu connections need more descriptors than the limit (%llu); "
                     "raise it with ulimit -n\n",
                     connections + idle, static_cast<unsigned long long>(rl.rlim_cur));
        return 2;
    }

    Rng setupRng(seed);
    size_t wantAddresses = std::max<size_t>(20'000, wo.senders * wo.ipsPerSender * 2);
    auto pool = sampleGeoPool(db, wantAddresses, setupRng, error);
    if (!pool) {
        std::fprintf(stderr, "geopol-load: %s\n", error.c_str());
        return 2;
    }
    Workload workload = buildWorkload(*pool, wo, setupRng);
    if (wo.compromise && workload.botnetCountries < 5) {
        std::fprintf(stderr, "geopol-load: only %zu countries in the database sample\n",
                     workload.botnetCountries);
        return 2;
    }

    Shared shared;
    shared.workload = &workload;
    shared.target = &*target;
    shared.timeoutNs = static_cast<uint64_t>(timeoutS * 1e9);
    shared.seed = seed;

    std::vector<std::unique_ptr<Worker>> workers;
    for (unsigned t = 0; t < threads; ++t) {
        size_t a = connections / threads + (t < connections % threads ? 1 : 0);
        size_t i = idle / threads + (t < idle % threads ? 1 : 0);
        workers.push_back(std::make_unique<Worker>(shared, t, a, i));
    }
    for (auto &w : workers)
        w->start();

    auto ready = [&] {
        size_t r = 0;
        for (auto &w : workers)
            r += w->ready();
        return r;
    };
    auto sleepS = [](double s) { std::this_thread::sleep_for(std::chrono::duration<double>(s)); };
    // All connections up (idle ones past their first request), bounded.
    uint64_t connectStart = nowNs();
    uint64_t connectLimit = static_cast<uint64_t>(std::max(30.0, timeoutS) * 1e9);
    while (ready() < connections + idle && nowNs() - connectStart < connectLimit)
        sleepS(0.005);
    double connectS = static_cast<double>(nowNs() - connectStart) / 1e9;
    size_t readyAtStart = ready();
    if (readyAtStart == 0) {
        shared.phase.store(Phase::Stop);
        for (auto &w : workers)
            w->join();
        std::fprintf(stderr, "geopol-load: could not connect to %s\n", targetText.c_str());
        std::printf("RESULT {\"label\":%s,\"error\":\"connect\"}\n", jsonString(label).c_str());
        return 1;
    }

    shared.phase.store(Phase::Warmup, std::memory_order_release);
    sleepS(warmup);

    ProcSample before = sampleProc(serverPid);
    uint64_t cpuBefore = selfCpuUs();
    if (requests > 0)
        shared.budget.store(static_cast<int64_t>(requests));
    uint64_t t0 = nowNs();
    shared.phase.store(Phase::Measure, std::memory_order_release);
    uint64_t deadline = t0 + static_cast<uint64_t>(duration * 1e9);
    uint64_t t1;
    if (requests > 0) {
        for (;;) {
            uint64_t done = 0;
            for (auto &w : workers)
                done += w->measuredDone();
            if (done >= requests || nowNs() >= deadline)
                break;
            sleepS(0.001);
        }
        t1 = 0;
        for (auto &w : workers)
            t1 = std::max(t1, w->lastReplyNs());
        if (t1 <= t0)
            t1 = nowNs();
    } else {
        sleepS(duration);
        t1 = nowNs();
    }
    size_t idleHeld = 0;
    for (auto &w : workers)
        idleHeld += w->idleHeld();
    ProcSample after = sampleProc(serverPid);
    uint64_t cpuAfter = selfCpuUs();
    shared.phase.store(Phase::Stop, std::memory_order_release);
    for (auto &w : workers)
        w->join();

    Histogram hist;
    Counters total;
    for (auto &w : workers) {
        if (!w->fatal.empty())
            std::fprintf(stderr, "geopol-load: %s\n", w->fatal.c_str());
        hist.merge(w->latency());
        const Counters &c = w->counters();
        total.requests += c.requests;
        total.dunno += c.dunno;
        total.reject += c.reject;
        total.defer += c.defer;
        total.other += c.other;
        total.errors += c.errors;
        total.timeouts += c.timeouts;
        total.badReplies += c.badReplies;
        total.connectFailures += c.connectFailures;
        total.reconnects += c.reconnects;
        total.serverCloses += c.serverCloses;
    }
    double seconds = static_cast<double>(t1 - t0) / 1e9;
    double rps = seconds > 0 ? static_cast<double>(total.requests) / seconds : 0;
    auto us = [](uint64_t ns) { return static_cast<double>(ns) / 1000.0; };
    double p50 = us(hist.percentile(50)), p90 = us(hist.percentile(90)),
           p99 = us(hist.percentile(99)), p999 = us(hist.percentile(99.9)), mx = us(hist.max()),
           mean = hist.mean() / 1000.0;
    long tick = sysconf(_SC_CLK_TCK);
    bool proc = before.ok && after.ok;
    double serverCpuS =
        proc ? static_cast<double>(after.cpuTicks - before.cpuTicks) / static_cast<double>(tick)
             : 0;
    double serverCpuPerReq = proc && total.requests ? serverCpuS * 1e6 / total.requests : 0;
    double clientCpuPerReq =
        total.requests ? static_cast<double>(cpuAfter - cpuBefore) / total.requests : 0;
    double serverCpuUtil = proc && seconds > 0 ? serverCpuS / seconds : 0;

    if (!quiet) {
        std::printf(
            "geopol-load: %s, %zu connections (+%zu idle, %u thread%s), %s scenario%s, %zu "
            "senders x %zu IPs from %zu countries (seed %llu)\n",
            targetText.c_str(), connections, idle, threads, threads == 1 ? "" : "s",
            scenario.c_str(), wo.sasl ? " (SASL)" : "", wo.senders, wo.ipsPerSender,
            workload.countries, static_cast<unsigned long long>(seed));
        if (wo.compromise)
            std::printf("  compromise   %zu accounts from %zu countries, %.0f %% of requests\n",
                        workload.compromised.size(), workload.botnetCountries,
                        wo.compromiseShare * 100);
        std::printf("  connected    %zu of %zu in %.2f s\n", readyAtStart, connections + idle,
                    connectS);
        std::printf("  requests     %llu in %.2f s = %.0f req/s\n",
                    static_cast<unsigned long long>(total.requests), seconds, rps);
        std::printf(
            "  latency us   p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f  (mean %.1f)\n", p50,
            p90, p99, p999, mx, mean);
        std::printf("  actions      DUNNO %llu  REJECT %llu  DEFER %llu  other %llu\n",
                    static_cast<unsigned long long>(total.dunno),
                    static_cast<unsigned long long>(total.reject),
                    static_cast<unsigned long long>(total.defer),
                    static_cast<unsigned long long>(total.other));
        std::printf(
            "  errors       %llu (timeouts %llu, bad replies %llu), reconnects %llu, connect "
            "failures %llu, closed by server %llu\n",
            static_cast<unsigned long long>(total.errors),
            static_cast<unsigned long long>(total.timeouts),
            static_cast<unsigned long long>(total.badReplies),
            static_cast<unsigned long long>(total.reconnects),
            static_cast<unsigned long long>(total.connectFailures),
            static_cast<unsigned long long>(total.serverCloses));
        if (idle)
            std::printf("  idle         %zu of %zu held at the end\n", idleHeld, idle);
        if (proc)
            std::printf(
                "  server       pid %d: peak RSS %.1f MB, RSS %.1f MB (anon %.1f, file %.1f); "
                "CPU %.2f us/request (%.0f %% of a core)\n",
                serverPid, after.hwmKb / 1024.0, after.rssKb / 1024.0, after.anonKb / 1024.0,
                after.fileKb / 1024.0, serverCpuPerReq, serverCpuUtil * 100);
        else if (serverPid)
            std::printf("  server       pid %d: /proc not readable\n", serverPid);
        std::printf("  client       CPU %.2f us/request\n", clientCpuPerReq);
    }
    std::string r = "{";
    auto add = [&r](const char *k, const std::string &v) {
        if (r.size() > 1)
            r += ',';
        r += '"';
        r += k;
        r += "\":";
        r += v;
    };
    auto num = [](uint64_t v) { return std::to_string(v); };
    add("label", jsonString(label));
    add("target", jsonString(targetText));
    add("scenario", jsonString(scenario));
    add("sasl", wo.sasl ? "true" : "false");
    add("connections", num(connections));
    add("idle_connections", num(idle));
    add("idle_held", num(idleHeld));
    add("threads", num(threads));
    add("senders", num(wo.senders));
    add("ips_per_sender", num(wo.ipsPerSender));
    add("countries", num(workload.countries));
    add("seed", num(seed));
    add("seconds", fixed(seconds, 3));
    add("requests", num(total.requests));
    add("rps", fixed(rps, 1));
    add("p50_us", fixed(p50, 1));
    add("p90_us", fixed(p90, 1));
    add("p99_us", fixed(p99, 1));
    add("p999_us", fixed(p999, 1));
    add("max_us", fixed(mx, 1));
    add("mean_us", fixed(mean, 1));
    add("dunno", num(total.dunno));
    add("reject", num(total.reject));
    add("defer", num(total.defer));
    add("other", num(total.other));
    add("errors", num(total.errors));
    add("timeouts", num(total.timeouts));
    add("bad_replies", num(total.badReplies));
    add("reconnects", num(total.reconnects));
    add("connect_failures", num(total.connectFailures));
    add("server_closes", num(total.serverCloses));
    if (proc) {
        add("server_pid", num(static_cast<uint64_t>(serverPid)));
        add("server_hwm_kb", num(after.hwmKb));
        add("server_rss_kb", num(after.rssKb));
        add("server_rss_anon_kb", num(after.anonKb));
        add("server_rss_file_kb", num(after.fileKb));
        add("server_cpu_us_per_req", fixed(serverCpuPerReq, 2));
        add("server_cpu_util", fixed(serverCpuUtil, 3));
    }
    add("client_cpu_us_per_req", fixed(clientCpuPerReq, 2));
    r += '}';
    std::printf("RESULT %s\n", r.c_str());
    std::fflush(stdout);
    return total.errors == 0 ? 0 : 1;
}
