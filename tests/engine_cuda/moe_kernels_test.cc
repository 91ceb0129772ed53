// MoE kernels against plain CPU references: the router (sigmoid or softmax scores, correction
// bias, group-limited top-k as model/moe.cc does it) and the expert block (dispatch by
// expert, grouped bf16 GEMMs, SwiGLU, weighted combine into the residual).
#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>
#include <tuple>

#include "engine/cuda/layer_kernels.h"
#include "tests/engine_cuda/gpu_test_util.h"

namespace envforge::engine::gpu::testing {
namespace {

class MoeKernels : public GpuTest {};

struct RouteRef {
  std::vector<int> ids;
  std::vector<float> weights;
  std::vector<float> biased;  // after group masking
};

RouteRef route_ref(const float* x, const std::vector<float>& gate, const std::vector<float>& bias,
                   int d, int E, int K, int G, int TG, bool softmax, float scale) {
  std::vector<float> score(E), biased(E);
  for (int e = 0; e < E; ++e) {
    double s = 0;
    for (int j = 0; j < d; ++j) s += double(x[j]) * gate[size_t(e) * d + j];
    score[e] = float(s);
  }
  if (softmax) {
    const float mx = *std::max_element(score.begin(), score.end());
    double sum = 0;
    for (float& s : score) sum += (s = std::exp(s - mx));
    for (float& s : score) s = float(s / sum);
  } else {
    for (float& s : score) s = 1.f / (1.f + std::exp(-s));
  }
  for (int e = 0; e < E; ++e) biased[e] = score[e] + bias[e];
  auto by = [](const std::vector<float>& v) {
    return [&v](int a, int b) { return v[a] != v[b] ? v[a] > v[b] : a < b; };
  };
  if (G > 1) {
    const int per = E / G;
    std::vector<float> gs(G);
    for (int g = 0; g < G; ++g) {
      std::vector<float> v(biased.begin() + g * per, biased.begin() + (g + 1) * per);
      std::sort(v.rbegin(), v.rend());
      gs[g] = v[0] + (per > 1 ? v[1] : -INFINITY);
    }
    std::vector<int> order(G);
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), by(gs));
    for (int i = TG; i < G; ++i)
      for (int e = order[i] * per; e < (order[i] + 1) * per; ++e) biased[e] = -INFINITY;
  }
  std::vector<int> order(E);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), by(biased));
  RouteRef r;
  float sum = 0;
  for (int i = 0; i < K; ++i) sum += score[order[i]];
  for (int i = 0; i < K; ++i) {
    r.ids.push_back(order[i]);
    r.weights.push_back(score[order[i]] / sum * scale);
  }
  r.biased = biased;
  return r;
}

TEST_F(MoeKernels, RouterMatchesCpu) {
  std::mt19937 rng(21);
  struct Case { int n, d, E, K, G, TG; bool softmax; };
  for (const Case& c : {Case{9, 64, 8, 2, 4, 2, false}, Case{64, 7168, 256, 8, 8, 4, false},
                        Case{1, 7168, 256, 8, 8, 4, false}, Case{17, 160, 4, 2, 1, 1, false},
                        Case{33, 512, 64, 6, 1, 1, true}, Case{5, 98, 40, 6, 1, 1, false},
                        Case{12, 256, 160, 6, 5, 2, false}}) {
    const auto x = random_normal(rng, size_t(c.n) * c.d);
    const auto gate = random_normal(rng, size_t(c.E) * c.d, 1.f / std::sqrt(float(c.d)));
    const auto bias = random_normal(rng, c.E, 0.1f);
    DeviceBuffer<float> dx(x), dg(gate), db(bias), dw(size_t(c.n) * c.K);
    DeviceBuffer<int32_t> di(size_t(c.n) * c.K);
    DeviceBuffer<float> scratch(size_t(c.n) * c.E);
    di.poison();
    dw.poison();
    RouterArgs a;
    a.scores = scratch.get();
    a.x = dx.get(), a.gate_w = dg.get(), a.bias = db.get();
    a.n = c.n, a.d = c.d, a.E = c.E, a.K = c.K, a.n_group = c.G, a.topk_group = c.TG;
    a.softmax = c.softmax, a.normalize = true, a.route_scale = 2.5f;
    a.ids = di.get(), a.weights = dw.get();
    route(a, nullptr);
    const auto ids = di.download();
    const auto w = dw.download();
    int near_ties = 0;
    for (int t = 0; t < c.n; ++t) {
      const RouteRef r = route_ref(x.data() + size_t(t) * c.d, gate, bias, c.d, c.E, c.K, c.G,
                                   c.TG, c.softmax, 2.5f);
      const std::set<int> got(ids.begin() + t * c.K, ids.begin() + (t + 1) * c.K);
      const std::set<int> want(r.ids.begin(), r.ids.end());
      ASSERT_EQ(got.size(), size_t(c.K)) << "token " << t << ": repeated expert";
      if (got != want) {
        // only allowed where the reference itself is a near tie at the K-th place
        const float kth = r.biased[r.ids.back()];
        for (int e : got) {
          if (!want.count(e)) {
            EXPECT_NEAR(r.biased[e], kth, 1e-5f) << "token " << t;
          }
        }
        ++near_ties;
        continue;
      }
      for (int k = 0; k < c.K; ++k) {
        EXPECT_EQ(ids[t * c.K + k], r.ids[k]) << "token " << t << " rank " << k;
        EXPECT_NEAR(w[t * c.K + k], r.weights[k], 1e-5f * 2.5f);
      }
    }
    EXPECT_LE(near_ties, 1) << "E=" << c.E;
  }
}

