// chain.cpp
#include "chain/chain.hpp"

#include <algorithm>
#include <set>
#include <sstream>

#include "log/logging.hpp"

namespace geopol::core {

namespace {

// Keys of a module entry that the core reads itself.
const std::set<std::string> kCoreKeys = {"name", "enabled", "failure-action"};

// Every call into a module goes through here: no exception crosses back.
template <class F>
bool guarded(const std::string &module, const char *what, std::vector<std::string> &errors, F &&f)
{
    try {
        f();
        return true;
    } catch (const std::exception &e) {
        errors.push_back("module '" + module + "': " + what + " threw: " + e.what());
    } catch (...) {
        errors.push_back("module '" + module + "': " + what + " threw a non-standard exception");
    }
    return false;
}

}  // namespace

void ModuleHost::provide(std::string_view service, void *impl)
{
    chain_.services[std::string(service)] = impl;
}

void *ModuleHost::find(std::string_view service)
{
    auto it = chain_.services.find(service);
    return it == chain_.services.end() ? nullptr : it->second;
}

std::unique_ptr<Chain> Chain::build(ConfigTree &tree, const ModuleLoader &loader, uv_loop_t *loop,
                                    const std::string &defaultFailureAction,
                                    std::vector<std::string> &errors,
                                    const std::map<std::string, void *> &coreServices)
{
    std::unique_ptr<Chain> chain(new Chain());
    for (const auto &[name, impl] : coreServices)
        chain->services[name] = impl;
    std::vector<ModuleEntry> entries;
    try {
        entries = tree.modules();
    } catch (const ConfigError &e) {
        errors.push_back(e.what());
        return nullptr;
    }
    size_t errorsBefore = errors.size();
    for (auto &entry : entries) {
        if (!entry.enabled)
            continue;
        auto cm = std::make_unique<ChainModule>();
        cm->name = entry.name;
        std::string error;
        cm->module = loader.create(entry.name, error);
        if (!cm->module) {
            errors.push_back(error);
            continue;
        }
        SectionView view(tree, entry.name, entry.node);
        cm->failureAction = view.getString("failure-action", defaultFailureAction);
        Status st = Status::ok();
        guarded(entry.name, "configure()", errors, [&] { st = cm->module->configure(view); });
        if (!st)
            errors.push_back("module '" + entry.name + "': " + st.message());
        view.reportUnknownKeys(kCoreKeys);
        for (const auto &e : view.errors())
            errors.push_back(e);

        cm->host = std::make_unique<ModuleHost>(*chain, loop, namedLogger(entry.name));
        bool handles = true;
        guarded(entry.name, "handlesRequests()", errors,
                [&] { handles = cm->module->handlesRequests(); });
        if (handles)
            chain->requestModules_.push_back(cm.get());
        chain->modules_.push_back(std::move(cm));
    }
    if (errors.size() != errorsBefore)
        return nullptr;
    if (!chain->orderStart(errors))
        return nullptr;
    return chain;
}

bool Chain::orderStart(std::vector<std::string> &errors)
{
    // Who provides what; two providers of one service is a configuration error.
    std::map<std::string, std::string> provider;
    std::map<ChainModule *, std::vector<std::string>> needs;
    for (auto &m : modules_) {
        std::string provides, wanted;
        guarded(m->name, "provides()", errors,
                [&] { provides = std::string(m->module->provides()); });
        guarded(m->name, "needs()", errors, [&] { wanted = std::string(m->module->needs()); });
        std::istringstream p(provides);
        for (std::string s; p >> s;) {
            auto [it, fresh] = provider.emplace(s, m->name);
            if (!fresh || services.count(s))
                errors.push_back("modules '" + (fresh ? std::string("geopold") : it->second) +
                                 "' and '" + m->name + "' both provide the '" + s +
                                 "' service; enable only one of them");
        }
        std::istringstream n(wanted);
        for (std::string s; n >> s;)
            needs[m.get()].push_back(s);
    }
    if (!errors.empty())
        return false;

    // YAML order, except that a module waits for the providers of its needs.
    std::set<std::string> available;
    for (const auto &[name, impl] : services)
        available.insert(name);
    std::vector<ChainModule *> waiting;
    for (auto &m : modules_)
        waiting.push_back(m.get());
    while (!waiting.empty()) {
        auto ready = std::find_if(waiting.begin(), waiting.end(), [&](ChainModule *m) {
            for (const auto &s : needs[m])
                if (!available.count(s))
                    return false;
            return true;
        });
        if (ready == waiting.end())
            break;
        startOrder_.push_back(*ready);
        for (const auto &[s, who] : provider)
            if (who == (*ready)->name)
                available.insert(s);
        waiting.erase(ready);
    }
    for (ChainModule *m : waiting)
        for (const auto &s : needs[m])
            if (!available.count(s))
                errors.push_back("module '" + m->name + "' needs the '" + s + "' service, which " +
                                 (provider.count(s) ? "comes only from a module that itself "
                                                      "waits for it (a cycle)"
                                                    : "no enabled module provides") +
                                 "; enable a module that provides it");
    return errors.empty();
}

bool Chain::start(std::vector<std::string> &errors)
{
    for (ChainModule *m : startOrder_) {
        Status st = Status::ok();
        bool ok = guarded(m->name, "start()", errors, [&] { st = m->module->start(*m->host); });
        if (ok && st) {
            m->started = true;
            continue;
        }
        if (ok)
            errors.push_back("module '" + m->name + "': " + st.message());
        stop();
        return false;
    }
    return true;
}

void Chain::stop()
{
    if (stopped_)
        return;
    stopped_ = true;
    std::vector<std::string> errors;
    for (auto it = startOrder_.rbegin(); it != startOrder_.rend(); ++it) {
        if (!(*it)->started)
            continue;
        guarded((*it)->name, "stop()", errors, [&] { (*it)->module->stop(); });
        (*it)->started = false;
    }
    for (const auto &e : errors)
        namedLogger("geopol")->error("{}", e);
}

Chain::~Chain()
{
    stop();
}

void retireChain(uv_loop_t *loop, Chain *chain)
{
    chain->stop();
    // Handles closed in stop() get their close callbacks on a later loop
    // iteration; the module objects must outlive them. 100 ms is many
    // iterations, and nothing else waits for it.
    auto *timer = new uv_timer_t;
    uv_timer_init(loop, timer);
    timer->data = chain;
    uv_timer_start(
        timer,
        [](uv_timer_t *t) {
            delete static_cast<Chain *>(t->data);
            uv_close(reinterpret_cast<uv_handle_t *>(t),
                     [](uv_handle_t *h) { delete reinterpret_cast<uv_timer_t *>(h); });
        },
        100, 0);
}

std::shared_ptr<Chain> shareChain(uv_loop_t *loop, std::unique_ptr<Chain> chain)
{
    return std::shared_ptr<Chain>(chain.release(), [loop](Chain *c) { retireChain(loop, c); });
}

}  // namespace geopol::core
