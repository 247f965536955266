// snapshot.cpp - state file serialisation, validation and atomic replacement.
#include "snapshot.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

namespace geopol::memory_store {

namespace {

constexpr const char *kFormat = "geopol-memory-store";
constexpr int kVersion = 1;
constexpr const char *kMapNames[kMapCount] = {"foreignIps", "foreignCountries", "homeIps",
                                              "homeCountries"};

// Length of the valid UTF-8 sequence at s[i], or 0 if it is not one.
size_t utf8Length(std::string_view s, size_t i)
{
    auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    if (n == 0 || i + n > s.size())
        return 0;
    for (size_t k = 1; k < n; ++k)
        if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80)
            return 0;
    // overlong forms and surrogates are invalid too
    auto c1 = static_cast<unsigned char>(n > 1 ? s[i + 1] : 0);
    if ((n == 2 && c < 0xc2) || (n == 3 && c == 0xe0 && c1 < 0xa0) ||
        (n == 3 && c == 0xed && c1 >= 0xa0) || (n == 4 && c == 0xf0 && c1 < 0x90) ||
        (n == 4 && (c > 0xf4 || (c == 0xf4 && c1 >= 0x90))))
        return 0;
    return n;
}

// JSON string. Bytes that are not UTF-8 become U+FFFD: JSON cannot carry them,
// and a file the loader refuses would cost every block in it.
void appendString(std::string &out, std::string_view s)
{
    static const char hex[] = "0123456789abcdef";
    out.push_back('"');
    for (size_t i = 0; i < s.size();) {
        auto c = static_cast<unsigned char>(s[i]);
        if (c == '"' || c == '\\') {
            out.push_back('\\');
            out.push_back(static_cast<char>(c));
            ++i;
        } else if (c < 0x20) {
            out += "\\u00";
            out.push_back(hex[c >> 4]);
            out.push_back(hex[c & 0xf]);
            ++i;
        } else if (size_t n = utf8Length(s, i)) {
            out.append(s.substr(i, n));
            i += n;
        } else {
            out += "\\ufffd";
            ++i;
        }
    }
    out.push_back('"');
}

void appendAccount(std::string &out, const AccountRecord &a)
{
    appendString(out, a.name);
    out += ":{";
    for (size_t m = 0; m < kMapCount; ++m) {
        if (m)
            out.push_back(',');
        out.push_back('"');
        out += kMapNames[m];
        out += "\":{";
        bool first = true;
        for (const Entry &e : a.maps[m]) {
            if (!first)
                out.push_back(',');
            first = false;
            appendString(out, e.key);
            out.push_back(':');
            out += std::to_string(e.lastSeenMs);
        }
        out.push_back('}');
    }
    if (a.block != BlockState::None) {
        out += ",\"block\":\"";
        out += blockStateName(a.block);
        out += '"';
        out += ",\"blockedAtMs\":" + std::to_string(a.blockedAtMs);
    }
    out.push_back('}');
}

struct Corrupt {
    std::string message;
};

[[noreturn]] void corrupt(std::string message)
{
    throw Corrupt{std::move(message)};
}

int64_t readTime(const nlohmann::json &v, const std::string &where)
{
    if (!v.is_number_integer())
        corrupt(where + " must be a time in milliseconds, not " + v.type_name());
    return v.get<int64_t>();
}

AccountRecord readAccount(const std::string &name, const nlohmann::json &v)
{
    std::string where = "account \"" + name + "\"";
    if (!v.is_object())
        corrupt(where + " must be an object");
    AccountRecord a;
    a.name = name;
    for (size_t m = 0; m < kMapCount; ++m) {
        auto it = v.find(kMapNames[m]);
        if (it == v.end() || it->is_null())
            continue;
        if (!it->is_object())
            corrupt(where + ": \"" + kMapNames[m] + "\" must be an object");
        for (const auto &[key, seen] : it->items())
            a.maps[m].push_back(
                Entry{key, readTime(seen, where + ": " + kMapNames[m] + "[\"" + key + "\"]")});
    }
    auto block = v.find("block");
    if (block != v.end() && !block->is_null()) {
        if (*block == "temporary")
            a.block = BlockState::Temporary;
        else if (*block == "permanent")
            a.block = BlockState::Permanent;
        else if (*block != "none")
            corrupt(where + ": \"block\" must be \"temporary\" or \"permanent\"");
        if (a.block != BlockState::None) {
            auto at = v.find("blockedAtMs");
            if (at == v.end())
                corrupt(where + ": a block needs \"blockedAtMs\"");
            a.blockedAtMs = readTime(*at, where + ": \"blockedAtMs\"");
        }
    }
    return a;
}

std::string errnoText(const char *what, const std::string &path)
{
    return std::string(what) + " " + path + ": " + std::strerror(errno);
}

}  // namespace

