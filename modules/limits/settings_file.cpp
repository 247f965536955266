// settings_file.cpp
#include "settings_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace geopol::limits {

namespace {

std::string errnoText(const std::string &what)
{
    return what + ": " + std::strerror(errno);
}

}  // namespace

Status writeFileAtomically(const std::string &path, std::string_view data)
{
    auto slash = path.rfind('/');
    std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
    std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
    mode_t mode = 0640;
    struct stat st {};
    if (stat(path.c_str(), &st) == 0)
        mode = st.st_mode & 07777;

    std::string tmp = dir + "/." + base + ".XXXXXX";
    int fd = mkstemp(tmp.data());
    if (fd < 0)
        return Status::error(errnoText("cannot create a temporary file in " + dir));
    auto fail = [&](const std::string &what) {
        Status s = Status::error(errnoText(what));
        close(fd);
        unlink(tmp.c_str());
        return s;
    };
    if (fchmod(fd, mode) != 0)
        return fail("cannot set the mode of " + tmp);
    size_t done = 0;
    while (done < data.size()) {
        ssize_t n = write(fd, data.data() + done, data.size() - done);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return fail("cannot write " + tmp);
        }
        done += static_cast<size_t>(n);
    }
    if (fsync(fd) != 0)
        return fail("cannot flush " + tmp);
    if (close(fd) != 0) {
        unlink(tmp.c_str());
        return Status::error(errnoText("cannot close " + tmp));
    }
    if (rename(tmp.c_str(), path.c_str()) != 0) {
        Status s = Status::error(errnoText("cannot rename " + tmp + " to " + path));
        unlink(tmp.c_str());
        return s;
    }
    // The rename itself must reach the disk too.
    int dfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return Status::ok();
}

}  // namespace geopol::limits
