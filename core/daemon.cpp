// daemon.cpp
#include "daemon.hpp"

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "geopol_version.h"
#include "loader/module_loader.hpp"

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

std::optional<LoadedConfig> loadConfig(const CommandLine &cli, uv_loop_t *loop,
                                       std::vector<std::string> &errors,
                                       const std::map<std::string, void *> &coreServices)
{
    std::optional<ConfigTree> tree;
    try {
        tree = cli.configPath.empty() ? ConfigTree::embeddedDefaults()
                                      : ConfigTree::fromFile(cli.configPath);
    } catch (const ConfigError &e) {
        errors.push_back(e.what());
        return std::nullopt;
    }

    // The module directory must be known before flags are applied: a flag
    // of a module that is not built is refused by name.
    std::string moduleDir = cli.moduleDir;
    if (moduleDir.empty()) {
        YAML::Node server = tree->root()["server"];
        if (server && server.IsMap() && server["module-dir"] && server["module-dir"].IsScalar())
            moduleDir = server["module-dir"].Scalar();
    }
    if (moduleDir.empty())
        moduleDir = defaultModuleDir();
    ModuleLoader loader(moduleDir);

    auto env = readEnvironment([](const char *n) { return std::getenv(n); });
    applyOverrides(
        *tree, env, cli, [&](const std::string &m) { return loader.available(m); }, errors);

    SectionView serverView(*tree, "server", tree->section("server"));
    SectionView logView(*tree, "log", tree->section("log"));
    auto settings = std::make_shared<ServerSettings>(readServerSettings(serverView));
    LoadedConfig out;
    out.log = readLogSettings(logView);
    settings->logJson = out.log.json;
    settings->moduleDir = moduleDir;
    serverView.reportUnknownKeys();
    logView.reportUnknownKeys();
    for (auto *v : {&serverView, &logView})
        errors.insert(errors.end(), v->errors().begin(), v->errors().end());
    if (!errors.empty())
        return std::nullopt;

    // Modules log while configuring; give them the new log settings now.
    applyLogSettings(out.log);
    out.chain = Chain::build(*tree, loader, loop, settings->failureAction, errors, coreServices);
    if (!out.chain)
        return std::nullopt;
    for (const auto &m : out.chain->modules())
        out.moduleNames.push_back(m->name);
    out.settings = std::move(settings);
    return out;
}

Daemon::Daemon(CommandLine cli) : cli_(std::move(cli))
{
    uv_loop_init(&loop_);
}

Daemon::~Daemon()
{
    query_.reset();
    server_.reset();
    uv_loop_close(&loop_);
}

int Daemon::checkConfig(const CommandLine &cli)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    std::vector<std::string> errors;
    // The daemon's own services are only named here: nothing runs.
    auto loaded = loadConfig(cli, &loop, errors, {{"policy-query", nullptr}});
    int rc = 0;
    if (!loaded) {
        for (const auto &e : errors)
            std::fprintf(stderr, "geopold: %s\n", e.c_str());
        std::fprintf(stderr, "geopold: configuration NOT OK (%zu problem%s)\n", errors.size(),
                     errors.size() == 1 ? "" : "s");
        rc = 1;
    } else {
        std::printf("geopold: configuration OK; chain: %s\n",
                    joined(loaded->moduleNames, " -> ").c_str());
        loaded->chain.reset();  // never started; stop() is a no-op
    }
    uv_run(&loop, UV_RUN_NOWAIT);
    uv_loop_close(&loop);
    return rc;
}

std::map<std::string, void *> Daemon::coreServices()
{
    return {{"policy-query", static_cast<PolicyQuery *>(query_.get())}};
}

void Daemon::installCoreServices(Chain &chain)
{
    chain.admin.add("GET", "/reload", [this](const AdminRequest &, AdminReply reply) {
        std::vector<std::string> errors;
        if (reload("GET /reload", errors)) {
            reply({202, "application/json", ""});
            return;
        }
        std::string all;
        for (const auto &e : errors)
            all += (all.empty() ? "" : "; ") + e;
        reply({500, "application/json", adminErrorBody("reload refused: " + all)});
    });
    chain.admin.add("GET", "/health", [this](const AdminRequest &, AdminReply reply) {
        auto *metrics = static_cast<Metrics *>(chain_ ? chain_->services["metrics"] : nullptr);
        std::vector<std::string> problems;
        if (metrics)
            problems = metrics->problems();
        std::string body = "{\"status\":\"";
        body += problems.empty() ? "ok" : "degraded";
        body += "\",\"version\":\"" GEOPOL_VERSION "\",\"uptime_seconds\":" +
                std::to_string((uv_now(&loop_) - startedMs_) / 1000) +
                ",\"connections\":" + std::to_string(server_->connectionCount()) +
                ",\"reloads\":" + std::to_string(reloads_) + ",\"problems\":[";
        for (size_t i = 0; i < problems.size(); ++i)
            body += (i ? ",\"" : "\"") + jsonEscape(problems[i]) + "\"";
        body += "]}";
        reply({problems.empty() ? 200 : 503, "application/json", body});
    });
    chain.metrics.addSource([this](std::string &out) {
        server_->stats().render(out, server_->connectionCount());
        out +=
            "# HELP geopol_reloads_total Successful configuration reloads.\n"
            "# TYPE geopol_reloads_total counter\n"
            "geopol_reloads_total " +
            std::to_string(reloads_) +
            "\n# HELP geopol_info Version of the running geopold.\n"
            "# TYPE geopol_info gauge\n"
            "geopol_info{version=\"" GEOPOL_VERSION "\"} 1\n";
    });
}

