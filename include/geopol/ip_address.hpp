// ip_address.hpp - a parsed client address, its class, and CIDR matching.
//
// Header-only so that modules and the core share one definition without
// linking each other. IPv4 is kept as an IPv4-mapped IPv6 address internally,
// so "10.0.0.1" and "::ffff:10.0.0.1" are the same address (the reference
// counted them twice).
#pragma once

#include <arpa/inet.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace geopol {

/// Where an address lives. Everything but Public is an address GeoIP cannot
/// place and that must never become "a new foreign country".
enum class AddressClass : uint8_t {
    Invalid,      ///< not an IP address at all ("unknown", garbage)
    Public,       ///< globally routable
    Private,      ///< RFC 1918
    Loopback,     ///< 127/8, ::1
    LinkLocal,    ///< 169.254/16, fe80::/10
    SharedCgnat,  ///< 100.64/10 (RFC 6598)
    UniqueLocal,  ///< fc00::/7
    Reserved,     ///< unspecified, documentation, multicast, benchmarking, 240/4, ...
};

inline const char *addressClassName(AddressClass c)
{
    switch (c) {
        case AddressClass::Invalid:
            return "invalid";
        case AddressClass::Public:
            return "public";
        case AddressClass::Private:
            return "private";
        case AddressClass::Loopback:
            return "loopback";
        case AddressClass::LinkLocal:
            return "link-local";
        case AddressClass::SharedCgnat:
            return "cgnat";
        case AddressClass::UniqueLocal:
            return "unique-local";
        case AddressClass::Reserved:
            return "reserved";
    }
    return "invalid";
}

class IpAddress {
public:
    IpAddress() { bytes_.fill(0); }

    /// Parses dotted-quad IPv4 or textual IPv6 (optionally in brackets, as
    /// some tools write it). No host names, no zone ids.
    static std::optional<IpAddress> parse(std::string_view text)
    {
        if (text.size() >= 2 && text.front() == '[' && text.back() == ']')
            text = text.substr(1, text.size() - 2);
        // inet_pton() reads up to a NUL: "10.0.0.1\0junk" would pass as 10.0.0.1.
        if (text.empty() || text.size() >= INET6_ADDRSTRLEN ||
            text.find('\0') != std::string_view::npos)
            return std::nullopt;
        char buf[INET6_ADDRSTRLEN];
        std::memcpy(buf, text.data(), text.size());
        buf[text.size()] = '\0';
        IpAddress a;
        if (text.find(':') == std::string_view::npos) {
            in_addr v4;
            if (inet_pton(AF_INET, buf, &v4) != 1)
                return std::nullopt;
            a.bytes_[10] = 0xff;
            a.bytes_[11] = 0xff;
            std::memcpy(&a.bytes_[12], &v4, 4);
        } else if (inet_pton(AF_INET6, buf, a.bytes_.data()) != 1) {
            return std::nullopt;
        }
        return a;
    }

    bool isV4() const
    {
        static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        return std::memcmp(bytes_.data(), mapped, 12) == 0;
    }

    const std::array<uint8_t, 16> &bytes() const { return bytes_; }

    /// Writes the dotted quad of an IPv4 address into `out` (at least 15
    /// bytes, not terminated) and returns its length. glibc's inet_ntop
    /// formats IPv4 with sprintf, which was 7 % of a request's instructions
    /// (bench/README.md, "Where the time goes").
    size_t formatV4(char *out) const
    {
        char *p = out;
        for (int i = 12; i < 16; ++i) {
            unsigned v = bytes_[i];
            if (v >= 100)
                *p++ = static_cast<char>('0' + v / 100);
            if (v >= 10)
                *p++ = static_cast<char>('0' + v / 10 % 10);
            *p++ = static_cast<char>('0' + v % 10);
            if (i < 15)
                *p++ = '.';
        }
        return static_cast<size_t>(p - out);
    }
    /// Network-order IPv4 bytes; only meaningful when isV4().
    const uint8_t *v4() const { return &bytes_[12]; }

    /// Canonical text: dotted quad for IPv4 (also when it came v4-mapped),
    /// RFC 5952 compressed form for IPv6.
    std::string toString() const
    {
        char buf[INET6_ADDRSTRLEN];
        if (isV4())
            return std::string(buf, formatV4(buf));
        inet_ntop(AF_INET6, bytes_.data(), buf, sizeof buf);
        return buf;
    }

