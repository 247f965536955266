// daemon.cpp
#include "daemon.hpp"

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "geopol_version.h"
#include "loader/module_loader.hpp"
#include "privileges.hpp"

namespace geopol::core {

namespace {

std::shared_ptr<spdlog::logger> coreLog()
{
    return namedLogger("geopol");
}

std::string joined(const std::vector<std::string> &v, const char *sep)
{
    std::string out;
    for (size_t i = 0; i < v.size(); ++i)
        out += (i ? sep : "") + v[i];
    return out;
}

}  // namespace

std::optional<ReadConfig> readConfig(const CommandLine &cli, std::vector<std::string> &errors)
{
    ReadConfig cfg;
    try {
        cfg.tree = std::make_unique<ConfigTree>(cli.configPath.empty()
                                                    ? ConfigTree::embeddedDefaults()
                                                    : ConfigTree::fromFile(cli.configPath));
    } catch (const ConfigError &e) {
        errors.push_back(e.what());
        return std::nullopt;
    }
    ConfigTree &tree = *cfg.tree;

    // The module directory must be known before flags are applied: a flag
    // of a module that is not built is refused by name.
    std::string moduleDir = cli.moduleDir;
    if (moduleDir.empty()) {
        YAML::Node server = tree.root()["server"];
        if (server && server.IsMap() && server["module-dir"] && server["module-dir"].IsScalar())
            moduleDir = server["module-dir"].Scalar();
    }
    if (moduleDir.empty())
        moduleDir = defaultModuleDir();
    cfg.loader = std::make_unique<ModuleLoader>(moduleDir);

    auto env = readEnvironment([](const char *n) { return std::getenv(n); });
    applyOverrides(
        tree, env, cli, [&](const std::string &m) { return cfg.loader->available(m); }, errors);

    SectionView serverView(tree, "server", tree.section("server"));
    SectionView logView(tree, "log", tree.section("log"));
    auto settings = std::make_shared<ServerSettings>(readServerSettings(serverView));
    cfg.log = readLogSettings(logView);
    settings->logJson = cfg.log.json;
    settings->logReferenceDecisions = cfg.log.referenceDecisions;
    settings->moduleDir = moduleDir;
    serverView.reportUnknownKeys();
    logView.reportUnknownKeys();
    for (auto *v : {&serverView, &logView})
        errors.insert(errors.end(), v->errors().begin(), v->errors().end());
    if (!errors.empty())
        return std::nullopt;
    cfg.settings = std::move(settings);
    // Modules log while configuring; give them the new log settings now.
    applyLogSettings(cfg.log);
    return cfg;
}

std::vector<std::unique_ptr<Chain>> buildChains(
    ReadConfig &cfg, const std::vector<uv_loop_t *> &loops, std::vector<std::string> &errors,
    const std::function<std::map<std::string, void *>(size_t)> &coreServices)
{
    std::vector<std::unique_ptr<Chain>> chains;
    for (size_t i = 0; i < loops.size(); ++i) {
        auto chain = Chain::build(*cfg.tree, *cfg.loader, loops[i], cfg.settings->failureAction,
                                  errors, coreServices(i));
        if (!chain)
            return {};  // the errors are the same for every worker: report them once
        chains.push_back(std::move(chain));
    }
    return chains;
}

Daemon::Daemon(CommandLine cli) : cli_(std::move(cli))
{
    uv_loop_init(&loop_);
}

Daemon::~Daemon()
{
    workers_.clear();  // joins worker threads
    mainQueue_.reset();
    uv_loop_close(&loop_);
}

int Daemon::checkConfig(const CommandLine &cli)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    std::vector<std::string> errors;
    std::vector<std::unique_ptr<Chain>> chains;
    auto cfg = readConfig(cli, errors);
    if (cfg)  // the daemon's own services are only named here: nothing runs
        chains = buildChains(*cfg, {&loop}, errors, [](size_t) {
            return std::map<std::string, void *>{{"policy-query", nullptr}};
        });
    int rc = 0;
    if (chains.empty()) {
        for (const auto &e : errors)
            std::fprintf(stderr, "geopold: %s\n", e.c_str());
        std::fprintf(stderr, "geopold: configuration NOT OK (%zu problem%s)\n", errors.size(),
                     errors.size() == 1 ? "" : "s");
        rc = 1;
    } else {
        std::vector<std::string> names;
        for (const auto &m : chains[0]->modules())
            names.push_back(m->name);
        std::printf("geopold: configuration OK; chain: %s\n", joined(names, " -> ").c_str());
        chains.clear();  // never started; stop() is a no-op
    }
    uv_run(&loop, UV_RUN_NOWAIT);
    uv_loop_close(&loop);
    return rc;
}

