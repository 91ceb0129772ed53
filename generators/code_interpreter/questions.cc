#include "generators/code_interpreter/questions.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <stdexcept>

#include "generators/trip/rng.h"

namespace envforge::generators::code_interpreter {
namespace {

using nlohmann::json;

double revenue(const Order& o) { return o.units * *o.unit_price * (1.0 - o.discount.value_or(0.0)); }

// numpy's default (linear) quantile.
double quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  const double pos = q * static_cast<double>(v.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (pos - static_cast<double>(lo));
}

double slope(const std::map<int, double>& points) {
  double mx = 0, my = 0;
  for (const auto& [x, y] : points) mx += x, my += y;
  mx /= static_cast<double>(points.size());
  my /= static_cast<double>(points.size());
  double sxy = 0, sxx = 0;
  for (const auto& [x, y] : points) sxy += (x - mx) * (y - my), sxx += (x - mx) * (x - mx);
  return sxx == 0 ? 0 : sxy / sxx;
}

const char* kMonths[] = {"", "January", "February", "March", "April", "May", "June"};

std::string fmt(double tol) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", tol);
  return buf;
}

std::string closing(double tol) {
  return " Answer with the number only; answers within " + fmt(tol) + " of the exact value are accepted. The "
         "data are in the SQLite database /world/world.db and as CSV files (list_data shows them).";
}

bool draw(const Dataset& d, int level, trip::Rng& rng, Question& q) {
  q.level = level;
  const std::string head =
      "The tables orders, products and customers hold half a year of sales. Revenue of an order is "
      "units * unit_price * (1 - discount); a missing discount means none, and orders with a missing unit_price "
      "have no known revenue and are left out of revenue figures. ";
  if (level == 1) {
    const Product& p = d.products[rng.next() % d.products.size()];
    q.kind = "units_of_product";
    q.params = {{"product", p.name}};
    double units = 0, all = 0;
    for (const auto& o : d.orders) (o.product == p.name ? units : all) += o.units;
    q.expected = units;
    q.wrong_path = units + all;
    q.wrong_path_kind = "all_products";
    q.prompt = "How many units of the product '" + p.name + "' were ordered in total?";
  } else if (level == 2) {
    const std::string& cat = d.categories[rng.next() % d.categories.size()];
    const int month = 1 + static_cast<int>(rng.next() % 6);
    q.kind = "category_month_revenue";
    q.params = {{"category", cat}, {"month", month}};
    double total = 0, wrong = 0;
    for (const auto& o : d.orders) {
      if (d.product(o.product).category != cat || month_of(o.day) != month || !o.unit_price) continue;
      total += revenue(o);
      if (o.discount) wrong += revenue(o);   // mistake: orders without a discount dropped
    }
    q.expected = total;
    q.wrong_path = wrong;
    q.wrong_path_kind = "missing_discount_dropped";
    q.prompt = head + "What was the total revenue of the category '" + cat + "' in " + kMonths[month] + " 2024?";
  } else if (level == 3) {
    const std::string& seg = d.segments[rng.next() % d.segments.size()];
    q.kind = "segment_mean_revenue_no_outliers";
    q.params = {{"segment", seg}};
    std::vector<double> units;
    for (const auto& o : d.orders) units.push_back(o.units);
    const double q1 = quantile(units, 0.25), q3 = quantile(units, 0.75), cut = q3 + 3 * (q3 - q1);
    double sum = 0, n = 0, wsum = 0, wn = 0;
    for (const auto& o : d.orders) {
      if (!o.unit_price || d.customer(o.customer_id).segment != seg) continue;
      wsum += revenue(o), wn += 1;
      if (o.units > cut) continue;
      sum += revenue(o), n += 1;
    }
    if (n == 0) return false;
    q.expected = sum / n;
    q.wrong_path = wn > 0 ? wsum / wn : 0;
    q.wrong_path_kind = "outliers_kept";
    q.prompt = head + "Outlier orders are those whose units exceed Q3 + 3 * (Q3 - Q1), with Q1 and Q3 the "
               "quartiles (linear interpolation) of units over all orders. Leaving outlier orders out, what is "
               "the mean revenue per order of customers in the segment '" + seg + "'?";
  } else if (level == 4) {
    const std::string& region = d.regions[rng.next() % d.regions.size()];
    q.kind = "region_daily_units_slope";
    q.params = {{"region", region}, {"start", kStartDate}};
    std::map<int, double> daily, counts;
    for (const auto& o : d.orders) {
      if (d.customer(o.customer_id).region != region) continue;
      daily[o.day] += o.units;
      counts[o.day] += 1;
    }
    if (daily.size() < 10) return false;
    q.expected = slope(daily);
    q.wrong_path = slope(counts);
    q.wrong_path_kind = "orders_not_units";
    q.prompt = "The tables orders and customers hold half a year of sales. For customers in the region '" +
               region + "', take the total units ordered on each date that has orders, and fit a least-squares "
               "line of those daily totals against the number of days since " + kStartDate +
               ". What is the slope of that line (units per day)?";
  } else {
    const std::string& region = d.regions[rng.next() % d.regions.size()];
    q.kind = "signup_to_first_order_days";
    q.params = {{"region", region}};
    std::map<int, std::pair<int, int>> first;   // customer -> (first day, orders)
    for (const auto& o : d.orders) {
      auto [it, fresh] = first.emplace(o.customer_id, std::make_pair(o.day, 0));
      it->second.first = std::min(it->second.first, o.day);
      it->second.second += 1;
    }
    double sum = 0, n = 0, wsum = 0, wn = 0;
    for (const auto& [id, fc] : first) {
      const Customer& c = d.customer(id);
      if (c.region != region) continue;
      wsum += fc.first - c.signup_day, wn += 1;
      if (fc.second < 2) continue;
      sum += fc.first - c.signup_day, n += 1;
    }
    if (n == 0) return false;
    q.expected = sum / n;
    q.wrong_path = wn > 0 ? wsum / wn : 0;
    q.wrong_path_kind = "single_order_customers_kept";
    q.prompt = "The tables orders and customers hold half a year of sales and the customers' signup dates. "
               "Among customers in the region '" + region + "' who placed at least two orders, what is the mean "
               "number of days from signup to their first order?";
  }
  q.tolerance = level == 4 ? std::max(1e-5, 1e-4 * std::fabs(q.expected)) : tolerance_for(q.expected);
  q.prompt += closing(q.tolerance);
  return true;
}

}  // namespace

double tolerance_for(double expected) { return std::max(0.01, 1e-4 * std::fabs(expected)); }

std::vector<Question> make_questions(const Dataset& d, uint64_t seed) {
  std::vector<Question> out;
  for (int level = 1; level <= 5; ++level) {
    trip::Rng rng(seed, "code_interpreter/question/" + std::to_string(level));
    Question q;
    for (int attempt = 0; attempt < 8; ++attempt)
      if (draw(d, level, rng, q)) {
        out.push_back(q);
        break;
      }
  }
  return out;
}

}  // namespace envforge::generators::code_interpreter
