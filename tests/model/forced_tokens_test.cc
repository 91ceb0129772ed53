// Forced tokens: written in place of sampling from the first token or after a trigger the
// model writes itself, the same in the batch engine and the plain generator.
#include "model/forced_tokens.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <stdexcept>

#include "model/batch_engine.h"
#include "model/cpu_runner.h"
#include "model/generator.h"
#include "tests/model/golden_util.h"

namespace envforge::model {
namespace {

TEST(ForcedTokens, FromTheStartOrAfterTheModelsOwnTrigger) {
  auto m = Model::load(testing::checkpoint_dir("tiny-moe-fp8"));
  BatchEngine eng(std::make_unique<CpuRunner>(*m));
  GenerationRequest r;
  r.prompt = {3, 1, 4, 1, 5, 9, 2, 6};
  r.max_tokens = 10;
  const GenerationResult free = eng.generate(r);
  ASSERT_GE(free.tokens.size(), 4u);

  // From the start: the forced tokens first, then the model goes on from them.
  GenerationRequest start = r;
  start.forced.tokens = {7, 8, 9};
  const GenerationResult s = eng.generate(start);
  ASSERT_GE(s.tokens.size(), 3u);
  EXPECT_EQ(std::vector<int32_t>(s.tokens.begin(), s.tokens.begin() + 3), start.forced.tokens);
  EXPECT_EQ(s.tokens, generate(*m, {start}).at(0).tokens);

  // After a trigger: the model's own third token starts the forced run, once.
  GenerationRequest after = r;
  after.forced.tokens = {11, 12};
  after.forced.after = free.tokens[2];
  const GenerationResult a = eng.generate(after);
  ASSERT_GE(a.tokens.size(), 5u);
  size_t first = 0;
  while (free.tokens[first] != free.tokens[2]) ++first;  // the trigger's first appearance
  EXPECT_EQ(std::vector<int32_t>(a.tokens.begin(), a.tokens.begin() + first + 1),
            std::vector<int32_t>(free.tokens.begin(), free.tokens.begin() + first + 1));
  EXPECT_EQ(a.tokens[first + 1], 11);
  EXPECT_EQ(a.tokens[first + 2], 12);
  EXPECT_EQ(a.tokens, generate(*m, {after}).at(0).tokens);

  // A trigger the model never writes forces nothing.
  GenerationRequest never = r;
  never.forced.tokens = {11};
  never.forced.after = m->config().vocab_size - 1;
  if (std::find(free.tokens.begin(), free.tokens.end(), never.forced.after) == free.tokens.end())
    EXPECT_EQ(eng.generate(never).tokens, free.tokens);

  GenerationRequest bad = r;
  bad.forced.tokens = {m->config().vocab_size};
  EXPECT_THROW(eng.submit(bad), std::invalid_argument);
  EXPECT_THROW(generate(*m, {bad}), std::invalid_argument);
}

}  // namespace
}  // namespace envforge::model