int Daemon::run()
{
    std::vector<std::string> errors;
    startedMs_ = uv_now(&loop_);
    server_ = std::make_unique<Server>(&loop_);
    query_ = std::make_unique<QueryService>(*server_);
    auto loaded = loadConfig(cli_, &loop_, errors, coreServices());
    if (loaded) {
        installCoreServices(*loaded->chain);
        if (!loaded->chain->start(errors))
            loaded.reset();
    }
    if (!loaded) {
        for (const auto &e : errors)
            coreLog()->critical("{}", e);
        coreLog()->critical(
            "geopold {} not started: fix the configuration above "
            "(geopold --check-config shows every problem)",
            GEOPOL_VERSION);
        return 1;
    }
    settings_ = loaded->settings;
    chain_ = shareChain(&loop_, std::move(loaded->chain));
    server_->update(settings_, chain_);
    if (!server_->listen(*settings_, errors)) {
        for (const auto &e : errors)
            coreLog()->critical("{}", e);
        chain_.reset();
        server_->shutdown(nullptr);
        uv_run(&loop_, UV_RUN_DEFAULT);
        return 1;
    }
    coreLog()->info("geopold {} serving; chain: {}", GEOPOL_VERSION,
                    joined(loaded->moduleNames, " -> "));

    signal(SIGPIPE, SIG_IGN);
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
    auto loaded = loadConfig(cli_, &loop_, errors, coreServices());
    if (loaded) {
        installCoreServices(*loaded->chain);
        if (!loaded->chain->start(errors))
            loaded.reset();
    }
    if (!loaded) {
        for (const auto &e : errors)
            coreLog()->error("{}", e);
        coreLog()->error("reload refused; the previous configuration keeps running");
        // loadConfig may have applied the new log settings; nothing else changed.
        return false;
    }
    if (loaded->settings->listen != settings_->listen)
        coreLog()->warn("server.listen changed; listeners are kept until geopold restarts");
    auto fresh = std::make_shared<ServerSettings>(*loaded->settings);
    fresh->listen = settings_->listen;
    fresh->statusFile = settings_->statusFile;
    settings_ = fresh;
    // The old chain retires once its last in-flight request is answered.
    chain_ = shareChain(&loop_, std::move(loaded->chain));
    server_->update(settings_, chain_);
    ++reloads_;
    coreLog()->info("reload {} done; chain: {}", reloads_, joined(loaded->moduleNames, " -> "));
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
    server_->shutdown([this] { finishShutdown(); });
    if (stopping_ && uv_is_active(reinterpret_cast<uv_handle_t *>(&sighup_)) == 0 &&
        !uv_is_closing(reinterpret_cast<uv_handle_t *>(&graceTimer_)))
        uv_timer_start(
            &graceTimer_,
            [](uv_timer_t *t) {
                auto *d = static_cast<Daemon *>(t->data);
                coreLog()->warn("shutdown grace period over; closing busy connections");
                d->server_->closeAll();
            },
            static_cast<uint64_t>(settings_->shutdownGraceMs), 0);
}

void Daemon::finishShutdown()
{
    for (uv_signal_t *s : {&sighup_, &sigterm_, &sigint_})
        uv_close(reinterpret_cast<uv_handle_t *>(s), nullptr);
    uv_close(reinterpret_cast<uv_handle_t *>(&graceTimer_), nullptr);
    server_->update(settings_, nullptr);
    chain_.reset();  // stops the modules; the loop ends when their handles are closed
}

void Daemon::writeStatusFile()
{
    if (settings_->statusFile.empty())
        return;
    std::string json =
        "{\"pid\":" + std::to_string(getpid()) +
        ",\"version\":\"" GEOPOL_VERSION "\",\"reloads\":" + std::to_string(reloads_) +
        ",\"listeners\":[";
    const auto &bound = server_->bound();
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
