// Routing of the audit web view: the page and its files, then the JSON API (audit_api.cc).
#include "server/audit_web/audit_web.h"

#include "server/audit_web/assets.h"
#include "server/audit_web/audit_api.h"
#include "server/episodes.h"
#include "server/server.h"

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

// The host of a Host header ("127.0.0.1:8000", "[::1]:8000", "localhost").
std::string host_name(const std::string& header) {
  if (!header.empty() && header[0] == '[') return header.substr(1, header.find(']') - 1);
  return header.substr(0, header.find(':'));
}

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
  // Without tokens anyone who reaches the port may audit, which is safe only while "anyone" is
  // this machine: a page of another site that renames itself to 127.0.0.1 (DNS rebinding)
  // still sends its own name as Host, and is refused.
  if (info.user == kLocalUser && !is_loopback_host(host_name(info.host)))
    return done(http_error(403, "FORBIDDEN_HOST", "without a token the audit view answers only requests addressed to "
                                                  "a loopback name (Host: 127.0.0.1, localhost or [::1])"));
  if (is_page(path) || path.rfind(kStaticPrefix, 0) == 0) {
    if (method != "GET") return done(http_error(405, "METHOD_NOT_ALLOWED", path + " takes GET"));
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
