// Shared pieces of the code suite: a scratch directory, a small local Python project with
// a profile, and the standard library restricted to chosen modules.
#pragma once

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "generators/code/profile.h"

namespace envforge::generators::code::testing {

struct ScratchDir {
  std::string path;
  ScratchDir() {
    char tmpl[] = "/tmp/envforge-code-test-XXXXXX";
    path = ::mkdtemp(tmpl);
    // the sandbox launcher may run as another user: world files here must be readable
    std::filesystem::permissions(path, std::filesystem::perms(0755));
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string write(const std::string& rel, const std::string& text) const {
    const auto full = std::filesystem::path(path) / rel;
    std::filesystem::create_directories(full.parent_path());
    std::ofstream(full) << text;
    return full.string();
  }
};

inline RepoProfile stdlib_only(const std::vector<std::string>& names) {
  RepoProfile p = stdlib_profile();
  std::vector<ProfileModule> keep;
  for (const auto& m : p.modules)
    for (const auto& n : names)
      if (m.source == n + ".py") keep.push_back(m);
  p.modules = keep;
  p.name += "-" + names.front();
  return p;
}

// mylib/calc.py with three small functions and a unittest file with several tests each.
inline std::string write_calc_project(const ScratchDir& dir) {
  dir.write("proj/mylib/__init__.py", "");
  dir.write("proj/mylib/calc.py",
            "def add(a, b):\n    return a + b\n\n\n"
            "def clamp(x, lo, hi):\n    if x < lo:\n        return lo\n    if x > hi:\n        return hi\n    return x\n\n\n"
            "def mean(xs):\n    if not xs:\n        raise ValueError('mean of nothing')\n    return sum(xs) / len(xs)\n");
  dir.write("proj/tests/__init__.py", "");
  dir.write("proj/tests/test_calc.py",
            "import unittest\nfrom mylib import calc\n\n\n"
            "class AddTest(unittest.TestCase):\n"
            "    def test_small(self):\n        self.assertEqual(calc.add(2, 3), 5)\n\n"
            "    def test_negative(self):\n        self.assertEqual(calc.add(-2, -3), -5)\n\n"
            "    def test_zero(self):\n        self.assertEqual(calc.add(0, 7), 7)\n\n\n"
            "class ClampTest(unittest.TestCase):\n"
            "    def test_inside(self):\n        self.assertEqual(calc.clamp(5, 0, 10), 5)\n\n"
            "    def test_below(self):\n        self.assertEqual(calc.clamp(-4, 0, 10), 0)\n\n"
            "    def test_above(self):\n        self.assertEqual(calc.clamp(14, 0, 10), 10)\n\n\n"
            "class MeanTest(unittest.TestCase):\n"
            "    def test_mean(self):\n        self.assertEqual(calc.mean([1, 2, 3]), 2)\n\n"
            "    def test_one(self):\n        self.assertEqual(calc.mean([4]), 4)\n\n"
            "    def test_empty(self):\n        with self.assertRaises(ValueError):\n            calc.mean([])\n");
  return dir.write("calc_profile.json",
                   "{\"name\": \"calc\", \"root\": \"" + dir.path + "/proj\", \"modules\": [{\"source\": "
                   "\"mylib/calc.py\", \"test_file\": \"tests/test_calc.py\", \"test_module\": \"tests.test_calc\"}]}");
}

}  // namespace envforge::generators::code::testing
