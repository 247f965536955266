// curl_transport.cpp
#include "curl_transport.hpp"

#include <curl/curl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <system_error>

namespace geopol::operator_mail {

namespace {

std::once_flag gCurlInit;
CURLcode gCurlInitResult = CURLE_OK;

}  // namespace

// ---- the sending thread ------------------------------------------------------

struct CurlTransport::Worker {
    struct Transfer {
        uint64_t id = 0;
        std::shared_ptr<const std::string> message;
        size_t offset = 0;
        char error[CURL_ERROR_SIZE] = {};
    };
    // One per socket curl asks us to watch; freed in the poll's close callback.
    struct Socket {
        uv_poll_t poll;
        curl_socket_t fd;
        Worker *worker;
    };

    CurlTransport *owner;
    SmtpSettings settings;
    std::string url;
    curl_slist *recipients = nullptr;
    uv_loop_t loop;
    uv_async_t wake;   // jobs, or stop
    uv_timer_t timer;  // curl's timeout
    CURLM *multi = nullptr;
    std::unordered_map<CURL *, std::unique_ptr<Transfer>> transfers;
    bool loopReady = false;
    bool ran = false;

    Worker(CurlTransport *o, const SmtpSettings &s) : owner(o), settings(s), url(s.url()) {}

    ~Worker()
    {
        if (loopReady && !ran) {
            // The thread never started: close what init() opened.
            uv_close(reinterpret_cast<uv_handle_t *>(&wake), nullptr);
            uv_close(reinterpret_cast<uv_handle_t *>(&timer), nullptr);
            uv_run(&loop, UV_RUN_DEFAULT);
            uv_loop_close(&loop);
        }
        if (multi)
            curl_multi_cleanup(multi);
        curl_slist_free_all(recipients);
    }

