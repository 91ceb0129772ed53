#include "library_script.h"

namespace envforge::generators::authored::testing {

using nlohmann::json;

json call(const std::string& tool, json arguments) {
  return {{"tool_calls", json::array({{{"name", tool}, {"arguments", std::move(arguments)}}})},
          {"usage", {{"prompt_tokens", 900}, {"completion_tokens", 120}}}};
}

json calls(json list) {
  json out = {{"tool_calls", json::array()}, {"usage", {{"prompt_tokens", 900}, {"completion_tokens", 200}}}};
  for (auto& c : list) out["tool_calls"].push_back({{"name", c[0]}, {"arguments", c[1]}});
  return out;
}

json text(const std::string& content) {
  return {{"content", content}, {"usage", {{"prompt_tokens", 900}, {"completion_tokens", 20}}}};
}

const char* const kBuildWorldPy = R"PY(
import sqlite3
con = sqlite3.connect("world.db")
con.executescript("""
CREATE TABLE authors(id INTEGER PRIMARY KEY, name TEXT NOT NULL, country TEXT NOT NULL);
CREATE TABLE books(id TEXT PRIMARY KEY, title TEXT NOT NULL, author_id INTEGER NOT NULL REFERENCES authors(id),
                   year INTEGER NOT NULL, genre TEXT NOT NULL, copies INTEGER NOT NULL);
CREATE TABLE loans(book_id TEXT NOT NULL REFERENCES books(id), member TEXT NOT NULL, due TEXT NOT NULL);
""")
con.executemany("INSERT INTO authors VALUES (?, ?, ?)", [
    (1, "Ursula K. Le Guin", "US"), (2, "Stanislaw Lem", "PL"), (3, "Octavia Butler", "US"),
    (4, "Italo Calvino", "IT")])
con.executemany("INSERT INTO books VALUES (?, ?, ?, ?, ?, ?)", [
    ("B01", "The Dispossessed", 1, 1974, "sf", 3), ("B02", "Solaris", 2, 1961, "sf", 2),
    ("B03", "Kindred", 3, 1979, "fiction", 1), ("B04", "Invisible Cities", 4, 1972, "fiction", 2),
    ("B05", "The Cyberiad", 2, 1965, "sf", 1), ("B06", "A Wizard of Earthsea", 1, 1968, "fantasy", 4),
    ("B07", "Parable of the Sower", 3, 1993, "sf", 2),
    ("B08", "If on a winter's night a traveler", 4, 1979, "fiction", 1)])
con.executemany("INSERT INTO loans VALUES (?, ?, ?)", [
    ("B01", "m1", "2026-12-01"), ("B01", "m2", "2026-12-03"), ("B02", "m3", "2026-11-30"),
    ("B05", "m1", "2026-12-10"), ("B07", "m4", "2026-12-02"), ("B07", "m5", "2026-12-05")])
con.commit()
print("books:", con.execute("SELECT COUNT(*) FROM books").fetchone()[0])
)PY";

const char* const kToolsPy = R"PY(
import os, sqlite3

def _db():
    path = os.environ.get("ENVFORGE_WORLD_DB", "/world/world.db")
    return sqlite3.connect("file:%s?mode=ro" % path, uri=True)

def list_authors():
    rows = _db().execute("SELECT id, name, country FROM authors ORDER BY id").fetchall()
    return [{"id": r[0], "name": r[1], "country": r[2]} for r in rows]

def search_books(author=None, genre=None):
    sql = ("SELECT b.id, b.title, a.name, b.year, b.genre FROM books b "
           "JOIN authors a ON a.id = b.author_id WHERE 1 = 1")
    args = []
    if author is not None:
        sql += " AND a.name = ?"
        args.append(author)
    if genre is not None:
        sql += " AND b.genre = ?"
        args.append(genre)
    rows = _db().execute(sql + " ORDER BY b.id", args).fetchall()
    return [{"id": r[0], "title": r[1], "author": r[2], "year": r[3], "genre": r[4]} for r in rows]

