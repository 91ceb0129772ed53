// Content-addressed ids: lowercase hex SHA-256 of canonical JSON or of raw bytes.
#pragma once

#include <openssl/types.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "data/records.h"

namespace envforge::data {

// Lowercase hex SHA-256 of the bytes.
std::string sha256_hex(std::string_view bytes);

// SHA-256 over pieces fed one after another: an id of assembled canonical text
// is hashed without building the text.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  Sha256& update(std::string_view bytes);
  // The digest of everything fed since construction or the last hex().
  std::string hex();

 private:
  EVP_MD_CTX* ctx_;
};

// Remembers the digests of the last few texts it hashed. Generators share one
// tools.py and one verify.py between many environments and tasks: a repeat
// then costs a comparison instead of a hash. Not thread-safe.
class DigestMemo {
 public:
  std::string sha256_hex(std::string_view bytes);

 private:
  struct Entry {
    std::string bytes;
    std::string hex;
  };
  std::array<Entry, 8> entries_;
  size_t next_ = 0;
};

// Canonical JSON: object keys sorted, no whitespace. Throws std::invalid_argument
// for strings that are not valid UTF-8 (they have no canonical form).
std::string canonical_json(const nlohmann::json& value);

// sha256_hex(canonical_json(value)).
std::string content_id(const nlohmann::json& value);

// Ids of the stored artefacts (what the Corpus fills into empty id fields).
std::string environment_id(const EnvironmentRecord& env);
std::string task_content_hash(const TaskRecord& task);   // the task alone, any environment

// A task's fields in canonical JSON, computed once and shared by its content
// hash and by what the corpus stores. `memo`, when given, remembers the
// verifier's digest for the next task that shares its code.
struct CanonicalTask {
  std::string answer_schema;
  std::string reference_solution;
  std::string metadata;
  std::string verifier_sha256;
  explicit CanonicalTask(const TaskRecord& task, DigestMemo* memo = nullptr);
};
std::string task_content_hash(const TaskRecord& task, const CanonicalTask& canonical);

// The same for an environment's env.json and tools ([{"name","schema"}]).
struct CanonicalEnvironment {
  std::string env_json;
  std::string tools;
  std::string tools_code_sha256;
  std::string world_db_sha256;
  explicit CanonicalEnvironment(const EnvironmentRecord& env, DigestMemo* memo = nullptr);
};
std::string environment_id(const EnvironmentRecord& env, const CanonicalEnvironment& canonical);
std::string task_id(const std::string& environment_id, const TaskRecord& task);
// The same from a known content hash.
std::string task_id(std::string_view environment_id, std::string_view content_hash);
std::string validation_id(const std::string& task_id, const ValidationRecord& v);
std::string rollout_id(const std::string& task_id, const RolloutRecord& r);
// The same with the trajectory already in canonical JSON.
std::string rollout_id(std::string_view task_id, const RolloutRecord& r,
                       std::string_view canonical_trajectory);
std::string audit_id(const AuditRecord& a);

// Key of one work item of a job, independent of the run that makes it:
// content id of {category, seed, index, generator_version}.
std::string work_item_key(std::string_view category, uint64_t seed, uint64_t index,
                          std::string_view generator_version);

}  // namespace envforge::data
