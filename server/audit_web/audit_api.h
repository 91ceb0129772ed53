// The JSON API of the audit web view, under /audit/api/ (`route` is the rest of the path).
#pragma once

#include <string>

#include "server/audit_web/audit_web.h"
#include "server/episodes.h"

namespace envforge::server {

void handle_audit_api(EpisodeService& service, const std::string& method, const std::string& route, const std::string& query,
                      const std::string& body, const RequestInfo& info, HttpDone done);

}  // namespace envforge::server