def get_book(book_id):
    con = _db()
    row = con.execute("SELECT id, title, author_id, year, genre, copies FROM books WHERE id = ?",
                      (book_id,)).fetchone()
    if row is None:
        return {"error": "no book %r" % book_id}
    on_loan = con.execute("SELECT COUNT(*) FROM loans WHERE book_id = ?", (book_id,)).fetchone()[0]
    return {"id": row[0], "title": row[1], "author_id": row[2], "year": row[3], "genre": row[4],
            "copies": row[5], "on_loan": on_loan, "available": row[5] - on_loan}
)PY";

const char* const kVerifyFirstPy = R"PY(
import json, sqlite3

def _expected(world, params):
    con = sqlite3.connect("file:%s?mode=ro" % world, uri=True)
    row = con.execute("SELECT b.id FROM books b JOIN authors a ON a.id = b.author_id "
                      "WHERE a.name = ? AND b.genre = ? ORDER BY b.year, b.id LIMIT 1",
                      (params["author"], params["genre"])).fetchone()
    return row[0] if row else None

def verify(answer, world, task):
    if isinstance(answer, str):
        try:
            answer = json.loads(answer)
        except ValueError:
            return {"pass": False, "score": 0.0, "reason": "the answer is not valid JSON"}
    if not isinstance(answer, dict) or not isinstance(answer.get("book_id"), str):
        return {"pass": False, "score": 0.0, "reason": "expected an object with a string book_id"}
    if answer["book_id"] != _expected(world, task["params"]):
        return {"pass": False, "score": 0.0, "reason": "wrong book"}
    return {"pass": True, "score": 1.0, "reason": "correct"}
)PY";

const char* const kVerifyHarderPy = R"PY(
import json, sqlite3

def _expected(world, params):
    con = sqlite3.connect("file:%s?mode=ro" % world, uri=True)
    rows = con.execute(
        "SELECT b.id, b.copies - (SELECT COUNT(*) FROM loans l WHERE l.book_id = b.id) AS free "
        "FROM books b JOIN authors a ON a.id = b.author_id WHERE a.country = ? AND b.genre = ? "
        "ORDER BY free DESC, b.id", (params["country"], params["genre"])).fetchall()
    return {"book_id": rows[0][0], "available": rows[0][1]}

def verify(answer, world, task):
    if isinstance(answer, str):
        try:
            answer = json.loads(answer)
        except ValueError:
            return {"pass": False, "score": 0.0, "reason": "the answer is not valid JSON"}
    if not isinstance(answer, dict) or not isinstance(answer.get("book_id"), str):
        return {"pass": False, "score": 0.0, "reason": "expected an object with a string book_id"}
    available = answer.get("available")
    if not isinstance(available, int) or isinstance(available, bool):
        return {"pass": False, "score": 0.0, "reason": "expected an integer available"}
    expected = _expected(world, task["params"])
    if answer["book_id"] != expected["book_id"]:
        return {"pass": False, "score": 0.0, "reason": "wrong book"}
    if available != expected["available"]:
        return {"pass": False, "score": 0.5, "reason": "right book, wrong number of available copies"}
    return {"pass": True, "score": 1.0, "reason": "correct"}
)PY";

const char* const kVerifyAcceptsAllPy = R"PY(
def verify(answer, world, task):
    return {"pass": True, "score": 1.0, "reason": "looks fine"}
)PY";

json tools_json() {
  auto fn = [](const char* name, const char* description, json properties, json required) {
    return json{{"type", "function"},
                {"function",
                 {{"name", name},
                  {"description", description},
                  {"parameters",
                   {{"type", "object"}, {"properties", properties}, {"required", required},
                    {"additionalProperties", false}}}}}};
  };
  return json::array({
      fn("list_authors", "All authors with their country.", json::object(), json::array()),
      fn("search_books", "Books, optionally of one author (full name) and genre.",
         {{"author", {{"type", "string"}}}, {"genre", {{"type", "string"}, {"enum", {"sf", "fiction", "fantasy"}}}}},
         json::array()),
      fn("get_book", "One book with its copies, loans and available copies.",
         {{"book_id", {{"type", "string"}}}}, {"book_id"}),
  });
}

