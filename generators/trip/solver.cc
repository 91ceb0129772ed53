#include "generators/trip/solver.h"

#include <algorithm>
#include <climits>
#include <map>

#include "generators/trip/calendar.h"
#include "generators/trip/checker.h"

namespace envforge::generators::trip {
namespace {

using nlohmann::json;

struct Item {
  const Place* place;
  std::string kind;  // attraction, lunch, dinner
  int duration;
  int bit;           // index in the task's id space
  int type_ix = -1;  // quota index of an attraction, -1 if none
};

// Earliest-start schedule of items in the given order; false if infeasible.
// Starting each item as early as allowed is optimal for a fixed order.
bool schedule(const std::vector<const Item*>& order, int day_start, std::vector<int>& starts) {
  int t = day_start;
  const Item* prev = nullptr;
  starts.clear();
  for (const Item* it : order) {
    int s = prev ? t + travel_minutes(*prev->place, *it->place) : t;
    s = std::max(s, it->place->open_min);
    if (it->kind == "lunch") {
      s = std::max(s, kLunchFrom);
      if (s > kLunchTo) return false;
    } else if (it->kind == "dinner") {
      s = std::max(s, kDinnerFrom);
      if (s > kDinnerTo) return false;
    }
    if (s + it->duration > it->place->close_min) return false;
    starts.push_back(s);
    t = s + it->duration;
    prev = it;
  }
  return true;
}

struct Combo {
  int cost = 0;  // per-day cost without the hotel
  uint64_t att_mask = 0, rest_mask = 0;
  std::vector<int> quota_counts;
  const Transport* transport = nullptr;
  std::vector<const Item*> order;
  std::vector<int> starts;
};

struct DayCands {
  const Hotel* hotel = nullptr;
  std::vector<Combo> combos;
};

class PlanSearch {
 public:
  PlanSearch(const World& w, const TripTask& t, const SolveOptions& o) : w_(w), t_(t), o_(o) {
    for (const auto& [type, n] : t.quotas) quota_need_.push_back(n), quota_type_.push_back(type);
  }

  Solution run() {
    Solution sol;
    if (!build_days(sol)) {
      sol.feasible = false;
      return sol;
    }
    std::vector<int> suffix(days_.size() + 1, 0), slots(days_.size() + 1, 0);
    for (size_t d = days_.size(); d-- > 0;) {
      suffix[d] = suffix[d + 1] + days_[d].combos.front().cost + days_[d].hotel->price;
      slots[d] = slots[d + 1] + t_.days[d].attractions;
    }
    suffix_ = suffix;
    slots_ = slots;
    chosen_.assign(days_.size(), nullptr);
    std::vector<int> counts(quota_need_.size(), 0);
    dfs(0, 0, 0, 0, counts, sol);
    sol.feasible = best_cost_ < INT_MAX;
    sol.proven = !aborted_;
    if (sol.feasible) {
      sol.cost = best_cost_;
      sol.plan = to_plan();
    }
    return sol;
  }

 private:
  bool build_days(Solution& sol) {
    // Ids of the task's items as bits of a 64-bit mask.
    std::map<std::string, int> att_bit, rest_bit;
    for (size_t d = 0; d < t_.days.size(); ++d) {
      const DaySpec& spec = t_.days[d];
      const int wd = weekday(*parse_date(spec.date));
      DayCands dc;
      for (const Hotel* h : w_.hotels_in(spec.city)) {
        if (h->rating < t_.hotel_min_rating) continue;
        if (!t_.hotel_amenity.empty() && !listed(h->amenities, t_.hotel_amenity)) continue;
        if (!dc.hotel || h->price < dc.hotel->price) dc.hotel = h;
      }
      if (!dc.hotel) return false;
      std::vector<Item*> atts, rests;
      for (const Attraction* a : w_.attractions_in(spec.city)) {
        if (a->rating < t_.attraction_min_rating || (a->closed_mask & (1 << wd))) continue;
        auto [it, fresh] = att_bit.emplace(a->id, static_cast<int>(att_bit.size()));
        if (it->second >= 64) return false;  // more than the mask holds: refuse, never guess
        int q = -1;
        for (size_t k = 0; k < quota_type_.size(); ++k)
          if (quota_type_[k] == a->type) q = static_cast<int>(k);
        atts.push_back(keep({a, "attraction", a->duration_min, it->second, q}));
      }
      for (const Restaurant* r : w_.restaurants_in(spec.city)) {
        if ((r->closed_mask & (1 << wd)) || (!t_.diet.empty() && !listed(r->diets, t_.diet))) continue;
        auto [it, fresh] = rest_bit.emplace(r->id, static_cast<int>(rest_bit.size()));
        if (it->second >= 64) return false;
        rests.push_back(keep({r, "", kMealMinutes, it->second}));
      }
      std::vector<const Transport*> options = {nullptr};
      if (spec.travel) options = w_.transport_between(t_.days[d - 1].city, spec.city, spec.date);
      std::map<std::pair<uint64_t, uint64_t>, size_t> best_of;  // same items: keep the cheapest
      for (const Transport* tr : options) {
        const int start = tr ? tr->arrive_min + kArrivalTransferMin : kDayStartMin;
        enumerate_day(spec, start, tr, atts, rests, dc.combos, best_of, sol);
      }
      if (dc.combos.empty()) return false;
      std::stable_sort(dc.combos.begin(), dc.combos.end(),
                       [](const Combo& a, const Combo& b) { return a.cost < b.cost; });
      days_.push_back(std::move(dc));
    }
    return true;
  }