std::string serializeSnapshot(const MemoryStore &store)
{
    std::string out;
    out.reserve(64 + store.accountCount() * 96);
    out += "{\"format\":\"";
    out += kFormat;
    out += "\",\"version\":" + std::to_string(kVersion) +
           ",\"savedAtMs\":" + std::to_string(store.now()) + ",\"accounts\":{";
    std::vector<AccountRecord> shard;
    bool first = true;
    for (size_t i = 0; i < MemoryStore::kShards; ++i) {
        shard.clear();
        store.copyShard(i, shard);  // the only time a shard lock is held
        for (const AccountRecord &a : shard) {
            out += first ? "\n" : ",\n";
            first = false;
            appendAccount(out, a);
        }
    }
    out += "\n}}\n";
    return out;
}

LoadResult parseSnapshot(std::string_view text, std::string_view source)
{
    LoadResult r;
    r.exists = true;
    std::string prefix = "state file " + std::string(source) + " is corrupt: ";
    try {
        nlohmann::json doc = nlohmann::json::parse(text);
        if (!doc.is_object())
            corrupt("the top level must be an object");
        auto format = doc.find("format");
        if (format == doc.end() || *format != kFormat)
            corrupt("it is not a geopol memory-store state file (\"format\" is not \"" +
                    std::string(kFormat) + "\")");
        auto version = doc.find("version");
        if (version == doc.end() || *version != kVersion)
            corrupt("unsupported \"version\" (this build reads version " +
                    std::to_string(kVersion) + ")");
        auto accounts = doc.find("accounts");
        if (accounts == doc.end() || !accounts->is_object())
            corrupt("\"accounts\" must be an object");
        r.accounts.reserve(accounts->size());
        for (const auto &[name, value] : accounts->items())
            r.accounts.push_back(readAccount(name, value));
    } catch (const Corrupt &e) {
        r.accounts.clear();
        r.error = prefix + e.message;
    } catch (const nlohmann::json::exception &e) {
        r.accounts.clear();
        // Drop nlohmann's "[json.exception.parse_error.101] " tag: noise to an admin.
        std::string what = e.what();
        auto tag = what.find("] ");
        if (what.rfind("[json.exception", 0) == 0 && tag != std::string::npos)
            what.erase(0, tag + 2);
        r.error = prefix + what;
    }
    return r;
}

LoadResult loadSnapshot(const std::string &path)
{
    LoadResult r;
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        // No file, or no directory for it: a first start, not an error.
        if (errno != ENOENT && errno != ENOTDIR)
            r.error = errnoText("cannot read state file", path);
        return r;
    }
    r.exists = true;
    std::string text;
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            r.error = errnoText("cannot read state file", path);
            ::close(fd);
            return r;
        }
        if (n == 0)
            break;
        text.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    return parseSnapshot(text, path);
}

Status writeFileAtomically(const std::string &path, std::string_view data)
{
    auto slash = path.rfind('/');
    std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
    std::string tmp = path + ".tmp-XXXXXX";
    // mkostemp creates the file 0600: the state names accounts and addresses.
    int fd = mkostemp(tmp.data(), O_CLOEXEC);
    if (fd < 0)
        return Status::error(errnoText("cannot create temporary file for", path));

    auto fail = [&](const char *what) {
        Status s = Status::error(errnoText(what, tmp));
        if (fd >= 0)
            ::close(fd);
        ::unlink(tmp.c_str());
        return s;
    };
    const char *p = data.data();
    size_t left = data.size();
    while (left > 0) {
        ssize_t n = ::write(fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return fail("cannot write");
        p += n;
        left -= static_cast<size_t>(n);
    }
    if (::fsync(fd) != 0)
        return fail("cannot sync");
    if (::close(fd) != 0) {
        fd = -1;
        return fail("cannot close");
    }
    fd = -1;
    if (::rename(tmp.c_str(), path.c_str()) != 0)
        return fail("cannot rename into place");
    // Make the rename itself durable.
    int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        ::fsync(dfd);
        ::close(dfd);
    }
    return Status::ok();
}

}  // namespace geopol::memory_store
