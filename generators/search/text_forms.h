// Surface forms of literal values: the ways documents and answers may write a date or a
// number, so documents vary their wording and verification can prove it accepts them all.
#pragma once

#include <string>

namespace envforge::generators::search {

// "1873-04-02" -> "2 April 1873"; anything else unchanged.
std::string date_words(const std::string& iso);
// "1873-04-02" -> "April 2, 1873"; anything else unchanged.
std::string date_words_us(const std::string& iso);
// "1200" -> "1,200"; anything that is not a whole number unchanged.
std::string with_thousands(const std::string& digits);

}  // namespace envforge::generators::search
