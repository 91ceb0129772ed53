#include "generators/code/profile.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace envforge::generators::code {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Modules whose tests are pure Python, deterministic and run in well under a second.
constexpr const char* kStdlibModules[] = {"bisect", "textwrap", "fractions", "colorsys", "shlex",
                                          "fnmatch", "graphlib", "getopt", "string", "operator",
                                          "heapq"};

bool safe_relative(const std::string& p) {
  if (p.empty() || p.front() == '/' || p.find('\0') != std::string::npos) return false;
  for (const auto& part : fs::path(p))
    if (part == "..") return false;
  return true;
}

std::string dotted(const std::string& source) {
  std::string s = source.substr(0, source.size() - 3);
  if (s.size() > 9 && s.substr(s.size() - 9) == "/__init__") s.resize(s.size() - 9);
  std::replace(s.begin(), s.end(), '/', '.');
  return s;
}

}  // namespace

json RepoProfile::module_json(const ProfileModule& m) const {
  return {{"source", m.source}, {"test_file", m.test_file}, {"test_module", m.test_module}, {"drop", m.drop}};
}

RepoProfile stdlib_profile(const std::string& root) {
  RepoProfile p;
  p.name = "python3.11-stdlib";
  p.root = root;
  p.root_in_box = true;
  for (const char* name : kStdlibModules) {
    ProfileModule m{std::string(name) + ".py", std::string("test/test_") + name + ".py",
                    std::string("test.test_") + name, {name}};
    for (const auto& f : {m.source, m.test_file})
      if (!fs::is_regular_file(fs::path(root) / f))
        throw std::runtime_error("stdlib profile: " + (fs::path(root) / f).string() +
                                 " is missing (install Debian's libpython3.11-testsuite)");
    p.modules.push_back(std::move(m));
  }
  return p;
}

RepoProfile profile_from_json(const json& j, const std::string& origin) {
  auto need = [&](const json& o, const char* key, const std::string& where) -> std::string {
    if (!o.is_object() || !o.contains(key) || !o[key].is_string() || o[key].get<std::string>().empty())
      throw std::runtime_error(origin + ": " + where + "\"" + key + "\" must be a non-empty string");
    return o[key].get<std::string>();
  };
  RepoProfile p;
  p.name = need(j, "name", "");
  p.root = need(j, "root", "");
  if (!fs::is_directory(p.root)) throw std::runtime_error(origin + ": root " + p.root + " is not a directory");
  p.root_in_box = j.value("root_in_box", false);
  if (!j.contains("modules") || !j["modules"].is_array() || j["modules"].empty())
    throw std::runtime_error(origin + ": \"modules\" must be a non-empty list");
  for (size_t i = 0; i < j["modules"].size(); ++i) {
    const json& mj = j["modules"][i];
    const std::string where = "modules[" + std::to_string(i) + "].";
    ProfileModule m{need(mj, "source", where), need(mj, "test_file", where), need(mj, "test_module", where), {}};
    for (const auto& f : {m.source, m.test_file}) {
      if (!safe_relative(f) || f.size() < 4 || f.substr(f.size() - 3) != ".py")
        throw std::runtime_error(origin + ": " + where + " path " + f + " must be a relative .py path inside root");
      if (!fs::is_regular_file(fs::path(p.root) / f))
        throw std::runtime_error(origin + ": " + where + " " + (fs::path(p.root) / f).string() + " does not exist");
    }
    if (mj.contains("drop")) {
      if (!mj["drop"].is_array()) throw std::runtime_error(origin + ": " + where + "drop must be a list of names");
      for (const auto& d : mj["drop"]) {
        if (!d.is_string()) throw std::runtime_error(origin + ": " + where + "drop must be a list of names");
        m.drop.push_back(d.get<std::string>());
      }
    } else {
      m.drop.push_back(dotted(m.source));
    }
    p.modules.push_back(std::move(m));
  }
  return p;
}

RepoProfile load_profile(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("profile " + path + ": cannot be read");
  std::stringstream ss;
  ss << in.rdbuf();
  json j = json::parse(ss.str(), nullptr, false);
  if (j.is_discarded()) throw std::runtime_error("profile " + path + ": not valid JSON");
  return profile_from_json(j, "profile " + path);
}

std::vector<std::pair<std::string, std::string>> bundle_tree(const RepoProfile& p) {
  std::vector<std::pair<std::string, std::string>> out;
  std::size_t total = 0;
  for (auto it = fs::recursive_directory_iterator(p.root, fs::directory_options::skip_permission_denied);
       it != fs::recursive_directory_iterator(); ++it) {
    const auto name = it->path().filename().string();
    if (it->is_directory() && (name.front() == '.' || name == "__pycache__")) {
      it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file() || it->is_symlink() || it->path().extension() != ".py") continue;
    std::ifstream in(it->path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    total += ss.str().size();
    if (total > kMaxBundledBytes)
      throw std::runtime_error("profile " + p.name + ": the .py files under " + p.root + " exceed " +
                               std::to_string(kMaxBundledBytes >> 20) + " MiB; give a smaller root");
    out.emplace_back(fs::relative(it->path(), p.root).string(), ss.str());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace envforge::generators::code
