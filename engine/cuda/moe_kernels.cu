// MoE on the GPU: router (scores, group-limited top-k with correction bias), dispatch of the
// (token, expert) assignments into per-expert row groups, a grouped bf16 GEMM over those
// groups, and the weighted combine back into the residual stream. Everything the grouped GEMM
// needs (group sizes, row tiles) stays on the device, so a decode step is graph-capturable.
#include <mma.h>

#include <stdexcept>
#include <string>

#include "engine/cuda/cuda_check.h"
#include "engine/cuda/layer_kernels.h"
#include "engine/cuda/mma_ptx.cuh"
#include "engine/cuda/warp_scan.cuh"

namespace envforge::engine::gpu {

namespace {

void require(bool ok, const char* fn, const std::string& what) {
  if (!ok) throw std::invalid_argument(std::string(fn) + ": " + what);
}

// a better than b: higher value, ties to the lower index
__device__ inline bool better(float va, int a, float vb, int b) {
  return va != vb ? va > vb : a < b;
}

// Router scores: one warp per (expert, token), so that the gate matrix (E x d f32, megabytes)
// is read by many blocks at once; one block per token was latency-bound.
constexpr int kScoreWarps = 8;
__global__ void __launch_bounds__(32 * kScoreWarps) route_scores_kernel(RouterArgs p) {
  const int e = blockIdx.x * kScoreWarps + (threadIdx.x >> 5), t = blockIdx.y, lane = threadIdx.x & 31;
  if (e >= p.E) return;
  const float* x = p.x + size_t(t) * p.d;
  const float* w = p.gate_w + size_t(e) * p.d;
  float s = 0.f;
  if (p.d % 4 == 0) {
    const float4* x4 = reinterpret_cast<const float4*>(x);
    const float4* w4 = reinterpret_cast<const float4*>(w);
#pragma unroll 4
    for (int j = lane; j < p.d / 4; j += 32) {
      const float4 a = __ldg(x4 + j), b = __ldg(w4 + j);
      s += a.x * b.x + a.y * b.y + a.z * b.z + a.w * b.w;
    }
  } else {
    for (int j = lane; j < p.d; j += 32) s += x[j] * w[j];
  }
  for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
  if (lane == 0) p.scores[size_t(t) * p.E + e] = s;
}

// The better of two (value, index) candidates across the warp: higher value, ties to the
// lower index (the CPU reference's order).
__device__ inline void warp_best(float& v, int& i) {
  for (int o = 16; o > 0; o >>= 1) {
    const float ov = __shfl_xor_sync(0xffffffffu, v, o);
    const int oi = __shfl_xor_sync(0xffffffffu, i, o);
    if (oi >= 0 && (i < 0 || better(ov, oi, v, i))) v = ov, i = oi;
  }
}

// Selection, one warp per token: lane l holds experts l, l + 32, ...; group scores (sum of a
// group's two best biased scores), the kept groups, then K rounds of a warp-wide arg-max.
__global__ void __launch_bounds__(32) route_select_kernel(RouterArgs p) {
  extern __shared__ float sm[];
  float* score = sm;            // [E]
  float* biased = sm + p.E;     // [E]
  const int t = blockIdx.x, lane = threadIdx.x;
  const int E = p.E, G = p.n_group, per_group = E / G, K = p.K;
  const float* raw = p.scores + size_t(t) * E;
  if (p.softmax) {
    float mx = -INFINITY;
    for (int e = lane; e < E; e += 32) mx = fmaxf(mx, raw[e]);
    for (int o = 16; o > 0; o >>= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
    float sum = 0.f;
    for (int e = lane; e < E; e += 32) sum += (score[e] = expf(raw[e] - mx));
    for (int o = 16; o > 0; o >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, o);
    for (int e = lane; e < E; e += 32) score[e] /= sum;
  } else {
    for (int e = lane; e < E; e += 32) score[e] = 1.f / (1.f + expf(-raw[e]));
  }
  for (int e = lane; e < E; e += 32) biased[e] = score[e] + (p.bias ? p.bias[e] : 0.f);
  __syncwarp();
  if (G > 1) {
    // lane g (and g + 32, ...) scores group g; a group is dropped when topk_group others beat it
    float* gscore = sm + 2 * E;  // [G]
    for (int g = lane; g < G; g += 32) {
      float a = -INFINITY, b = -INFINITY;
      for (int e = g * per_group; e < (g + 1) * per_group; ++e) {
        const float v = biased[e];
        if (v > a) b = a, a = v;
        else if (v > b) b = v;
      }
      gscore[g] = a + b;
    }
    __syncwarp();
    for (int g = lane; g < G; g += 32) {
      int beaten_by = 0;
      for (int o = 0; o < G; ++o)
        if (o != g && better(gscore[o], o, gscore[g], g)) ++beaten_by;
      if (beaten_by >= p.topk_group)
        for (int e = g * per_group; e < (g + 1) * per_group; ++e) biased[e] = -INFINITY;
    }
    __syncwarp();
  }
  int* chosen = reinterpret_cast<int*>(sm + 2 * E + G);  // [K]
  float sum = 0.f;
  for (int k = 0; k < K; ++k) {
    float v = -INFINITY;
    int best = -1;
    for (int e = lane; e < E; e += 32) {
      bool taken = false;
      for (int j = 0; j < k; ++j) taken |= chosen[j] == e;
      if (!taken && (best < 0 || better(biased[e], e, v, best))) v = biased[e], best = e;
    }
    warp_best(v, best);
    if (lane == 0) chosen[k] = best;
    __syncwarp();
    sum += score[best];
  }
  if (lane == 0) {
    for (int k = 0; k < K; ++k) {
      float w = score[chosen[k]];
      if (p.normalize) w /= sum;
      p.ids[size_t(t) * K + k] = chosen[k];
      p.weights[size_t(t) * K + k] = w * p.route_scale;
    }
  }
}

__global__ void __launch_bounds__(1024) dispatch_kernel(const int32_t* ids, int n, int K,
                                                        MoeDispatch d) {
  extern __shared__ int32_t dsm[];
  int32_t* counts = dsm;        // [E]
  int32_t* fill = dsm + d.E;    // [E]
  int32_t* start = dsm + 2 * d.E;
  const int A = n * K;
  for (int e = threadIdx.x; e < d.E; e += blockDim.x) counts[e] = fill[e] = 0;
  __syncthreads();
  for (int a = threadIdx.x; a < A; a += blockDim.x) atomicAdd(&counts[ids[a]], 1);
  __syncthreads();
  if (threadIdx.x < 32) {
    // lane l lays out experts [l * per, (l + 1) * per): its rows and tiles start after those
    // of the lanes before it
    const int lane = threadIdx.x, per = (d.E + 31) / 32;
    const int e0 = min(lane * per, d.E), e1 = min(e0 + per, d.E);
    int rows = 0, tiles = 0;
    for (int e = e0; e < e1; ++e) {
      rows += counts[e];
      tiles += (counts[e] + kMoeTileRows - 1) / kMoeTileRows;
    }
    int off = warp_inclusive_sum(rows) - rows, nt = warp_inclusive_sum(tiles) - tiles;
    for (int e = e0; e < e1; ++e) {
      start[e] = d.offsets[e] = off;
      for (int r = 0; r < counts[e]; r += kMoeTileRows) {
        d.tiles[2 * nt] = e;
        d.tiles[2 * nt + 1] = off + r;
        ++nt;
      }
      off += counts[e];
    }
    if (lane == 31) {
      d.offsets[d.E] = off;
      *d.num_tiles = nt;
    }
  }
  __syncthreads();
  // Row order inside a group does not change any value: each row is computed on its own.
  for (int a = threadIdx.x; a < A; a += blockDim.x) {
    const int e = ids[a];
    const int slot = start[e] + atomicAdd(&fill[e], 1);
    d.perm_token[slot] = a / K;
    d.slot_of[a] = slot;
  }
}

__global__ void moe_gather_kernel(const __nv_bfloat16* x, const int32_t* perm, int dim,
                                  __nv_bfloat16* xs) {
  const size_t src = size_t(perm[blockIdx.x]) * dim, dst = size_t(blockIdx.x) * dim;
  for (int j = threadIdx.x; j < dim; j += blockDim.x) xs[dst + j] = x[src + j];
}

constexpr int kBM = kMoeTileRows, kBN = 64, kBK = 32, kLds = kBK + 8, kLdc = kBN + 4;

// Loads a [64][32] bf16 tile of rows row0.. (valid below row_end) and columns k0.. of m [..][K].
__device__ inline void load_tile(__nv_bfloat16* dst, const __nv_bfloat16* m, int K, int row0,
                                 int row_end, int k0) {
  const bool vec = K % 8 == 0;
  for (int c = threadIdx.x; c < kBM * kBK / 8; c += blockDim.x) {
    const int row = c / (kBK / 8), col = (c % (kBK / 8)) * 8;
    const int gr = row0 + row, gk = k0 + col;
    union {
      uint4 v;
      __nv_bfloat16 h[8];
    } u;
    u.v = make_uint4(0, 0, 0, 0);
    if (gr < row_end) {
      const __nv_bfloat16* src = m + size_t(gr) * K + gk;
      if (vec && gk + 8 <= K) {
        u.v = *reinterpret_cast<const uint4*>(src);
      } else {
        for (int i = 0; i < 8; ++i) u.h[i] = gk + i < K ? src[i] : __float2bfloat16_rn(0.f);
      }
    }
    *reinterpret_cast<uint4*>(dst + row * kLds + col) = u.v;
  }
}

__global__ void __launch_bounds__(128)
    grouped_gemm_kernel(const __nv_bfloat16* xs, int K, const __nv_bfloat16* w, long w_stride,
                        int N, MoeDispatch d, float* y) {
  using namespace nvcuda;
  if (int(blockIdx.y) >= *d.num_tiles) return;
  const int e = d.tiles[2 * blockIdx.y], r0 = d.tiles[2 * blockIdx.y + 1];
  const int r_end = min(r0 + kBM, d.offsets[e + 1]);
  const int n0 = blockIdx.x * kBN;
  const __nv_bfloat16* W = w + e * w_stride;
  __shared__ __align__(128) __nv_bfloat16 As[kBM * kLds];
  __shared__ __align__(128) __nv_bfloat16 Bs[kBN * kLds];
  __shared__ __align__(128) float Cs[kBM * kLdc];
  const int warp = threadIdx.x >> 5, wm = warp >> 1, wn = warp & 1;
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[2][2];
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 2; ++j) wmma::fill_fragment(acc[i][j], 0.f);
  for (int k0 = 0; k0 < K; k0 += kBK) {
    load_tile(As, xs, K, r0, r_end, k0);
    load_tile(Bs, W, K, n0, N, k0);
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kBK; kk += 16) {
      wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major> a[2];
      wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::col_major> b[2];
      for (int i = 0; i < 2; ++i)
        wmma::load_matrix_sync(a[i], As + (wm * 32 + i * 16) * kLds + kk, kLds);
      for (int j = 0; j < 2; ++j)
        wmma::load_matrix_sync(b[j], Bs + (wn * 32 + j * 16) * kLds + kk, kLds);
      for (int i = 0; i < 2; ++i)
        for (int j = 0; j < 2; ++j) wmma::mma_sync(acc[i][j], a[i], b[j], acc[i][j]);
    }
    __syncthreads();
  }
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 2; ++j)
      wmma::store_matrix_sync(Cs + (wm * 32 + i * 16) * kLdc + wn * 32 + j * 16, acc[i][j],
                              kLdc, wmma::mem_row_major);
  __syncthreads();
  for (int idx = threadIdx.x; idx < kBM * kBN; idx += blockDim.x) {
    const int row = idx / kBN, col = idx % kBN;
    if (r0 + row < r_end && n0 + col < N) y[size_t(r0 + row) * N + n0 + col] = Cs[row * kLdc + col];
  }
}

