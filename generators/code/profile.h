// Repository profiles: where a Python project's source tree is, which of its modules
// bugs may go into, and how their tests run (unittest test modules, by dotted name).
//
// A profile file is JSON:
//   {"name": "mylib", "root": "/path/to/project",
//    "modules": [{"source": "mylib/parse.py", "test_file": "tests/test_parse.py",
//                 "test_module": "tests.test_parse", "drop": ["mylib.parse"]}]}
// `root` is put on sys.path after the writable copy of the sources; `drop` names the
// modules a test run imports afresh (default: the source's own dotted name). A project
// tree that every box does not already see is bundled into the world database (up to
// kMaxBundledBytes of .py files); the standard library is seen in every box.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace envforge::generators::code {

inline constexpr std::size_t kMaxBundledBytes = 8u << 20;

struct ProfileModule {
  std::string source;       // relative to root, e.g. "bisect.py"
  std::string test_file;    // relative to root, e.g. "test/test_bisect.py"
  std::string test_module;  // dotted, importable from root, e.g. "test.test_bisect"
  std::vector<std::string> drop;
};

struct RepoProfile {
  std::string name;
  std::string root;
  bool root_in_box = false;   // every box sees `root` (system trees under /usr)
  std::vector<ProfileModule> modules;

  nlohmann::json module_json(const ProfileModule& m) const;
};

// The bundled profile: pure-Python standard-library modules with fast tests of their
// own (Debian's libpython3.11-testsuite). Throws std::runtime_error naming the missing
// file when the test suite is not installed.
RepoProfile stdlib_profile(const std::string& root = "/usr/lib/python3.11");

// Reads a profile file; throws std::runtime_error naming the file and the field.
RepoProfile load_profile(const std::string& path);
RepoProfile profile_from_json(const nlohmann::json& j, const std::string& origin);

// Every .py file of the tree (relative path -> text) for bundling; throws when the tree
// is larger than kMaxBundledBytes.
std::vector<std::pair<std::string, std::string>> bundle_tree(const RepoProfile& profile);

}  // namespace envforge::generators::code
