// operator_mail_module.cpp - the module's entry symbol; everything else is in
// operator_mail.cpp.
#include "geopol/module.hpp"
#include "operator_mail.hpp"

GEOPOL_MODULE("operator-mail", geopol::operator_mail::OperatorMailModule)
