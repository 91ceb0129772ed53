#include "generators/trip/negatives.h"

#include <algorithm>
#include <functional>
#include <set>

#include "generators/trip/calendar.h"
#include "generators/trip/checker.h"

namespace envforge::generators::trip {
namespace {

using nlohmann::json;
using Candidates = std::function<std::vector<json>()>;

bool task_city(const TripTask& t, const std::string& c) {
  if (t.kind == "lookup") return t.city == c;
  for (const auto& d : t.days)
    if (d.city == c) return true;
  return false;
}

const City* other_city(const World& w, const TripTask& t) {
  for (const auto& c : w.cities)
    if (!task_city(t, c.id)) return &c;
  return nullptr;
}

json with_cost(const World& w, const TripTask& t, json plan) {
  plan["total_cost"] = plan_cost(w, t, plan);
  return plan;
}

std::set<std::string> used_ids(const json& plan) {
  std::set<std::string> ids;
  for (const auto& d : plan["days"])
    for (const auto& a : d["activities"]) ids.insert(a["id"].get<std::string>());
  return ids;
}

// Each (day, activity index) of a given kind class ("attraction" or meal).
std::vector<std::pair<size_t, size_t>> slots(const json& plan, bool attractions) {
  std::vector<std::pair<size_t, size_t>> out;
  for (size_t d = 0; d < plan["days"].size(); ++d)
    for (size_t i = 0; i < plan["days"][d]["activities"].size(); ++i)
      if ((plan["days"][d]["activities"][i]["kind"] == "attraction") == attractions) out.push_back({d, i});
  return out;
}

// Plans where one attraction is swapped for each other attraction of its city that `pred` accepts.
std::vector<json> swap_attractions(const World& w, const TripTask& t, const json& ref,
                                   const std::function<bool(const Attraction&)>& pred) {
  std::vector<json> out;
  const auto used = used_ids(ref);
  for (auto [d, i] : slots(ref, true))
    for (const Attraction* a : w.attractions_in(t.days[d].city)) {
      if (used.count(a->id) || !pred(*a)) continue;
      json p = ref;
      p["days"][d]["activities"][i]["id"] = a->id;
      out.push_back(with_cost(w, t, p));
    }
  return out;
}

std::vector<json> swap_restaurants(const World& w, const TripTask& t, const json& ref,
                                   const std::function<bool(const Restaurant&)>& pred) {
  std::vector<json> out;
  const auto used = used_ids(ref);
  for (auto [d, i] : slots(ref, false))
    for (const Restaurant* r : w.restaurants_in(t.days[d].city)) {
      if (used.count(r->id) || !pred(*r)) continue;
      json p = ref;
      p["days"][d]["activities"][i]["id"] = r->id;
      out.push_back(with_cost(w, t, p));
    }
  return out;
}

std::vector<json> swap_hotels(const World& w, const TripTask& t, const json& ref,
                              const std::function<bool(const Hotel&)>& pred) {
  std::vector<json> out;
  for (size_t d = 0; d < ref["days"].size(); ++d)
    for (const Hotel* h : w.hotels_in(t.days[d].city)) {
      if (!pred(*h)) continue;
      json p = ref;
      p["days"][d]["hotel"] = h->id;
      out.push_back(with_cost(w, t, p));
    }
  return out;
}

std::vector<json> retime(const json& ref, const std::function<std::vector<int>(size_t, size_t, const json&)>& starts) {
  std::vector<json> out;
  for (size_t d = 0; d < ref["days"].size(); ++d)
    for (size_t i = 0; i < ref["days"][d]["activities"].size(); ++i)
      for (int s : starts(d, i, ref["days"][d]["activities"][i])) {
        if (s < 0 || s >= 24 * 60) continue;
        json p = ref;
        p["days"][d]["activities"][i]["start"] = format_hhmm(s);
        out.push_back(p);
      }
  return out;
}

// Raises the cost one item at a time, keeping every other constraint, until the budget breaks.
std::vector<json> over_budget(const World& w, const TripTask& t, const json& ref) {
  if (t.budget <= 0) return {};
  json p = ref;
  auto ok = [&](const json& q) {
    const Verdict v = check_answer(w, t, q);
    return v.pass || v.code == "budget";
  };
  for (size_t d = 0; d < p["days"].size(); ++d) {
    auto hotels = w.hotels_in(t.days[d].city);
    std::sort(hotels.begin(), hotels.end(), [](auto a, auto b) { return a->price > b->price; });
    for (const Hotel* h : hotels) {
      json q = p;
      q["days"][d]["hotel"] = h->id;
      q = with_cost(w, t, q);
      if (ok(q)) { p = q; break; }
    }
    if (check_answer(w, t, p).code == "budget") return {p};
  }
  for (bool att : {false, true})
    for (auto [d, i] : slots(p, att)) {
      std::vector<const Place*> alts;
      if (att) for (auto* a : w.attractions_in(t.days[d].city)) alts.push_back(a);
      else for (auto* r : w.restaurants_in(t.days[d].city)) alts.push_back(r);
      std::sort(alts.begin(), alts.end(), [](auto a, auto b) { return a->price > b->price; });
      for (const Place* x : alts) {
        json q = p;
        q["days"][d]["activities"][i]["id"] = x->id;
        q = with_cost(w, t, q);
        if (ok(q)) { p = q; break; }
      }
      if (check_answer(w, t, p).code == "budget") return {p};
    }
  return {};
}

std::vector<std::pair<std::string, std::string>> kPlanKinds = {
    {"malformed_json", "malformed"}, {"empty_plan", "day_count"}, {"other_city", "wrong_city"},
    {"bad_types", "format"}, {"wrong_date", "dates"}, {"unknown_item", "unknown_item"},
    {"item_other_city", "item_city"}, {"missing_transport", "transport"},
    {"wrong_transport", "transport"}, {"missing_attraction", "activity_count"},
    {"repeat_attraction", "repeat"}, {"low_rated_hotel", "hotel_rating"},
    {"hotel_without_amenity", "hotel_amenity"}, {"low_rated_attraction", "attraction_rating"},
    {"wrong_diet", "dietary"}, {"quota_missed", "quota"}, {"meal_out_of_window", "meal_window"},
    {"too_early", "day_start"}, {"before_arrival", "arrival_timing"}, {"closed_visit", "opening_hours"},
    {"overlap", "schedule_conflict"}, {"wrong_total", "cost_mismatch"}, {"over_budget", "budget"}};

std::vector<std::pair<std::string, std::string>> kLookupKinds = {
    {"malformed_json", "malformed"}, {"empty_answer", "format"}, {"bad_types", "format"},
    {"list_answer", "format"}, {"unknown_item", "unknown_item"}, {"attraction_id", "unknown_item"},
    {"restaurant_id", "unknown_item"}, {"name_not_id", "unknown_item"}, {"other_city", "wrong_city"},
    {"over_price", "price"}, {"missing_amenity", "amenity"}, {"not_best", "not_best"}};

std::vector<json> lookup_candidates(const World& w, const TripTask& t, const json& ref, const std::string& kind) {
  const std::string best = ref["hotel_id"];
  std::vector<json> out;
  auto each_hotel = [&](auto pred) {
    for (const auto& h : w.hotels)
      if (pred(h)) out.push_back({{"hotel_id", h.id}});
  };
  if (kind == "malformed_json") out.push_back(std::string("{\"hotel_id\": \"") + best);
  else if (kind == "empty_answer") out.push_back(json::object());
  else if (kind == "bad_types") out.push_back({{"hotel_id", 42}});
  else if (kind == "list_answer") out.push_back(json::array({{{"hotel_id", best}}}));
  else if (kind == "unknown_item") out.push_back({{"hotel_id", "H999_1"}});
  else if (kind == "name_not_id") out.push_back({{"hotel_id", w.hotel(best)->name}});
  else if (kind == "restaurant_id") {
    for (const Restaurant* r : w.restaurants_in(t.city)) out.push_back({{"hotel_id", r->id}});
  }
  else if (kind == "attraction_id") {
    for (const Attraction* a : w.attractions_in(t.city)) out.push_back({{"hotel_id", a->id}});
  } else if (kind == "other_city") each_hotel([&](const Hotel& h) { return h.city_id != t.city; });
  else if (kind == "over_price") each_hotel([&](const Hotel& h) { return h.city_id == t.city && h.price > t.max_price; });
  else if (kind == "missing_amenity") each_hotel([&](const Hotel& h) { return h.city_id == t.city && h.price <= t.max_price && !listed(h.amenities, t.amenity); });
  else if (kind == "not_best") each_hotel([&](const Hotel& h) { return h.city_id == t.city && h.id != best; });
  return out;
}

std::vector<json> plan_candidates(const World& w, const TripTask& t, const json& ref, const std::string& kind) {
  std::vector<json> out;
  const size_t nd = ref["days"].size();
  if (kind == "malformed_json") {
    const std::string text = ref.dump();
    out.push_back(text.substr(0, text.size() / 2));
  } else if (kind == "empty_plan") {
    out.push_back({{"days", json::array()}, {"total_cost", 0}});
  } else if (kind == "other_city") {
    if (const City* c = other_city(w, t)) {  // a whole plausible plan, in the wrong city
      json p = ref;
      auto atts = w.attractions_in(c->id);
      auto rests = w.restaurants_in(c->id);
      auto hotels = w.hotels_in(c->id);
      size_t ai = 0, ri = 0;
      for (auto& d : p["days"]) {
        d["city"] = c->id;
        d["hotel"] = hotels.front()->id;
        d["transport"] = nullptr;
        for (auto& a : d["activities"])
          a["id"] = a["kind"] == "attraction" ? atts[ai++ % atts.size()]->id : rests[ri++ % rests.size()]->id;
      }
      out.push_back(p);
    }
  } else if (kind == "bad_types") {
    json p = ref;
    p["total_cost"] = std::to_string(ref["total_cost"].get<int>());
    out.push_back(p);
  } else if (kind == "wrong_date") {
    json p = ref;
    p["days"][0]["date"] = civil_from_days(*parse_date(ref["days"][0]["date"]) + 1);
    out.push_back(p);
  } else if (kind == "unknown_item") {
    for (auto [d, i] : slots(ref, true)) {
      json p = ref;
      p["days"][d]["activities"][i]["id"] = "A999_" + std::to_string(i + 1);
      out.push_back(p);
    }
  } else if (kind == "item_other_city") {
    if (const City* c = other_city(w, t))
      for (auto [d, i] : slots(ref, true)) {
        json p = ref;
        p["days"][d]["activities"][i]["id"] = w.attractions_in(c->id).front()->id;
        out.push_back(with_cost(w, t, p));
      }
  } else if (kind == "missing_transport" || kind == "wrong_transport") {
    for (size_t d = 0; d < nd; ++d) {
      if (!t.days[d].travel) continue;
      json p = ref;
      if (kind == "missing_transport") {
        p["days"][d]["transport"] = nullptr;
        out.push_back(with_cost(w, t, p));
      } else {
        for (const auto& x : w.transport)  // the same route on another date
          if (x.from_city == t.days[d - 1].city && x.to_city == t.days[d].city && x.date != t.days[d].date) {
            p["days"][d]["transport"] = x.id;
            out.push_back(with_cost(w, t, p));
            break;
          }
      }
    }
    if (kind == "wrong_transport" && out.empty() && !w.transport.empty()) {
      json p = ref;  // a transport on a day without travel
      p["days"][0]["transport"] = w.transport.front().id;
      out.push_back(with_cost(w, t, p));
    }
  } else if (kind == "missing_attraction") {
    for (auto [d, i] : slots(ref, true)) {
      json p = ref;
      p["days"][d]["activities"].erase(i);
      out.push_back(with_cost(w, t, p));
    }
  } else if (kind == "repeat_attraction") {
    auto s = slots(ref, true);
    for (size_t k = 1; k < s.size(); ++k) {
      json p = ref;
      p["days"][s[k].first]["activities"][s[k].second]["id"] = ref["days"][s[0].first]["activities"][s[0].second]["id"];
      out.push_back(with_cost(w, t, p));
    }
  } else if (kind == "low_rated_hotel") {
    out = swap_hotels(w, t, ref, [&](const Hotel& h) { return h.rating < t.hotel_min_rating; });
  } else if (kind == "hotel_without_amenity") {
    if (!t.hotel_amenity.empty())
      out = swap_hotels(w, t, ref, [&](const Hotel& h) { return h.rating >= t.hotel_min_rating && !listed(h.amenities, t.hotel_amenity); });
  } else if (kind == "low_rated_attraction") {
    out = swap_attractions(w, t, ref, [&](const Attraction& a) { return a.rating < t.attraction_min_rating; });
  } else if (kind == "wrong_diet") {
    if (!t.diet.empty()) out = swap_restaurants(w, t, ref, [&](const Restaurant& r) { return !listed(r.diets, t.diet); });
  } else if (kind == "quota_missed") {
    if (!t.quotas.empty())
      out = swap_attractions(w, t, ref, [&](const Attraction& a) { return !t.quotas.count(a.type) && a.rating >= t.attraction_min_rating; });
  } else if (kind == "meal_out_of_window") {
    out = retime(ref, [](size_t, size_t, const json& a) -> std::vector<int> {
      if (a["kind"] == "lunch") return {kLunchTo + 30, kLunchFrom - 30};
      if (a["kind"] == "dinner") return {kDinnerTo + 30, kDinnerFrom - 30};
      return {};
    });
  } else if (kind == "too_early" || kind == "before_arrival") {
    out = retime(ref, [&](size_t d, size_t i, const json&) -> std::vector<int> {
      if (i != 0 || t.days[d].travel != (kind == "before_arrival")) return {};
      const int s = *parse_hhmm(ref["days"][d]["activities"][0]["start"]);
      return {s - 45, s - 20, s - 90};
    });
  } else if (kind == "closed_visit") {
    out = retime(ref, [&](size_t, size_t, const json& a) -> std::vector<int> {
      if (a["kind"] != "attraction") return {};
      const Attraction* x = w.attraction(a["id"]);
      return {x->close_min - x->duration_min + 30, x->open_min - 30};
    });
    auto swaps = swap_attractions(w, t, ref, [&](const Attraction& a) {
      return a.rating >= t.attraction_min_rating;
    });
    out.insert(out.end(), swaps.begin(), swaps.end());
  } else if (kind == "overlap") {
    out = retime(ref, [&](size_t d, size_t i, const json&) -> std::vector<int> {
      if (i == 0) return {};
      const int prev = *parse_hhmm(ref["days"][d]["activities"][i - 1]["start"]);
      const int s = *parse_hhmm(ref["days"][d]["activities"][i]["start"]);
      return {prev + 15, s - 5, prev + 45};
    });
  } else if (kind == "wrong_total") {
    json p = ref;
    p["total_cost"] = ref["total_cost"].get<int>() - 1;
    out.push_back(p);
  } else if (kind == "over_budget") {
    out = over_budget(w, t, ref);
  }
  return out;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> negative_kinds(const std::string& task_kind) {
  return task_kind == "lookup" ? kLookupKinds : kPlanKinds;
}

std::vector<Negative> make_negatives(const World& w, const TripTask& t, const json& ref) {
  std::vector<Negative> out;
  for (const auto& [kind, expected] : negative_kinds(t.kind)) {
    const auto candidates = t.kind == "lookup" ? lookup_candidates(w, t, ref, kind)
                                               : plan_candidates(w, t, ref, kind);
    for (const json& c : candidates) {
      const Verdict v = check_answer(w, t, c);
      if (!v.pass && v.code == expected) {
        out.push_back({kind, expected, c});
        break;
      }
    }
  }
  return out;
}

}  // namespace envforge::generators::trip
