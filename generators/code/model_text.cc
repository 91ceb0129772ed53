#include "generators/code/model_text.h"

#include <algorithm>
#include <cctype>

#include "generators/authored/text_util.h"

namespace envforge::generators::code {
namespace {

using nlohmann::json;

model::ChatMessage code_chat_message(std::string role, std::string content) {
  model::ChatMessage m;
  m.role = std::move(role);
  m.content = std::move(content);
  return m;
}

std::string code_lowercase(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string code_trimmed(const std::string& s) {
  const auto a = s.find_first_not_of(" \t\r\n");
  if (a == std::string::npos) return "";
  return s.substr(a, s.find_last_not_of(" \t\r\n") - a + 1);
}

// One request; the reply's content, or why there is none.
bool code_ask(agents::Backend& llm, const std::string& system, const std::string& user, int max_tokens,
              std::string& reply, std::string& error) {
  agents::ChatRequest req;
  req.messages.push_back(code_chat_message("system", system));
  req.messages.push_back(code_chat_message("user", user));
  req.sampling.max_tokens = max_tokens;
  try {
    reply = llm.chat(req).message.content;
  } catch (const std::exception& e) {
    error = std::string("the generator model failed: ") + e.what();
    return false;
  }
  // what goes into JSON and the corpus must be valid UTF-8
  reply = authored::to_valid_utf8(reply);
  return true;
}

constexpr const char* kRewriteSystem =
    "You help build debugging exercises. Rewrite the given Python function so that it contains "
    "one subtle bug: a small change in behaviour that a careful reader could find (an off-by-one, a "
    "wrong comparison, a missed case, a wrong variable). Keep the name, the signature, the "
    "decorators and the docstring; change only a few lines; add no comment about the change. "
    "Reply with the whole function in one ```python block and nothing else.";

constexpr const char* kIssueSystem =
    "You write bug reports for a Python repository, as a user who noticed wrong behaviour. Write "
    "two to six sentences of plain prose. Describe what goes wrong as the facts below show it. "
    "Never show or suggest code of a fix and never quote a diff.";

}  // namespace

json ask_rewrites(agents::Backend& llm, const json& targets) {
  json out = json::array();
  for (const auto& t : targets) {
    json r = {{"file", t.value("file", "")}, {"function", t.value("function", "")}};
    std::string reply, error;
    if (code_ask(llm, kRewriteSystem, "```python\n" + t.value("source", "") + "```", 2048, reply, error))
      r["reply"] = reply;
    else
      r["error"] = error;
    out.push_back(std::move(r));
  }
  return out;
}

std::string issue_text_problem(const std::string& text, const json& facts) {
  if (text.size() < 40) return "shorter than 40 characters";
  if (text.size() > 4000) return "longer than 4000 characters";
  const std::string lower = code_lowercase(text);
  for (const char* marker : {"--- a/", "+++ b/", "@@ -", "```diff"})
    if (lower.find(marker) != std::string::npos) return "contains a diff";
  const json& forbidden = facts.contains("forbidden") ? facts["forbidden"] : json::object();
  for (const auto& name : forbidden.value("tests", json::array()))
    if (name.is_string() && !name.get<std::string>().empty() &&
        lower.find(code_lowercase(name.get<std::string>())) != std::string::npos)
      return "names the test " + name.get<std::string>() + ", which this level withholds";
  for (const auto& line : forbidden.value("code", json::array())) {
    if (!line.is_string() || line.get<std::string>().empty()) continue;
    if (text.find(line.get<std::string>()) != std::string::npos) return "shows a line of the diff";
  }
  return "";
}

json write_issue(agents::Backend& llm, const json& facts) {
  json record = {{"accepted", false}};
  std::string user = "Modules: " + facts.value("modules", "") + "\n";
  const std::string mode = facts.value("mode", "symptom");
  if (mode == "traceback") {
    user += "A test fails with this output:\n" + facts.value("trace", "") + "\n";
  } else if (mode == "test_names") {
    std::string names;
    for (const auto& t : facts.value("failing_tests", json::array())) names += (names.empty() ? "" : ", ") + t.get<std::string>();
    user += "Failing tests: " + names + "\nThe failure reads: " + facts.value("symptom", "") + "\n";
  } else {
    user += "Some checks that used to pass now report: " + facts.value("symptom", "") + "\n" +
            (facts.value("several_bugs", false) ? "There may be more than one bug.\n" : "") +
            "Describe only the symptom: do not name any test, test file, test class or test method.\n";
  }
  std::string reply, error;
  if (!code_ask(llm, kIssueSystem, user, 700, reply, error)) {
    record["reason"] = error;
    return record;
  }
  const std::string text = code_trimmed(reply);
  record["text"] = authored::clip_text(text, 4200);
  const std::string problem = issue_text_problem(text, facts);
  if (!problem.empty()) {
    record["reason"] = problem;
    return record;
  }
  record["accepted"] = true;
  record["reason"] = "";
  return record;
}

}  // namespace envforge::generators::code
