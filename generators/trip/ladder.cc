#include "generators/trip/ladder.h"

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

#include "generators/trip/calendar.h"
#include "generators/trip/rng.h"

namespace envforge::generators::trip {
namespace {

using nlohmann::json;

int qualifying_hotels(const World& w, const std::string& city, double floor, const std::string& amenity) {
  int n = 0;
  for (const Hotel* h : w.hotels_in(city))
    if (h->rating >= floor && (amenity.empty() || listed(h->amenities, amenity))) ++n;
  return n;
}

// The highest floor in `steps` that leaves at least `need` hotels in every city.
double hotel_floor(const World& w, const std::vector<std::string>& cities, const std::string& amenity) {
  for (double f : {4.0, 3.5, 3.0, 2.5}) {
    bool ok = true;
    for (const auto& c : cities) ok = ok && qualifying_hotels(w, c, f, amenity) >= (amenity.empty() ? 2 : 1);
    if (ok) return f;
  }
  return 0;
}

double attraction_floor(const World& w, const std::vector<std::string>& cities, int need) {
  for (double f : {3.8, 3.5, 3.0}) {
    bool ok = true;
    for (const auto& c : cities) {
      int n = 0;
      for (const Attraction* a : w.attractions_in(c)) n += a->rating >= f;
      ok = ok && n >= need + 3;
    }
    if (ok) return f;
  }
  return 0;
}

bool draw_lookup(const World& w, Rng& rng, TripTask& t) {
  const City& c = rng.pick(w.cities);
  const auto hotels = w.hotels_in(c.id);
  std::vector<std::string> amenities;
  for (const Hotel* h : hotels)
    for (const auto& a : h->amenities)
      if (!listed(amenities, a)) amenities.push_back(a);
  if (amenities.empty()) return false;
  std::sort(amenities.begin(), amenities.end());
  t.city = c.id;
  t.amenity = rng.pick(amenities);
  std::vector<int> prices;
  for (const Hotel* h : hotels)
    if (listed(h->amenities, t.amenity)) prices.push_back(h->price);
  std::sort(prices.begin(), prices.end());
  if (prices.size() < 2) return false;
  t.max_price = prices[static_cast<size_t>(rng.range(1, static_cast<int64_t>(prices.size()) - 1))];
  // The best must be unique by rating, or "the best" is ambiguous.
  std::vector<double> ratings;
  for (const Hotel* h : hotels)
    if (h->price <= t.max_price && listed(h->amenities, t.amenity)) ratings.push_back(h->rating);
  std::sort(ratings.rbegin(), ratings.rend());
  return ratings.size() >= 2 && ratings[0] > ratings[1];
}

// A chain of `n` distinct cities, each connected by transport to the next.
std::vector<std::string> city_chain(const World& w, Rng& rng, int n) {
  std::vector<std::string> chain = {rng.pick(w.cities).id};
  while (static_cast<int>(chain.size()) < n) {
    std::vector<std::string> next;
    for (const auto& c : w.cities)
      if (!listed(chain, c.id) && w.connected(chain.back(), c.id)) next.push_back(c.id);
    if (next.empty()) return {};
    chain.push_back(rng.pick(next));
  }
  return chain;
}

// Attraction types that at least two eligible attractions of the trip have.
std::vector<std::string> quota_types(const World& w, const std::vector<std::string>& cities, double floor) {
  std::map<std::string, int> count;
  for (const auto& c : cities)
    for (const Attraction* a : w.attractions_in(c))
      if (a->rating >= floor) ++count[a->type];
  std::vector<std::string> types;
  for (const auto& [type, n] : count)
    if (n >= 2) types.push_back(type);
  return types;
}

// Diets that at least three restaurants serve in every city of the trip.
std::vector<std::string> common_diets(const World& w, const std::vector<std::string>& cities) {
  std::vector<std::string> out;
  for (const std::string diet : {"gluten_free", "vegetarian"}) {
    bool ok = true;
    for (const auto& c : cities) {
      int n = 0;
      for (const Restaurant* r : w.restaurants_in(c)) n += listed(r->diets, diet);
      ok = ok && n >= 3;
    }
    if (ok) out.push_back(diet);
  }
  return out;
}

// What the verifier does with keys the format does not name, said the same way in every prompt.
constexpr const char* kExtraKeysRule = "Keys other than these are ignored.";

std::string rating_text(double r) {
  std::ostringstream o;
  o.precision(1);
  o << std::fixed << r;
  return o.str();
}

}  // namespace

bool draw_task(const World& w, uint64_t seed, int level, int attempt, TripTask& t) {
  Rng rng(seed, "task/" + std::to_string(level) + "/" + std::to_string(attempt));
  t = TripTask{};
  t.level = level;
  if (level == 1) {
    t.kind = "lookup";
    return draw_lookup(w, rng, t);
  }
  t.kind = "plan";
  // Day layout per level: cities by index into the chain, travel on a change.
  std::vector<int> layout;
  switch (level) {
    case 2: layout = {0}; break;
    case 3: layout = {0, 0}; break;
    case 4: layout = {0, 0, 1}; break;
    default: layout = {0, 1, 1, 2}; break;
  }
  const int n_cities = *std::max_element(layout.begin(), layout.end()) + 1;
  const auto chain = city_chain(w, rng, n_cities);
  if (chain.empty()) return false;
  const int64_t first = *parse_date(w.start_date) +
                        rng.range(0, w.horizon_days - static_cast<int64_t>(layout.size()));
  for (size_t i = 0; i < layout.size(); ++i) {
    DaySpec d;
    d.date = civil_from_days(first + static_cast<int64_t>(i));
    d.city = chain[static_cast<size_t>(layout[i])];
    d.travel = i > 0 && layout[i] != layout[i - 1];
    d.attractions = d.travel ? 1 : 2;
    d.meals = d.travel ? std::vector<std::string>{"dinner"} : std::vector<std::string>{"lunch", "dinner"};
    t.days.push_back(std::move(d));
  }
  t.travelers = level == 2 ? 1 : static_cast<int>(rng.range(1, 3));
  t.no_repeat = level >= 3;
  if (level >= 5) {
    std::vector<std::string> amenities = {"breakfast", "wifi", "parking"};
    rng.shuffle(amenities);
    for (const auto& a : amenities)
      if (hotel_floor(w, chain, a) > 0) {
        t.hotel_amenity = a;
        break;
      }
    const auto diets = common_diets(w, chain);
    if (t.hotel_amenity.empty() || diets.empty()) return false;
    t.diet = rng.pick(diets);
  }
  t.hotel_min_rating = hotel_floor(w, chain, t.hotel_amenity);
  if (t.hotel_min_rating == 0) return false;
  if (level >= 3) t.attraction_min_rating = attraction_floor(w, chain, 4);
  if (level >= 4) {
    auto types = quota_types(w, chain, t.attraction_min_rating);
    rng.shuffle(types);
    const size_t n = level >= 5 ? 2 : 1;
    for (size_t i = 0; i < n && i < types.size(); ++i) t.quotas[types[i]] = 1;
  }
  return true;
}

std::vector<LadderTask> make_ladder(const World& w, uint64_t seed, int levels, const SolveOptions& o) {
  static const int kBudgetPercent[] = {0, 0, 150, 130, 120, 110};
  std::vector<LadderTask> out;
  for (int level = 1; level <= levels; ++level) {
    for (int attempt = 0; attempt < 12; ++attempt) {
      LadderTask lt;
      if (!draw_task(w, seed, level, attempt, lt.task)) continue;
      lt.reference = solve(w, lt.task, o);
      if (!lt.reference.feasible || !lt.reference.proven) continue;
      lt.cheapest_cost = lt.reference.cost;
      if (lt.task.kind == "plan") {
        const int pct = kBudgetPercent[std::min(level, 5)];
        lt.task.budget = (lt.cheapest_cost * pct + 99) / 100;
      }
      lt.prompt = render_prompt(w, lt.task);
      lt.answer_schema = answer_schema(lt.task);
      out.push_back(std::move(lt));
      break;
    }
  }
  return out;
}

std::string system_prompt() {
  return "You are a travel planner. Use the tools to look up cities, attractions, hotels, "
         "restaurants and transport in the travel database, then answer with JSON only, in the "
         "exact format the user asks for, naming things by the ids the tools give. Times are HH:MM "
         "(24 h), dates YYYY-MM-DD, prices in whole currency units.";
}

std::string render_prompt(const World& w, const TripTask& t) {
  std::ostringstream o;
  if (t.kind == "lookup") {
    o << "Which hotel in " << w.city(t.city)->name << " (" << t.city << ") has the highest rating among "
      << "those costing at most " << t.max_price << " per night and offering " << t.amenity
      << "? Answer with JSON only: {\"hotel_id\": \"<id>\"}, the hotel's id as the tools give it, not its "
      << "name. " << kExtraKeysRule;
    return o.str();
  }
  o << "Plan a " << t.days.size() << "-day trip for " << t.travelers
    << (t.travelers == 1 ? " traveller" : " travellers") << ".\n";
  for (size_t i = 0; i < t.days.size(); ++i) {
    const auto& d = t.days[i];
    o << "Day " << i + 1 << " (" << d.date << "): " << w.city(d.city)->name << " (" << d.city << ")";
    if (d.travel) o << ", travelling there from " << w.city(t.days[i - 1].city)->name << " by any transport that day";
    o << "; exactly " << d.attractions << (d.attractions == 1 ? " attraction" : " attractions");
    o << (d.meals.size() == 2 ? ", lunch and dinner" : ", dinner") << "; a hotel night in the city.\n";
  }
  o << "Rules: on a day without travel the first activity starts at 09:00 or later; on a travel day "
       "it starts at least 30 minutes after the transport arrives, which may be before 09:00. Each "
       "visit lasts the attraction's duration, each meal 60 minutes; lunch starts 11:00-13:30, dinner "
       "17:30-20:30. Everything must be open for the whole visit (mind closed days). Between "
       "consecutive activities allow the travel time between the two places.\n";
  o << "No attraction may be visited twice.";
  if (t.no_repeat) o << " No restaurant may be used twice.";
  o << "\n";
  if (t.hotel_min_rating > 0) o << "Hotels rated at least " << rating_text(t.hotel_min_rating) << ".\n";
  if (!t.hotel_amenity.empty()) o << "Every hotel must offer " << t.hotel_amenity << ".\n";
  if (t.attraction_min_rating > 0) o << "Attractions rated at least " << rating_text(t.attraction_min_rating) << ".\n";
  for (const auto& [type, n] : t.quotas) o << "Visit at least " << n << " " << type << ".\n";
  if (!t.diet.empty()) o << "Every meal must be at a restaurant serving " << t.diet << " food.\n";
  o << "Cost: hotel price per night (one room) + per traveller: tickets, meals and transport.";
  if (t.budget > 0) o << " The total must not exceed " << t.budget << ".";
  o << "\nAnswer with JSON only: {\"days\": [{\"date\", \"city\", \"hotel\", \"transport\" (id or null), "
       "\"activities\": [{\"kind\": \"attraction\"|\"lunch\"|\"dinner\", \"id\", \"start\": \"HH:MM\"}]}], "
       "\"total_cost\": <integer>}, activities in time order. \"city\", \"hotel\", \"transport\" and "
       "\"id\" hold ids as the tools give them (e.g. " << t.days[0].city << "), not names. total_cost "
       "is a whole number (436 and 436.0 are the same). " << kExtraKeysRule;
  return o.str();
}

json answer_schema(const TripTask& t) {
  if (t.kind == "lookup")
    return {{"type", "object"}, {"required", {"hotel_id"}},
            {"properties", {{"hotel_id", {{"type", "string"}}}}}};
  const json activity = {
      {"type", "object"}, {"required", {"kind", "id", "start"}},
      {"properties", {{"kind", {{"enum", {"attraction", "lunch", "dinner"}}}},
                      {"id", {{"type", "string"}}},
                      {"start", {{"type", "string"}, {"pattern", "^[0-2][0-9]:[0-5][0-9]$"}}}}}};
  const json day = {
      {"type", "object"}, {"required", {"date", "city", "hotel", "transport", "activities"}},
      {"properties", {{"date", {{"type", "string"}}}, {"city", {{"type", "string"}}},
                      {"hotel", {{"type", "string"}}}, {"transport", {{"type", {"string", "null"}}}},
                      {"activities", {{"type", "array"}, {"items", activity}}}}}};
  return {{"type", "object"}, {"required", {"days", "total_cost"}},
          {"properties", {{"days", {{"type", "array"}, {"minItems", t.days.size()},
                                    {"maxItems", t.days.size()}, {"items", day}}},
                          {"total_cost", {{"type", "integer"}}}}}};
}

}  // namespace envforge::generators::trip
