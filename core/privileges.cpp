// privileges.cpp
#include "privileges.hpp"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace geopol::core {

std::string dropPrivileges(const std::string &user, const std::string &group)
{
    if (user.empty() && group.empty())
        return "";
    uid_t uid = geteuid();
    gid_t gid = getegid();
    if (!user.empty()) {
        struct passwd *pw = getpwnam(user.c_str());
        if (!pw)
            return "server.user: no such user '" + user + "'";
        uid = pw->pw_uid;
        gid = pw->pw_gid;
    }
    if (!group.empty()) {
        struct group *gr = getgrnam(group.c_str());
        if (!gr)
            return "server.group: no such group '" + group + "'";
        gid = gr->gr_gid;
    }
    if (geteuid() != 0) {
        if (uid == geteuid() && gid == getegid())
            return "";  // already who we should be (started by systemd's User=)
        return "server.user/server.group: geopold runs as uid " + std::to_string(geteuid()) +
               " and cannot switch users; start it as root, or leave user and group empty";
    }
    // Order matters: groups first, while we still may change them.
    if (setgroups(1, &gid) != 0)
        return std::string("setgroups: ") + std::strerror(errno);
    if (setgid(gid) != 0)
        return std::string("setgid: ") + std::strerror(errno);
    if (setuid(uid) != 0)
        return std::string("setuid: ") + std::strerror(errno);
    if (uid != 0 && setuid(0) == 0)
        return "could regain root after dropping privileges; refusing to run";
    return "";
}

}  // namespace geopol::core