bool Daemon::prepareChains(ReadConfig &cfg, std::vector<std::shared_ptr<Chain>> &out,
                           std::vector<std::string> &errors)
{
    std::vector<uv_loop_t *> loops;
    for (auto &w : workers_)
        loops.push_back(w->loop());
    auto chains = buildChains(cfg, loops, errors, [this](size_t i) {
        return std::map<std::string, void *>{
            {"policy-query", static_cast<PolicyQuery *>(&workers_[i]->query())}};
    });
    if (chains.empty())
        return false;

    // Start each chain on its own loop: modules create their handles there.
    bool failed = false;
    for (size_t i = 0; i < workers_.size() && !failed; ++i)
        workers_[i]->call([&] {
            installCoreServices(*workers_[i], *chains[i]);
            failed = !chains[i]->start(errors);
        });
    if (failed) {
        for (size_t i = 0; i < workers_.size(); ++i)
            workers_[i]->call([&] { retireChain(workers_[i]->loop(), chains[i].release()); });
        return false;
    }
    moduleNames_.clear();
    for (const auto &m : chains[0]->modules())
        moduleNames_.push_back(m->name);
    out.clear();
    for (size_t i = 0; i < workers_.size(); ++i)
        out.push_back(shareChain(workers_[i]->loop(), std::move(chains[i])));
    return true;
}

void Daemon::commitChains(std::vector<std::shared_ptr<Chain>> &chains)
{
    for (size_t i = 0; i < workers_.size(); ++i) {
        Worker &w = *workers_[i];
        // Moved in and released on the worker's thread: the old chain's last
        // owner, and so its retirement, must be on its own loop.
        w.call([&] {
            auto chain = std::move(chains[i]);
            w.chain = chain;
            w.server().update(settings_, chain);
        });
    }
}

void Daemon::installCoreServices(Worker &worker, Chain &chain)
{
    chain.admin.add("GET", "/reload", [this, &worker](const AdminRequest &, AdminReply reply) {
        // Reloading drives every worker, this one included: do it from the
        // daemon's thread and answer back here.
        mainQueue_->post([this, &worker, reply = std::move(reply)]() mutable {
            std::vector<std::string> errors;
            bool ok = reload("GET /reload", errors);
            std::string all;
            for (const auto &e : errors)
                all += (all.empty() ? "" : "; ") + e;
            worker.post([ok, all, reply = std::move(reply)] {
                if (ok)
                    reply({202, "application/json", ""});
                else
                    reply({500, "application/json", adminErrorBody("reload refused: " + all)});
            });
        });
    });
    Chain *self = &chain;
    chain.admin.add("GET", "/health", [this, self](const AdminRequest &, AdminReply reply) {
        std::vector<std::string> problems = self->metrics.problems();
        size_t connections = 0;
        for (auto &w : workers_)
            connections += w->server().connectionCount();
        std::string body = "{\"status\":\"";
        body += problems.empty() ? "ok" : "degraded";
        body += "\",\"version\":\"" GEOPOL_VERSION "\",\"uptime_seconds\":" +
                std::to_string((uv_now(&loop_) - startedMs_) / 1000) +
                ",\"workers\":" + std::to_string(workers_.size()) +
                ",\"connections\":" + std::to_string(connections) +
                ",\"reloads\":" + std::to_string(reloads_.load()) + ",\"problems\":[";
        for (size_t i = 0; i < problems.size(); ++i)
            body += (i ? ",\"" : "\"") + jsonEscape(problems[i]) + "\"";
        body += "]}";
        reply({problems.empty() ? 200 : 503, "application/json", body});
    });
    chain.metrics.addSource([this](std::string &out) {
        std::vector<const ServerStats *> stats;
        size_t connections = 0;
        for (auto &w : workers_) {
            stats.push_back(&w->server().stats());
            connections += w->server().connectionCount();
        }
        ServerStats::render(out, stats, connections);
        out +=
            "# HELP geopol_reloads_total Successful configuration reloads.\n"
            "# TYPE geopol_reloads_total counter\n"
            "geopol_reloads_total " +
            std::to_string(reloads_.load()) +
            "\n# HELP geopol_workers Event-loop threads serving connections.\n"
            "# TYPE geopol_workers gauge\n"
            "geopol_workers " +
            std::to_string(workers_.size()) +
            "\n# HELP geopol_info Version of the running geopold.\n"
            "# TYPE geopol_info gauge\n"
            "geopol_info{version=\"" GEOPOL_VERSION "\"} 1\n";
    });
}

