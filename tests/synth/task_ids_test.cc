// The ids a job produces are its identity in every corpus, shard and merge: reshaping the
// pipeline (categories behind one interface) must not change them. The expected values were
// recorded from the build before that change, then again when trip 1.1.0 changed its prompts
// and verifier (answer format and day-start rules stated exactly). A deliberate change of what trip generates
// (world, prompts, verify.py) changes them too: then record the new values here.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "data/corpus.h"
#include "tests/synth/cli_run.h"

namespace envforge::testing {
namespace {

TEST(TaskIds, TripJobKeepsItsWorkItemKeysAndTaskIds) {
  CliTempDir dir;
  const std::string corpus = dir.file("corpus.db");
  const CliOutcome o = run_envforge("synth --category trip --count 2 --seed 11 --jobs 2 --quiet --json --out " +
                                        corpus + " --scratch-dir " + dir.path,
                                    dir);
  ASSERT_EQ(o.exit_code, 0) << o.out << o.err;

  std::vector<std::string> keys;
  {
    data::OpenOptions read_only;
    read_only.read_only = true;
    keys = data::Corpus::open(corpus, read_only).work_item_keys();
  }
  std::sort(keys.begin(), keys.end());
  EXPECT_EQ(keys, (std::vector<std::string>{
                      "51d970bc471bdd3f407f13853b99ddac46034b98edca3767eecc8188c256d5d9",
                      "71c16c913cc62a99a55505e0d8ae3523dd6ff9171a9dde7fab00807fc56bcef1"}));
  EXPECT_EQ(corpus_task_ids(corpus),
            (std::vector<std::string>{
                "0aeb3fc340096246 L1 22e9369d7e607c99c4d77a104520c4fb9e7eb808683f93cbe0446faf8e01b6c6",
                "0aeb3fc340096246 L2 27b0fd738e2d49d2835a63341075cde93562ecb9e8e3ac90d20ab23442755d6e",
                "0aeb3fc340096246 L3 e812c4e0fd15237a87a2276b25b7f2c611189c777fd4e924128819ac5db3ed8c",
                "0aeb3fc340096246 L4 0340a657169ce62f83b92d24cd23faa62d52b8db827edad28c57f8b688223add",
                "0aeb3fc340096246 L5 369458be2b8fa258c0e9201dfad67f418ae88107e804bed279b74e4d9fea909d",
                "9448c83a8334b993 L1 6204ec19f14135c62a2450501bec01d6cd5dd0be23c3d69d753d21d9d62e1e42",
                "9448c83a8334b993 L2 34474682869c0018c1a262e52eb472392d6ab81c1154c3eaff99de39401b6b9f",
                "9448c83a8334b993 L3 d8595c55d453b99dea6acd7e5bd6c5e78f546da2862229fe00a6792005615d7e",
                "9448c83a8334b993 L4 1ad48c00f4cc25ae03259527af073ef06af3b2df791eb6f40ab81b070ccd8b58",
                "9448c83a8334b993 L5 d0ebceae8c4828d6a8817c9cfc8cb83220d4bae4715bfdcb462a03a4f1213cf0"}));
}

}  // namespace
}  // namespace envforge::testing