  Item* keep(Item it) {
    items_.push_back(std::make_unique<Item>(std::move(it)));
    return items_.back().get();
  }

  void enumerate_day(const DaySpec& spec, int start, const Transport* tr,
                     const std::vector<Item*>& atts, const std::vector<Item*>& rests,
                     std::vector<Combo>& out, std::map<std::pair<uint64_t, uint64_t>, size_t>& best_of,
                     Solution& sol) {
    const int k = spec.attractions;
    if (static_cast<int>(atts.size()) < k) return;
    std::vector<int> pick(static_cast<size_t>(k));
    for (int i = 0; i < k; ++i) pick[static_cast<size_t>(i)] = i;
    std::vector<Item> meal_items;
    std::vector<const Item*> meals(spec.meals.size());
    std::vector<size_t> meal_ix(spec.meals.size(), 0);
    const int base = tr ? tr->price * t_.travelers : 0;
    for (;;) {  // every k-subset of attractions
      std::vector<const Item*> chosen_atts;
      int att_cost = 0;
      uint64_t amask = 0;
      for (int i : pick) {
        chosen_atts.push_back(atts[static_cast<size_t>(i)]);
        att_cost += atts[static_cast<size_t>(i)]->place->price;
        amask |= 1ull << atts[static_cast<size_t>(i)]->bit;
      }
      std::fill(meal_ix.begin(), meal_ix.end(), 0);
      bool meals_done = rests.empty() && !spec.meals.empty();
      while (!meals_done) {  // every assignment of restaurants to meals
        uint64_t rmask = 0;
        int meal_cost = 0;
        bool distinct = true;
        std::vector<Item> mi;
        mi.reserve(spec.meals.size());
        for (size_t m = 0; m < spec.meals.size(); ++m) {
          const Item* r = rests[meal_ix[m]];
          if (rmask & (1ull << r->bit)) distinct = false;
          rmask |= 1ull << r->bit;
          meal_cost += r->place->price;
          mi.push_back({r->place, spec.meals[m], kMealMinutes, r->bit});
        }
        if (distinct || !t_.no_repeat) try_orders(chosen_atts, mi, start, tr, base + (att_cost + meal_cost) * t_.travelers, amask, rmask, out, best_of, sol);
        size_t m = 0;
        for (; m < meal_ix.size(); ++m) {
          if (++meal_ix[m] < rests.size()) break;
          meal_ix[m] = 0;
        }
        meals_done = m == meal_ix.size();
      }
      int i = k - 1;  // next subset
      while (i >= 0 && pick[static_cast<size_t>(i)] == static_cast<int>(atts.size()) - k + i) --i;
      if (i < 0) break;
      ++pick[static_cast<size_t>(i)];
      for (int j = i + 1; j < k; ++j) pick[static_cast<size_t>(j)] = pick[static_cast<size_t>(j - 1)] + 1;
    }
  }

