// CPU engine throughput: prefill and decode tokens/s for the bundled tiny checkpoints and for a
// ~100M-parameter DeepSeek-V3.2-shaped model (random BF16 weights written to a temp dir) at
// 1K/8K/32K context, sparse (DSA) against the same model forced dense, and a naive baseline
// (one thread, scalar kernels) measured in the same run.
//
// usage: engine_bench [--quick]   (--quick: tiny checkpoints and the 1K context only)
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/dtype.h"
#include "engine/simd.h"
#include "engine/thread_pool.h"
#include "model/ops.h"
#include "model/transformer.h"

namespace fs = std::filesystem;
using namespace envforge;

namespace {

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::vector<int32_t> tokens(int n, int vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int32_t> t(n);
  for (auto& x : t) x = static_cast<int32_t>(rng() % std::min(vocab, 256));
  return t;
}

// Writes a ~100M-parameter checkpoint (BF16, one shard) and returns its directory.
std::string write_100m(const fs::path& dir) {
  nlohmann::json c = {
      {"architectures", {"DeepseekV32ForCausalLM"}}, {"model_type", "deepseek_v32"},
      {"vocab_size", 16000}, {"hidden_size", 768}, {"intermediate_size", 2048},
      {"moe_intermediate_size", 448}, {"num_hidden_layers", 8}, {"first_k_dense_replace", 1},
      {"num_attention_heads", 8}, {"num_key_value_heads", 8}, {"q_lora_rank", 384},
      {"kv_lora_rank", 256}, {"qk_nope_head_dim", 64}, {"qk_rope_head_dim", 32},
      {"v_head_dim", 64}, {"n_routed_experts", 8}, {"n_shared_experts", 1},
      {"num_experts_per_tok", 2}, {"n_group", 2}, {"topk_group", 1},
      {"routed_scaling_factor", 2.5}, {"scoring_func", "sigmoid"}, {"norm_topk_prob", true},
      {"rms_norm_eps", 1e-6}, {"rope_theta", 10000.0}, {"max_position_embeddings", 65536},
      {"rope_scaling", {{"type", "yarn"}, {"factor", 16.0}, {"original_max_position_embeddings", 4096},
                        {"beta_fast", 32}, {"beta_slow", 1}, {"mscale", 1.0}, {"mscale_all_dim", 1.0}}},
      {"index_n_heads", 8}, {"index_head_dim", 64}, {"index_topk", 512},
      {"bos_token_id", 0}, {"eos_token_id", 1}};
  fs::create_directories(dir);
  std::ofstream(dir / "config.json") << c.dump(2);
  struct T { std::string name; std::vector<int64_t> shape; bool norm; };
  std::vector<T> ts;
  const int d = 768, H = 8;
  ts.push_back({"model.embed_tokens.weight", {16000, d}, false});
  ts.push_back({"lm_head.weight", {16000, d}, false});
  ts.push_back({"model.norm.weight", {d}, true});
  auto mlp = [&](const std::string& p, int inter) {
    ts.push_back({p + "gate_proj.weight", {inter, d}, false});
    ts.push_back({p + "up_proj.weight", {inter, d}, false});
    ts.push_back({p + "down_proj.weight", {d, inter}, false});
  };
  for (int i = 0; i < 8; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".", a = p + "self_attn.";
    ts.push_back({p + "input_layernorm.weight", {d}, true});
    ts.push_back({p + "post_attention_layernorm.weight", {d}, true});
    ts.push_back({a + "q_a_proj.weight", {384, d}, false});
    ts.push_back({a + "q_a_layernorm.weight", {384}, true});
    ts.push_back({a + "q_b_proj.weight", {H * 96, 384}, false});
    ts.push_back({a + "kv_a_proj_with_mqa.weight", {288, d}, false});
    ts.push_back({a + "kv_a_layernorm.weight", {256}, true});
    ts.push_back({a + "kv_b_proj.weight", {H * 128, 256}, false});
    ts.push_back({a + "o_proj.weight", {d, H * 64}, false});
    ts.push_back({a + "indexer.wq_b.weight", {8 * 64, 384}, false});
    ts.push_back({a + "indexer.wk.weight", {64, d}, false});
    ts.push_back({a + "indexer.k_norm.weight", {64}, true});
    ts.push_back({a + "indexer.k_norm.bias", {64}, true});
    ts.push_back({a + "indexer.weights_proj.weight", {8, d}, false});
    if (i == 0) {
      mlp(p + "mlp.", 2048);
    } else {
      ts.push_back({p + "mlp.gate.weight", {8, d}, false});
      ts.push_back({p + "mlp.gate.e_score_correction_bias", {8}, true});
      for (int e = 0; e < 8; ++e) mlp(p + "mlp.experts." + std::to_string(e) + ".", 448);
      mlp(p + "mlp.shared_experts.", 448);
    }
  }
  nlohmann::json header = nlohmann::json::object();
  uint64_t off = 0;
  for (const T& t : ts) {
    uint64_t n = 1;
    for (int64_t s : t.shape) n *= s;
    header[t.name] = {{"dtype", "BF16"}, {"shape", t.shape}, {"data_offsets", {off, off + 2 * n}}};
    off += 2 * n;
  }
  std::string h = header.dump();
  while (h.size() % 8) h += ' ';
  std::ofstream out(dir / "model.safetensors", std::ios::binary);
  const uint64_t hn = h.size();
  out.write(reinterpret_cast<const char*>(&hn), 8);
  out.write(h.data(), h.size());
  std::mt19937 rng(1);
  std::normal_distribution<float> nd;
  uint64_t params = 0;
  for (const T& t : ts) {
    uint64_t n = 1;
    for (int64_t s : t.shape) n *= s;
    params += n;
    const float scale = t.norm ? 0.f : (t.shape.size() == 2 ? 1.f / std::sqrt(float(t.shape[1])) : 1.f);
    std::vector<uint16_t> buf(n);
    for (auto& b : buf) b = engine::f32_to_bf16(t.norm ? 1.f : nd(rng) * scale);
    out.write(reinterpret_cast<const char*>(buf.data()), 2 * n);
  }
  std::printf("wrote %.1fM-parameter BF16 checkpoint to %s\n", params / 1e6, dir.c_str());
  return dir.string();
}

// Fills `n` cache positions with plausible values (unit-RMS latents, FP8 index keys) so that
// speed at a long context can be measured without prefilling it first.
void fill_context(const model::Model& m, model::KvCache& cache, int n) {
  const auto& c = m.config();
  cache.reserve_more(n);
  std::mt19937 rng(7);
  std::normal_distribution<float> nd;
  std::vector<float> key(c.index_head_dim);
  for (int l = 0; l < c.num_hidden_layers; ++l) {
    for (int s = cache.length(); s < cache.length() + n; ++s) {
      float* row = cache.kv_row(l, s);
      for (int j = 0; j < cache.kv_width(); ++j) row[j] = nd(rng);
      for (auto& k : key) k = nd(rng);
      model::fp8_quantize(key.data(), c.index_head_dim, cache.index_key_row(l, s),
                          cache.index_scale_row(l, s));
    }
  }
  cache.commit(n);
}

struct Speed { double prefill_tps, decode_tps; };

// Prefill `chunk` tokens on top of `context - chunk` filled positions, then decode `steps`.
Speed measure(model::Model& m, int context, int chunk, int steps, bool dense) {
  model::KvCache cache = m.new_cache();
  if (context > chunk) fill_context(m, cache, context - chunk);
  const auto toks = tokens(chunk, m.config().vocab_size, 3);
  model::ForwardOptions opt;
  opt.force_dense = dense;
  model::BatchItem it{&cache, toks};
  double t0 = now();
  m.forward({&it, 1}, opt);
  const double pre = now() - t0;
  int32_t next = 5;
  t0 = now();
  for (int s = 0; s < steps; ++s) {
    model::BatchItem st{&cache, std::span<const int32_t>(&next, 1)};
    m.forward({&st, 1}, opt);
  }
  return {chunk / pre, steps / (now() - t0)};
}

void row(const char* model, const char* what, int context, const Speed& sparse, const Speed& dense) {
  std::printf("%-16s %-14s %6d  prefill %9.1f / %9.1f tok/s (x%.2f)   decode %8.2f / %8.2f tok/s (x%.2f)\n",
              model, what, context, sparse.prefill_tps, dense.prefill_tps,
              sparse.prefill_tps / dense.prefill_tps, sparse.decode_tps, dense.decode_tps,
              sparse.decode_tps / dense.decode_tps);
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // rows appear as they are measured
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  engine::ThreadPool& pool = engine::ThreadPool::global();
  engine::ThreadPool single(1);
  std::printf("threads %d, simd %s\n", pool.size(), engine::simd_level_name(engine::simd_level()));
  std::printf("%-16s %-14s %6s  %s\n", "model", "case", "ctx", "sparse / dense (ratio)");
  const engine::SimdLevel best = engine::simd_level();
  // Tiny checkpoints: a full prompt longer than index_topk, then decode.
  for (const char* name : {"tiny-dense-f32", "tiny-moe-bf16", "tiny-moe-fp8"}) {
    auto m = model::Model::load(std::string(ENVFORGE_SOURCE_DIR) + "/model/checkpoints/" + name);
    const int ctx = 4 * m->config().index_topk;
    row(name, "engine", ctx, measure(*m, ctx, ctx, 32, false), measure(*m, ctx, ctx, 32, true));
    m->set_thread_pool(&single);
    engine::set_simd_level(engine::SimdLevel::Scalar);
    const Speed naive = measure(*m, ctx, ctx, 32, false);
    engine::set_simd_level(best);
    m->set_thread_pool(&pool);
    const Speed fast = measure(*m, ctx, ctx, 32, false);
    std::printf("%-16s %-14s %6d  prefill %9.1f tok/s vs naive %9.1f (x%.2f)   decode %8.2f vs naive %8.2f (x%.2f)\n",
                name, "vs naive", ctx, fast.prefill_tps, naive.prefill_tps,
                fast.prefill_tps / naive.prefill_tps, fast.decode_tps, naive.decode_tps,
                fast.decode_tps / naive.decode_tps);
  }
  const fs::path dir = fs::temp_directory_path() / ("envforge_bench_100m_" + std::to_string(::getpid()));
  auto m = model::Model::load(write_100m(dir));
  // A real 1K prefill from an empty cache (index_topk 512, so half of it is sparse).
  row("100M-bf16", "full prefill", 1024, measure(*m, 1024, 1024, 8, false),
      measure(*m, 1024, 1024, 8, true));
  {
    m->set_thread_pool(&single);
    engine::set_simd_level(engine::SimdLevel::Scalar);
    const Speed naive = measure(*m, 1024, 64, 4, false);
    engine::set_simd_level(best);
    m->set_thread_pool(&pool);
    const Speed fast = measure(*m, 1024, 64, 4, false);
    std::printf("%-16s %-14s %6d  prefill %9.1f tok/s vs naive %9.1f (x%.2f)   decode %8.2f vs naive %8.2f (x%.2f)\n",
                "100M-bf16", "vs naive", 1024, fast.prefill_tps, naive.prefill_tps,
                fast.prefill_tps / naive.prefill_tps, fast.decode_tps, naive.decode_tps,
                fast.decode_tps / naive.decode_tps);
  }
  struct Case { int ctx, chunk, steps; };
  std::vector<Case> cases = {{1024, 64, 16}, {8192, 16, 6}, {32768, 8, 3}};
  if (quick) cases.resize(1);
  for (const Case& c : cases)
    row("100M-bf16", "at context", c.ctx, measure(*m, c.ctx, c.chunk, c.steps, false),
        measure(*m, c.ctx, c.chunk, c.steps, true));
  fs::remove_all(dir);
  return 0;
}
