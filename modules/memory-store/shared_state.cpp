// shared_state.cpp - the per-path registry and snapshot writing.
#include "shared_state.hpp"

#include <map>

#include "snapshot.hpp"

namespace geopol::memory_store {

Status SharedState::saveIfChanged(bool &wrote)
{
    wrote = false;
    std::lock_guard lock(writeMutex_);
    // Read before serialising: a change made meanwhile marks the next round dirty.
    uint64_t changes = store.changeCount();
    if (!persist || changes == savedChanges_)
        return Status::ok();
    Status s = writeFileAtomically(path, serializeSnapshot(store));
    if (s) {
        savedChanges_ = changes;
        wrote = true;
    }
    return s;
}

void SharedState::markSaved()
{
    std::lock_guard lock(writeMutex_);
    savedChanges_ = store.changeCount();
}

namespace {

struct Slot {
    std::weak_ptr<SharedState> state;
    int users = 0;
};

// Function-local statics: one registry per loaded memory-store.so, built on
// first use. The core must not dlclose() the module between chains (or the
// registry and its state go with it).
std::mutex &registryMutex()
{
    static std::mutex m;
    return m;
}

std::map<std::string, Slot> &registry()
{
    static std::map<std::string, Slot> r;
    return r;
}

}  // namespace

std::shared_ptr<SharedState> StateRegistry::acquire(const std::string &path, const Loader &load,
                                                    bool &adopted, std::string &error)
{
    std::lock_guard lock(registryMutex());
    auto &slots = registry();
    auto it = slots.find(path);
    if (it != slots.end()) {
        if (auto live = it->second.state.lock()) {
            ++it->second.users;
            adopted = true;
            return live;
        }
        slots.erase(it);
    }
    adopted = false;
    std::shared_ptr<SharedState> fresh = load(error);
    if (fresh)
        slots[path] = Slot{fresh, 1};
    return fresh;
}

void StateRegistry::release(const std::shared_ptr<SharedState> &state,
                            const std::function<void()> &onLast)
{
    if (!state)
        return;
    std::lock_guard lock(registryMutex());
    auto &slots = registry();
    auto it = slots.find(state->path);
    if (it == slots.end() || it->second.state.lock() != state)
        return;
    if (--it->second.users > 0)
        return;
    slots.erase(it);
    if (onLast)
        onLast();
}

}  // namespace geopol::memory_store
