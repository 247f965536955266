// worker_pool.cpp
#include "worker_pool.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <system_error>
#include <thread>

namespace geopol::ldap_alias {

namespace {

// A worker beyond idle-pool-size leaves after this long without work (the
// reference's pool cleaner ran every 30 s).
constexpr auto kIdleExit = std::chrono::seconds(60);

// How long stop() waits for the workers to leave. A worker blocked in
// connect() or name resolution cannot be interrupted; it ends on its own.
constexpr auto kStopWait = std::chrono::milliseconds(250);

}  // namespace

struct WorkerSlot {
    // A dup() of the worker's socket while it is connected, under Shared::mu.
    // Our own descriptor: shutting it down can never hit a file that reused
    // the number of one libldap closed. shutdown() acts on the socket, so the
    // worker's wait on libldap's descriptor ends too.
    int fd = -1;
    bool abort = false;  // the running lookup was abandoned
};

struct WorkerPool::Shared {
    explicit Shared(const Settings &s) : settings(s) {}

    const Settings settings;  // a copy: a detached worker may outlive the module
    std::mutex mu;
    std::condition_variable work;    // a lookup was queued, or stopping
    std::condition_variable exited;  // a worker left
    std::deque<std::shared_ptr<Lookup>> queue;
    std::vector<std::shared_ptr<Lookup>> done;
    std::vector<std::shared_ptr<WorkerSlot>> slots;
    uv_async_t *async = nullptr;  // null once stopping: nobody may signal it any more
    bool stopping = false;
    int live = 0;  // workers started and not yet left
    int idle = 0;  // workers waiting for work
    // The server new connections try first: the last one that worked, moved
    // on when it stops answering.
    std::atomic<size_t> preferred{0};
};

WorkerPool::WorkerPool(uv_loop_t *loop, const Settings &settings, Completed completed)
    : loop_(loop), completed_(std::move(completed)), shared_(std::make_shared<Shared>(settings))
{
}

WorkerPool::~WorkerPool()
{
    stop();
}

Status WorkerPool::start()
{
    async_ = new uv_async_t;
    int rc = uv_async_init(loop_, async_, onAsync);
    if (rc != 0) {
        delete async_;
        async_ = nullptr;
        return Status::error(std::string("uv_async_init: ") + uv_strerror(rc));
    }
    async_->data = this;
    std::lock_guard<std::mutex> lock(shared_->mu);
    shared_->async = async_;
    return Status::ok();
}

bool WorkerPool::submit(const std::shared_ptr<Lookup> &lookup)
{
    std::unique_lock<std::mutex> lock(shared_->mu);
    if (shared_->stopping || !shared_->async)
        return false;
    lookup->state = Lookup::State::Queued;
    shared_->queue.push_back(lookup);
    if (static_cast<int>(shared_->queue.size()) > shared_->idle &&
        shared_->live < shared_->settings.poolSize) {
        auto slot = std::make_shared<WorkerSlot>();
        ++shared_->live;
        shared_->slots.push_back(slot);
        try {
            std::thread(workerMain, shared_, slot).detach();
        } catch (const std::system_error &) {
            // No thread now: the lookup waits for a running worker or its deadline.
            --shared_->live;
            shared_->slots.pop_back();
        }
    }
    lock.unlock();
    shared_->work.notify_one();
    return true;
}

bool WorkerPool::abandon(const std::shared_ptr<Lookup> &lookup)
{
    std::lock_guard<std::mutex> lock(shared_->mu);
    switch (lookup->state) {
        case Lookup::State::Queued: {
            auto &q = shared_->queue;
            q.erase(std::remove(q.begin(), q.end(), lookup), q.end());
            lookup->state = Lookup::State::Abandoned;
            return true;
        }
        case Lookup::State::Running:
            lookup->state = Lookup::State::Abandoned;
            if (WorkerSlot *slot = lookup->slot) {
                slot->abort = true;
                // The fd stays open (the worker closes it), so this cannot hit
                // another file; the worker's pending read returns at once.
                if (slot->fd >= 0)
                    ::shutdown(slot->fd, SHUT_RDWR);
            }
            return true;
        case Lookup::State::Finished:
            return false;
        case Lookup::State::Abandoned:
            return true;
    }
    return true;
}

void WorkerPool::stop()
{
    if (stopped_)
        return;
    stopped_ = true;
    {
        std::unique_lock<std::mutex> lock(shared_->mu);
        shared_->stopping = true;
        shared_->async = nullptr;
        for (auto &l : shared_->queue)
            l->state = Lookup::State::Abandoned;
        shared_->queue.clear();
        shared_->done.clear();
        for (auto &slot : shared_->slots) {
            slot->abort = true;
            if (slot->fd >= 0)
                ::shutdown(slot->fd, SHUT_RDWR);
        }
        shared_->work.notify_all();
        shared_->exited.wait_for(lock, kStopWait, [&] { return shared_->live == 0; });
    }
    if (async_) {
        uv_close(reinterpret_cast<uv_handle_t *>(async_),
                 [](uv_handle_t *h) { delete reinterpret_cast<uv_async_t *>(h); });
        async_ = nullptr;
    }
}

int WorkerPool::liveWorkers() const
{
    std::lock_guard<std::mutex> lock(shared_->mu);
    return shared_->live;
}

void WorkerPool::onAsync(uv_async_t *handle)
{
    auto *self = static_cast<WorkerPool *>(handle->data);
    std::vector<std::shared_ptr<Lookup>> done;
    {
        std::lock_guard<std::mutex> lock(self->shared_->mu);
        done.swap(self->shared_->done);
    }
    for (const auto &lookup : done) {
        if (self->stopped_)
            return;
        self->completed_(lookup);
    }
}

void WorkerPool::workerMain(std::shared_ptr<Shared> sh, std::shared_ptr<WorkerSlot> slot)
{
    const Settings &settings = sh->settings;
    // Publishes the socket as soon as it is connected: an abort then also
    // ends a TLS handshake, which libldap does not time out itself.
    auto publish = [&](int fd) {
        int own = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
        std::lock_guard<std::mutex> lock(sh->mu);
        if (slot->fd >= 0)
            ::close(slot->fd);
        slot->fd = own;
        if (slot->abort && own >= 0)
            ::shutdown(own, SHUT_RDWR);
    };
    LdapConnection conn(settings, publish);
    size_t connIndex = 0;

    auto aborted = [&] {
        std::lock_guard<std::mutex> lock(sh->mu);
        return slot->abort;
    };
    auto closeConn = [&] {
        int own;
        {
            std::lock_guard<std::mutex> lock(sh->mu);
            own = slot->fd;
            slot->fd = -1;
        }
        if (own >= 0)
            ::close(own);
        conn.close();
    };
    // A server that did not answer in time is tried last from now on; a
    // refusal is cheap and moves on to the next server within the lookup.
    auto demote = [&](size_t idx) {
        const size_t n = settings.servers.size();
        size_t expected = idx;
        if (n > 1)
            sh->preferred.compare_exchange_strong(expected, (idx + 1) % n);
    };
    auto connect = [&](Lookup &job) -> bool {
        const size_t n = settings.servers.size();
        for (size_t idx : failoverOrder(n, sh->preferred.load())) {
            if (aborted() || Clock::now() >= job.deadline)
                return false;
            std::string error;
            bool timedOut = false;
            bool opened = conn.open(settings.servers[idx], job.deadline, error, timedOut);
            if (opened) {
                {
                    std::lock_guard<std::mutex> lock(sh->mu);
                    if (slot->fd < 0) {  // no connect callback (ldapi:// may skip it)
                        int fd = conn.fd();
                        slot->fd = fd >= 0 ? ::fcntl(fd, F_DUPFD_CLOEXEC, 0) : -1;
                    }
                    opened = !slot->abort;
                }
                if (opened) {
                    connIndex = idx;
                    sh->preferred.store(idx);
                    return true;
                }
                closeConn();
                return false;
            }
            closeConn();  // the callback may have published a socket that failed later
            job.connectErrors.push_back(std::move(error));
            if (timedOut || aborted()) {
                demote(idx);
                return false;  // the time is used up
            }
        }
        return false;
    };
    auto run = [&](Lookup &job) {
        bool kept = conn.isOpen();
        for (int attempt = 0; attempt < 2; ++attempt) {
            if (!conn.isOpen()) {
                if (!connect(job)) {
                    bool late = Clock::now() >= job.deadline || aborted();
                    job.result.status =
                        late ? SearchResult::Status::TimedOut : SearchResult::Status::Failed;
                    job.result.error.clear();
                    for (const auto &e : job.connectErrors)
                        job.result.error += (job.result.error.empty() ? "" : "; ") + e;
                    if (job.result.error.empty())
                        job.result.error = "no connection before the deadline";
                    return;
                }
                job.connected = true;
            }
            job.server = conn.uri();
            job.result = conn.search(job.filter, job.deadline);
            auto status = job.result.status;
            if (status == SearchResult::Status::Ok)
                return;
            closeConn();
            // A kept connection that broke (the server restarted, or closed it
            // as idle) gets one fresh try within the same deadline.
            if (status == SearchResult::Status::ConnectionLost && kept && attempt == 0 &&
                !aborted() && Clock::now() < job.deadline) {
                kept = false;
                job.reconnected = true;
                continue;
            }
            if (status == SearchResult::Status::TimedOut || aborted())
                demote(connIndex);
            return;
        }
    };

    std::unique_lock<std::mutex> lock(sh->mu);
    for (;;) {
        ++sh->idle;
        bool got =
            sh->work.wait_for(lock, kIdleExit, [&] { return sh->stopping || !sh->queue.empty(); });
        --sh->idle;
        if (sh->stopping)
            break;
        if (!got) {
            if (sh->live > settings.idlePoolSize)
                break;
            continue;
        }
        std::shared_ptr<Lookup> job = sh->queue.front();
        sh->queue.pop_front();
        job->state = Lookup::State::Running;
        job->slot = slot.get();
        slot->abort = false;
        lock.unlock();

        run(*job);

        lock.lock();
        job->slot = nullptr;
        if (job->state == Lookup::State::Abandoned) {
            // Timed out: whatever state the connection is in, it is not reused.
            lock.unlock();
            closeConn();
            lock.lock();
            continue;
        }
        job->state = Lookup::State::Finished;
        sh->done.push_back(std::move(job));
        if (sh->async)
            uv_async_send(sh->async);
    }
    --sh->live;
    sh->slots.erase(std::remove(sh->slots.begin(), sh->slots.end(), slot), sh->slots.end());
    lock.unlock();
    closeConn();
    // Notified after the connection is gone; stop() may then return.
    lock.lock();
    sh->exited.notify_all();
}

}  // namespace geopol::ldap_alias