TEST_F(MoeKernels, ExpertBlockMatchesCpu) {
  std::mt19937 rng(22);
  struct Case { int n, d, mi, E, K; };
  for (const Case& c : {Case{5, 64, 32, 8, 2}, Case{300, 100, 72, 4, 2}, Case{40, 256, 96, 16, 4}}) {
    const int A = c.n * c.K;
    const auto x = from_bf16(to_bf16(random_normal(rng, size_t(c.n) * c.d)));
    const auto wgu = from_bf16(to_bf16(random_normal(rng, size_t(c.E) * 2 * c.mi * c.d, 0.1f)));
    const auto wdn = from_bf16(to_bf16(random_normal(rng, size_t(c.E) * c.d * c.mi, 0.1f)));
    const auto h0 = random_normal(rng, size_t(c.n) * c.d);
    std::vector<int32_t> ids(A);
    std::vector<float> wts(A);
    std::uniform_real_distribution<float> u01(0.1f, 1.f);
    for (int t = 0; t < c.n; ++t) {
      std::vector<int> e(c.E);
      std::iota(e.begin(), e.end(), 0);
      std::shuffle(e.begin(), e.end(), rng);
      for (int k = 0; k < c.K; ++k) ids[t * c.K + k] = e[k], wts[t * c.K + k] = u01(rng);
    }
    DeviceBuffer<__nv_bfloat16> dx(to_bf16(x)), dgu(to_bf16(wgu)), ddn(to_bf16(wdn));
    DeviceBuffer<__nv_bfloat16> xs(size_t(A) * c.d), act(size_t(A) * c.mi);
    DeviceBuffer<float> gu(size_t(A) * 2 * c.mi), ye(size_t(A) * c.d), h(h0), dw(wts);
    DeviceBuffer<int32_t> di(ids);
    DeviceBuffer<char> buf(moe_dispatch_bytes(A, c.E));
    ye.poison();
    gu.poison();
    const MoeDispatch disp = moe_dispatch_view(buf.get(), A, c.E);
    moe_dispatch(di.get(), c.n, c.K, disp, nullptr);
    moe_gather(dx.get(), disp, A, c.d, xs.get(), nullptr);
    moe_grouped_gemm(xs.get(), c.d, dgu.get(), long(2) * c.mi * c.d, 2 * c.mi, disp, A, gu.get(),
                     nullptr);
    silu_mul(gu.get(), 2 * c.mi, A, c.mi, act.get(), nullptr);
    moe_grouped_gemm(act.get(), c.mi, ddn.get(), long(c.d) * c.mi, c.d, disp, A, ye.get(),
                     nullptr);
    moe_combine(ye.get(), dw.get(), disp, c.n, c.K, c.d, h.get(), nullptr);
    const auto got = h.download();

    std::vector<int32_t> offsets(c.E + 1);
    ENVFORGE_CUDA_CHECK(cudaMemcpy(offsets.data(), disp.offsets, offsets.size() * 4,
                                   cudaMemcpyDeviceToHost));
    for (int e = 0; e < c.E; ++e)
      EXPECT_EQ(offsets[e + 1] - offsets[e], int(std::count(ids.begin(), ids.end(), e)));

    std::vector<float> want = h0;
    std::vector<float> a(c.mi);
    for (int t = 0; t < c.n; ++t)
      for (int k = 0; k < c.K; ++k) {
        const int e = ids[t * c.K + k];
        const float* xt = x.data() + size_t(t) * c.d;
        for (int i = 0; i < c.mi; ++i) {
          double g = 0, u = 0;
          for (int j = 0; j < c.d; ++j) {
            g += double(xt[j]) * wgu[(size_t(e) * 2 * c.mi + i) * c.d + j];
            u += double(xt[j]) * wgu[(size_t(e) * 2 * c.mi + c.mi + i) * c.d + j];
          }
          const float gf = float(g);
          a[i] = __bfloat162float(__float2bfloat16_rn(gf / (1.f + std::exp(-gf)) * float(u)));
        }
        for (int j = 0; j < c.d; ++j) {
          double y = 0;
          for (int i = 0; i < c.mi; ++i) y += double(a[i]) * wdn[(size_t(e) * c.d + j) * c.mi + i];
          want[size_t(t) * c.d + j] += float(wts[t * c.K + k] * y);
        }
      }
    int bad = 0;
    EXPECT_LT(rel_l2(got, want, &bad), 2e-3) << "n=" << c.n << " d=" << c.d;
    EXPECT_EQ(bad, 0);
  }
}

