// ignore_networks.hpp - the client networks geoip answers for itself, without
// counting (the reference's --ignore-network).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "geopol/ip_address.hpp"

namespace geopol::geoip {

class IgnoreNetworks {
public:
    /// Adds "192.0.2.0/24", "2001:db8::/32" or a single address. Returns false,
    /// adding nothing, when `entry` is none of these.
    bool add(std::string_view entry);

    /// The first entry, as configured, that contains `addr`; nullptr if none.
    /// Addresses compare by value, so "::ffff:192.0.2.7" is inside
    /// 192.0.2.0/24 and "2001:db8::1" equals "2001:DB8:0::1" (the reference
    /// compared single addresses as strings).
    const std::string *match(const IpAddress &addr) const;

    bool empty() const { return entries_.empty(); }
    size_t size() const { return entries_.size(); }

private:
    struct Entry {
        IpNetwork network;
        std::string text;  // for the log line naming the entry that matched
    };
    std::vector<Entry> entries_;
};

}  // namespace geopol::geoip
