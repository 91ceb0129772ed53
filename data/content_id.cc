#include "data/content_id.h"

#include <openssl/evp.h>

#include <cstring>
#include <stdexcept>

namespace envforge::data {

namespace {

// Fetched once: passing EVP_sha256() would look the algorithm up on every digest.
const EVP_MD* sha256_md() {
  static const EVP_MD* md = [] {
    EVP_MD* m = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    if (!m) throw std::runtime_error("sha256: OpenSSL has no SHA256");
    return m;
  }();
  return md;
}

}  // namespace

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (!ctx_ || EVP_DigestInit_ex2(ctx_, sha256_md(), nullptr) != 1) {
    EVP_MD_CTX_free(ctx_);
    throw std::runtime_error("sha256: OpenSSL digest initialisation failed");
  }
}

Sha256::~Sha256() { EVP_MD_CTX_free(ctx_); }

Sha256& Sha256::update(std::string_view bytes) {
  if (EVP_DigestUpdate(ctx_, bytes.data(), bytes.size()) != 1)
    throw std::runtime_error("sha256: OpenSSL digest update failed");
  return *this;
}

std::string Sha256::hex() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx_, digest, &len) != 1 ||
      EVP_DigestInit_ex2(ctx_, sha256_md(), nullptr) != 1)
    throw std::runtime_error("sha256: OpenSSL digest final failed");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(len * 2, '0');
  for (unsigned int i = 0; i < len; ++i) {
    out[2 * i] = kHex[digest[i] >> 4];
    out[2 * i + 1] = kHex[digest[i] & 0xf];
  }
  return out;
}

std::string sha256_hex(std::string_view bytes) {
  thread_local Sha256 hasher;
  return hasher.update(bytes).hex();
}

std::string DigestMemo::sha256_hex(std::string_view bytes) {
  // Large texts are hashed without being kept: the memo is for shared code.
  constexpr size_t kMaxKept = size_t{1} << 20;
  for (const auto& e : entries_)
    if (!e.hex.empty() && e.bytes.size() == bytes.size() &&
        std::memcmp(e.bytes.data(), bytes.data(), bytes.size()) == 0)
      return e.hex;
  std::string hex = data::sha256_hex(bytes);
  if (bytes.size() <= kMaxKept) {
    entries_[next_] = {std::string(bytes), hex};
    next_ = (next_ + 1) % entries_.size();
  }
  return hex;
}

std::string canonical_json(const nlohmann::json& value) {
  // nlohmann::json keeps object keys in a std::map, so dump() is already sorted.
  try {
    return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::strict);
  } catch (const nlohmann::json::type_error& e) {
    throw std::invalid_argument(std::string("canonical JSON: ") + e.what());
  }
}

std::string content_id(const nlohmann::json& value) { return sha256_hex(canonical_json(value)); }

namespace {

// Appends `text` as a JSON string literal, escaped exactly as canonical_json()
// would. Printable ASCII without quotes or backslashes (hex digests, most
// names) is copied; anything else goes through nlohmann for its escaping and
// UTF-8 validation.
void append_json_string(std::string& out, std::string_view text) {
  bool plain = true;
  for (char ch : text) {
    auto u = static_cast<unsigned char>(ch);
    if (u < 0x20 || u > 0x7e || ch == '"' || ch == '\\') {
      plain = false;
      break;
    }
  }
  if (plain) {
    out += '"';
    out += text;
    out += '"';
  } else {
    out += canonical_json(nlohmann::json(text));
  }
}

}  // namespace

CanonicalEnvironment::CanonicalEnvironment(const EnvironmentRecord& env, DigestMemo* memo)
    : env_json(canonical_json(env.env_json)),
      tools_code_sha256(memo ? memo->sha256_hex(env.tools_code) : sha256_hex(env.tools_code)),
      world_db_sha256(sha256_hex(env.world_db)) {
  tools = "[";
  for (size_t i = 0; i < env.tools.size(); ++i) {
    if (i) tools += ',';
    tools += "{\"name\":";
    append_json_string(tools, env.tools[i].name);
    tools += ",\"schema\":";
    tools += canonical_json(env.tools[i].schema);
    tools += '}';
  }
  tools += "]";
}

std::string environment_id(const EnvironmentRecord& env) {
  return environment_id(env, CanonicalEnvironment(env));
}