// The dispatch against a plain layout: groups in expert order, row tiles of at most
// kMoeTileRows, every assignment in its expert's group exactly once.
TEST_F(MoeKernels, DispatchLaysOutEveryAssignmentOnce) {
  std::mt19937 rng(3);
  for (const auto [n, K, E] : {std::tuple{700, 3, 300}, std::tuple{1, 8, 256}, std::tuple{64, 8, 256},
                               std::tuple{5, 2, 7}}) {
    std::vector<int32_t> ids(size_t(n) * K);
    // skewed: a few experts get most rows, so that some groups span several tiles
    std::uniform_int_distribution<int> any(0, E - 1), few(0, std::min(E, 4) - 1);
    for (int t = 0; t < n; ++t) {
      std::set<int> picked;
      while (int(picked.size()) < K) picked.insert(rng() % 2 ? few(rng) : any(rng));
      int k = 0;
      for (int e : picked) ids[size_t(t) * K + k++] = e;
    }
    const int A = n * K;
    DeviceBuffer<int32_t> di(ids);
    DeviceBuffer<char> buf(moe_dispatch_bytes(A, E));
    const MoeDispatch d = moe_dispatch_view(buf.get(), A, E);
    moe_dispatch(di.get(), n, K, d, nullptr);
    auto get = [](const int32_t* p, size_t count) {
      std::vector<int32_t> v(count);
      ENVFORGE_CUDA_CHECK(cudaMemcpy(v.data(), p, count * 4, cudaMemcpyDeviceToHost));
      return v;
    };
    const auto offsets = get(d.offsets, E + 1), perm = get(d.perm_token, A), slot = get(d.slot_of, A);
    const int num_tiles = get(d.num_tiles, 1)[0];
    const auto tiles = get(d.tiles, 2 * size_t(num_tiles));
    std::vector<int32_t> want_tiles;
    int off = 0;
    for (int e = 0; e < E; ++e) {
      const int count = int(std::count(ids.begin(), ids.end(), e));
      ASSERT_EQ(offsets[e], off) << "E=" << E << " expert " << e;
      for (int r = 0; r < count; r += kMoeTileRows) want_tiles.insert(want_tiles.end(), {e, off + r});
      off += count;
    }
    EXPECT_EQ(offsets[E], A);
    EXPECT_EQ(tiles, want_tiles) << "E=" << E;
    std::vector<int> seen(A, 0);
    for (int a = 0; a < A; ++a) {
      const int s = slot[a], e = ids[a];
      ASSERT_TRUE(s >= offsets[e] && s < offsets[e + 1]) << "assignment " << a;
      EXPECT_EQ(perm[s], a / K);
      ++seen[s];
    }
    EXPECT_EQ(std::count(seen.begin(), seen.end(), 1), A);
  }
}