// Decode-shaped groups (a few rows per expert) make the grouped GEMM a stream over the chosen
// experts' weights, so this kernel is laid out for bandwidth: weight rows are the MMA's M side
// (16 per warp) and a tile's tokens its N side (up to 8 chunks of 8), each lane loads 16
// contiguous bytes of a weight row straight into registers, and nothing waits on shared memory.
// The dot product does not care about the order of k, so lane t's 16 bytes (k = 8t..8t+7 of a
// 32-wide step) feed two m16n8k16 products as their k pairs {2t, 2t+1, 2t+8, 2t+9}; the tokens'
// bytes are taken in the same order, which keeps every product exact.
constexpr int kSkinnyWarps = 4, kSkinnyCols = 16 * kSkinnyWarps, kSkinnyChunks = kBM / 8;
constexpr int kSkinnyUnroll = 4;  // 32-wide k steps whose weight loads are in flight together

__device__ inline uint4 load_stream(const __nv_bfloat16* p) {
  return __ldcs(reinterpret_cast<const uint4*>(p));  // read once: keep it out of the caches
}

__global__ void __launch_bounds__(32 * kSkinnyWarps)
    skinny_grouped_gemm_kernel(const __nv_bfloat16* xs, int K, const __nv_bfloat16* w,
                               long w_stride, int N, MoeDispatch d, float* y) {
  if (int(blockIdx.y) >= *d.num_tiles) return;
  const int e = d.tiles[2 * blockIdx.y], r0 = d.tiles[2 * blockIdx.y + 1];
  const int r_end = min(r0 + kBM, d.offsets[e + 1]);
  const int chunks = (r_end - r0 + 7) / 8;
  const int lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
  const int c0 = blockIdx.x * kSkinnyCols + (threadIdx.x >> 5) * 16;
  if (c0 >= N) return;
  const __nv_bfloat16* w0 = w + e * w_stride + size_t(c0 + g) * K + 8 * t;
  const __nv_bfloat16* w1 = w0 + size_t(8) * K;
  // token g of every chunk; rows past the tile read its last row and are never stored
  const __nv_bfloat16* x[kSkinnyChunks];
#pragma unroll
  for (int c = 0; c < kSkinnyChunks; ++c)
    x[c] = xs + size_t(min(r0 + 8 * c + g, r_end - 1)) * K + 8 * t;
  float acc[kSkinnyChunks][4] = {};
  int k0 = 0;
  auto step = [&](const uint4& a0, const uint4& a1, int k) {
    const uint32_t lo[4] = {a0.x, a1.x, a0.y, a1.y}, hi[4] = {a0.z, a1.z, a0.w, a1.w};
#pragma unroll
    for (int c = 0; c < kSkinnyChunks; ++c) {
      if (c < chunks) {
        const uint4 b = __ldg(reinterpret_cast<const uint4*>(x[c] + k));
        ptx::mma_bf16_16816(acc[c], lo, b.x, b.y);
        ptx::mma_bf16_16816(acc[c], hi, b.z, b.w);
      }
    }
  };
  for (; k0 + 32 * kSkinnyUnroll <= K; k0 += 32 * kSkinnyUnroll) {
    uint4 a0[kSkinnyUnroll], a1[kSkinnyUnroll];
#pragma unroll
    for (int u = 0; u < kSkinnyUnroll; ++u) {
      a0[u] = load_stream(w0 + k0 + 32 * u);
      a1[u] = load_stream(w1 + k0 + 32 * u);
    }
#pragma unroll
    for (int u = 0; u < kSkinnyUnroll; ++u) step(a0[u], a1[u], k0 + 32 * u);
  }
  for (; k0 < K; k0 += 32) step(load_stream(w0 + k0), load_stream(w1 + k0), k0);
  // accumulator (i, j): weight row c0 + g (+8 for i >= 2), token 8c + 2t + (i & 1)
#pragma unroll
  for (int c = 0; c < kSkinnyChunks; ++c) {
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int row = r0 + 8 * c + 2 * t + (i & 1), col = c0 + g + (i >> 1) * 8;
      if (c < chunks && row < r_end) y[size_t(row) * N + col] = acc[c][i];
    }
  }
}

