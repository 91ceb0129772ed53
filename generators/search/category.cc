// Category "search": multi-hop questions over a document collection, answered through
// search/open/find and proved unique against the facts behind the documents. The world comes
// from a generated encyclopedia (default), the machine's package records (--search-world
// packages) or the user's documents (--corpus-source PATH, facts extracted by --llm).
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>

#include "data/content_id.h"
#include "generators/category.h"
#include "generators/search/corpus_world.h"
#include "generators/search/package_world.h"
#include "generators/search/synthetic_world.h"
#include "generators/search/work_item.h"
#include "generators/trip/work_item.h"

namespace envforge::generators::search {
namespace {

using Clock = std::chrono::steady_clock;

class SearchJob : public CategoryJob {
 public:
  explicit SearchJob(const JobSetup& s) : llm_(s.llm) {
    const auto& o = s.options;
    options_.scratch_dir = s.scratch_dir;
    const int64_t per_level = o.at("tasks-per-level").get<int64_t>();
    if (per_level < 1 || per_level > 20)
      throw std::invalid_argument("--tasks-per-level must be 1..20, got " + std::to_string(per_level));
    options_.tasks_per_level = static_cast<int>(per_level);
    world_ = o.at("search-world").get<std::string>();
    if (o.contains("corpus-source")) {
      if (world_ != "synthetic" && world_ != "corpus")
        throw std::invalid_argument("--corpus-source goes with --search-world corpus, not " + world_);
      world_ = "corpus";
    }
    rewrite_ = o.at("rewrite-questions").get<bool>();
    if (rewrite_ && !llm_.present()) throw std::invalid_argument("--rewrite-questions needs a generator model (--llm)");
    if (world_ == "synthetic") {
      version_ = kGeneratorVersion;
    } else if (world_ == "packages") {
      const std::string path = o.at("packages-file").get<std::string>();
      try {
        packages_ = read_dpkg_status(path);
      } catch (const std::runtime_error& e) {
        throw std::invalid_argument(std::string("--packages-file: ") + e.what());
      }
      version_ = std::string(kGeneratorVersion) + "/packages:" + records_digest();
    } else if (world_ == "corpus") {
      if (!o.contains("corpus-source"))
        throw std::invalid_argument("--search-world corpus needs --corpus-source PATH");
      if (!llm_.present())
        throw std::invalid_argument("--corpus-source needs a generator model (--llm) to extract facts");
      try {
        documents_ = load_corpus_documents(o.at("corpus-source").get<std::string>());
      } catch (const std::runtime_error& e) {
        throw std::invalid_argument(std::string("--corpus-source: ") + e.what());
      }
      version_ = std::string(kGeneratorVersion) + "/corpus:" + documents_digest();
    } else {
      throw std::invalid_argument("--search-world must be synthetic, packages or corpus, not '" + world_ + "'");
    }
    if (rewrite_) version_ += "/rewrite";
  }

  std::string version() const override { return version_; }

  data::WorkItem build(uint64_t job_seed, uint64_t index, PythonExecutorFactory& python,
                       StageTimes& times) override {
    const uint64_t env_seed = trip::environment_seed(job_seed, index);
    const auto t0 = Clock::now();
    World world = world_ == "synthetic" ? synthetic_world(env_seed)
                  : world_ == "packages" ? package_world(packages_, env_seed)
                                         : corpus_world(index, env_seed, times);
    times.add("world", std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    WorkItemOptions o = options_;
    std::unique_ptr<agents::Backend> own;
    if (rewrite_) o.rewriter = &llm_.for_item(own);
    return build_work_item(world, env_seed, python, o, times);
  }

 private:
  // The facts of a user's corpus are extracted once per job, by the first item that needs them.
  World corpus_world(uint64_t index, uint64_t env_seed, StageTimes& times) {
    std::lock_guard lock(corpus_mu_);
    if (!corpus_facts_) {
      std::unique_ptr<agents::Backend> own;
      corpus_facts_ = extract_corpus_facts(llm_.for_item(own), documents_);
      (void)times;
    }
    (void)index;
    return search::corpus_world(documents_, *corpus_facts_, env_seed);
  }

  std::string records_digest() const {
    nlohmann::json names = nlohmann::json::array();
    for (const auto& p : packages_) names.push_back(p.name + "=" + p.version);
    return data::content_id(names).substr(0, 16);
  }
  std::string documents_digest() const {
    nlohmann::json docs = nlohmann::json::array();
    for (const auto& d : documents_) docs.push_back({d.id, data::sha256_hex(d.text)});
    return data::content_id(docs).substr(0, 16);
  }

  GeneratorModel llm_;
  WorkItemOptions options_;
  std::string world_, version_;
  bool rewrite_ = false;
  std::vector<PackageRecord> packages_;
  std::vector<Document> documents_;
  std::mutex corpus_mu_;
  std::optional<ExtractedFacts> corpus_facts_;
};

}  // namespace

Category category() {
  using Type = CategoryOption::Type;
  return {.name = "search",
          .summary = "multi-hop questions over a document collection (search/open/find tools, FTS5)",
          .options = {{.name = "search-world",
                       .type = Type::kString,
                       .help = "where documents and facts come from: synthetic (a generated encyclopedia), "
                               "packages (this machine's Debian package records) or corpus (--corpus-source)",
                       .default_value = "synthetic"},
                      {.name = "corpus-source",
                       .type = Type::kString,
                       .help = "a folder of .txt/.md/.html files or a .jsonl file of {\"id\",\"title\",\"text\"}; "
                               "facts are extracted by --llm",
                       .default_value = ""},
                      {.name = "packages-file",
                       .type = Type::kString,
                       .help = "dpkg status file of --search-world packages",
                       .default_value = "/var/lib/dpkg/status"},
                      {.name = "tasks-per-level",
                       .type = Type::kInt,
                       .help = "questions per ladder level and environment (1..20)",
                       .default_value = "2"},
                      {.name = "rewrite-questions",
                       .type = Type::kBool,
                       .help = "let --llm rewrite templated questions into natural prose (same validation)",
                       .default_value = "false"}},
          .llm = GeneratorModelUse::kOptional,
          .start = [](const JobSetup& setup) { return std::make_unique<SearchJob>(setup); }};
}

}  // namespace envforge::generators::search
