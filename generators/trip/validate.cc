#include "generators/trip/validate.h"

#include "generators/answer_judge.h"

namespace envforge::generators::trip {

using nlohmann::json;

TaskValidation validate_task(PythonExecutor& py, const TripTask& task, const json& reference,
                             const std::vector<Negative>& negatives, const ValidationOptions& o) {
  TaskValidation out;
  const json task_json = task.to_json();
  auto judge = [&](const json& answer, const std::string& check, int attempt, bool expect_pass) {
    return judge_answer(py, task_json, answer, check, attempt, expect_pass);
  };
  auto note = [&](const std::string& why) {
    if (out.reject_reason.empty()) out.reject_reason = why;
  };
  JudgedAnswer ref = judge(reference, "reference", 0, true);
  ref.record.as_expected = ref.record.verdict == "pass";
  if (!ref.record.as_expected) note("reference: " + ref.record.verdict + " (" + ref.record.reason + ")");
  out.records.push_back(ref.record);
  std::vector<JudgedAnswer> first_negative;
  for (const Negative& n : negatives) {
    JudgedAnswer j = judge(n.answer, "negative:" + n.kind, 0, false);
    j.record.as_expected = j.record.verdict == "fail" && j.constraint == n.expected;
    if (!j.record.as_expected)
      note("negative:" + n.kind + ": expected a failure of '" + n.expected + "', got " + j.record.verdict +
           " (" + j.record.reason + ")");
    if (first_negative.empty()) first_negative.push_back(j);
    out.records.push_back(j.record);
  }
  // Repeatability: the same answers again must get the same verdict and reason.
  auto repeat = [&](const JudgedAnswer& first, const json& answer) {
    JudgedAnswer again = judge(answer, first.record.check, 1, first.record.expected_pass);
    data::ValidationRecord& r = again.record;
    r.as_expected = r.verdict == first.record.verdict && r.reason == first.record.reason && r.score == first.record.score;
    if (!r.as_expected) note(first.record.check + ": a second run disagreed (" + r.reason + ")");
    out.records.push_back(r);
  };
  repeat(ref, reference);
  if (!first_negative.empty()) repeat(first_negative.front(), negatives.front().answer);
  if (negatives.size() < o.min_negatives)
    note("only " + std::to_string(negatives.size()) + " wrong answers could be generated (need " +
         std::to_string(o.min_negatives) + ")");
  out.usable = out.reject_reason.empty();
  return out;
}

std::string check_tools(PythonExecutor& py, const World& w) {
  const City& c = w.cities.front();
  const Attraction* a = w.attractions_in(c.id).front();
  const Hotel* h = w.hotels_in(c.id).front();
  const Restaurant* r = w.restaurants_in(c.id).front();
  const Transport& t = w.transport.front();
  struct Probe {
    const char* tool;
    json args;
    bool ok;
  };
  const std::vector<Probe> probes = {
      {"list_cities", json::object(), true},
      {"search_attractions", {{"city", c.id}, {"open_on", w.start_date}}, true},
      {"get_attraction", {{"attraction_id", a->id}}, true},
      {"search_hotels", {{"city", c.name}, {"min_rating", 1}}, true},
      {"get_hotel", {{"hotel_id", h->id}}, true},
      {"search_restaurants", {{"city", c.id}, {"max_price", 1000}}, true},
      {"get_restaurant", {{"restaurant_id", r->id}}, true},
      {"search_transport", {{"from_city", t.from_city}, {"to_city", t.to_city}, {"date", t.date}}, true},
      {"travel_time", {{"from_id", a->id}, {"to_id", r->id}}, true},
      {"city_distance", {{"from_city", t.from_city}, {"to_city", t.to_city}}, true},
      {"day_of_week", {{"date", w.start_date}}, true},
      {"search_hotels", {{"city", "Atlantis"}}, false},
      {"search_transport", {{"from_city", c.id}, {"to_city", c.id}, {"date", "tomorrow"}}, false},
      {"get_hotel", {{"hotel", h->id}}, false},
  };
  for (const auto& p : probes) {
    const auto res = py.call("tools", p.tool, p.args);
    if (!res.ok) return std::string("tool ") + p.tool + " raised " + res.error_type + ": " + res.message;
    const bool refused = res.value.is_object() && res.value.contains("error");
    if (refused == p.ok)
      return std::string("tool ") + p.tool + (p.ok ? " refused valid arguments " : " accepted bad arguments ") +
             p.args.dump() + ": " + res.value.dump().substr(0, 200);
  }
  return "";
}

}  // namespace envforge::generators::trip
