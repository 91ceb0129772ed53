// The categories this build synthesizes, in the order --help lists them. Adding one: its
// folder under generators/ (defining `Category NAME::category()`, see category.h) and one
// line in this list.
#include "generators/category.h"

#define ENVFORGE_CATEGORIES(X) \
  X(trip)                      \
  X(authored)                  \
  X(search)                    \
  X(code)                      \
  X(code_interpreter)

namespace envforge::generators {

#define ENVFORGE_DECLARE_CATEGORY(name) namespace name { Category category(); }
ENVFORGE_CATEGORIES(ENVFORGE_DECLARE_CATEGORY)
#undef ENVFORGE_DECLARE_CATEGORY

const std::vector<Category>& categories() {
#define ENVFORGE_LIST_CATEGORY(name) name::category(),
  static const std::vector<Category> all = {ENVFORGE_CATEGORIES(ENVFORGE_LIST_CATEGORY)};
#undef ENVFORGE_LIST_CATEGORY
  return all;
}

}  // namespace envforge::generators
