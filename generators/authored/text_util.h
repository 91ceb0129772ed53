// Small text helpers for what the generator agent and its sandbox runs produce: output that
// may not be UTF-8 (the corpus and the model need valid UTF-8), base64 read-back of files.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace envforge::generators::authored {

bool is_valid_utf8(std::string_view text);

// Invalid UTF-8 sequences replaced by U+FFFD.
std::string to_valid_utf8(std::string_view text);

// At most `max_chars` bytes (cut at a character boundary), with a note of what was left out.
std::string clip_text(const std::string& text, std::size_t max_chars);

// Standard base64 (RFC 4648, padding required); nullopt for anything else.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace envforge::generators::authored