    bool init(std::string &error)
    {
        for (const std::string &r : settings.rcptTo) {
            curl_slist *next = curl_slist_append(recipients, r.c_str());
            if (!next) {
                error = "out of memory";
                return false;
            }
            recipients = next;
        }
        multi = curl_multi_init();
        if (!multi) {
            error = "curl_multi_init failed";
            return false;
        }
        if (int rc = uv_loop_init(&loop); rc != 0) {
            error = std::string("uv_loop_init: ") + uv_strerror(rc);
            return false;
        }
        // Initialised here, before the thread exists; the thread then owns them.
        uv_async_init(&loop, &wake,
                      [](uv_async_t *a) { static_cast<Worker *>(a->data)->onWake(); });
        wake.data = this;
        uv_timer_init(&loop, &timer);
        timer.data = this;
        loopReady = true;
        curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, &Worker::onSocket);
        curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, this);
        curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, &Worker::onCurlTimer);
        curl_multi_setopt(multi, CURLMOPT_TIMERDATA, this);
        return true;
    }

    void run()
    {
        ran = true;
        // Signals belong to the policy loop's thread.
        sigset_t all;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, nullptr);
        uv_run(&loop, UV_RUN_DEFAULT);  // until shutdown() has closed every handle
        uv_loop_close(&loop);
        owner->workerEnded();
    }

    void onWake()
    {
        std::deque<Job> jobs;
        if (owner->takeJobs(jobs)) {
            shutdown();
            return;
        }
        for (Job &job : jobs)
            startTransfer(std::move(job));
    }

    void shutdown()
    {
        // libcurl 7.88 may wait synchronously inside curl_multi_remove_handle():
        // removing an SMTP upload that has not finished sends the end of data
        // and waits for the reply. Shutting the sockets down first makes every
        // such wait end at once (curl still closes them); abort_ makes the
        // progress callback end any wait that starts anyway.
        uv_walk(
            &loop,
            [](uv_handle_t *h, void *) {
                if (h->type == UV_POLL && !uv_is_closing(h))
                    ::shutdown(static_cast<Socket *>(h->data)->fd, SHUT_RDWR);
            },
            nullptr);
        for (auto &[easy, transfer] : transfers) {
            curl_multi_remove_handle(multi, easy);
            curl_easy_cleanup(easy);
        }
        transfers.clear();
        // onSocket() must not call back into a multi handle being cleaned up.
        CURLM *m = multi;
        multi = nullptr;
        curl_multi_cleanup(m);
        uv_timer_stop(&timer);
        uv_close(reinterpret_cast<uv_handle_t *>(&timer), nullptr);
        uv_close(reinterpret_cast<uv_handle_t *>(&wake), nullptr);
        // Any socket curl did not say goodbye to.
        uv_walk(
            &loop,
            [](uv_handle_t *h, void *) {
                if (h->type == UV_POLL && !uv_is_closing(h))
                    uv_close(h, [](uv_handle_t *p) { delete static_cast<Socket *>(p->data); });
            },
            nullptr);
    }

    void fail(uint64_t id, std::string why)
    {
        SendResult r;
        r.error = std::move(why);
        owner->report({id, std::move(r)});
    }

    void startTransfer(Job job)
    {
        CURL *easy = curl_easy_init();
        if (!easy)
            return fail(job.id, "curl_easy_init failed");
        auto t = std::make_unique<Transfer>();
        t->id = job.id;
        t->message = std::move(job.message);

        const SmtpSettings &s = settings;
        curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
#if LIBCURL_VERSION_NUM >= 0x075500
        curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
#else
        curl_easy_setopt(easy, CURLOPT_PROTOCOLS, CURLPROTO_SMTP | CURLPROTO_SMTPS);
#endif
        curl_easy_setopt(easy, CURLOPT_MAIL_FROM, s.mailFrom.c_str());
        curl_easy_setopt(easy, CURLOPT_MAIL_RCPT, recipients);
        curl_easy_setopt(easy, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(easy, CURLOPT_READFUNCTION, &Worker::onRead);
        curl_easy_setopt(easy, CURLOPT_READDATA, t.get());
        curl_easy_setopt(easy, CURLOPT_INFILESIZE_LARGE,
                         static_cast<curl_off_t>(t->message->size()));

        long useSsl = s.startTls == StartTls::Never && !s.implicitTls ? CURLUSESSL_NONE
                      : s.requireTls()                                ? CURLUSESSL_ALL
                                                                      : CURLUSESSL_TRY;
        curl_easy_setopt(easy, CURLOPT_USE_SSL, useSsl);
        curl_easy_setopt(easy, CURLOPT_SSLVERSION, static_cast<long>(CURL_SSLVERSION_TLSv1_2));
        if (!s.caFile.empty())
            curl_easy_setopt(easy, CURLOPT_CAINFO, s.caFile.c_str());
        if (s.skipVerify) {
            curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 0L);
            curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 0L);
        }
        if (!s.username.empty()) {
            curl_easy_setopt(easy, CURLOPT_USERNAME, s.username.c_str());
            curl_easy_setopt(easy, CURLOPT_PASSWORD, s.password.c_str());
        }

        curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(s.connectTimeoutMs));
        curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(s.timeoutMs));
        // Bounds the synchronous waits (end of data, QUIT) that TIMEOUT_MS does not.
        curl_easy_setopt(easy, CURLOPT_SERVER_RESPONSE_TIMEOUT,
                         static_cast<long>(std::max<int64_t>(1, (s.timeoutMs + 999) / 1000)));
        curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
        // One connection per mail, closed with QUIT: nothing lingers in a pool
        // that a later shutdown would have to wait for.
        curl_easy_setopt(easy, CURLOPT_FORBID_REUSE, 1L);
        curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, t->error);
        // Called also inside curl's synchronous waits (about once a second):
        // lets close() end a wait that began before it.
        curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, &Worker::onProgress);
        curl_easy_setopt(easy, CURLOPT_XFERINFODATA, this);

        if (CURLMcode rc = curl_multi_add_handle(multi, easy); rc != CURLM_OK) {
            curl_easy_cleanup(easy);
            return fail(t->id, std::string("curl_multi_add_handle: ") + curl_multi_strerror(rc));
        }
        transfers.emplace(easy, std::move(t));
    }

    void collectDone()
    {
        CURLMsg *msg;
        int left = 0;
        while (multi && (msg = curl_multi_info_read(multi, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            CURL *easy = msg->easy_handle;
            CURLcode code = msg->data.result;  // msg is invalid after remove_handle
            auto it = transfers.find(easy);
            long reply = 0;
            curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &reply);
            Report r;
            if (it != transfers.end()) {
                r.id = it->second->id;
                r.result = describe(code, reply, it->second->error);
            }
            curl_multi_remove_handle(multi, easy);
            curl_easy_cleanup(easy);
            if (it != transfers.end()) {
                transfers.erase(it);
                owner->report(std::move(r));
            }
        }
    }

    static SendResult describe(CURLcode code, long reply, const char *errorBuffer)
    {
        SendResult r;
        r.smtpCode = reply;
        r.ok = code == CURLE_OK;
        if (r.ok)
            return r;
        r.error = errorBuffer && errorBuffer[0] ? errorBuffer : curl_easy_strerror(code);
        while (!r.error.empty() && (r.error.back() == '\n' || r.error.back() == '\r'))
            r.error.pop_back();
        for (char &c : r.error)
            if (c == '"')
                c = '\'';  // the log line quotes it
        if (reply > 0)
            r.error += " (last reply " + std::to_string(reply) + ")";
        // A 5xx reply or refused credentials will not change by themselves.
        r.permanent = code == CURLE_LOGIN_DENIED || (reply >= 500 && reply < 600);
        return r;
    }

    // ---- libcurl callbacks

    static size_t onRead(char *buffer, size_t size, size_t count, void *data)
    {
        auto *t = static_cast<Transfer *>(data);
        size_t n = std::min(size * count, t->message->size() - t->offset);
        std::memcpy(buffer, t->message->data() + t->offset, n);
        t->offset += n;
        return n;
    }

    static int onProgress(void *data, curl_off_t, curl_off_t, curl_off_t, curl_off_t)
    {
        return static_cast<Worker *>(data)->owner->abort_.load(std::memory_order_relaxed) ? 1 : 0;
    }

    static int onSocket(CURL *, curl_socket_t fd, int what, void *userp, void *socketp)
    {
        auto *w = static_cast<Worker *>(userp);
        auto *sock = static_cast<Socket *>(socketp);
        if (what == CURL_POLL_REMOVE) {
            if (sock) {
                uv_poll_stop(&sock->poll);
                uv_close(reinterpret_cast<uv_handle_t *>(&sock->poll),
                         [](uv_handle_t *h) { delete static_cast<Socket *>(h->data); });
                if (w->multi)
                    curl_multi_assign(w->multi, fd, nullptr);
            }
            return 0;
        }
        if (!sock) {
            sock = new Socket;
            sock->fd = fd;
            sock->worker = w;
            if (uv_poll_init_socket(&w->loop, &sock->poll, fd) != 0) {
                delete sock;
                return -1;  // curl fails the transfer
            }
            sock->poll.data = sock;
            curl_multi_assign(w->multi, fd, sock);
        }
        int events = 0;
        if (what & CURL_POLL_IN)
            events |= UV_READABLE;
        if (what & CURL_POLL_OUT)
            events |= UV_WRITABLE;
        uv_poll_start(&sock->poll, events, &Worker::onPoll);
        return 0;
    }

    static void onPoll(uv_poll_t *handle, int status, int events)
    {
        auto *sock = static_cast<Socket *>(handle->data);
        Worker *w = sock->worker;
        int flags = 0;
        if (status < 0)
            flags = CURL_CSELECT_ERR;
        if (events & UV_READABLE)
            flags |= CURL_CSELECT_IN;
        if (events & UV_WRITABLE)
            flags |= CURL_CSELECT_OUT;
        int running = 0;
        curl_multi_socket_action(w->multi, sock->fd, flags, &running);
        w->collectDone();
    }

    static int onCurlTimer(CURLM *, long timeoutMs, void *userp)
    {
        auto *w = static_cast<Worker *>(userp);
        if (timeoutMs < 0) {
            uv_timer_stop(&w->timer);
            return 0;
        }
        // 0 means "now": run from the loop, not from inside curl.
        uv_timer_start(
            &w->timer,
            [](uv_timer_t *t) {
                auto *self = static_cast<Worker *>(t->data);
                int running = 0;
                curl_multi_socket_action(self->multi, CURL_SOCKET_TIMEOUT, 0, &running);
                self->collectDone();
            },
            static_cast<uint64_t>(timeoutMs), 0);
        return 0;
    }
};