// Both grouped-GEMM kernels against a float64 reference, on groups of every awkward size: empty,
// one row, a partial and a full 8-row chunk, a full 64-row tile and one more, several tiles; a
// K with a tail after the unrolled steps and an N that ends inside a block.
TEST_F(MoeKernels, GroupedGemmPathsMatchAPlainReference) {
  std::mt19937 rng(7);
  const std::vector<int> sizes = {0, 1, 9, 8, 64, 65, 130, 3};
  const int E = int(sizes.size());
  std::vector<int32_t> ids;
  for (int e = 0; e < E; ++e) ids.insert(ids.end(), sizes[e], e);
  std::shuffle(ids.begin(), ids.end(), rng);
  const int A = int(ids.size());
  struct Shape { int K, N; };
  for (const Shape sh : {Shape{2048, 64}, Shape{160, 112}, Shape{32, 16}}) {
    const auto x = from_bf16(to_bf16(random_normal(rng, size_t(A) * sh.K)));
    const auto w = from_bf16(to_bf16(random_normal(rng, size_t(E) * sh.N * sh.K, 0.05f)));
    DeviceBuffer<__nv_bfloat16> dx(to_bf16(x)), dw(to_bf16(w));
    DeviceBuffer<int32_t> di(ids);
    DeviceBuffer<char> buf(moe_dispatch_bytes(A, E));
    const MoeDispatch disp = moe_dispatch_view(buf.get(), A, E);
    moe_dispatch(di.get(), A, 1, disp, nullptr);
    std::vector<int32_t> offsets(E + 1);
    ENVFORGE_CUDA_CHECK(cudaMemcpy(offsets.data(), disp.offsets, offsets.size() * 4,
                                   cudaMemcpyDeviceToHost));
    // grouped row j holds x[j] (xs is x itself here), computed with its group's expert
    std::vector<float> want(size_t(A) * sh.N);
    for (int e = 0; e < E; ++e)
      for (int j = offsets[e]; j < offsets[e + 1]; ++j)
        for (int c = 0; c < sh.N; ++c) {
          double acc = 0;
          for (int k = 0; k < sh.K; ++k)
            acc += double(x[size_t(j) * sh.K + k]) * w[(size_t(e) * sh.N + c) * sh.K + k];
          want[size_t(j) * sh.N + c] = float(acc);
        }
    for (MoeGemmPath path : {MoeGemmPath::kTiles, MoeGemmPath::kStreamWeights}) {
      DeviceBuffer<float> y(size_t(A) * sh.N);
      y.poison();
      moe_grouped_gemm(dx.get(), sh.K, dw.get(), long(sh.N) * sh.K, sh.N, disp, A, y.get(),
                       nullptr, path);
      int bad = 0;
      EXPECT_LT(rel_l2(y.download(), want, &bad), 1e-5)
          << "K=" << sh.K << " N=" << sh.N << " path " << int(path);
      EXPECT_EQ(bad, 0) << "K=" << sh.K << " N=" << sh.N << " path " << int(path);
    }
  }
  // the weight-streaming kernel refuses shapes it cannot read in 16-byte steps
  DeviceBuffer<char> buf(moe_dispatch_bytes(8, 2));
  const MoeDispatch disp = moe_dispatch_view(buf.get(), 8, 2);
  EXPECT_THROW(moe_grouped_gemm(nullptr, 40, nullptr, 0, 16, disp, 8, nullptr, nullptr,
                                MoeGemmPath::kStreamWeights),
               std::invalid_argument);
}

TEST_F(MoeKernels, BadShapesAreRejected) {
  RouterArgs a;
  a.n = 1, a.d = 8, a.E = 8, a.K = 9;
  EXPECT_THROW(route(a, nullptr), std::invalid_argument);
  a.K = 2, a.n_group = 3;
  EXPECT_THROW(route(a, nullptr), std::invalid_argument);
  // A valid shape with every buffer but the scores' scratch: refused before any launch.
  DeviceBuffer<float> x(std::vector<float>(8, 0.f)), w(std::vector<float>(64, 0.f)), weights(2), scores(8);
  DeviceBuffer<int32_t> ids(2);
  a.n_group = 1;
  a.x = x.get(), a.gate_w = w.get(), a.ids = ids.get(), a.weights = weights.get();
  EXPECT_THROW(route(a, nullptr), std::invalid_argument);
  a.scores = scores.get();
  EXPECT_NO_THROW(route(a, nullptr));
  ENVFORGE_CUDA_CHECK(cudaDeviceSynchronize());
  MoeDispatch d;
  d.max_assign = 4, d.E = 2;
  EXPECT_THROW(moe_dispatch(nullptr, 3, 2, d, nullptr), std::invalid_argument);
}

}  // namespace
}  // namespace envforge::engine::gpu::testing