__global__ void combine_kernel(const float* ye, const float* weights, const int32_t* slot_of,
                               int K, int dim, float* h) {
  const int t = blockIdx.x;
  for (int c = threadIdx.x; c < dim; c += blockDim.x) {
    float acc = 0.f;
    for (int k = 0; k < K; ++k)
      acc += weights[size_t(t) * K + k] * ye[size_t(slot_of[size_t(t) * K + k]) * dim + c];
    h[size_t(t) * dim + c] += acc;
  }
}

size_t align_up(size_t n) { return (n + 255) / 256 * 256; }

}  // namespace

void route(const RouterArgs& p, cudaStream_t stream) {
  require(p.n >= 0 && p.d > 0 && p.E > 0 && p.E <= 4096, "route", "bad shape");
  require(p.K > 0 && p.K <= p.E, "route", "K must be in 1..E, got " + std::to_string(p.K));
  require(p.n_group > 0 && p.E % p.n_group == 0 && p.topk_group > 0 &&
              p.topk_group <= p.n_group,
          "route", "n_group must divide E and topk_group be in 1..n_group");
  require(p.n_group == 1 || p.topk_group * (p.E / p.n_group) >= p.K, "route",
          "the kept groups hold fewer than K experts");
  if (p.n == 0) return;
  require(p.x && p.gate_w && p.ids && p.weights, "route", "x, gate_w, ids, weights must be set");
  require(p.scores, "route", "scores (n x E scratch) must be set");
  route_scores_kernel<<<dim3((p.E + kScoreWarps - 1) / kScoreWarps, p.n), 32 * kScoreWarps, 0,
                        stream>>>(p);
  ENVFORGE_CUDA_CHECK_LAUNCH();
  const size_t smem = (2 * size_t(p.E) + p.n_group) * sizeof(float) + p.K * sizeof(int);
  route_select_kernel<<<p.n, 32, smem, stream>>>(p);
  ENVFORGE_CUDA_CHECK_LAUNCH();
}