int Daemon::run()
{
    // Before any module starts: a library writing to a socket its peer has
    // closed (libldap's unbind while a refused start stops the chain, ...)
    // must get EPIPE, not end the process.
    signal(SIGPIPE, SIG_IGN);
    std::vector<std::string> errors;
    startedMs_ = uv_now(&loop_);
    mainQueue_ = std::make_unique<LoopQueue>(&loop_);
    auto fail = [&]() {
        for (const auto &e : errors)
            coreLog()->critical("{}", e);
        coreLog()->critical(
            "geopold {} not started: fix the problems above "
            "(geopold --check-config shows every configuration problem)",
            GEOPOL_VERSION);
        // Close what is open on each worker's loop first: listeners bound
        // before the failure (and their unix socket files), a chain already
        // handed over. A handle left open makes uv_loop_close() refuse with
        // UV_EBUSY, and the loop's own memory was never freed (LSan: 192
        // bytes from uv_loop_init when a missing GeoIP database, a bad
        // server.user or a busy port refused the start).
        for (auto &w : workers_) {
            Worker *worker = w.get();
            worker->post([this, worker] {
                worker->server().shutdown(nullptr);
                worker->server().update(settings_, nullptr);
                worker->chain.reset();
            });
            worker->finish();
        }
        mainQueue_->close();
        uv_run(&loop_, UV_RUN_DEFAULT);
        return 1;
    };

    auto cfg = readConfig(cli_, errors);
    if (!cfg)
        return fail();
    settings_ = cfg->settings;
    size_t n = settings_->workers;
    for (size_t i = 0; i < n; ++i)
        workers_.push_back(std::make_unique<Worker>(i, n == 1 ? &loop_ : nullptr));

    // Bind while we may still be root, give root up, then start the modules
    // (they open files and connect as the unprivileged user) and only then
    // accept: no connection arrives before a chain can answer it.
    bool bound = true;
    workers_[0]->call(
        [&] { bound = workers_[0]->server().listen(*settings_, errors, n > 1, false); });
    for (size_t i = 1; i < n && bound; ++i)
        workers_[i]->call([&] {
            bound =
                workers_[i]->server().listenLike(workers_[0]->server(), *settings_, errors, false);
        });
    if (!bound)
        return fail();
    if (std::string e = dropPrivileges(settings_->user, settings_->group); !e.empty()) {
        errors.push_back(e);
        return fail();
    }
    if (!settings_->user.empty())
        coreLog()->info("running as user {} (uid {}), group {}", settings_->user, geteuid(),
                        getegid());
    else if (geteuid() == 0)
        coreLog()->warn(
            "running as root; set server.user (and server.group) to drop privileges "
            "after binding");

    std::vector<std::shared_ptr<Chain>> chains;
    if (!prepareChains(*cfg, chains, errors))
        return fail();
    commitChains(chains);
    bool accepting = true;
    for (auto &w : workers_)
        w->call([&] { accepting = w->server().startAccepting(errors) && accepting; });
    if (!accepting)
        return fail();
    coreLog()->info("geopold {} serving with {} worker{}; chain: {}", GEOPOL_VERSION, n,
                    n == 1 ? "" : "s", joined(moduleNames_, " -> "));

    uv_signal_init(&loop_, &sighup_);
    uv_signal_init(&loop_, &sigterm_);
    uv_signal_init(&loop_, &sigint_);
    sighup_.data = sigterm_.data = sigint_.data = this;
    uv_signal_start(
        &sighup_,
        [](uv_signal_t *s, int) {
            std::vector<std::string> problems;  // reload() logs them
            static_cast<Daemon *>(s->data)->reload("SIGHUP", problems);
        },
        SIGHUP);
    uv_signal_start(
        &sigterm_,
        [](uv_signal_t *s, int) { static_cast<Daemon *>(s->data)->beginShutdown("SIGTERM"); },
        SIGTERM);
    uv_signal_start(
        &sigint_,
        [](uv_signal_t *s, int) { static_cast<Daemon *>(s->data)->beginShutdown("SIGINT"); },
        SIGINT);
    uv_timer_init(&loop_, &graceTimer_);
    graceTimer_.data = this;

    writeStatusFile();
    uv_run(&loop_, UV_RUN_DEFAULT);
    workers_.clear();  // threaded workers end once their loops are empty
    if (!settings_->statusFile.empty())
        unlink(settings_->statusFile.c_str());
    coreLog()->info("geopold stopped");
    return 0;
}

