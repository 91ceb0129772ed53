#include "generators/category.h"

#include <stdexcept>

namespace envforge::generators {
namespace {

bool option_has_type(const nlohmann::json& v, CategoryOption::Type type) {
  switch (type) {
    case CategoryOption::Type::kString: return v.is_string();
    case CategoryOption::Type::kInt: return v.is_number_integer();
    case CategoryOption::Type::kDouble: return v.is_number();
    case CategoryOption::Type::kBool: return v.is_boolean();
  }
  return false;
}

const char* option_type_name(CategoryOption::Type type) {
  switch (type) {
    case CategoryOption::Type::kString: return "a string";
    case CategoryOption::Type::kInt: return "an integer";
    case CategoryOption::Type::kDouble: return "a number";
    case CategoryOption::Type::kBool: return "true or false";
  }
  return "?";
}

// A declared default, written as on the command line, as typed JSON.
nlohmann::json option_default(const std::string& category, const CategoryOption& o) {
  try {
    switch (o.type) {
      case CategoryOption::Type::kString: return o.default_value;
      case CategoryOption::Type::kInt: return std::stoll(o.default_value);
      case CategoryOption::Type::kDouble: return std::stod(o.default_value);
      case CategoryOption::Type::kBool: return o.default_value == "true";
    }
  } catch (const std::exception&) {
  }
  throw std::logic_error("category " + category + ": the default of --" + o.name + " is not " +
                         option_type_name(o.type));
}

}  // namespace

agents::Backend& GeneratorModel::for_item(std::unique_ptr<agents::Backend>& own) const {
  if (per_item) {
    own = per_item();
    if (own) return *own;
  }
  if (!shared) throw std::logic_error("no generator model (--llm) for this job");
  return *shared;
}

const Category* find_category(const std::string& name) {
  for (const auto& c : categories())
    if (c.name == name) return &c;
  return nullptr;
}

std::string category_names() {
  std::string list;
  for (const auto& c : categories()) list += (list.empty() ? "" : ", ") + c.name;
  return list;
}

std::unique_ptr<CategoryJob> start_category(const std::string& name, JobSetup setup) {
  const Category* c = find_category(name);
  if (!c) throw std::invalid_argument("unknown category '" + name + "' (available: " + category_names() + ")");
  if (setup.options.is_null()) setup.options = nlohmann::json::object();
  if (!setup.options.is_object())
    throw std::invalid_argument("category " + name + ": options must be a JSON object, not " +
                                std::string(setup.options.type_name()));
  for (auto it = setup.options.begin(); it != setup.options.end(); ++it) {
    const CategoryOption* declared = nullptr;
    for (const auto& o : c->options)
      if (o.name == it.key()) declared = &o;
    if (!declared) {
      std::string list;
      for (const auto& o : c->options) list += (list.empty() ? "--" : ", --") + o.name;
      throw std::invalid_argument("category " + name + " has no option --" + it.key() + " (its options: " +
                                  (list.empty() ? "none" : list) + ")");
    }
    if (!option_has_type(it.value(), declared->type))
      throw std::invalid_argument("--" + it.key() + " must be " + option_type_name(declared->type) + ", not " +
                                  it.value().dump());
  }
  for (const auto& o : c->options)
    if (!o.default_value.empty() && !setup.options.contains(o.name)) setup.options[o.name] = option_default(name, o);
  if (c->llm == GeneratorModelUse::kRequired && !setup.llm.present())
    throw std::invalid_argument("category " + name + " needs a generator model (--llm)");
  auto job = c->start(setup);
  if (!job) throw std::logic_error("category " + name + " started no job");
  return job;
}

}  // namespace envforge::generators
