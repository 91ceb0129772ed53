#include "data/export/verl_tool_config.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "data/corpus.h"
#include "data/export/trainer_rows.h"

namespace envforge::data::exports {

std::string verl_tool_config_yaml(const std::vector<nlohmann::json>& tool_schemas, const std::string& server_url) {
  std::string y =
      "# verl tool config written by `envforge export --format verl --tool-config`.\n"
      "# Every tool plays its episode on the envforge server below (clients/python/README.md).\n"
      "tools:\n";
  for (const auto& schema : tool_schemas) {
    y += "  - class_name: " + std::string(kVerlToolClass) + "\n";
    y += "    config:\n";
    y += "      type: native\n";
    y += "      server_url: " + json_text(server_url) + "\n";
    y += "      timeout_s: 30\n";
    y += "    tool_schema: " + json_text(schema) + "\n";
  }
  if (tool_schemas.empty()) y = y.substr(0, y.size() - 1) + " []\n";
  return y;
}

void write_file_atomically(const std::string& path, const std::string& bytes) {
  std::string tmp = path + ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) throw CorpusError("cannot write " + tmp + ": " + std::strerror(errno));
  bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size() && std::fflush(f) == 0 &&
            fsync(fileno(f)) == 0;
  int err = errno;
  std::fclose(f);
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    if (ok) err = errno;
    std::remove(tmp.c_str());
    throw CorpusError("cannot write " + path + ": " + std::strerror(err));
  }
}

}  // namespace envforge::data::exports