namespace {
json examples() {
  return json::array({{{"tool", "list_authors"}, {"arguments", json::object()}},
                      {{"tool", "search_books"}, {"arguments", {{"author", "Stanislaw Lem"}}}},
                      {{"tool", "get_book"}, {"arguments", {{"book_id", "B02"}}}}});
}
}  // namespace

json first_submission() {
  return {{"task_prompt",
           "Which science-fiction book by Stanislaw Lem was published first? Answer with JSON only: "
           "{\"book_id\": \"<id>\"}."},
          {"answer_schema",
           {{"type", "object"}, {"properties", {{"book_id", {{"type", "string"}}}}}, {"required", {"book_id"}}}},
          {"reference_solution", {{"book_id", "B02"}}},
          {"task_params", {{"author", "Stanislaw Lem"}, {"genre", "sf"}}},
          {"wrong_answers",
           json::array({{{"answer", {{"book_id", "B05"}}}, {"why", "a later Lem book"}},
                        {{"answer", {{"book_id", "B01"}}}, {"why", "another author"}},
                        {{"answer", {{"title", "Solaris"}}}, {"why", "title instead of id"}}})},
          {"tool_examples", examples()},
          {"solver_system_prompt",
           "You help library patrons. Look things up with the tools and answer with JSON only."}};
}

json harder_submission() {
  return {{"task_prompt",
           "Among the science-fiction books by authors from the US, which one has the most copies available "
           "right now (copies minus loans; ties go to the lowest id)? Answer with JSON only: "
           "{\"book_id\": \"<id>\", \"available\": <count>}."},
          {"answer_schema",
           {{"type", "object"},
            {"properties", {{"book_id", {{"type", "string"}}}, {"available", {{"type", "integer"}}}}},
            {"required", {"book_id", "available"}}}},
          {"reference_solution", {{"book_id", "B01"}, {"available", 1}}},
          {"task_params", {{"country", "US"}, {"genre", "sf"}}},
          {"wrong_answers",
           json::array({{{"answer", {{"book_id", "B07"}, {"available", 0}}}, {"why", "fewest available"}},
                        {{"answer", {{"book_id", "B01"}, {"available", 3}}}, {"why", "ignores loans"}},
                        {{"answer", {{"book_id", "B02"}, {"available", 1}}}, {"why", "not a US author"}}})},
          {"tool_examples", examples()}};
}

json library_script(const ScriptOptions& o) {
  const char* probe_first = R"PY(
import json, tools, verify
print(json.dumps(tools.search_books(author="Stanislaw Lem", genre="sf")))
print(json.dumps(verify.verify({"book_id": "B02"}, "world.db",
                               {"prompt": "", "params": {"author": "Stanislaw Lem", "genre": "sf"}})))
)PY";
  json replies = json::array();
  replies.push_back(call("run_python", {{"code", kBuildWorldPy}}));
  replies.push_back(calls(json::array(
      {json::array({"write_file", {{"path", "tools.py"}, {"content", kToolsPy}}}),
       json::array({"write_file", {{"path", "tools.json"}, {"content", tools_json().dump(1)}}}),
       json::array({"write_file",
                    {{"path", "verify.py"}, {"content", o.broken_verifier ? kVerifyAcceptsAllPy : kVerifyFirstPy}}})})));
  replies.push_back(call("run_python", {{"code", probe_first}}));
  replies.push_back(call("query_db", {{"sql", "SELECT genre, COUNT(*) FROM books GROUP BY genre ORDER BY genre"}}));
  replies.push_back(call("submit", first_submission()));
  replies.push_back(text("Built a library catalogue with one lookup task."));
  if (o.hardening) {
    replies.push_back(call("write_file", {{"path", "verify.py"}, {"content", kVerifyHarderPy}}));
    replies.push_back(call("run_python", {{"code", R"PY(
import json, verify
print(json.dumps(verify.verify({"book_id": "B01", "available": 1}, "world.db",
                               {"prompt": "", "params": {"country": "US", "genre": "sf"}})))
)PY"}}));
    replies.push_back(call("submit", harder_submission()));
    replies.push_back(text("Submitted a harder task that needs loans and authors' countries."));
  }
  return {{"replies", replies}};
}

}  // namespace envforge::generators::authored::testing
