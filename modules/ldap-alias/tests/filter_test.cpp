// filter_test.cpp - building the search filter: RFC 4515 escaping, every %s,
// and the template checks.
#include "filter.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace geopol::ldap_alias;

namespace {

// Filter syntax outside escapes: parentheses and '*', which libldap's parser
// would treat as structure or wildcards. ('&' and '|' only mean something
// right after a '(', so the parentheses cover them.)
std::string structure(const std::string &f)
{
    std::string out;
    for (size_t i = 0; i < f.size(); ++i) {
        if (f[i] == '\\') {
            i += 2;
            continue;
        }
        if (f[i] == '(' || f[i] == ')' || f[i] == '*')
            out += f[i];
    }
    return out;
}

}  // namespace

TEST_CASE("the reference's default filter with an ordinary sender")
{
    CHECK(buildFilter("(&(objectClass=*)(mailAlias=%s))", "user1@example.com") ==
          "(&(objectClass=*)(mailAlias=user1@example.com))");
}

TEST_CASE("RFC 4515 escaping of the special characters")
{
    CHECK(escapeFilterValue("plain@example.com") == "plain@example.com");
    // libldap writes the hex digits in upper case; RFC 4515 allows either.
    CHECK(escapeFilterValue("*") == "\\2A");
    CHECK(escapeFilterValue("(") == "\\28");
    CHECK(escapeFilterValue(")") == "\\29");
    CHECK(escapeFilterValue("a\\b") == "a\\5Cb");
    CHECK(escapeFilterValue(std::string("a\0b", 3)) == "a\\00b");
    CHECK(escapeFilterValue("") == "");
}

TEST_CASE("an injection attempt stays one assertion value")
{
    const std::string tmpl = "(&(objectClass=*)(mailAlias=%s))";
    for (const char *attack : {"*)(uid=*", "*", "x)(|(mailAlias=*", "a*b", "\\2a", "*)(&",
                               "foo@bar.org)(objectClass=*"}) {
        CAPTURE(attack);
        std::string f = buildFilter(tmpl, attack);
        // Same parentheses, wildcards and operators as the template itself.
        CHECK(structure(f) == structure(tmpl));
    }
    CHECK(buildFilter(tmpl, "*)(uid=*") == "(&(objectClass=*)(mailAlias=\\2A\\29\\28uid=\\2A))");
    // A backslash the sender sends is escaped too, so "\2a" is not a wildcard smuggled in.
    CHECK(buildFilter("(mailAlias=%s)", "\\2a") == "(mailAlias=\\5C2a)");
}

TEST_CASE("every %s is replaced, and nothing else")
{
    CHECK(buildFilter("(|(mailAlias=%s)(mail=%s))", "a*b") == "(|(mailAlias=a\\2Ab)(mail=a\\2Ab))");
    CHECK(buildFilter("(uid=%s)", "50%s") == "(uid=50%s)");  // in the value: not a placeholder
    CHECK(buildFilter("(cn=100%)", "x") == "(cn=100%)");
    CHECK(buildFilter("(x=%%s)", "v") == "(x=%v)");
}

TEST_CASE("UTF-8 in the value keeps its meaning")
{
    std::string f = buildFilter("(mailAlias=%s)", "jürgen@example.de");
    CHECK(structure(f) == "()");
    // Escaped byte by byte: the server matches the same UTF-8 value.
    CHECK(f == "(mailAlias=j\\C3\\BCrgen@example.de)");
}

TEST_CASE("line breaks and the white space around them leave the template")
{
    CHECK(normalizeFilterTemplate("(&(objectClass=*)\n    (mailAlias=%s))\n") ==
          "(&(objectClass=*)(mailAlias=%s))");
    CHECK(normalizeFilterTemplate("  (&(a=1) \r\n (b=%s))  ") == "(&(a=1)(b=%s))");
    CHECK(normalizeFilterTemplate("(cn=John Smith %s)") == "(cn=John Smith %s)");
}

TEST_CASE("template checks")
{
    CHECK_FALSE(checkFilterTemplate("(&(objectClass=*)(mailAlias=%s))"));
    CHECK_FALSE(checkFilterTemplate("(mailAlias=%s)"));
    CHECK_FALSE(checkFilterTemplate("(&(cn=a\\28b)(mail=%s))"));
    CHECK(checkFilterTemplate("")->find("empty") != std::string::npos);
    CHECK(checkFilterTemplate("(mailAlias=*)")->find("%s") != std::string::npos);
    CHECK(checkFilterTemplate("mailAlias=%s")->find("parentheses") != std::string::npos);
    CHECK(checkFilterTemplate("(&(mailAlias=%s)")->find("without its ')'") != std::string::npos);
    CHECK(checkFilterTemplate("(mailAlias=%s))")->find("without its '('") != std::string::npos);
    CHECK(checkFilterTemplate("(a=%s)(b=1)")->find("after its closing") != std::string::npos);
    CHECK(checkFilterTemplate("(a=%s\\zz)")->find("backslash") != std::string::npos);
}
