#include "generators/search/chat.h"
#include "generators/search/rewrite.h"

#include <algorithm>
#include <cctype>

namespace envforge::generators::search {
namespace {

std::string lowercase_of(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The names and values the question must keep: its start, its constraints' values.
std::vector<std::string> must_keep(const World& w, const Question& q) {
  std::vector<std::string> out;
  if (q.start >= 0) out.push_back(w.entities[static_cast<size_t>(q.start)].name);
  for (const auto& c : q.constraints)
    out.push_back(c.object >= 0 ? w.entities[static_cast<size_t>(c.object)].name : c.value);
  return out;
}

}  // namespace

nlohmann::json rewrite_question(agents::Backend& llm, const World& w, SearchTask& task) {
  nlohmann::json record = {{"templated", task.prompt}, {"accepted", false}};
  agents::ChatRequest req;
  req.messages.push_back(chat_message("system", "You rewrite templated questions into one natural English question. Keep every "
                                     "name, number and date exactly as written, keep every condition, add nothing, "
                                     "and never state the answer. Reply with the question only."));
  req.messages.push_back(chat_message("user", task.prompt));
  req.sampling.max_tokens = 256;
  std::string text;
  try {
    text = llm.chat(req).message.content;
  } catch (const std::exception& e) {
    record["reason"] = std::string("the generator model failed: ") + e.what();
    return record;
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  text.erase(0, std::min(text.size(), text.find_first_not_of(" \t\r\n\"")));
  if (!text.empty() && text.back() == '"') text.pop_back();
  record["rewritten"] = text;
  const std::string lower = lowercase_of(text);
  if (text.size() < 10 || text.size() > 600 || text.find('\n') != std::string::npos) {
    record["reason"] = "not one question of 10..600 characters";
    return record;
  }
  for (const auto& keep : must_keep(w, task.question))
    if (lower.find(lowercase_of(keep)) == std::string::npos) {
      record["reason"] = "drops '" + keep + "'";
      return record;
    }
  for (const auto& a : task.answers)
    if (lower.find(lowercase_of(a)) != std::string::npos) {
      record["reason"] = "gives the answer away";
      return record;
    }
  task.prompt = text;
  record["accepted"] = true;
  return record;
}

}  // namespace envforge::generators::search
