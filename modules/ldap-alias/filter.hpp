// filter.hpp - the search filter: a template with %s, and the value put in.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace geopol::ldap_alias {

/// The value escaped per RFC 4515 (libldap's ldap_bv2escaped_filter_value):
/// '*', '(', ')', '\' and NUL become \2a, \28, \29, \5c, \00, so whatever a
/// sender contains can only ever be an assertion value.
std::string escapeFilterValue(std::string_view value);

/// The template with every "%s" replaced by the escaped value.
std::string buildFilter(std::string_view tmpl, std::string_view value);

/// The reference's clean-up of a configured filter: line breaks and the white
/// space around them are removed, so a YAML block scalar can spread a long
/// filter over several lines.
std::string normalizeFilterTemplate(std::string_view raw);

/// Why `tmpl` cannot work as a template (no %s, unbalanced parentheses, not
/// in parentheses), or nullopt when it can. The final check is libldap's own
/// parser at search time; this catches the usual typos at load time.
std::optional<std::string> checkFilterTemplate(std::string_view tmpl);

}  // namespace geopol::ldap_alias
