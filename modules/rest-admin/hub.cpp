// hub.cpp
#include "hub.hpp"

#include <civetweb.h>
#include <fmt/format.h>
#include <spdlog/logger.h>

#include <chrono>
#include <cstring>

#include "request_checks.hpp"

namespace geopol::rest_admin {

namespace {

using Clock = std::chrono::steady_clock;

// A body declared larger than max-body-size is still read and dropped up to
// this size, so the client sees our 413 instead of a reset connection.
constexpr long long kDrainLimit = 1 << 20;

AdminResponse serviceUnavailable(const std::string &why)
{
    return AdminResponse{503, "application/json", adminErrorBody(why)};
}

}  // namespace

Hub &Hub::instance()
{
    static Hub *hub = new Hub();  // leaked on purpose, see hub.hpp
    return *hub;
}

// ---- loop thread ---------------------------------------------------------------

Status Hub::attach(Endpoint &endpoint, uv_loop_t *loop, std::shared_ptr<spdlog::logger> log)
{
    {
        std::lock_guard lock(loopMutex_);
        if (servingLoop_ && servingLoop_ != loop) {
            bystanders_.push_back(&endpoint);
            return Status::ok();
        }
        servingLoop_ = loop;
    }
    const ListenerSettings &want = endpoint.settings().listener;
    if (endpoints_.empty()) {
        // First instance: bind now, so a busy port fails the start.
        std::string error;
        auto server = HttpServer::start(want, *this, error);
        if (!server) {
            std::lock_guard lock(loopMutex_);
            servingLoop_ = nullptr;
            return Status::error("rest-admin: " + error);
        }
        int port = server->port();
        loop_ = loop;
        log_ = std::move(log);
        async_ = new uv_async_t;
        uv_async_init(loop_, async_, [](uv_async_t *a) { static_cast<Hub *>(a->data)->drain(); });
        async_->data = this;
        uv_unref(reinterpret_cast<uv_handle_t *>(async_));  // the listeners keep the loop alive
        queue_.open([this] { uv_async_send(async_); });
        {
            std::lock_guard lock(serverMutex_);
            server_ = std::move(server);
            desired_ = want;
            appliedVersion_ = desiredVersion_;
            quit_ = false;
        }
        manager_ = std::thread(&Hub::managerMain, this);
        endpoints_.push_back(&endpoint);
        publishRequestSettings();
        ListenerSettings shown = want;
        shown.port = port;
        log_->info("rest_admin.listening url={} threads={} basic_auth={}", shown.url(),
                   want.threads, endpoint.settings().request.basicAuth);
        return Status::ok();
    }

    bool swap = false;
    int currentPort = 0;
    {
        std::lock_guard lock(serverMutex_);
        swap = !(want == desired_) || (appliedVersion_ == desiredVersion_ && !server_);
        currentPort = server_ ? server_->port() : 0;
    }
    if (swap && want.port != currentPort) {
        // Moving to another port: make sure it is ours to take before the
        // reload is accepted (the swap itself happens after it).
        std::string error = probeBind(want.address, want.port);
        if (!error.empty())
            return Status::error("rest-admin: cannot listen on " + want.url() + ": " + error);
    }
    endpoints_.push_back(&endpoint);
    publishRequestSettings();
    if (swap) {
        log_->info("rest_admin.listener_change to {}: restarting the HTTP listener", want.url());
        requestListener(want);
    } else {
        log_->debug("rest_admin.adopted listener {}", want.url());
    }
    return Status::ok();
}

void Hub::detach(Endpoint &endpoint)
{
    {
        std::lock_guard lock(loopMutex_);
        if (std::erase(bystanders_, &endpoint) > 0)
            return;
    }
    std::erase(endpoints_, &endpoint);
    if (!endpoints_.empty()) {
        // A reload's old instance, or a failed reload's new one: serve with
        // the newest remaining instance's settings.
        publishRequestSettings();
        const ListenerSettings &want = endpoints_.back()->settings().listener;
        bool swap;
        {
            std::lock_guard lock(serverMutex_);
            swap = !(want == desired_);
        }
        if (swap)
            requestListener(want);
        return;
    }
    if (!async_)
        return;
    // The last instance: nothing will dispatch any more. Answer every worker
    // that waits, so that stopping civetweb (which waits for its workers)
    // cannot wait for the loop we are running on.
    for (auto &l : queue_.takeLogs())
        log_->log(static_cast<spdlog::level::level_enum>(l.level), l.text);
    AdminResponse gone = serviceUnavailable("geopold is stopping the admin interface");
    queue_.close(gone);
    for (auto &weak : inFlight_)
        if (auto job = weak.lock())
            job->complete(gone);
    inFlight_.clear();
    requestSettings_.store(nullptr);
    {
        std::lock_guard lock(serverMutex_);
        quit_ = true;
    }
    serverCv_.notify_all();
    if (manager_.joinable())
        manager_.join();  // it stops civetweb
    uv_close(reinterpret_cast<uv_handle_t *>(async_),
             [](uv_handle_t *h) { delete reinterpret_cast<uv_async_t *>(h); });
    async_ = nullptr;
    {
        std::lock_guard lock(loopMutex_);
        servingLoop_ = nullptr;
    }
    log_->info("rest_admin.stopped");
}

void Hub::drain()
{
    for (auto &l : queue_.takeLogs())
        log_->log(static_cast<spdlog::level::level_enum>(l.level), l.text);
    auto jobs = queue_.takeJobs();
    if (jobs.empty())
        return;
    std::erase_if(inFlight_, [](const std::weak_ptr<Job> &w) {
        auto j = w.lock();
        return !j || j->completed();
    });
    for (auto &job : jobs) {
        if (endpoints_.empty()) {
            job->complete(serviceUnavailable("the admin interface is stopping"));
            continue;
        }
        inFlight_.push_back(job);
        // Only a weak reference goes to the handler: a worker that gave up
        // has dropped the job, and a late answer then finds nothing.
        std::weak_ptr<Job> weak = job;
        AdminReply reply = [weak](AdminResponse r) {
            if (auto j = weak.lock())
                j->complete(std::move(r));
        };
        try {
            endpoints_.back()->dispatch(job->request, reply);
        } catch (const std::exception &e) {
            log_->error("rest_admin.handler_failed method={} path={} error=\"{}\"",
                        job->request.method, logSafe(job->request.path), e.what());
            job->complete(
                AdminResponse{500, "application/json",
                              adminErrorBody(std::string("internal error: ") + e.what())});
        }
    }
}

void Hub::publishRequestSettings()
{
    if (endpoints_.empty())
        return;
    requestSettings_.store(
        std::make_shared<const RequestSettings>(endpoints_.back()->settings().request));
}

void Hub::requestListener(const ListenerSettings &wanted)
{
    {
        std::lock_guard lock(serverMutex_);
        desired_ = wanted;
        ++desiredVersion_;
    }
    serverCv_.notify_all();
}

int Hub::boundPort() const
{
    std::lock_guard lock(serverMutex_);
    return server_ ? server_->port() : 0;
}

// ---- the helper thread: swaps servers without blocking the loop ----------------

void Hub::managerMain()
{
    std::unique_lock lock(serverMutex_);
    for (;;) {
        serverCv_.wait(lock, [this] { return quit_ || desiredVersion_ != appliedVersion_; });
        if (quit_) {
            auto last = std::move(server_);
            lock.unlock();
            waitForActiveRequests(2000);  // their jobs were answered 503 already
            last.reset();                 // mg_stop
            return;
        }
        ListenerSettings want = desired_;
        uint64_t version = desiredVersion_;
        auto old = std::move(server_);
        auto current = requestSettings_.load();
        int64_t patience = current ? current->requestTimeoutMs : 0;
        lock.unlock();
        // Requests in progress on the old server (the /reload that led here
        // among them) are answered by the loop meanwhile; then mg_stop.
        if (old)
            waitForActiveRequests(patience + 1000);
        old.reset();
        std::string error;
        auto fresh = HttpServer::start(want, *this, error);
        ++listenerRestarts_;
        if (fresh) {
            ListenerSettings shown = want;
            shown.port = fresh->port();
            queue_.postLog(spdlog::level::info, "rest_admin.listening url=" + shown.url());
        } else {
            queue_.postLog(spdlog::level::err,
                           "rest_admin.listen_failed " + error +
                               "; the admin interface is down until a reload fixes it");
        }
        lock.lock();
        server_ = std::move(fresh);
        appliedVersion_ = version;
    }
}

void Hub::waitForActiveRequests(int64_t maxMs)
{
    auto until = Clock::now() + std::chrono::milliseconds(maxMs);
    while (active_.load() > 0 && Clock::now() < until)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
}

// ---- civetweb workers ------------------------------------------------------------

int Hub::answer(mg_connection *conn, const AdminResponse &r)
{
    mg_response_header_start(conn, r.status);
    if (r.status != 204) {
        mg_response_header_add(conn, "Content-Type", r.contentType.c_str(), -1);
        mg_response_header_add(conn, "Content-Length", std::to_string(r.body.size()).c_str(), -1);
    }
    mg_response_header_add(conn, "Cache-Control", "no-store", -1);
    if (r.status == 401)
        mg_response_header_add(conn, "WWW-Authenticate", kAuthenticateChallenge, -1);
    mg_response_header_send(conn);
    if (r.status != 204 && !r.body.empty())
        mg_write(conn, r.body.data(), r.body.size());
    return r.status;
}

int Hub::onRequest(mg_connection *conn)
{
    const auto started = Clock::now();
    ++active_;
    struct Leave {
        std::atomic<int> &n;
        ~Leave() { --n; }
    } leave{active_};
    const mg_request_info *ri = mg_get_request_info(conn);
    std::string method = ri->request_method ? ri->request_method : "";
    std::string path = ri->local_uri ? ri->local_uri : (ri->request_uri ? ri->request_uri : "");
    std::string client = std::string(ri->remote_addr) + ":" + std::to_string(ri->remote_port);

    AdminResponse response;
    auto settings = requestSettings_.load();
    if (!settings) {
        response = serviceUnavailable("the admin interface is stopping");
    } else if (auto early = precheck(method, mg_get_header(conn, "Authorization"),
                                     ri->content_length, *settings)) {
        response = std::move(*early);
        if (response.status == 401)
            ++authFailures_;
        if (response.status == 413 && ri->content_length <= kDrainLimit) {
            char sink[8192];
            while (mg_read(conn, sink, sizeof sink) > 0) {
            }
        }
    } else {
        std::string body;
        bool tooBig = false;
        const char *te = mg_get_header(conn, "Transfer-Encoding");
        if (ri->content_length > 0 || (te && strcasecmp(te, "chunked") == 0)) {
            if (ri->content_length > 0)
                body.reserve(static_cast<size_t>(ri->content_length));
            char buf[8192];
            for (;;) {
                int n = mg_read(conn, buf, sizeof buf);
                if (n <= 0)
                    break;
                if (body.size() + static_cast<size_t>(n) > settings->maxBodySize) {
                    tooBig = true;
                    break;
                }
                body.append(buf, static_cast<size_t>(n));
            }
        }
        if (tooBig) {
            response = tooLarge(settings->maxBodySize);
        } else {
            const char *ct = mg_get_header(conn, "Content-Type");
            AdminRequest req{
                method,          path,  ri->query_string ? ri->query_string : "", ct ? ct : "",
                std::move(body), client};
            auto job = std::make_shared<Job>(std::move(req));
            if (!queue_.post(job)) {
                response = serviceUnavailable("the admin interface is stopping");
            } else if (auto r = job->wait(std::chrono::milliseconds(settings->requestTimeoutMs))) {
                response = std::move(*r);
            } else {
                ++timeouts_;
                response = AdminResponse{
                    504, "application/json",
                    adminErrorBody("no answer within request-timeout (" +
                                   std::to_string(settings->requestTimeoutMs) + " ms)")};
            }
        }
    }
    int status = answer(conn, response);
    double seconds = std::chrono::duration<double>(Clock::now() - started).count();
    count(status, seconds);
    // Never the Authorization header or the body: they may hold secrets.
    queue_.postLog(status >= 400 ? spdlog::level::warn : spdlog::level::info,
                   fmt::format("rest_admin.request method={} path={} status={} client={} ms={:.1f}",
                               logSafe(method), logSafe(path), status, client, seconds * 1000));
    return status;
}

void Hub::onServerMessage(const char *message)
{
    std::string text = message ? message : "";
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r'))
        text.pop_back();
    queue_.postLog(spdlog::level::warn, "rest_admin.civetweb " + logSafe(text));
}

// ---- metrics ---------------------------------------------------------------------

void Hub::count(int status, double seconds)
{
    std::lock_guard lock(countMutex_);
    ++byStatus_[status];
    secondsSum_ += seconds;
    ++secondsCount_;
}

void Hub::renderMetrics(std::string &out) const
{
    std::lock_guard lock(countMutex_);
    out +=
        "# HELP geopol_admin_requests_total Admin HTTP requests answered, by status code.\n"
        "# TYPE geopol_admin_requests_total counter\n";
    for (const auto &[code, n] : byStatus_)
        out += fmt::format("geopol_admin_requests_total{{code=\"{}\"}} {}\n", code, n);
    out += fmt::format(
        "# HELP geopol_admin_request_seconds Time to answer admin HTTP requests.\n"
        "# TYPE geopol_admin_request_seconds summary\n"
        "geopol_admin_request_seconds_sum {}\n"
        "geopol_admin_request_seconds_count {}\n"
        "# HELP geopol_admin_auth_failures_total Admin requests refused for missing or wrong "
        "credentials.\n"
        "# TYPE geopol_admin_auth_failures_total counter\n"
        "geopol_admin_auth_failures_total {}\n"
        "# HELP geopol_admin_timeouts_total Admin requests answered 504 after request-timeout.\n"
        "# TYPE geopol_admin_timeouts_total counter\n"
        "geopol_admin_timeouts_total {}\n"
        "# HELP geopol_admin_listener_restarts_total HTTP listener restarts by reloads that "
        "changed it.\n"
        "# TYPE geopol_admin_listener_restarts_total counter\n"
        "geopol_admin_listener_restarts_total {}\n",
        secondsSum_, secondsCount_, authFailures_.load(), timeouts_.load(),
        listenerRestarts_.load());
}

}  // namespace geopol::rest_admin
