// account_resolver.hpp - the "account-resolver" service: identity -> account.
//
// Provided by ldap-alias. The REST unlock (POST /remove) uses it to translate
// a sender into the account key the policy counts under, as the reference
// translates it through LDAP before deleting the record.
//
//   auto *r = host.find<geopol::AccountResolver>("account-resolver");
//   if (r) r->resolve(sender, [](bool ok, std::string account, std::string error) {...});
//
// `done` runs on the loop thread, possibly before resolve() returns (a cached
// answer). ok == true: `account` is the key the policy uses for `identity`:
// the resolved account, or the lower-cased identity when the directory has no
// entry for it. ok == false: the directory could not answer; `error` says why.
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace geopol {

class AccountResolver {
public:
    virtual ~AccountResolver() = default;
    virtual void resolve(
        std::string_view identity,
        std::function<void(bool ok, std::string account, std::string error)> done) = 0;
};

}  // namespace geopol
