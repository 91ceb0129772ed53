// The data of a code-interpreter environment: customers, products and orders over half a
// year, seeded with region trends, segment differences, a few outlier orders and missing
// prices and discounts. Dates are days since 2024-01-01 (day 0).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "generators/code/world_db.h"

namespace envforge::generators::code_interpreter {

inline constexpr const char* kStartDate = "2024-01-01";
inline constexpr int kHorizonDays = 182;   // January to June

struct Customer {
  int id = 0;
  std::string region, segment;
  int signup_day = 0;   // may be before day 0
};

struct Product {
  std::string name, category;
  double base_price = 0, unit_cost = 0;
};

struct Order {
  int id = 0, customer_id = 0;
  std::string product;
  int day = 0;
  int units = 0;
  std::optional<double> unit_price;  // missing in a few orders
  std::optional<double> discount;    // missing in a few orders (means none)
};

struct Dataset {
  uint64_t seed = 0;
  std::vector<std::string> regions, segments, categories;
  std::vector<Customer> customers;
  std::vector<Product> products;
  std::vector<Order> orders;

  const Customer& customer(int id) const { return customers.at(static_cast<size_t>(id - 1)); }
  const Product& product(const std::string& name) const;
};

Dataset generate_dataset(uint64_t seed);

std::string date_text(int day);   // YYYY-MM-DD of a day number
int month_of(int day);            // 1..12

std::vector<code::Table> dataset_tables(const Dataset& d);

}  // namespace envforge::generators::code_interpreter
