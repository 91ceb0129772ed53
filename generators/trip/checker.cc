#include "generators/trip/checker.h"

#include <cmath>
#include <optional>
#include <set>

#include "generators/trip/calendar.h"

namespace envforge::generators::trip {
namespace {

using nlohmann::json;

Verdict fail(std::string code, std::string detail) { return {false, std::move(code), std::move(detail)}; }

bool is_str(const json& o, const char* k) { return o.contains(k) && o[k].is_string(); }

// 436, or 436.0 as JSON Schema's "integer" allows (the prompt says so).
bool is_whole(const json& v) {
  return v.is_number_integer() || (v.is_number_float() && std::isfinite(v.get<double>()) &&
                                   std::floor(v.get<double>()) == v.get<double>());
}

Verdict check_lookup(const World& w, const TripTask& t, const json& a) {
  if (!a.is_object() || !is_str(a, "hotel_id")) return fail("format", "answer must be {\"hotel_id\": string}");
  const std::string id = a["hotel_id"];
  const Hotel* h = w.hotel(id);
  if (!h) return fail("unknown_item", "no hotel " + id);
  if (h->city_id != t.city) return fail("wrong_city", id + " is not in " + t.city);
  if (h->price > t.max_price) return fail("price", id + " costs more than the limit");
  if (!listed(h->amenities, t.amenity)) return fail("amenity", id + " lacks " + t.amenity);
  const std::string best = best_hotel(w, t);
  if (id != best) return fail("not_best", id + " is not the best-rated qualifying hotel");
  return {true, "", ""};
}

struct Act {
  std::string kind, id;
  int start = 0;
};

Verdict check_format(const json& p) {
  if (!p.is_object() || !p.contains("days") || !p["days"].is_array())
    return fail("format", "plan must be an object with a list 'days'");
  if (!p.contains("total_cost") || !is_whole(p["total_cost"]))
    return fail("format", "plan must have an integer 'total_cost'");
  for (const auto& d : p["days"]) {
    if (!d.is_object() || !is_str(d, "date") || !is_str(d, "city") || !is_str(d, "hotel") ||
        !d.contains("transport") || !(d["transport"].is_null() || d["transport"].is_string()) ||
        !d.contains("activities") || !d["activities"].is_array())
      return fail("format", "each day needs date, city, hotel, transport (string or null), activities");
    for (const auto& a : d["activities"]) {
      if (!a.is_object() || !is_str(a, "kind") || !is_str(a, "id") || !is_str(a, "start"))
        return fail("format", "each activity needs kind, id, start");
      const std::string k = a["kind"];
      if (k != "attraction" && k != "lunch" && k != "dinner")
        return fail("format", "activity kind must be attraction, lunch or dinner");
      if (!parse_hhmm(a["start"].get<std::string>())) return fail("format", "start must be HH:MM");
    }
  }
  return {true, "", ""};
}

const Place* place_of(const World& w, const Act& a) {
  if (a.kind == "attraction") return w.attraction(a.id);
  return w.restaurant(a.id);
}

int duration_of(const World& w, const Act& a) {
  return a.kind == "attraction" ? w.attraction(a.id)->duration_min : kMealMinutes;
}

Verdict check_plan(const World& w, const TripTask& t, const json& p) {
  if (Verdict v = check_format(p); !v.pass) return v;
  const auto& days = p["days"];
  if (days.size() != t.days.size())
    return fail("day_count", "plan has " + std::to_string(days.size()) + " days, expected " +
                                 std::to_string(t.days.size()));
  std::vector<std::vector<Act>> acts(days.size());
  for (size_t i = 0; i < days.size(); ++i)
    for (const auto& a : days[i]["activities"])
      acts[i].push_back({a["kind"], a["id"], *parse_hhmm(a["start"].get<std::string>())});
  for (size_t i = 0; i < days.size(); ++i)
    if (days[i]["date"] != t.days[i].date) return fail("dates", "day " + std::to_string(i + 1) + " must be " + t.days[i].date);
  for (size_t i = 0; i < days.size(); ++i)
    if (days[i]["city"] != t.days[i].city) return fail("wrong_city", "day " + std::to_string(i + 1) + " must be in " + t.days[i].city);
  // unknown_item
  for (size_t i = 0; i < days.size(); ++i) {
    if (!w.hotel(days[i]["hotel"])) return fail("unknown_item", "no hotel " + days[i]["hotel"].get<std::string>());
    if (days[i]["transport"].is_string() && !w.transport_by_id(days[i]["transport"]))
      return fail("unknown_item", "no transport " + days[i]["transport"].get<std::string>());
    for (const auto& a : acts[i])
      if (!place_of(w, a)) return fail("unknown_item", "no " + a.kind + " place " + a.id);
  }
  // item_city
  for (size_t i = 0; i < days.size(); ++i) {
    const std::string& c = t.days[i].city;
    if (w.hotel(days[i]["hotel"])->city_id != c) return fail("item_city", "hotel of day " + std::to_string(i + 1) + " is not in " + c);
    for (const auto& a : acts[i])
      if (place_of(w, a)->city_id != c) return fail("item_city", a.id + " is not in " + c);
  }
  // transport
  for (size_t i = 0; i < days.size(); ++i) {
    const auto& tr = days[i]["transport"];
    if (!t.days[i].travel) {
      if (!tr.is_null()) return fail("transport", "day " + std::to_string(i + 1) + " has no travel");
      continue;
    }
    if (tr.is_null()) return fail("transport", "day " + std::to_string(i + 1) + " needs a transport");
    const Transport* x = w.transport_by_id(tr);
    if (x->from_city != t.days[i - 1].city || x->to_city != t.days[i].city || x->date != t.days[i].date)
      return fail("transport", x->id + " does not go from " + t.days[i - 1].city + " to " + t.days[i].city + " on " + t.days[i].date);
  }
  // activity_count
  for (size_t i = 0; i < days.size(); ++i) {
    int n_att = 0;
    std::vector<std::string> meals;
    for (const auto& a : acts[i]) {
      if (a.kind == "attraction") ++n_att;
      else meals.push_back(a.kind);
    }
    if (n_att != t.days[i].attractions || meals != t.days[i].meals)
      return fail("activity_count", "day " + std::to_string(i + 1) + " must have " + std::to_string(t.days[i].attractions) + " attractions and the required meals");
  }
  // repeat
  {
    std::set<std::string> seen_a, seen_r;
    for (size_t i = 0; i < days.size(); ++i)
      for (const auto& a : acts[i]) {
        if (a.kind == "attraction" && !seen_a.insert(a.id).second) return fail("repeat", a.id + " is visited twice");
        if (a.kind != "attraction" && t.no_repeat && !seen_r.insert(a.id).second) return fail("repeat", a.id + " is used twice");
      }
  }
  for (size_t i = 0; i < days.size(); ++i) {
    const Hotel* h = w.hotel(days[i]["hotel"]);
    if (h->rating < t.hotel_min_rating) return fail("hotel_rating", h->id + " is rated below the floor");
  }
  if (!t.hotel_amenity.empty())
    for (size_t i = 0; i < days.size(); ++i)
      if (!listed(w.hotel(days[i]["hotel"])->amenities, t.hotel_amenity)) return fail("hotel_amenity", days[i]["hotel"].get<std::string>() + " lacks " + t.hotel_amenity);
  for (size_t i = 0; i < days.size(); ++i)
    for (const auto& a : acts[i])
      if (a.kind == "attraction" && w.attraction(a.id)->rating < t.attraction_min_rating)
        return fail("attraction_rating", a.id + " is rated below the floor");
  if (!t.diet.empty())
    for (size_t i = 0; i < days.size(); ++i)
      for (const auto& a : acts[i])
        if (a.kind != "attraction" && !listed(w.restaurant(a.id)->diets, t.diet)) return fail("dietary", a.id + " does not serve " + t.diet);
  for (const auto& [type, need] : t.quotas) {
    int got = 0;
    for (const auto& day : acts)
      for (const auto& a : day)
        if (a.kind == "attraction" && w.attraction(a.id)->type == type) ++got;
    if (got < need) return fail("quota", "needs at least " + std::to_string(need) + " " + type);
  }
  for (size_t i = 0; i < days.size(); ++i)
    for (const auto& a : acts[i]) {
      if (a.kind == "lunch" && (a.start < kLunchFrom || a.start > kLunchTo)) return fail("meal_window", "lunch must start 11:00-13:30");
      if (a.kind == "dinner" && (a.start < kDinnerFrom || a.start > kDinnerTo)) return fail("meal_window", "dinner must start 17:30-20:30");
    }
  for (size_t i = 0; i < days.size(); ++i) {
    if (acts[i].empty()) continue;
    int earliest = kDayStartMin;
    if (t.days[i].travel) earliest = w.transport_by_id(days[i]["transport"])->arrive_min + kArrivalTransferMin;
    if (acts[i][0].start < earliest)
      return fail(t.days[i].travel ? "arrival_timing" : "day_start", "day " + std::to_string(i + 1) + " starts before " + format_hhmm(earliest));
  }
  for (size_t i = 0; i < days.size(); ++i) {
    const int wd = weekday(*parse_date(t.days[i].date));
    for (const auto& a : acts[i])
      if (!is_open(*place_of(w, a), wd, a.start, a.start + duration_of(w, a)))
        return fail("opening_hours", a.id + " is not open for the whole visit on day " + std::to_string(i + 1));
  }
  for (size_t i = 0; i < days.size(); ++i)
    for (size_t k = 1; k < acts[i].size(); ++k) {
      const Act& a = acts[i][k - 1];
      const Act& b = acts[i][k];
      if (b.start < a.start + duration_of(w, a) + travel_minutes(*place_of(w, a), *place_of(w, b)))
        return fail("schedule_conflict", b.id + " starts before " + a.id + " ends plus travel");
    }
  const int cost = plan_cost(w, t, p);
  const json& total = p["total_cost"];
  const bool same = total.is_number_integer() ? total.get<int64_t>() == cost
                                              : total.get<double>() == static_cast<double>(cost);
  if (!same) return fail("cost_mismatch", "total_cost must be " + std::to_string(cost));
  if (t.budget > 0 && cost > t.budget) return fail("budget", "total cost " + std::to_string(cost) + " exceeds " + std::to_string(t.budget));
  return {true, "", ""};
}

}  // namespace

int plan_cost(const World& w, const TripTask& t, const json& p) {
  int cost = 0;
  for (const auto& d : p["days"]) {
    cost += w.hotel(d["hotel"])->price;
    int per_person = 0;
    if (d["transport"].is_string()) per_person += w.transport_by_id(d["transport"])->price;
    for (const auto& a : d["activities"]) {
      const std::string id = a["id"];
      per_person += a["kind"] == "attraction" ? w.attraction(id)->price : w.restaurant(id)->price;
    }
    cost += per_person * t.travelers;
  }
  return cost;
}

std::string best_hotel(const World& w, const TripTask& t) {
  const Hotel* best = nullptr;
  for (const Hotel* h : w.hotels_in(t.city)) {
    if (h->price > t.max_price || !listed(h->amenities, t.amenity)) continue;
    if (!best || h->rating > best->rating || (h->rating == best->rating && h->price < best->price))
      best = h;
  }
  return best ? best->id : "";
}

Verdict check_answer(const World& w, const TripTask& t, const json& answer) {
  if (answer.is_string()) {
    const json a = json::parse(answer.get<std::string>(), nullptr, /*allow_exceptions=*/false);
    if (a.is_discarded()) return fail("malformed", "answer is not valid JSON");
    return t.kind == "lookup" ? check_lookup(w, t, a) : check_plan(w, t, a);
  }
  return t.kind == "lookup" ? check_lookup(w, t, answer) : check_plan(w, t, answer);
}

}  // namespace envforge::generators::trip
