#include "generators/code_interpreter/dataset.h"

#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "generators/trip/rng.h"

namespace envforge::generators::code_interpreter {
namespace {

// Civil date of a day count since 1970-01-01 (H. Hinnant's algorithm).
void civil(int64_t z, int& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y = static_cast<int>(yoe + era * 400) + (m <= 2);
}

constexpr int64_t kEpochDay = 19723;   // 2024-01-01 as days since 1970-01-01

double round2(double x) { return std::round(x * 100.0) / 100.0; }

}  // namespace

std::string date_text(int day) {
  int y;
  unsigned m, d;
  civil(kEpochDay + day, y, m, d);
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", y, m, d);
  return buf;
}

int month_of(int day) {
  int y;
  unsigned m, d;
  civil(kEpochDay + day, y, m, d);
  return static_cast<int>(m);
}

const Product& Dataset::product(const std::string& name) const {
  for (const auto& p : products)
    if (p.name == name) return p;
  throw std::out_of_range("no product " + name);
}

Dataset generate_dataset(uint64_t seed) {
  trip::Rng rng(seed, "code_interpreter/data");
  Dataset d;
  d.seed = seed;
  d.regions = {"North", "South", "East", "West"};
  d.segments = {"consumer", "business", "education"};
  d.categories = {"hardware", "software", "services"};
  const char* names[] = {"anvil", "bracket", "cable", "dongle", "editor", "firewall", "gateway", "helpdesk", "install"};
  for (int i = 0; i < 9; ++i) {
    Product p;
    p.name = names[i];
    p.category = d.categories[static_cast<size_t>(i % 3)];
    p.base_price = round2(5.0 + rng.unit() * 95.0);
    p.unit_cost = round2(p.base_price * (0.4 + rng.unit() * 0.3));
    d.products.push_back(p);
  }
  std::vector<double> trend;   // units growth per day, per region
  for (size_t r = 0; r < d.regions.size(); ++r) trend.push_back((rng.unit() - 0.3) * 0.01);
  const int n_customers = 50 + static_cast<int>(rng.next() % 30);
  for (int i = 1; i <= n_customers; ++i) {
    Customer c;
    c.id = i;
    c.region = d.regions[rng.next() % d.regions.size()];
    c.segment = d.segments[rng.next() % d.segments.size()];
    c.signup_day = -120 + static_cast<int>(rng.next() % 170);
    d.customers.push_back(c);
  }
  const int n_orders = 500 + static_cast<int>(rng.next() % 200);
  for (int i = 1; i <= n_orders; ++i) {
    Order o;
    o.id = i;
    const Customer& c = d.customers[rng.next() % d.customers.size()];
    o.customer_id = c.id;
    const Product& p = d.products[rng.next() % d.products.size()];
    o.product = p.name;
    const int first = std::max(0, c.signup_day);
    o.day = first + static_cast<int>(rng.next() % static_cast<uint64_t>(kHorizonDays - first));
    size_t r = 0;
    while (d.regions[r] != c.region) ++r;
    const double scale = 1.0 + trend[r] * o.day + (c.segment == "business" ? 0.5 : 0.0);
    o.units = std::max(1, static_cast<int>(std::lround((1 + rng.next() % 8) * scale)));
    if (rng.next() % 60 == 0) o.units = 60 + static_cast<int>(rng.next() % 140);   // outlier orders
    if (rng.next() % 30 != 0) o.unit_price = round2(p.base_price * (0.9 + rng.unit() * 0.2));
    static constexpr double kDiscounts[] = {0.0, 0.0, 0.05, 0.1, 0.2};
    if (rng.next() % 20 != 0) o.discount = kDiscounts[rng.next() % 5];
    d.orders.push_back(o);
  }
  return d;
}

std::vector<code::Table> dataset_tables(const Dataset& d) {
  using nlohmann::json;
  code::Table customers{"customers", {"customer_id INTEGER PRIMARY KEY", "region TEXT", "segment TEXT",
                                      "signup_date TEXT"}, {}};
  for (const auto& c : d.customers) customers.rows.push_back({c.id, c.region, c.segment, date_text(c.signup_day)});
  code::Table products{"products", {"product TEXT PRIMARY KEY", "category TEXT", "list_price REAL", "unit_cost REAL"},
                       {}};
  for (const auto& p : d.products) products.rows.push_back({p.name, p.category, p.base_price, p.unit_cost});
  code::Table orders{"orders", {"order_id INTEGER PRIMARY KEY", "customer_id INTEGER", "product TEXT",
                                "order_date TEXT", "units INTEGER", "unit_price REAL", "discount REAL"}, {}};
  for (const auto& o : d.orders)
    orders.rows.push_back({o.id, o.customer_id, o.product, date_text(o.day), o.units,
                           o.unit_price ? json(*o.unit_price) : json(nullptr),
                           o.discount ? json(*o.discount) : json(nullptr)});
  return {customers, products, orders};
}

}  // namespace envforge::generators::code_interpreter