    /// The key an address is counted under: the address itself for IPv4,
    /// the /prefix network ("2001:db8:1:2::/64") for IPv6, so that privacy
    /// addresses rotating inside one customer prefix count once.
    std::string countingKey(int v6Prefix) const
    {
        if (isV4() || v6Prefix >= 128)
            return toString();
        IpAddress net = masked(v6Prefix + 0);
        return net.toString() + "/" + std::to_string(v6Prefix);
    }

    /// This address with all bits after `bits` cleared; bits count from the
    /// start of the 128-bit form (IPv4 callers add 96).
    IpAddress masked(int bits) const
    {
        IpAddress r = *this;
        for (int i = 0; i < 16; ++i) {
            int keep = bits - i * 8;
            if (keep >= 8)
                continue;
            r.bytes_[i] = keep <= 0 ? 0 : static_cast<uint8_t>(r.bytes_[i] & (0xff << (8 - keep)));
        }
        return r;
    }

    AddressClass classify() const
    {
        const uint8_t *b = bytes_.data();
        if (isV4()) {
            const uint8_t *a = v4();
            if (a[0] == 10 || (a[0] == 172 && (a[1] & 0xf0) == 16) || (a[0] == 192 && a[1] == 168))
                return AddressClass::Private;
            if (a[0] == 127)
                return AddressClass::Loopback;
            if (a[0] == 169 && a[1] == 254)
                return AddressClass::LinkLocal;
            if (a[0] == 100 && (a[1] & 0xc0) == 64)
                return AddressClass::SharedCgnat;
            if (a[0] == 0 || a[0] >= 224 ||                    // this-net, multicast, 240/4
                (a[0] == 192 && a[1] == 0 && a[2] == 0) ||     // IETF protocol assignments
                (a[0] == 192 && a[1] == 0 && a[2] == 2) ||     // TEST-NET-1
                (a[0] == 198 && a[1] == 51 && a[2] == 100) ||  // TEST-NET-2
                (a[0] == 203 && a[1] == 0 && a[2] == 113) ||   // TEST-NET-3
                (a[0] == 198 && (a[1] & 0xfe) == 18))          // benchmarking
                return AddressClass::Reserved;
            return AddressClass::Public;
        }
        static const uint8_t loop[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
        static const uint8_t zero[16] = {};
        if (std::memcmp(b, loop, 16) == 0)
            return AddressClass::Loopback;
        if (std::memcmp(b, zero, 16) == 0)
            return AddressClass::Reserved;
        if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
            return AddressClass::LinkLocal;
        if ((b[0] & 0xfe) == 0xfc)
            return AddressClass::UniqueLocal;
        if (b[0] == 0xff)
            return AddressClass::Reserved;  // multicast
        if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8)
            return AddressClass::Reserved;  // documentation 2001:db8::/32
        if ((b[0] & 0xe0) != 0x20)
            return AddressClass::Reserved;  // outside 2000::/3, the global unicast space
        return AddressClass::Public;
    }

    bool operator==(const IpAddress &o) const { return bytes_ == o.bytes_; }
    bool operator!=(const IpAddress &o) const { return !(*this == o); }

private:
    std::array<uint8_t, 16> bytes_;
};

/// A network in CIDR notation, or a single address (a /32 or /128).
class IpNetwork {
public:
    /// "192.0.2.0/24", "2001:db8::/32", or a bare address.
    static std::optional<IpNetwork> parse(std::string_view text)
    {
        IpNetwork n;
        auto slash = text.find('/');
        auto addr = IpAddress::parse(text.substr(0, slash));
        if (!addr)
            return std::nullopt;
        // "::ffff:10.0.0.0/104" is IPv6 notation: its prefix counts 128 bits,
        // although the address is stored like the IPv4 10.0.0.0.
        bool v4Notation = addr->isV4() && text.substr(0, slash).find(':') == std::string_view::npos;
        int max = v4Notation ? 32 : 128;
        int bits = max;
        if (slash != std::string_view::npos) {
            std::string_view len = text.substr(slash + 1);
            if (len.empty() || len.size() > 3)
                return std::nullopt;
            bits = 0;
            for (char c : len) {
                if (c < '0' || c > '9')
                    return std::nullopt;
                bits = bits * 10 + (c - '0');
            }
            if (bits > max)
                return std::nullopt;
        }
        n.bits_ = v4Notation ? bits + 96 : bits;
        n.base_ = addr->masked(n.bits_);
        return n;
    }

    bool contains(const IpAddress &a) const { return a.masked(bits_) == base_; }

private:
    IpAddress base_;
    int bits_ = 128;
};

}  // namespace geopol
