// The audit web view of `envforge serve`: a page at / (and /audit/) with its static files under
// /audit/static/, over a JSON API under /audit/api/ (server/PROTOCOL.md, "Audit web view").
#pragma once

#include <memory>
#include <string>

#include "data/audit_store.h"
#include "server/routes.h"

namespace envforge::server {

// Who audits rows name when the server has no tokens (loopback only), and the holder of the
// bare token of --token-file / ENVFORGE_SERVE_TOKEN.
inline constexpr const char* kLocalUser = "local";
inline constexpr const char* kUnnamedUser = "unnamed";

// The view's state: the corpus opened for audit reads and writes, made on the first request.
class AuditWeb {
 public:
  explicit AuditWeb(const std::string& corpus_path) : store(corpus_path) {}
  data::AuditStore store;
};

// "/", "/audit", "/audit/..." (the page, its files and its API).
bool is_audit_web_path(const std::string& path);
// The page and its static files: they hold no corpus data, so a browser may load them before
// it has a token (the API still needs one).
bool is_public_asset(const std::string& target);

void handle_audit_web(EpisodeService& service, const std::string& method, const std::string& path,
                      const std::string& query, const std::string& body, const RequestInfo& info, HttpDone done);

}  // namespace envforge::server
