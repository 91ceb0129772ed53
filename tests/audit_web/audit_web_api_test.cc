// The audit web view's API over a real `envforge serve` on loopback: overview, filters and
// paging, the task page, the world browser, verdicts (concurrent ones too), tokens with names,
// export, hostile parameters, and `envforge audit --web`.
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "tests/audit_web/audit_web_fixture.h"

namespace envforge::testing {
namespace {

std::string enc(const std::string& s) {
  std::string out;
  const char* hex = "0123456789ABCDEF";
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

HttpResult post_raw(uint16_t port, const std::string& target, const std::string& body, const std::string& type,
                    const std::string& token = "") {
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  http::request<http::string_body> req{http::verb::post, target, 11};
  req.set(http::field::host, "127.0.0.1");
  if (!type.empty()) req.set(http::field::content_type, type);
  if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
  req.body() = body;
  req.prepare_payload();
  http::write(stream, req);
  beast::flat_buffer buf;
  http::response<http::string_body> res;
  http::read(stream, buf, res);
  HttpResult r;
  r.status = static_cast<int>(res.result_int());
  r.raw = res.body();
  r.body = json::parse(r.raw, nullptr, false);
  return r;
}

HttpResult verdict(uint16_t port, const std::string& id, const std::string& v, const std::string& note,
                   const std::string& token = "") {
  return http_post(port, "/audit/api/task/" + id + "/verdict", {{"verdict", v}, {"note", note}}, token);
}

int64_t total_of(uint16_t port, const std::string& query) {
  auto r = http_get(port, "/audit/api/tasks?" + query);
  EXPECT_EQ(r.status, 200) << query << ": " << r.raw;
  return r.body.value("total", int64_t{-1});
}

class AuditWebApi : public ::testing::Test {
 protected:
  AuditCorpus corpus;
};

TEST_F(AuditWebApi, OverviewCountsEverythingAnAuditorLooksAt) {
  ServerProcess s(corpus.path, {"--log-level", "warn"});
  auto r = http_get(s.port(), "/audit/api/overview");
  ASSERT_EQ(r.status, 200) << r.raw;
  const json& o = r.body;
  EXPECT_EQ(o["tasks"], 8);
  EXPECT_EQ(o["by_category"]["trip"], 4);
  EXPECT_EQ(o["by_category"]["search"], 4);
  EXPECT_EQ(o["by_level"]["1"], 2);
  EXPECT_EQ(o["by_level"]["2"], 4);
  EXPECT_EQ(o["by_status"]["usable"], 6);
  EXPECT_EQ(o["by_status"]["rejected"], 2);
  EXPECT_EQ(o["reject_reasons"]["negative:wrong_city passed"], 2);
  ASSERT_EQ(o["validation_failures"].size(), 1u) << o.dump();
  EXPECT_EQ(o["validation_failures"][0]["reason"], "negative:wrong_city: wrong city accepted");
  EXPECT_EQ(o["validation_failures"][0]["count"], 2);
  EXPECT_EQ(o["duplicates"]["groups"], 1);
  EXPECT_EQ(o["duplicates"]["top"][0]["count"], 2);
  // Level 1: two tasks at 0.75 (bin 7); level 2: two at 0 (bin 0).
  EXPECT_EQ(o["pass_rates"]["histograms"]["1"][7], 2) << o.dump();
  EXPECT_EQ(o["pass_rates"]["histograms"]["2"][0], 2) << o.dump();
  EXPECT_EQ(o["pass_rates"]["tasks_with_rollouts"], 4);
  EXPECT_EQ(o["rollouts"], 16);
  EXPECT_TRUE(o["server_ms"].is_number());
  EXPECT_EQ(http_get(s.port(), "/audit/api/overview?x=1").status, 400);
  EXPECT_EQ(http_post(s.port(), "/audit/api/overview", json::object()).status, 405);
}

TEST_F(AuditWebApi, ServesThePageAndItsFilesFromTheBinary) {
  ServerProcess s(corpus.path, {"--log-level", "warn"});
  for (const char* path : {"/", "/audit/", "/audit/static/app.js", "/audit/static/app.css",
                           "/audit/static/chart.umd.min.js", "/audit/static/highlight.min.js",
                           "/audit/static/github.min.css"}) {
    auto r = http_get(s.port(), path);
    EXPECT_EQ(r.status, 200) << path;
    EXPECT_GT(r.raw.size(), 500u) << path;
  }
  EXPECT_NE(http_get(s.port(), "/").raw.find("<script type=\"module\" src=\"/audit/static/app.js\">"), std::string::npos);
  EXPECT_EQ(http_get(s.port(), "/audit/static/nothing.js").status, 404);
  EXPECT_EQ(http_get(s.port(), "/audit/static/../../etc/passwd").status, 404);
  EXPECT_EQ(http_get(s.port(), "/audit/api/nothing").status, 404);
  EXPECT_EQ(http_post(s.port(), "/", json::object()).status, 405);
  // The existing routes are unchanged.
  EXPECT_EQ(http_get(s.port(), "/health").body["status"], "healthy");
  EXPECT_EQ(http_get(s.port(), "/tasks").body["total"], 6);
}

HttpResult get_with_host(uint16_t port, const std::string& target, const std::string& host) {
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  http::request<http::string_body> req{http::verb::get, target, 11};
  req.set(http::field::host, host);
  http::write(stream, req);
  beast::flat_buffer buf;
  http::response<http::string_body> res;
  http::read(stream, buf, res);
  return {static_cast<int>(res.result_int()), json::parse(res.body(), nullptr, false), res.body()};
}

TEST_F(AuditWebApi, WithoutATokenOnlyLoopbackHostNamesAreAnswered) {
  ServerProcess s(corpus.path, {"--log-level", "warn"});
  for (const std::string host : std::vector<std::string>{"127.0.0.1", "localhost:8000", "[::1]:1234", "127.0.0.1:" + std::to_string(s.port())})
    EXPECT_EQ(get_with_host(s.port(), "/audit/api/overview", host).status, 200) << host;
  for (const std::string host : {"evil.example", "evil.example:80", "", "10.0.0.1", "[::2]"}) {
    auto r = get_with_host(s.port(), "/audit/api/overview", host);
    EXPECT_EQ(r.status, 403) << host;
    EXPECT_EQ(r.body.value("code", ""), "FORBIDDEN_HOST") << host;
    EXPECT_EQ(get_with_host(s.port(), "/", host).status, 403) << host;
  }
}

TEST_F(AuditWebApi, FiltersAndKeysetPagingCoverEveryTaskOnce) {
  ServerProcess s(corpus.path, {"--log-level", "warn"});
  const uint16_t p = s.port();
  EXPECT_EQ(total_of(p, ""), 8);
  EXPECT_EQ(total_of(p, "category=trip"), 4);
  EXPECT_EQ(total_of(p, "level=1"), 2);
  EXPECT_EQ(total_of(p, "category=search&level=2"), 2);
  EXPECT_EQ(total_of(p, "status=rejected"), 2);
  EXPECT_EQ(total_of(p, "status=usable&level=3"), 0);
  EXPECT_EQ(total_of(p, "pass=0.5-1"), 2);
  EXPECT_EQ(total_of(p, "pass=0-0"), 2);
  EXPECT_EQ(total_of(p, "pass=0-1"), 4);
  EXPECT_EQ(total_of(p, "pass=none"), 4);
  EXPECT_EQ(total_of(p, "audit=none"), 8);
  EXPECT_EQ(total_of(p, "q=HOTEL"), 1);
  EXPECT_EQ(total_of(p, "q=" + enc("<script>")), 1);
  EXPECT_EQ(total_of(p, "q=100%25"), 0);  // % is a literal, not a wildcard
  EXPECT_EQ(total_of(p, "q=" + enc("' OR 1=1 --")), 0);
  EXPECT_EQ(total_of(p, "category=" + enc("trip' OR '1'='1")), 0);
  const json dup = http_get(p, "/audit/api/overview").body["duplicates"]["top"][0];
  EXPECT_EQ(total_of(p, "hash=" + dup["content_hash"].get<std::string>()), 2);

  auto one = http_get(p, "/audit/api/tasks?level=1&pass=0.5-1").body;
  ASSERT_EQ(one["tasks"].size(), 2u);
  EXPECT_DOUBLE_EQ(one["tasks"][0]["pass_rate"].get<double>(), 0.75);
  EXPECT_EQ(one["tasks"][0]["rollouts"], 4);

  std::set<std::string> seen;
  std::string after = "0";
  int pages = 0;
  for (;;) {
    auto r = http_get(p, "/audit/api/tasks?limit=3&after=" + after);
    ASSERT_EQ(r.status, 200) << r.raw;
    for (const auto& t : r.body["tasks"]) EXPECT_TRUE(seen.insert(t["id"].get<std::string>()).second);
    ++pages;
    if (r.body["next_after"].is_null()) break;
    after = std::to_string(r.body["next_after"].get<int64_t>());
    ASSERT_LT(pages, 10);
  }
  EXPECT_EQ(seen.size(), 8u);
  EXPECT_EQ(pages, 3);
}

TEST_F(AuditWebApi, HostileParametersGetA400NamingTheParameter) {
  ServerProcess s(corpus.path, {"--log-level", "warn"});
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"/audit/api/tasks?level=abc", "level"},
      {"/audit/api/tasks?level=-1", "level"},
      {"/audit/api/tasks?level=99999999999999999999", "level"},
      {"/audit/api/tasks?limit=0", "limit"},
      {"/audit/api/tasks?limit=100000", "limit"},
      {"/audit/api/tasks?after=-5", "after"},
      {"/audit/api/tasks?after=1e3", "after"},
      {"/audit/api/tasks?pass=2-3", "pass"},
      {"/audit/api/tasks?pass=0.7-0.2", "pass"},
      {"/audit/api/tasks?pass=abc", "pass"},
      {"/audit/api/tasks?pass=nan-1", "pass"},
      {"/audit/api/tasks?status=deleted", "status"},
      {"/audit/api/tasks?audit=maybe", "audit"},
      {"/audit/api/tasks?drop=1", "drop"},
      {"/audit/api/tasks?category=a&category=b", "category"},
      {"/audit/api/tasks?q=%ZZ", "q"},
      {"/audit/api/tasks?q=%4", "q"},
      {"/audit/api/tasks?q=%00", "q"},
      {"/audit/api/tasks?q=" + std::string(300, 'x'), "q"},
      {"/audit/api/tasks?hash=" + enc("x'; DROP TABLE tasks;--"), "hash"},
      {"/audit/api/export?format=xml", "format"},
      {"/audit/api/task/" + enc("../../etc/passwd"), "task id"},
      {"/audit/api/task/" + std::string(200, 'a'), "task id"},
  };
  for (const auto& [target, parameter] : cases) {
    auto r = http_get(s.port(), target);
    EXPECT_EQ(r.status, 400) << target << ": " << r.raw;
    EXPECT_EQ(r.body.value("parameter", ""), parameter) << target << ": " << r.raw;
    EXPECT_NE(r.body.value("detail", "").find(parameter), std::string::npos) << r.raw;
  }
  const std::string id = audit_task_id(corpus.path, "level 2 in world 0");
  for (const auto& [q, parameter] : std::vector<std::pair<std::string, std::string>>{
           {"", "table"}, {"table=nope", "table"}, {"table=hotels&limit=100000", "limit"},
           {"table=hotels&offset=-1", "offset"}, {"table=" + enc("hotels; DROP TABLE hotels"), "table"}}) {
    auto r = http_get(s.port(), "/audit/api/task/" + id + "/world?" + q);
    EXPECT_EQ(r.status, 400) << q << ": " << r.raw;
    EXPECT_EQ(r.body.value("parameter", ""), parameter) << q;
  }
  EXPECT_EQ(http_get(s.port(), "/audit/api/task/no-such-task").status, 404);
  // Nothing was written by any of it.
  EXPECT_EQ(total_of(s.port(), ""), 8);
}

TEST_F(AuditWebApi, TaskPageHoldsEverythingAndTheWorldIsBrowsable) {
  ServerProcess s(corpus.path, {"--log-level", "warn"});
  const std::string id = audit_task_id(corpus.path, "<script>");
  auto r = http_get(s.port(), "/audit/api/task/" + id);
  ASSERT_EQ(r.status, 200) << r.raw;
  const json& v = r.body;
  EXPECT_EQ(v["task"]["prompt"], kHostilePrompt);
  EXPECT_EQ(v["task"]["reference_solution"], "Hotel 3");
  EXPECT_NE(v["task"]["verifier_code"].get<std::string>().find("def verify"), std::string::npos);
  EXPECT_DOUBLE_EQ(v["task"]["pass_rate"].get<double>(), 0.75);
  EXPECT_EQ(v["environment"]["tools"][0]["function"]["name"], "search_hotels");
  ASSERT_EQ(v["validations"].size(), 3u);
  const json reference = v["validations"][2];  // by check name: the two negatives first
  EXPECT_EQ(reference["check"], "reference");
  EXPECT_EQ(reference["expected"], "pass");
  EXPECT_EQ(reference["got"], "pass");
  EXPECT_EQ(v["validations"][0]["expected"], "fail");
  EXPECT_EQ(v["validations"][0]["got"], "fail");
  ASSERT_EQ(v["rollouts"].size(), 4u);
  EXPECT_EQ(v["rollouts"][0]["trajectory"][2]["tool_calls"][0]["function"]["name"], "search_hotels");
  EXPECT_EQ(v["rollouts"][0]["trajectory"][3]["role"], "tool");
  std::map<std::string, int64_t> tables;
  for (const auto& t : v["world"]["tables"]) tables[t["name"]] = t["rows"];
  EXPECT_EQ(tables["hotels"], 120);
  EXPECT_EQ(tables["odd \"name"], 1);

  auto w = http_get(s.port(), "/audit/api/task/" + id + "/world?table=hotels&offset=100&limit=50");
  ASSERT_EQ(w.status, 200) << w.raw;
  EXPECT_EQ(w.body["rows"].size(), 20u);
  EXPECT_EQ(w.body["total"], 120);
  EXPECT_EQ(w.body["columns"], json({"id", "name", "city", "price", "photo"}));
  auto first = http_get(s.port(), "/audit/api/task/" + id + "/world?table=hotels&limit=1").body["rows"][0];
  EXPECT_EQ(first[1]["truncated_from"], 5005) << first.dump().substr(0, 200);
  EXPECT_EQ(first[1]["text"].get<std::string>().size(), 2000u);
  EXPECT_EQ(first[4]["blob_bytes"], 16);
  auto odd = http_get(s.port(), "/audit/api/task/" + id + "/world?table=" + enc("odd \"name"));
  ASSERT_EQ(odd.status, 200) << odd.raw;
  EXPECT_EQ(odd.body["rows"][0][0], "<b>bold?</b>");
}

TEST_F(AuditWebApi, VerdictsAreAuditRowsAndRejectRestoreKeepsTheHistory) {
  const std::string id = audit_task_id(corpus.path, "level 2 in world 1");
  {
    ServerProcess s(corpus.path, {"--log-level", "warn"});
    const uint16_t p = s.port();
    EXPECT_EQ(http_get(p, "/audit/api/overview").body["audits"], 0);  // the overview is kept from here on
    auto good = verdict(p, id, "good", "looks right");
    ASSERT_EQ(good.status, 200) << good.raw;
    EXPECT_EQ(good.body["audit"]["who"], "local");
    auto bad = verdict(p, id, "bad", "the verifier accepts any city");
    ASSERT_EQ(bad.status, 200) << bad.raw;
    EXPECT_EQ(total_of(p, "audit=bad"), 1);
    auto o = http_get(p, "/audit/api/overview").body;  // the kept overview follows its own writes
    EXPECT_EQ(o["audits"], 2);
    EXPECT_EQ(o["audits_by_verdict"]["bad"], 1);
    EXPECT_EQ(total_of(p, "audit=good"), 0);  // the latest judgement counts
    EXPECT_EQ(total_of(p, "audit=none"), 7);

    EXPECT_EQ(post_raw(p, "/audit/api/task/" + id + "/verdict", R"({"verdict":"bad"})", "text/plain").status, 415);
    EXPECT_EQ(post_raw(p, "/audit/api/task/" + id + "/verdict", "{nope", "application/json").status, 400);
    EXPECT_EQ(verdict(p, id, "delete", "x").body.value("parameter", ""), "verdict");
    EXPECT_EQ(verdict(p, id, "reject", "  ").body.value("parameter", ""), "note");
    EXPECT_EQ(verdict(p, id, "good", std::string(5000, 'n')).body.value("parameter", ""), "note");
    EXPECT_EQ(http_post(p, "/audit/api/task/" + id + "/verdict", {{"verdict", "good"}, {"note", 5}}).status, 400);
    EXPECT_EQ(verdict(p, "no-such-task", "good", "").status, 404);
    EXPECT_EQ(http_get(p, "/audit/api/task/" + id + "/verdict").status, 405);

    auto rej = verdict(p, id, "reject", "verifier too lenient");
    ASSERT_EQ(rej.status, 200) << rej.raw;
    EXPECT_EQ(rej.body["status"], "rejected");
    EXPECT_EQ(rej.body["reject_reason"], "audit: verifier too lenient");
    EXPECT_EQ(verdict(p, id, "reject", "again").status, 409);
    EXPECT_EQ(total_of(p, "status=rejected"), 3);
    auto res = verdict(p, id, "restore", "fixed upstream");
    ASSERT_EQ(res.status, 200) << res.raw;
    EXPECT_EQ(res.body["status"], "usable");
    EXPECT_EQ(verdict(p, id, "restore", "again").status, 409);
    auto page = http_get(p, "/audit/api/task/" + id).body;
    EXPECT_EQ(page["audits"].size(), 4u);
    EXPECT_EQ(http_get(p, "/audit/api/overview").body["by_status"]["rejected"], 2);
    EXPECT_EQ(page["task"]["status"], "usable");
    // ... and another writer's. Last on purpose: a second process that closes the corpus while
    // the server runs may take itself for the last user and remove the WAL under the server
    // (Corpus::open reads the file header through an ifstream, whose close drops the server
    // process's SQLite locks), so later server writes would be lost -- a defect of data/.
    {
      data::Corpus other = data::Corpus::open(corpus.path);
      other.record_audit({"", id, "", "script", "ok", "from elsewhere", 0});
    }
    EXPECT_EQ(http_get(p, "/audit/api/overview").body["audits"], 5);
  }
  data::Corpus c = open_read_only(corpus.path);
  auto audits = c.audits_of_task(id);
  ASSERT_EQ(audits.size(), 5u);
  EXPECT_EQ(audits[4].who, "script");
  audits.pop_back();  // the other writer's
  EXPECT_EQ(audits[0].verdict, "good");
  EXPECT_EQ(audits[1].verdict, "bad");
  EXPECT_EQ(audits[1].notes, "the verifier accepts any city");
  EXPECT_EQ(audits[2].verdict, "reject");
  EXPECT_EQ(audits[2].notes, "verifier too lenient");
  EXPECT_EQ(audits[3].verdict, "restore");
  EXPECT_NE(audits[3].notes.find("fixed upstream"), std::string::npos);
  EXPECT_NE(audits[3].notes.find("was rejected: audit: verifier too lenient"), std::string::npos);
  for (const auto& a : audits) EXPECT_EQ(a.who, "local");
  auto t = c.task(id, false);
  EXPECT_EQ(t->status, data::TaskStatus::kUsable);
  EXPECT_EQ(t->reject_reason, "");
  // A task the generator rejected keeps its reason in the restore's notes.
  EXPECT_EQ(c.count_tasks({}), 8);
}

TEST_F(AuditWebApi, EpisodesStopSamplingATaskOnceItIsRejected) {
  ServerProcess s(corpus.path, {"--log-level", "warn"});
  const std::string id = audit_task_id(corpus.path, "search task of level 1");
  const json pick = {{"category", "search"}, {"difficulty", 1}, {"seed", 3}};
  auto before = http_post(s.port(), "/reset", pick);
  ASSERT_EQ(before.status, 200) << before.raw;
  EXPECT_EQ(before.body["observation"]["task_id"], id) << before.raw;
  ASSERT_EQ(verdict(s.port(), id, "reject", "broken verifier").status, 200);
  EXPECT_EQ(http_post(s.port(), "/reset", pick).status, 422);  // the only such task is rejected now
  ASSERT_EQ(verdict(s.port(), id, "restore", "fixed").status, 200);
  EXPECT_EQ(http_post(s.port(), "/reset", pick).body["observation"]["task_id"], id);
}

TEST_F(AuditWebApi, ConcurrentVerdictsAreAllRecordedAndOneRejectWins) {
  const std::string id = audit_task_id(corpus.path, "level 1 in world 1");
  const std::string other = audit_task_id(corpus.path, "level 2 in world 0");
  {
    ServerProcess s(corpus.path, {"--log-level", "warn"});
    std::vector<std::thread> threads;
    std::atomic<int> ok{0}, rejected_ok{0}, conflicts{0};
    for (int i = 0; i < 8; ++i)
      threads.emplace_back([&, i] {
        for (int k = 0; k < 10; ++k)
          if (verdict(s.port(), id, k % 2 ? "good" : "bad", "thread " + std::to_string(i)).status == 200) ++ok;
        const int st = verdict(s.port(), other, "reject", "race " + std::to_string(i)).status;
        if (st == 200) ++rejected_ok;
        if (st == 409) ++conflicts;
      });
    for (auto& t : threads) t.join();
    EXPECT_EQ(ok, 80);
    EXPECT_EQ(rejected_ok, 1);
    EXPECT_EQ(conflicts, 7);
  }
  data::Corpus c = open_read_only(corpus.path);
  EXPECT_EQ(c.audits_of_task(id).size(), 80u);
  EXPECT_EQ(c.audits_of_task(other).size(), 1u);
  EXPECT_EQ(c.task(other, false)->status, data::TaskStatus::kRejected);
}

TEST_F(AuditWebApi, TokensNameTheAuditorAndGuardTheApi) {
  {
    std::ofstream f(corpus.dir.file("tokens"));
    f << "# auditors\nalice:alice-token-1234\n\nbob:bob-token-56789\nlegacy-bare-token\n";
  }
  ServerProcess s(corpus.path, {"--token-file", corpus.dir.file("tokens"), "--log-level", "warn"});
  const uint16_t p = s.port();
  const std::string id = audit_task_id(corpus.path, "level 1 in world 1");
  EXPECT_EQ(http_get(p, "/audit/api/overview").status, 401);
  EXPECT_EQ(http_get(p, "/audit/api/overview", "wrong").status, 401);
  EXPECT_EQ(verdict(p, id, "bad", "no token").status, 401);
  EXPECT_EQ(http_get(p, "/").status, 200);  // the page holds no data: it asks for a token
  EXPECT_EQ(http_get(p, "/audit/static/app.js").status, 200);
  EXPECT_EQ(http_get(p, "/audit/api/whoami", "alice-token-1234").body["user"], "alice");
  EXPECT_EQ(verdict(p, id, "bad", "by bob", "bob-token-56789").body["audit"]["who"], "bob");
  EXPECT_EQ(verdict(p, id, "good", "by the bare token", "legacy-bare-token").body["audit"]["who"], "unnamed");
  EXPECT_EQ(http_get(p, "/tasks", "alice-token-1234").status, 200);
  auto audits = http_get(p, "/audit/api/task/" + id, "alice-token-1234").body["audits"];
  ASSERT_EQ(audits.size(), 2u);
  EXPECT_EQ(audits[0]["who"], "bob");
  EXPECT_EQ(audits[1]["who"], "unnamed");
}

TEST_F(AuditWebApi, BadTokenFilesAreUsageErrors) {
  for (const std::string text : {"alice:short\n", "a b:long-enough-token\n", "one-bare\nanother-bare\n",
                                 "al:token-number-1\nal:token-number-2\n", "# only a comment\n"}) {
    {
      std::ofstream f(corpus.dir.file("bad-tokens"));
      f << text;
    }
    EXPECT_THROW(ServerProcess(corpus.path, {"--token-file", corpus.dir.file("bad-tokens")}), std::runtime_error)
        << text;
  }
}

TEST_F(AuditWebApi, ExportWritesTheCurrentFilter) {
  ServerProcess s(corpus.path, {"--log-level", "warn"});
  auto jl = http_get(s.port(), "/audit/api/export?category=trip&format=jsonl");
  ASSERT_EQ(jl.status, 200);
  std::istringstream in(jl.raw);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    const json j = json::parse(line);
    EXPECT_EQ(j["category"], "trip");
    EXPECT_TRUE(j.contains("prompt"));
    ++n;
  }
  EXPECT_EQ(n, 4);
  auto csv = http_get(s.port(), "/audit/api/export?status=rejected&format=csv");
  ASSERT_EQ(csv.status, 200);
  EXPECT_EQ(csv.raw.rfind("id,category,level,status", 0), 0u);
  EXPECT_EQ(std::count(csv.raw.begin(), csv.raw.end(), '\n'), 3);
}

TEST(AuditWebCli, AuditWebPrintsItsAddressAndServesTheView) {
  AuditCorpus corpus;
  int out[2];
  ASSERT_EQ(pipe(out), 0);
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], 1);
    close(out[0]);
    execl(ENVFORGE_BIN, ENVFORGE_BIN, "audit", "--corpus", corpus.path.c_str(), "--web", "--log-level", "warn",
          static_cast<char*>(nullptr));
    _exit(127);
  }
  close(out[1]);
  FILE* f = fdopen(out[0], "r");
  char line[512] = {0};
  ASSERT_NE(std::fgets(line, sizeof line, f), nullptr);
  const std::string s(line);
  EXPECT_EQ(s.rfind("envforge audit: the web view is at http://127.0.0.1:", 0), 0u) << s;
  const uint16_t port = static_cast<uint16_t>(std::stoi(s.substr(s.rfind(':') + 1)));
  EXPECT_EQ(http_get(port, "/").status, 200);
  EXPECT_EQ(http_get(port, "/audit/api/overview").body["tasks"], 8);
  kill(pid, SIGTERM);
  int st = 0;
  waitpid(pid, &st, 0);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << st;
  std::fclose(f);
}

}  // namespace
}  // namespace envforge::testing