// ---- the policy loop's side -------------------------------------------------

std::unique_ptr<CurlTransport> CurlTransport::start(uv_loop_t *loop, const SmtpSettings &settings,
                                                    std::string &error)
{
    std::call_once(gCurlInit, [] { gCurlInitResult = curl_global_init(CURL_GLOBAL_DEFAULT); });
    if (gCurlInitResult != CURLE_OK) {
        error = std::string("curl_global_init: ") + curl_easy_strerror(gCurlInitResult);
        return nullptr;
    }
    std::unique_ptr<CurlTransport> t(new CurlTransport(loop));
    t->worker_ = std::make_unique<Worker>(t.get(), settings);
    if (!t->worker_->init(error))
        return nullptr;
    t->wake_ = new uv_async_t;
    uv_async_init(loop, t->wake_,
                  [](uv_async_t *a) { static_cast<CurlTransport *>(a->data)->onWake(); });
    t->wake_->data = t.get();
    try {
        t->thread_ = std::thread([w = t->worker_.get()] { w->run(); });
    } catch (const std::system_error &e) {
        error = std::string("cannot start the mail thread: ") + e.what();
        return nullptr;  // the destructor closes wake_
    }
    pthread_setname_np(t->thread_.native_handle(), "geopol-mail");
    return t;
}

