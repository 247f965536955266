// module_loader.cpp
#include "loader/module_loader.hpp"

#include <dlfcn.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "geopol_paths.h"

namespace geopol::core {

namespace {

bool isFile(const std::string &path)
{
    struct stat st;
    return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string octal(mode_t m)
{
    char buf[8];
    std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(m & 07777));
    return buf;
}

}  // namespace

bool validModuleName(const std::string &name)
{
    if (name.empty() || name.size() > 64)
        return false;
    for (char c : name)
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return false;
    return true;
}

std::string ModuleLoader::findFile(const std::string &name) const
{
    if (!validModuleName(name))
        return "";
    std::string flat = dir_ + "/" + name + ".so";
    if (isFile(flat))
        return flat;
    std::string nested = dir_ + "/" + name + "/" + name + ".so";
    if (isFile(nested))
        return nested;
    return "";
}

std::unique_ptr<Module> ModuleLoader::create(const std::string &name, std::string &error) const
{
    if (!validModuleName(name)) {
        error = "module name '" + name +
                "' is not valid: use lower-case letters, digits and dashes only";
        return nullptr;
    }
    std::string path = findFile(name);
    if (path.empty()) {
        error = "module '" + name + "': no " + name + ".so in the module directory " + dir_ +
                "; build it (meson option -D" + name +
                "=enabled), point --module-dir at the right place, or set 'enabled: false'";
        return nullptr;
    }

    // Who may write the file may run code in geopold.
    struct stat st;
    if (stat(path.c_str(), &st) != 0) {
        error = path + ": " + std::strerror(errno);
        return nullptr;
    }
    if (st.st_mode & (S_IWGRP | S_IWOTH)) {
        error = path + ": refused, the file is writable by group or others (mode " +
                octal(st.st_mode) + "); fix with: chmod go-w " + path;
        return nullptr;
    }
    if (st.st_uid != 0 && st.st_uid != geteuid()) {
        error = path + ": refused, the file is owned by uid " + std::to_string(st.st_uid) +
                ", neither root nor the user geopold runs as";
        return nullptr;
    }

    void *handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (!handle) {
        const char *why = dlerror();
        error = path + ": cannot load: " + (why ? why : "unknown dlopen error");
        return nullptr;
    }
    auto entry =
        reinterpret_cast<geopol_module_entry_fn>(dlsym(handle, GEOPOL_MODULE_ENTRY_SYMBOL));
    if (!entry) {
        error = path + ": not a geopol module: it does not export " GEOPOL_MODULE_ENTRY_SYMBOL
                       "(); modules define it with GEOPOL_MODULE(name, Class)";
        return nullptr;
    }
    const geopol_module_info *info = entry();
    if (!info) {
        error = path + ": " GEOPOL_MODULE_ENTRY_SYMBOL "() returned no descriptor";
        return nullptr;
    }
    if (info->abi != GEOPOL_MODULE_ABI) {
        error = path + ": built for module ABI " + std::to_string(info->abi) +
                ", this geopold expects ABI " + std::to_string(GEOPOL_MODULE_ABI) +
                "; rebuild the module from the same source tree as geopold";
        return nullptr;
    }
    if (info->size != sizeof(geopol_module_info)) {
        error = path + ": descriptor size " + std::to_string(info->size) + ", expected " +
                std::to_string(sizeof(geopol_module_info)) +
                "; rebuild the module from the same source tree as geopold";
        return nullptr;
    }
    if (!info->name || name != info->name) {
        error = path + ": the module calls itself '" + std::string(info->name ? info->name : "") +
                "' but was loaded as '" + name + "'; rename the file or fix GEOPOL_MODULE()";
        return nullptr;
    }
    if (!info->build_tag || std::strcmp(info->build_tag, GEOPOL_BUILD_TAG) != 0) {
        error = path + ": built as '" + std::string(info->build_tag ? info->build_tag : "") +
                "', this geopold is '" GEOPOL_BUILD_TAG
                "'; rebuild the modules from the same source tree, with the same compiler, as "
                "geopold";
        return nullptr;
    }
    if (!info->create) {
        error = path + ": the descriptor has no create() function";
        return nullptr;
    }
    void *raw = info->create();
    if (!raw) {
        error = path + ": create() failed (the module's constructor threw or ran out of memory)";
        return nullptr;
    }
    return std::unique_ptr<Module>(static_cast<Module *>(raw));
}

std::string defaultModuleDir()
{
    if (const char *env = std::getenv("GEOPOL_MODULE_DIR"); env && *env)
        return env;
    // From the build tree, use the freshly built modules, never installed ones.
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        std::string self(exe);
        std::string root = GEOPOL_BUILD_ROOT;
        if (self.rfind(root + "/", 0) == 0)
            return GEOPOL_BUILD_MODULE_DIR;
    }
    return GEOPOL_MODULE_INSTALL_DIR;
}

}  // namespace geopol::core
