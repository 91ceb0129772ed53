// A chat message of a role and text, for the generator model's one-shot requests.
#pragma once

#include <string>

#include "model/chat_message.h"

namespace envforge::generators::search {

inline model::ChatMessage chat_message(std::string role, std::string content) {
  model::ChatMessage m;
  m.role = std::move(role);
  m.content = std::move(content);
  return m;
}

}  // namespace envforge::generators::search