// Equal to content_id() of the object below; fed to the hash piece by piece,
// keys in sorted order, so that large fields are serialized once and never
// copied. Large artefacts enter by their digest, so the id costs one pass over them.
std::string environment_id(const EnvironmentRecord& env, const CanonicalEnvironment& c) {
  std::string head = "{\"category\":";
  append_json_string(head, env.category);
  head += ",\"env_json\":";
  std::string mid = ",\"generator_name\":";
  append_json_string(mid, env.generator_name);
  mid += ",\"generator_version\":";
  append_json_string(mid, env.generator_version);
  mid += ",\"seed\":" + std::to_string(env.seed) + ",\"system_prompt\":";
  append_json_string(mid, env.system_prompt);
  mid += ",\"tools\":";
  std::string tail = ",\"tools_code\":\"" + c.tools_code_sha256 + "\",\"world_db\":\"" +
                     c.world_db_sha256 + "\"}";
  thread_local Sha256 hasher;
  return hasher.update(head).update(c.env_json).update(mid).update(c.tools).update(tail).hex();
}

CanonicalTask::CanonicalTask(const TaskRecord& task, DigestMemo* memo)
    : answer_schema(canonical_json(task.answer_schema)),
      reference_solution(canonical_json(task.reference_solution)),
      metadata(canonical_json(task.metadata)),
      verifier_sha256(memo ? memo->sha256_hex(task.verifier_code)
                           : sha256_hex(task.verifier_code)) {}

std::string task_content_hash(const TaskRecord& task) {
  return task_content_hash(task, CanonicalTask(task));
}

std::string task_content_hash(const TaskRecord& task, const CanonicalTask& c) {
  std::string head = "{\"answer_schema\":";
  std::string mid = ",\"difficulty\":" + std::to_string(task.difficulty) + ",\"metadata\":";
  std::string prompt = ",\"prompt\":";
  append_json_string(prompt, task.prompt);
  prompt += ",\"reference_solution\":";
  std::string tail = ",\"verifier_code\":\"" + c.verifier_sha256 + "\"}";
  thread_local Sha256 hasher;
  return hasher.update(head)
      .update(c.answer_schema)
      .update(mid)
      .update(c.metadata)
      .update(prompt)
      .update(c.reference_solution)
      .update(tail)
      .hex();
}

std::string task_id(const std::string& environment_id, const TaskRecord& task) {
  if (!task.content_hash.empty()) return task_id(environment_id, std::string_view(task.content_hash));
  return task_id(environment_id, std::string_view(task_content_hash(task)));
}

// content_id({{"environment_id", ...}, {"content_hash", ...}}), assembled.
std::string task_id(std::string_view environment_id, std::string_view content_hash) {
  std::string text = "{\"content_hash\":";
  append_json_string(text, content_hash);
  text += ",\"environment_id\":";
  append_json_string(text, environment_id);
  text += '}';
  return sha256_hex(text);
}

// content_id({{"task_id", ...}, {"check", ...}, {"attempt", ...}}), assembled.
std::string validation_id(const std::string& task_id, const ValidationRecord& v) {
  std::string text = "{\"attempt\":" + std::to_string(v.attempt) + ",\"check\":";
  append_json_string(text, v.check);
  text += ",\"task_id\":";
  append_json_string(text, task_id);
  text += '}';
  return sha256_hex(text);
}

std::string rollout_id(const std::string& task_id, const RolloutRecord& r) {
  return rollout_id(task_id, r, canonical_json(r.trajectory));
}

// content_id({{"task_id", ...}, {"model", ...}, {"attempt", ...}, {"trajectory", ...}}).
std::string rollout_id(std::string_view task_id, const RolloutRecord& r,
                       std::string_view canonical_trajectory) {
  std::string head = "{\"attempt\":" + std::to_string(r.attempt) + ",\"model\":";
  append_json_string(head, r.model);
  head += ",\"task_id\":";
  append_json_string(head, task_id);
  head += ",\"trajectory\":";
  thread_local Sha256 hasher;
  return hasher.update(head).update(canonical_trajectory).update("}").hex();
}

std::string audit_id(const AuditRecord& a) {
  return content_id({{"task_id", a.task_id},
                     {"environment_id", a.environment_id},
                     {"who", a.who},
                     {"verdict", a.verdict},
                     {"notes", a.notes},
                     {"created_at_ms", a.created_at_ms}});
}

std::string work_item_key(std::string_view category, uint64_t seed, uint64_t index,
                          std::string_view generator_version) {
  return content_id({{"category", category},
                     {"seed", seed},
                     {"index", index},
                     {"generator_version", generator_version}});
}

const char* to_string(TaskStatus status) {
  return status == TaskStatus::kUsable ? "usable" : "rejected";
}

std::optional<TaskStatus> task_status_from_string(const std::string& text) {
  if (text == "usable") return TaskStatus::kUsable;
  if (text == "rejected") return TaskStatus::kRejected;
  return std::nullopt;
}

}  // namespace envforge::data
