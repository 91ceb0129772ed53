// The agent loop solving a small trip task through real tool calls: the environment's tools.py
// runs in the sandboxed Python session against a read-only world database.
#include <sqlite3.h>

#include <filesystem>
#include <stdexcept>

#include <gtest/gtest.h>

#include "agents/agent_loop.h"
#include "agents/python_tool_executor.h"
#include "agents/scripted_backend.h"
#include "verifiers/python_runner.h"
#include "tests/agents/tool_call_json.h"

namespace envforge::agents {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

const char* kToolsPy = R"PY(
import os, sqlite3

def _db():
    return sqlite3.connect("file:" + os.environ["ENVFORGE_WORLD_DB"] + "?mode=ro", uri=True)

def search_flights(origin, destination):
    rows = _db().execute(
        "SELECT id, price FROM flights WHERE origin = ? AND destination = ? ORDER BY price",
        (origin, destination)).fetchall()
    return [{"id": r[0], "price": r[1]} for r in rows]

def hotels_in(city, max_price):
    if max_price <= 0:
        raise ValueError("max_price must be positive")
    rows = _db().execute(
        "SELECT name, price FROM hotels WHERE city = ? AND price <= ? ORDER BY price",
        (city, max_price)).fetchall()
    return [{"name": r[0], "price": r[1]} for r in rows]

def book(flight_id):
    # The world is read-only inside the box: a tool that tries to write gets an error.
    _db().execute("DELETE FROM flights WHERE id = ?", (flight_id,))
    return {"booked": flight_id}

def spin():
    while True:
        pass
)PY";

void exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "?";
    sqlite3_free(err);
    throw std::runtime_error(msg);
  }
}

std::string make_world(const std::string& dir) {
  std::string path = dir + "/world.db";
  std::filesystem::remove(path);
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) throw std::runtime_error("cannot create " + path);
  exec(db,
       "CREATE TABLE flights(id TEXT PRIMARY KEY, origin TEXT, destination TEXT, price INTEGER);"
       "INSERT INTO flights VALUES ('SK101','OSL','PAR',240),('AF202','OSL','PAR',180),"
       "('DY303','OSL','ROM',150);"
       "CREATE TABLE hotels(name TEXT, city TEXT, price INTEGER);"
       "INSERT INTO hotels VALUES ('Le Petit','PAR',90),('Grand','PAR',300),('Roma Inn','ROM',70);");
  sqlite3_close(db);
  return path;
}

json fn(const std::string& name, json props, json required) {
  return {{"type", "function"},
          {"function", {{"name", name},
                        {"parameters", {{"type", "object"}, {"properties", props}, {"required", required}}}}}};
}

TEST(PythonToolLoop, SolvesATripTaskThroughToolsInTheSandbox) {
  std::string dir = ::testing::TempDir() + "/agents_python_tool_loop";
  std::filesystem::create_directories(dir);
  verifiers::PythonOptions opts;
  opts.files = {{"tools.py", kToolsPy}};
  opts.world_db = make_world(dir);
  verifiers::PythonSession session(opts);
  PythonToolExecutor executor(session);

  AgentConfig config;
  config.system_prompt = "You book trips.";
  config.tools = {fn("search_flights", {{"origin", {{"type", "string"}}}, {"destination", {{"type", "string"}}}},
                     {"origin", "destination"}),
                  fn("hotels_in", {{"city", {{"type", "string"}}}, {"max_price", {{"type", "integer"}}}},
                     {"city", "max_price"}),
                  fn("book", {{"flight_id", {{"type", "string"}}}}, {"flight_id"}),
                  fn("spin", json::object(), json::array()),
                  fn("submit", {{"flight", {{"type", "string"}}}, {"hotel", {{"type", "string"}}}},
                     {"flight", "hotel"})};
  config.final_answer_tool = "submit";
  config.tool_timeout = milliseconds(1500);
  ScriptedBackend backend(json{{"replies",
      {{{"tool_calls", {testing::tool_call("a", "search_flights", {{"origin", "OSL"}, {"destination", "PAR"}}),
                        testing::tool_call("b", "hotels_in", {{"city", "PAR"}, {"max_price", 0}})}}},
       {{"tool_calls", {testing::tool_call("c", "hotels_in", {{"city", "PAR"}, {"max_price", 100}}),
                        testing::tool_call("d", "book", {{"flight_id", "AF202"}}),
                        testing::tool_call("e", "spin", json::object())}}},
       {{"tool_calls", {testing::tool_call("f", "search_flights", {{"origin", "OSL"}, {"destination", "PAR"}}),
                        testing::tool_call("g", "submit", {{"flight", "AF202"}, {"hotel", "Le Petit"}})}}}}}});
  Trajectory t = run_agent(backend, executor, config, "Cheapest flight OSL->PAR and a hotel under 100.");

  EXPECT_EQ(t.stop_reason, StopReason::kFinalAnswer) << t.error;
  ASSERT_TRUE(t.final_answer);
  EXPECT_EQ(*t.final_answer, (json{{"flight", "AF202"}, {"hotel", "Le Petit"}}));
  ASSERT_EQ(t.turns.size(), 3u);
  const auto& first = t.turns[0].tools;
  ASSERT_EQ(first.size(), 2u);
  ASSERT_TRUE(first[0].ok) << first[0].error;
  EXPECT_EQ(first[0].result, json::parse(R"([{"id":"AF202","price":180},{"id":"SK101","price":240}])"));
  EXPECT_FALSE(first[1].ok);  // the tool raised
  EXPECT_NE(first[1].error.find("ValueError"), std::string::npos) << first[1].error;
  EXPECT_NE(first[1].error.find("max_price must be positive"), std::string::npos) << first[1].error;
  const auto& second = t.turns[1].tools;
  ASSERT_EQ(second.size(), 3u);
  ASSERT_TRUE(second[0].ok) << second[0].error;
  EXPECT_EQ(second[0].result, json::parse(R"([{"name":"Le Petit","price":90}])"));
  EXPECT_FALSE(second[1].ok);  // writing to the read-only world fails
  EXPECT_NE(second[1].error.find("readonly"), std::string::npos) << second[1].error;
  EXPECT_FALSE(second[2].ok);  // the endless tool is stopped
  EXPECT_NE(second[2].error.find("Timeout"), std::string::npos) << second[2].error;
  // The session came back after the timeout and the world is unchanged.
  ASSERT_TRUE(t.turns[2].tools[0].ok) << t.turns[2].tools[0].error;
  EXPECT_EQ(t.turns[2].tools[0].result.size(), 2u);
  EXPECT_EQ(t.tool_errors, 3);
  // The model was shown each result and each error.
  auto reqs = backend.requests();
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_NE(reqs[1].messages[3].content.find("AF202"), std::string::npos);
  EXPECT_NE(reqs[1].messages[4].content.find("max_price must be positive"), std::string::npos);
}

}  // namespace
}  // namespace envforge::agents