  void try_orders(const std::vector<const Item*>& atts, const std::vector<Item>& meals, int start,
                  const Transport* tr, int cost, uint64_t amask, uint64_t rmask,
                  std::vector<Combo>& out, std::map<std::pair<uint64_t, uint64_t>, size_t>& best_of,
                  Solution& sol) {
    // Combos with the same items constrain later days alike: keep the cheapest.
    const auto key = std::make_pair(amask, rmask);
    auto found = best_of.find(key);
    if (found != best_of.end() && out[found->second].cost <= cost) return;
    // Positions: attractions are 0..k-1, meals k.. in their fixed order.
    std::vector<int> perm(atts.size() + meals.size());
    for (size_t i = 0; i < perm.size(); ++i) perm[i] = static_cast<int>(i);
    std::vector<const Item*> order(perm.size());
    std::vector<int> starts;
    do {
      int last_meal = -1;
      bool ok = true;
      for (size_t i = 0; i < perm.size(); ++i) {
        const int p = perm[i];
        if (p >= static_cast<int>(atts.size())) {
          if (p < last_meal) ok = false;
          last_meal = p;
          order[i] = &meals[static_cast<size_t>(p) - atts.size()];
        } else {
          order[i] = atts[static_cast<size_t>(p)];
        }
      }
      if (!ok) continue;
      ++sol.day_candidates;
      if (!schedule(order, start, starts)) continue;
      Combo c;
      c.cost = cost;
      c.att_mask = amask;
      c.rest_mask = rmask;
      c.transport = tr;
      c.quota_counts.assign(quota_need_.size(), 0);
      for (const Item* a : atts)
        if (a->type_ix >= 0) ++c.quota_counts[static_cast<size_t>(a->type_ix)];
      for (const Item* it : order) {  // meals are copied: they live in this stack frame
        if (it->kind == "attraction") c.order.push_back(it);
        else c.order.push_back(keep(*it));
      }
      c.starts = starts;
      if (found != best_of.end()) {
        out[found->second] = std::move(c);
      } else {
        best_of[key] = out.size();
        out.push_back(std::move(c));
      }
      return;
    } while (std::next_permutation(perm.begin(), perm.end()));
  }

  void dfs(size_t d, int cost, uint64_t used_a, uint64_t used_r, std::vector<int>& counts, Solution& sol) {
    if (aborted_) return;
    if (++sol.nodes > o_.node_limit) {
      aborted_ = true;
      return;
    }
    int deficit = 0;
    for (size_t k = 0; k < counts.size(); ++k) deficit += std::max(0, quota_need_[k] - counts[k]);
    if (deficit > slots_[d]) return;
    if (d == days_.size()) {
      if (cost < best_cost_) {
        best_cost_ = cost;
        best_ = chosen_;
      }
      return;
    }
    const int hotel = days_[d].hotel->price;
    for (const Combo& c : days_[d].combos) {
      if (cost + hotel + c.cost + suffix_[d + 1] >= best_cost_) break;  // sorted: the rest cost more
      if ((c.att_mask & used_a) || (t_.no_repeat && (c.rest_mask & used_r))) continue;
      chosen_[d] = &c;
      for (size_t k = 0; k < counts.size(); ++k) counts[k] += c.quota_counts[k];
      dfs(d + 1, cost + hotel + c.cost, used_a | c.att_mask, used_r | c.rest_mask, counts, sol);
      for (size_t k = 0; k < counts.size(); ++k) counts[k] -= c.quota_counts[k];
      if (aborted_) return;
    }
  }

  json to_plan() const {
    json plan = {{"days", json::array()}, {"total_cost", best_cost_}};
    for (size_t d = 0; d < days_.size(); ++d) {
      const Combo& c = *best_[d];
      json day = {{"date", t_.days[d].date}, {"city", t_.days[d].city}, {"hotel", days_[d].hotel->id},
                  {"transport", c.transport ? json(c.transport->id) : json(nullptr)},
                  {"activities", json::array()}};
      for (size_t i = 0; i < c.order.size(); ++i)
        day["activities"].push_back({{"kind", c.order[i]->kind}, {"id", c.order[i]->place->id},
                                     {"start", format_hhmm(c.starts[i])}});
      plan["days"].push_back(std::move(day));
    }
    return plan;
  }

  const World& w_;
  const TripTask& t_;
  const SolveOptions& o_;
  std::vector<int> quota_need_;
  std::vector<std::string> quota_type_;
  std::vector<std::unique_ptr<Item>> items_;
  std::vector<DayCands> days_;
  std::vector<int> suffix_, slots_;
  std::vector<const Combo*> chosen_, best_;
  int best_cost_ = INT_MAX;
  bool aborted_ = false;
};

}  // namespace

Solution solve(const World& world, const TripTask& task, const SolveOptions& options) {
  if (task.kind == "lookup") {
    Solution s;
    const std::string id = best_hotel(world, task);
    s.feasible = !id.empty();
    if (s.feasible) {
      s.plan = {{"hotel_id", id}};
      s.cost = world.hotel(id)->price;
    }
    return s;
  }
  if (task.days.empty()) return {};
  return PlanSearch(world, task, options).run();
}

}  // namespace envforge::generators::trip
