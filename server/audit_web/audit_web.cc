// Routing of the audit web view: the page and its files, then the JSON API (audit_api.cc).
#include "server/audit_web/audit_web.h"

#include "server/audit_web/assets.h"
#include "server/audit_web/audit_api.h"
#include "server/episodes.h"

namespace envforge::server {

AuditWeb& EpisodeService::audit_web() {
  std::lock_guard lock(audit_web_mu_);
  if (!audit_web_) audit_web_ = std::make_unique<AuditWeb>(options_.corpus);
  return *audit_web_;
}

namespace {

constexpr const char* kStaticPrefix = "/audit/static/";
constexpr const char* kApiPrefix = "/audit/api/";

// The page runs only its own files: no inline script, nothing from elsewhere.
constexpr const char* kPagePolicy =
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

bool is_page(const std::string& path) { return path == "/" || path == "/audit" || path == "/audit/"; }

const WebAsset* find_asset(std::string_view name) {
  for (const auto& a : web_assets())
    if (a.name == name) return &a;
  return nullptr;
}

HttpReply asset_reply(const WebAsset& a) {
  HttpReply r;
  r.content_type = std::string(a.content_type);
  r.raw = std::string(a.bytes);
  r.headers = {{"Cache-Control", "no-cache"}, {"X-Content-Type-Options", "nosniff"}};
  if (a.name == "index.html") {
    r.headers.emplace_back("Content-Security-Policy", kPagePolicy);
    r.headers.emplace_back("Referrer-Policy", "no-referrer");
  }
  return r;
}

}  // namespace

bool is_audit_web_path(const std::string& path) {
  return is_page(path) || path.rfind("/audit/", 0) == 0;
}

bool is_public_asset(const std::string& target) {
  const std::string path = target.substr(0, target.find('?'));
  return is_page(path) || path.rfind(kStaticPrefix, 0) == 0;
}

void handle_audit_web(EpisodeService& service, const std::string& method, const std::string& path,
                      const std::string& query, const std::string& body, const RequestInfo& info, HttpDone done) {
  if (is_page(path) || path.rfind(kStaticPrefix, 0) == 0) {
    if (method != "GET" && method != "HEAD") return done(http_error(405, "METHOD_NOT_ALLOWED", path + " takes GET"));
    const std::string name = is_page(path) ? "index.html" : path.substr(std::string(kStaticPrefix).size());
    const WebAsset* a = find_asset(name);
    if (!a) return done(http_error(404, "NOT_FOUND", "no file " + path));
    return done(asset_reply(*a));
  }
  if (path.rfind(kApiPrefix, 0) == 0)
    return handle_audit_api(service, method, path.substr(std::string(kApiPrefix).size()), query, body,
                            info, std::move(done));
  done(http_error(404, "NOT_FOUND", "no route " + path));
}

}  // namespace envforge::server
