#include "generators/search/text_forms.h"

#include <array>
#include <cctype>

namespace envforge::generators::search {
namespace {

constexpr std::array<const char*, 12> kMonths = {"January", "February", "March",     "April",   "May",      "June",
                                                 "July",    "August",   "September", "October", "November", "December"};

// year, month (1-12), day from "YYYY-MM-DD"; false when it is not one.
bool split_iso(const std::string& s, std::string& year, int& month, int& day) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return false;
  for (size_t i : {0u, 1u, 2u, 3u, 5u, 6u, 8u, 9u})
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
  year = s.substr(0, 4);
  month = std::stoi(s.substr(5, 2));
  day = std::stoi(s.substr(8, 2));
  return month >= 1 && month <= 12 && day >= 1 && day <= 31;
}

}  // namespace

std::string date_words(const std::string& iso) {
  std::string y;
  int m = 0, d = 0;
  if (!split_iso(iso, y, m, d)) return iso;
  return std::to_string(d) + " " + kMonths[static_cast<size_t>(m - 1)] + " " + y;
}

std::string date_words_us(const std::string& iso) {
  std::string y;
  int m = 0, d = 0;
  if (!split_iso(iso, y, m, d)) return iso;
  return std::string(kMonths[static_cast<size_t>(m - 1)]) + " " + std::to_string(d) + ", " + y;
}

std::string with_thousands(const std::string& digits) {
  if (digits.empty() || digits.size() > 18) return digits;
  for (char c : digits)
    if (!std::isdigit(static_cast<unsigned char>(c))) return digits;
  std::string out;
  const size_t n = digits.size();
  for (size_t i = 0; i < n; ++i) {
    if (i && (n - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

}  // namespace envforge::generators::search