CurlTransport::CurlTransport(uv_loop_t *loop) : loop_(loop) {}

CurlTransport::~CurlTransport()
{
    if (thread_.joinable()) {
        // close() never ran (an error path): stop the thread and wait for it.
        abort_ = true;
        {
            std::lock_guard<std::mutex> lock(mu_);
            stop_ = true;
            if (!workerWakeClosed_)
                uv_async_send(&worker_->wake);
        }
        thread_.join();
    }
    if (wake_) {
        wake_->data = nullptr;
        uv_close(reinterpret_cast<uv_handle_t *>(wake_),
                 [](uv_handle_t *h) { delete reinterpret_cast<uv_async_t *>(h); });
        wake_ = nullptr;
    }
}

void CurlTransport::send(std::shared_ptr<const std::string> message, Done done)
{
    if (closing_)
        return;
    uint64_t id = ++nextId_;
    pending_.emplace(id, std::move(done));
    std::lock_guard<std::mutex> lock(mu_);
    jobs_.push_back({id, std::move(message)});
    if (!workerWakeClosed_)
        uv_async_send(&worker_->wake);
}

void CurlTransport::close(std::function<void()> closed)
{
    if (closing_)
        return;
    closing_ = true;
    closed_ = std::move(closed);
    pending_.clear();
    abort_ = true;  // ends a synchronous wait the thread may be in right now
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    if (!workerWakeClosed_)
        uv_async_send(&worker_->wake);
}

void CurlTransport::onWake()
{
    std::deque<Report> reports;
    bool ended;
    {
        std::lock_guard<std::mutex> lock(mu_);
        reports.swap(reports_);
        ended = workerEnded_;
    }
    for (Report &r : reports) {
        if (closing_)
            break;
        auto it = pending_.find(r.id);
        if (it == pending_.end())
            continue;
        Done done = std::move(it->second);
        pending_.erase(it);
        done(r.result);  // may call close()
    }
    if (ended && closing_ && wake_) {
        thread_.join();  // it has already left its loop: immediate
        uv_close(reinterpret_cast<uv_handle_t *>(wake_), [](uv_handle_t *h) {
            auto *self = static_cast<CurlTransport *>(h->data);
            delete reinterpret_cast<uv_async_t *>(h);
            if (!self)
                return;
            self->wake_ = nullptr;
            auto closed = std::move(self->closed_);
            if (closed)
                closed();  // may destroy self
        });
    }
}

void CurlTransport::report(Report r)
{
    std::lock_guard<std::mutex> lock(mu_);
    reports_.push_back(std::move(r));
    uv_async_send(wake_);
}

bool CurlTransport::takeJobs(std::deque<Job> &jobs)
{
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) {
        workerWakeClosed_ = true;
        jobs_.clear();
        return true;
    }
    jobs.swap(jobs_);
    return false;
}

void CurlTransport::workerEnded()
{
    std::lock_guard<std::mutex> lock(mu_);
    workerEnded_ = true;
    uv_async_send(wake_);
}

}  // namespace geopol::operator_mail