bool Daemon::reload(const char *why, std::vector<std::string> &errors)
{
    if (stopping_) {
        errors.push_back("shutting down");
        return false;
    }
    coreLog()->info("{}: reloading the configuration", why);
    std::vector<std::shared_ptr<Chain>> chains;
    auto cfg = readConfig(cli_, errors);
    if (!cfg || !prepareChains(*cfg, chains, errors)) {
        for (const auto &e : errors)
            coreLog()->error("{}", e);
        coreLog()->error("reload refused; the previous configuration keeps running");
        // readConfig may have applied the new log settings; nothing else changed.
        return false;
    }
    if (cfg->settings->listen != settings_->listen)
        coreLog()->warn("server.listen changed; listeners are kept until geopold restarts");
    if (cfg->settings->workers != settings_->workers)
        coreLog()->warn("server.workers changed; the number of workers changes at restart");
    if (cfg->settings->user != settings_->user || cfg->settings->group != settings_->group)
        coreLog()->warn("server.user/server.group changed; they apply at restart");
    auto fresh = std::make_shared<ServerSettings>(*cfg->settings);
    fresh->listen = settings_->listen;
    fresh->user = settings_->user;
    fresh->group = settings_->group;
    fresh->statusFile = settings_->statusFile;
    fresh->workers = settings_->workers;
    settings_ = fresh;
    commitChains(chains);
    int n = ++reloads_;
    coreLog()->info("reload {} done; chain: {}", n, joined(moduleNames_, " -> "));
    writeStatusFile();
    return true;
}

void Daemon::beginShutdown(const char *why)
{
    if (stopping_)
        return;
    stopping_ = true;
    coreLog()->info("{}: shutting down; finishing requests in flight", why);
    uv_signal_stop(&sighup_);
    drained_ = 0;
    for (auto &w : workers_) {
        Worker *worker = w.get();
        worker->post([this, worker] {
            worker->server().shutdown([this] { mainQueue_->post([this] { workerDrained(); }); });
        });
    }
    uv_timer_start(
        &graceTimer_,
        [](uv_timer_t *t) {
            auto *d = static_cast<Daemon *>(t->data);
            coreLog()->warn("shutdown grace period over; closing busy connections");
            for (auto &w : d->workers_) {
                Worker *worker = w.get();
                worker->post([worker] { worker->server().closeAll(); });
            }
        },
        static_cast<uint64_t>(settings_->shutdownGraceMs), 0);
}

void Daemon::workerDrained()
{
    if (++drained_ == workers_.size())
        finishShutdown();
}

void Daemon::finishShutdown()
{
    for (uv_signal_t *s : {&sighup_, &sigterm_, &sigint_})
        uv_close(reinterpret_cast<uv_handle_t *>(s), nullptr);
    uv_close(reinterpret_cast<uv_handle_t *>(&graceTimer_), nullptr);
    for (auto &w : workers_) {
        Worker *worker = w.get();
        // Stops the modules; each loop ends when their handles are closed.
        worker->post([this, worker] {
            worker->server().update(settings_, nullptr);
            worker->chain.reset();
        });
        worker->finish();
    }
    mainQueue_->close();
}

void Daemon::writeStatusFile()
{
    if (settings_->statusFile.empty())
        return;
    std::string json =
        "{\"pid\":" + std::to_string(getpid()) +
        ",\"version\":\"" GEOPOL_VERSION "\",\"workers\":" + std::to_string(workers_.size()) +
        ",\"reloads\":" + std::to_string(reloads_.load()) + ",\"listeners\":[";
    const auto &bound = workers_[0]->server().bound();
    for (size_t i = 0; i < bound.size(); ++i)
        json += (i ? ",\"" : "\"") + jsonEscape(bound[i]) + "\"";
    json += "]}\n";
    std::string tmp = settings_->statusFile + ".tmp";
    {
        std::ofstream out(tmp, std::ios::trunc);
        out << json;
        if (!out) {
            coreLog()->error("cannot write the status file {}", tmp);
            return;
        }
    }
    if (std::rename(tmp.c_str(), settings_->statusFile.c_str()) != 0)
        coreLog()->error("cannot rename {} to {}", tmp, settings_->statusFile);
}

}  // namespace geopol::core