size_t moe_dispatch_bytes(int max_assign, int E) {
  return align_up((E + 1) * sizeof(int32_t)) + 2 * align_up(max_assign * sizeof(int32_t)) +
         align_up(2 * size_t(moe_max_tiles(max_assign, E)) * sizeof(int32_t)) + 256;
}

MoeDispatch moe_dispatch_view(void* buffer, int max_assign, int E) {
  char* b = static_cast<char*>(buffer);
  MoeDispatch d;
  d.max_assign = max_assign;
  d.E = E;
  d.offsets = reinterpret_cast<int32_t*>(b);
  b += align_up((E + 1) * sizeof(int32_t));
  d.perm_token = reinterpret_cast<int32_t*>(b);
  b += align_up(max_assign * sizeof(int32_t));
  d.slot_of = reinterpret_cast<int32_t*>(b);
  b += align_up(max_assign * sizeof(int32_t));
  d.tiles = reinterpret_cast<int32_t*>(b);
  b += align_up(2 * size_t(moe_max_tiles(max_assign, E)) * sizeof(int32_t));
  d.num_tiles = reinterpret_cast<int32_t*>(b);
  return d;
}

void moe_dispatch(const int32_t* ids, int n, int K, const MoeDispatch& d, cudaStream_t stream) {
  require(n >= 0 && K > 0 && size_t(n) * K <= size_t(d.max_assign), "moe_dispatch",
          "n * K exceeds the dispatch capacity of " + std::to_string(d.max_assign));
  require(d.E > 0 && d.E <= 4096, "moe_dispatch", "bad expert count");
  require(ids && d.offsets, "moe_dispatch", "ids and the dispatch arrays must be set");
  dispatch_kernel<<<1, 1024, 3 * d.E * sizeof(int32_t), stream>>>(ids, n, K, d);
  ENVFORGE_CUDA_CHECK_LAUNCH();
}

