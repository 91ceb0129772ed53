// The MoE expert GEMMs of one step at DeepSeek-V3.2's shapes (256 experts, 8 per token,
// hidden 7168, expert width 2048, bf16 experts as the GPU runner stores them): the
// shared-memory tile kernel against the weight-streaming one, for batches of decode tokens
// routed at random, each against its floor (the chosen experts' weights read once, at the
// measured copy bandwidth). Checks first that both kernels agree on these shapes.
//
//   moe_gemm_bench [--tokens 1,8,64,256] [--json FILE]
#include <cuda_bf16.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <numeric>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/gpu_bench_util.cuh"
#include "engine/cuda/layer_kernels.h"

namespace {

using envforge::bench::Buf;
using envforge::bench::copy_bandwidth;
using envforge::bench::fill_bf16_unit;
using envforge::bench::time_ms;
namespace eg = envforge::engine::gpu;

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> token_counts = {1, 8, 64, 256};
  std::string json_path;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    if (k == "--tokens" && i + 1 < argc) {
      token_counts.clear();
      std::stringstream list(argv[++i]);
      for (std::string part; std::getline(list, part, ',');) token_counts.push_back(std::stoi(part));
    } else if (k == "--json" && i + 1 < argc) {
      json_path = argv[++i];
    } else {
      std::fprintf(stderr, "usage: moe_gemm_bench [--tokens 1,8,64,256] [--json FILE]\n");
      return 2;
    }
  }
  const int E = 256, K = 8, d = 7168, mi = 2048;
  const int max_tokens = *std::max_element(token_counts.begin(), token_counts.end());
  const int max_assign = max_tokens * K;
  cudaDeviceProp prop{};
  ENVFORGE_CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
  cudaStream_t bw_stream;
  ENVFORGE_CUDA_CHECK(cudaStreamCreate(&bw_stream));
  const double bw = copy_bandwidth(bw_stream, prop.multiProcessorCount);
  ENVFORGE_CUDA_CHECK(cudaStreamDestroy(bw_stream));
  std::printf("%s, device-to-device copy %.0f GB/s (read + write)\n", prop.name, bw / 1e9);

  Buf<__nv_bfloat16> w_gu(size_t(E) * 2 * mi * d), w_dn(size_t(E) * d * mi);
  Buf<__nv_bfloat16> xs(size_t(max_assign) * d), act(size_t(max_assign) * mi);
  Buf<float> gu_a(size_t(max_assign) * 2 * mi), dn_a(size_t(max_assign) * d);
  Buf<float> gu_b(size_t(max_assign) * 2 * mi), dn_b(size_t(max_assign) * d);
  Buf<int32_t> ids(max_assign);
  Buf<char> disp_buf(eg::moe_dispatch_bytes(max_assign, E));
  const eg::MoeDispatch disp = eg::moe_dispatch_view(disp_buf.p, max_assign, E);
  fill_bf16_unit<<<4096, 256>>>(w_gu.p, size_t(E) * 2 * mi * d, 1);
  fill_bf16_unit<<<4096, 256>>>(w_dn.p, size_t(E) * d * mi, 2);
  fill_bf16_unit<<<1024, 256>>>(xs.p, size_t(max_assign) * d, 3);
  fill_bf16_unit<<<1024, 256>>>(act.p, size_t(max_assign) * mi, 4);
  ENVFORGE_CUDA_CHECK_LAUNCH();

  std::mt19937 rng(5);
  nlohmann::json rows = nlohmann::json::array();
  std::printf("%7s %8s %10s %10s %10s %9s %9s %9s %8s\n", "tokens", "experts", "floor_ms", "tiles_ms",
              "stream_ms", "tiles_x", "stream_x", "speedup", "max_err");
  for (int T : token_counts) {
    // each token picks K distinct experts at random
    std::vector<int32_t> h(size_t(T) * K);
    std::set<int> used;
    for (int t = 0; t < T; ++t) {
      std::vector<int> e(E);
      std::iota(e.begin(), e.end(), 0);
      std::shuffle(e.begin(), e.end(), rng);
      for (int k = 0; k < K; ++k) used.insert(h[size_t(t) * K + k] = e[k]);
    }
    ENVFORGE_CUDA_CHECK(cudaMemcpy(ids.p, h.data(), h.size() * 4, cudaMemcpyHostToDevice));
    eg::moe_dispatch(ids.p, T, K, disp, nullptr);
    const int A = T * K;
    auto run = [&](eg::MoeGemmPath path, float* y_gu, float* y_dn) {
      eg::moe_grouped_gemm(xs.p, d, w_gu.p, long(2) * mi * d, 2 * mi, disp, A, y_gu, nullptr, path);
      eg::moe_grouped_gemm(act.p, mi, w_dn.p, long(d) * mi, d, disp, A, y_dn, nullptr, path);
    };
    // agreement on these shapes (fp32 sums of the same bf16 products in another order)
    run(eg::MoeGemmPath::kTiles, gu_a.p, dn_a.p);
    run(eg::MoeGemmPath::kStreamWeights, gu_b.p, dn_b.p);
    double max_err = 0, scale = 0;
    for (auto [a, b, n] : {std::tuple{gu_a.p, gu_b.p, size_t(A) * 2 * mi}, std::tuple{dn_a.p, dn_b.p, size_t(A) * d}}) {
      std::vector<float> ha(n), hb(n);
      ENVFORGE_CUDA_CHECK(cudaMemcpy(ha.data(), a, n * 4, cudaMemcpyDeviceToHost));
      ENVFORGE_CUDA_CHECK(cudaMemcpy(hb.data(), b, n * 4, cudaMemcpyDeviceToHost));
      for (size_t i = 0; i < n; ++i) {
        const double diff = std::fabs(double(ha[i]) - hb[i]);
        max_err = std::isnan(diff) ? INFINITY : std::max(max_err, diff);
        scale = std::max(scale, double(std::fabs(ha[i])));
      }
    }
    const double rel = max_err / std::max(scale, 1e-30);
    const double floor_ms = double(used.size()) * 3.0 * d * mi * 2 / bw * 1e3;
    const double ms_tiles = time_ms([&](int) { run(eg::MoeGemmPath::kTiles, gu_a.p, dn_a.p); }, 5, 7);
    const double ms_stream = time_ms([&](int) { run(eg::MoeGemmPath::kStreamWeights, gu_b.p, dn_b.p); }, 5, 7);
    std::printf("%7d %8zu %10.3f %10.3f %10.3f %9.2f %9.2f %9.2f %8.1e\n", T, used.size(), floor_ms, ms_tiles,
                ms_stream, ms_tiles / floor_ms, ms_stream / floor_ms, ms_tiles / ms_stream, rel);
    rows.push_back({{"tokens", T}, {"experts_used", used.size()}, {"floor_ms", floor_ms},
                    {"tiles_ms", ms_tiles}, {"stream_ms", ms_stream}, {"tiles_x_floor", ms_tiles / floor_ms},
                    {"stream_x_floor", ms_stream / floor_ms}, {"speedup", ms_tiles / ms_stream},
                    {"max_rel_diff", rel}});
    if (!(rel < 1e-4)) {
      std::fprintf(stderr, "moe_gemm_bench: the two kernels disagree at %d tokens (%.2e)\n", T, rel);
      return 1;
    }
  }
  if (!json_path.empty()) {
    std::ofstream(json_path) << nlohmann::json{{"device", prop.name}, {"copy_bandwidth_GBps", bw / 1e9},
                                               {"rows", rows}}.dump(2)
                             << "\n";
  }
  return 0;
}
