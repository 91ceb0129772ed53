// The trip-planning world: cities, attractions, hotels, restaurants and
// transport, generated deterministically from a seed. The same structure is
// written to the world SQLite database (world_db.h) that tools.py and verify.py
// read, and is what the solver and the checker work on in C++.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace envforge::generators::trip {

inline constexpr const char* kGeneratorName = "trip";
inline constexpr const char* kGeneratorVersion = "1.1.0";

struct City {
  std::string id;     // "C3"
  std::string name;
  std::string region;
  int x_km = 0, y_km = 0;
  double cost_level = 1.0;  // price multiplier of the city
};

// A place inside a city; x/y are in units of 100 m on the city's grid.
struct Place {
  std::string id;
  std::string city_id;
  std::string name;
  int x = 0, y = 0;
  double rating = 0;        // one decimal, 1.0..5.0
  int price = 0;            // whole currency units
  int open_min = 0, close_min = 0;  // minutes since midnight
  int closed_mask = 0;      // bit w set: closed on weekday w (0 = Monday)
};

struct Attraction : Place {
  std::string type;         // museum, park, temple, ...
  int duration_min = 60;    // a visit takes this long
};

struct Hotel : Place {      // price: per room per night; no opening hours
  std::string district;
  std::vector<std::string> amenities;  // sorted
};

struct Restaurant : Place {  // price: per person
  std::string cuisine;
  std::vector<std::string> diets;      // sorted: vegetarian, vegan, halal, gluten_free
};

struct Transport {
  std::string id;
  std::string from_city, to_city;
  std::string date;         // YYYY-MM-DD
  std::string mode;         // bus, train, flight
  int depart_min = 0, arrive_min = 0;
  int price = 0;            // per person
};

// Whether a list of names (amenities, diets, ...) holds `name`.
inline bool listed(const std::vector<std::string>& names, const std::string& name) {
  for (const auto& n : names)
    if (n == name) return true;
  return false;
}

struct World {
  uint64_t seed = 0;
  std::string start_date;   // first date with transport
  int horizon_days = 0;     // transport exists for start_date .. start_date + horizon - 1
  std::vector<City> cities;
  std::vector<Attraction> attractions;
  std::vector<Hotel> hotels;
  std::vector<Restaurant> restaurants;
  std::vector<Transport> transport;

  // Indices by id and by city, built by index().
  void index();
  const City* city(const std::string& id) const;
  const Attraction* attraction(const std::string& id) const;
  const Hotel* hotel(const std::string& id) const;
  const Restaurant* restaurant(const std::string& id) const;
  const Transport* transport_by_id(const std::string& id) const;
  std::vector<const Attraction*> attractions_in(const std::string& city_id) const;
  std::vector<const Hotel*> hotels_in(const std::string& city_id) const;
  std::vector<const Restaurant*> restaurants_in(const std::string& city_id) const;
  std::vector<const Transport*> transport_between(const std::string& from, const std::string& to,
                                                  const std::string& date) const;
  bool connected(const std::string& from, const std::string& to) const;

 private:
  std::map<std::string, size_t> city_ix_, att_ix_, hotel_ix_, rest_ix_, tr_ix_;
  std::map<std::string, std::vector<size_t>> att_by_city_, hotel_by_city_, rest_by_city_;
  std::map<std::string, std::vector<size_t>> tr_by_key_;  // from|to|date
};

// Size of a generated world. The defaults are what synth uses; tests shrink it
// so that brute force stays small.
struct WorldShape {
  int min_cities = 8, max_cities = 40;
  int min_attractions = 8, max_attractions = 14;
  int min_hotels = 5, max_hotels = 9;
  int min_restaurants = 8, max_restaurants = 12;
  int neighbours = 3;          // transport links to the nearest cities
  int horizon_days = 10;
};

World generate_world(uint64_t seed, const WorldShape& shape = {});

// Travel time in minutes between two places of one city (Manhattan distance on
// the 100 m grid; integer arithmetic so verify.py computes the same number).
int travel_minutes(const Place& a, const Place& b);
bool is_open(const Place& p, int weekday, int from_min, int to_min);

}  // namespace envforge::generators::trip
