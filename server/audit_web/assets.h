// The audit web view's files, compiled in from server/web (see server/web/embed_web.cmake).
#pragma once

#include <string_view>
#include <vector>

namespace envforge::server {

struct WebAsset {
  std::string_view name;          // served at /audit/static/NAME
  std::string_view content_type;
  std::string_view bytes;
};

const std::vector<WebAsset>& web_assets();

}  // namespace envforge::server
