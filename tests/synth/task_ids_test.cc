// The ids a job produces are its identity in every corpus, shard and merge: reshaping the
// pipeline (categories behind one interface) must not change them. The expected values were
// recorded from the build before that change. A deliberate change of what trip generates
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
                      "100dc8c5894ec231946aa3728922df7b16f5380698ef5d99df80a278c6f24895",
                      "2e1822142769a499b6c911eb65ddb452b429f60b4612596658ad62027fa3b18f"}));
  EXPECT_EQ(corpus_task_ids(corpus),
            (std::vector<std::string>{
                "99b79d8a4aedd442 L1 261352416c15ede788bfe52b26ff1b873011a5d48c22771a576801dac14d8ec7",
                "99b79d8a4aedd442 L2 83087d071d79f19e558b9e0db45b29b8ecaa455afacdf3e1162d9c0052f4bbcc",
                "99b79d8a4aedd442 L3 5a6500ce9727d60577715ed2a8de280187fc7fb5208869d12e1c152d4ed35b40",
                "99b79d8a4aedd442 L4 802edee66dfa6ef9a569f5db3c0ee6542d0716cf82876c879dcf5343f266ad93",
                "99b79d8a4aedd442 L5 ea513c76d4b330a892da809dd6ac1c4a9b1e43c5ee1f1d27f9d6c512edabde1f",
                "ddfc23cfa0ee34f8 L1 18c1a02fb8b1957be6f5491d17539bacef08a0395beee319f8139f0569913a85",
                "ddfc23cfa0ee34f8 L2 530e1cf3a5a1b2a417130020016c791db6e84a94f111fb38b8f5bcfa7a9a0e6f",
                "ddfc23cfa0ee34f8 L3 42b0d4107a610b5a52e52d4b9d2e14ef09ccf9c2b2babae9c0b54c4238694490",
                "ddfc23cfa0ee34f8 L4 972b43f8a43275ffa96470aaac2d48ce3c81a76a002a7d959e5036a72a2864be",
                "ddfc23cfa0ee34f8 L5 b03f8236083fa0bd707fada083829f042669a016a1338ea9d3356e5b1122ac2a"}));
}

}  // namespace
}  // namespace envforge::testing