void moe_gather(const __nv_bfloat16* x, const MoeDispatch& d, int n_assign, int dim,
                __nv_bfloat16* xs, cudaStream_t stream) {
  require(n_assign >= 0 && n_assign <= d.max_assign && dim > 0, "moe_gather", "bad shape");
  if (n_assign == 0) return;
  moe_gather_kernel<<<n_assign, 128, 0, stream>>>(x, d.perm_token, dim, xs);
  ENVFORGE_CUDA_CHECK_LAUNCH();
}

void moe_grouped_gemm(const __nv_bfloat16* xs, int K, const __nv_bfloat16* w, long w_stride,
                      int N, const MoeDispatch& d, int n_assign, float* y, cudaStream_t stream,
                      MoeGemmPath path) {
  require(K > 0 && N > 0 && n_assign >= 0 && n_assign <= d.max_assign, "moe_grouped_gemm",
          "bad shape");
  if (n_assign == 0) return;
  const int tiles = moe_max_tiles(n_assign, d.E);
  require(tiles <= 65535, "moe_grouped_gemm", "too many row tiles in one call");
  const bool skinny_fits = K % 32 == 0 && N % 16 == 0;
  require(path != MoeGemmPath::kStreamWeights || skinny_fits, "moe_grouped_gemm",
          "the weight-streaming path needs K % 32 == 0 and N % 16 == 0");
  if (path == MoeGemmPath::kStreamWeights || (path == MoeGemmPath::kAuto && skinny_fits)) {
    const dim3 grid((N + kSkinnyCols - 1) / kSkinnyCols, tiles);
    skinny_grouped_gemm_kernel<<<grid, 32 * kSkinnyWarps, 0, stream>>>(xs, K, w, w_stride, N, d, y);
  } else {
    const dim3 grid((N + kBN - 1) / kBN, tiles);
    grouped_gemm_kernel<<<grid, 128, 0, stream>>>(xs, K, w, w_stride, N, d, y);
  }
  ENVFORGE_CUDA_CHECK_LAUNCH();
}

void moe_combine(const float* ye, const float* weights, const MoeDispatch& d, int n, int K,
                 int dim, float* h, cudaStream_t stream) {
  require(n >= 0 && K > 0 && dim > 0 && size_t(n) * K <= size_t(d.max_assign), "moe_combine",
          "bad shape");
  if (n == 0) return;
  combine_kernel<<<n, dim >= 256 ? 256 : 128, 0, stream>>>(ye, weights, d.slot_of, K, dim, h);
  ENVFORGE_CUDA_CHECK_LAUNCH();
}

}  // namespace envforge::engine::gpu
