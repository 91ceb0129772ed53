// Absorbed (MQA) MLA attention on tensor cores, sparse over selected rows or dense over a
// prefix. A block takes 64 query heads of one query and one slice of its rows ("split"); rows
// arrive 32 at a time through a double-buffered cp.async pipeline from the paged latent cache
// into shared memory, where all 64 heads share them. 8 warps: for S = Q K^T warp w owns heads
// 16*(w%4).. and tokens 16*(w/4)..; for O += P V it owns heads 16*(w%4).. and value columns
// 256*(w/4)... Online softmax in base 2. With several splits, each writes a normalized partial
// output and its log-sum-exp; a second kernel merges them. On compute capability 9.0 the dense
// path has its own kernel on warpgroup MMA (see "Dense path" below); elsewhere it uses this one.
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "engine/cuda/cuda_check.h"
#include "engine/cuda/dsa_kernels.h"
#include "engine/cuda/mma_ptx.cuh"

namespace envforge::engine::gpu {
namespace {

constexpr int kThreads = 256;
constexpr int kTile = 32;                  // rows per pipeline stage
constexpr int kHeads = kMlaHeadsPerBlock;  // 64
constexpr int kPad = kQkDim + 8;           // padded smem row: 1168 B, ldmatrix conflict-free
constexpr int kPPad = kTile + 8;
constexpr int kChunksPerRow = kQkDim / 8;  // 16-byte chunks
constexpr int kKTiles = kQkDim / 16;  // 36
constexpr int kVCols = kVDim / 2;  // value columns per warp
constexpr float kLog2e = 1.4426950408889634f;
// Row lookups (index, then page) are resolved for this many slots at a time, ahead of the
// copies, so no tile waits on two dependent global loads.
constexpr int kOffsetRows = 2048;
constexpr int kTilesPerOffsetChunk = kOffsetRows / kTile;
constexpr int kSChains = 4;
constexpr int kMinSplitTiles = 4;  // independent accumulator sets in S = Q K^T

struct Smem {
  __nv_bfloat16 q[kHeads * kPad];
  __nv_bfloat16 kv[2][kTile * kPad];
  __nv_bfloat16 p[kHeads * kPPad];
  float part_max[2][kHeads];
  float part_sum[2][kHeads];
  int valid[2][kTile];
  int row_of[kOffsetRows];  // physical cache row of each slot in the current chunk, -1 = skip
};

struct Plan {
  int splits;
  int rows_per_split;  // multiple of kTile
};

Plan make_plan(int T, int Hq, int max_rows) {
  const int tiles = std::max(1, (max_rows + kTile - 1) / kTile);
  const long pairs = long(T) * (Hq / kHeads);
  int splits = int(std::max<long>(1, device_sm_count() / std::max<long>(1, pairs)));
  // a split streams at least kMinSplitTiles tiles: shorter ones cost more in the query load
  // and the fp32 partial outputs than they win in parallelism
  splits = std::min(splits, std::max(1, tiles / kMinSplitTiles));
  const int tiles_per_split = (tiles + splits - 1) / splits;
  Plan plan;
  plan.rows_per_split = tiles_per_split * kTile;
  plan.splits = (tiles + tiles_per_split - 1) / tiles_per_split;
  return plan;
}

__global__ void __launch_bounds__(kThreads, 1)
    mla_kernel(MlaArgs p, int splits, int rows_per_split, float* o_part, float* lse_part) {
  extern __shared__ __align__(16) unsigned char smem_raw[];
  Smem& sm = *reinterpret_cast<Smem*>(smem_raw);
  const int hgroups = p.Hq / kHeads;
  const int t = blockIdx.x / hgroups, hg = blockIdx.x % hgroups;
  const int split = blockIdx.y;
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int g = lane >> 2, tq = lane & 3;
  const int seq = p.q_seq[t];
  const int len = p.q_len[t];
  const bool sparse = p.idx != nullptr;
  const int begin = split * rows_per_split;
  const int end = min(begin + rows_per_split, sparse ? p.k : max(len, 0));
  const int n_tiles = end > begin ? (end - begin + kTile - 1) / kTile : 0;
  const int32_t* idx_row = sparse ? p.idx + size_t(t) * p.k : nullptr;
  const int32_t* page_row = p.table.pages + size_t(seq) * p.table.max_pages;

  // slots [chunk * kOffsetRows, +kOffsetRows) of this split -> physical rows
  auto resolve_rows = [&](int chunk) {
    for (int r = tid; r < kOffsetRows; r += kThreads) {
      const int slot = begin + chunk * kOffsetRows + r;
      int pos = -1;
      if (slot < end) pos = sparse ? __ldg(idx_row + slot) : slot;
      int row = -1;
      if (pos >= 0 && pos < len && pos / p.table.page_size < p.table.max_pages)
        row = __ldg(page_row + pos / p.table.page_size) * p.table.page_size +
              pos % p.table.page_size;
      sm.row_of[r] = row;
    }
  };
  auto load_tile = [&](int tile, int buf) {
    const int base = (tile % kTilesPerOffsetChunk) * kTile;
    for (int c = tid; c < kTile * kChunksPerRow; c += kThreads) {
      const int r = c / kChunksPerRow, col = c % kChunksPerRow;
      const int row = sm.row_of[base + r];
      const bool ok = row >= 0;
      const __nv_bfloat16* src = p.kv_pages;
      if (ok) src += size_t(row) * kQkDim + col * 8;
      ptx::cp_async_16(&sm.kv[buf][r * kPad + col * 8], src, ok ? 16 : 0);
      if (col == 0) sm.valid[buf][r] = ok;
    }
  };

  const int h0 = hg * kHeads;
  {
    const __nv_bfloat16* q = p.q + (size_t(t) * p.Hq + h0) * kQkDim;
    for (int c = tid; c < kHeads * kChunksPerRow; c += kThreads) {
      const int r = c / kChunksPerRow, col = c % kChunksPerRow;
      ptx::cp_async_16(&sm.q[r * kPad + col * 8], q + size_t(r) * kQkDim + col * 8, 16);
    }
  }
  if (n_tiles > 0) {
    resolve_rows(0);
    __syncthreads();
    load_tile(0, 0);
  }
  ptx::cp_async_commit();

  const int mr = 16 * (warp & 3);   // head rows of this warp
  const int nc = 16 * (warp >> 2);  // token columns for S
  const int dc = kVCols * (warp >> 2);
  const float scale2 = p.softmax_scale * kLog2e;
  float o[kVCols / 8][4];
#pragma unroll
  for (int i = 0; i < kVCols / 8; ++i) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.f;
  float m_run[2] = {-INFINITY, -INFINITY};
  float l_run[2] = {0.f, 0.f};

  for (int it = 0; it < n_tiles; ++it) {
    const int buf = it & 1;
    if (it + 1 < n_tiles) {
      if ((it + 1) % kTilesPerOffsetChunk == 0) {  // every thread is past the last sync
        resolve_rows((it + 1) / kTilesPerOffsetChunk);
        __syncthreads();
      }
      load_tile(it + 1, buf ^ 1);
      ptx::cp_async_commit();
      ptx::cp_async_wait<1>();
    } else {
      ptx::cp_async_wait<0>();
    }
    __syncthreads();

    // S = Q K^T for 16 heads x 16 tokens; kSChains accumulator sets keep MMAs independent
    float sc[kSChains][2][4];
#pragma unroll
    for (int c = 0; c < kSChains; ++c)
#pragma unroll
      for (int e = 0; e < 4; ++e) sc[c][0][e] = sc[c][1][e] = 0.f;
    const __nv_bfloat16* kv = sm.kv[buf];
#pragma unroll 4
    for (int kk = 0; kk < kKTiles; kk += kSChains) {
#pragma unroll
      for (int c = 0; c < kSChains; ++c) {
        uint32_t a[4], b[4];
        ptx::ldmatrix_x4(a, &sm.q[(mr + (lane & 15)) * kPad + (kk + c) * 16 + (lane >> 4) * 8]);
        ptx::ldmatrix_x4(b, &kv[(nc + (lane & 7) + ((lane >> 4) << 3)) * kPad + (kk + c) * 16 +
                                ((lane >> 3) & 1) * 8]);
        ptx::mma_bf16_16816(sc[c][0], a, b[0], b[1]);
        ptx::mma_bf16_16816(sc[c][1], a, b[2], b[3]);
      }
    }
    float s[2][4];
#pragma unroll
    for (int nt = 0; nt < 2; ++nt)
#pragma unroll
      for (int e = 0; e < 4; ++e) s[nt][e] = (sc[0][nt][e] + sc[1][nt][e]) + (sc[2][nt][e] + sc[3][nt][e]);

    // online softmax; rows g and g+8 of the warp's head block
    float mx[2] = {-INFINITY, -INFINITY};
#pragma unroll
    for (int nt = 0; nt < 2; ++nt) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int tok = nc + nt * 8 + 2 * tq + (e & 1);
        s[nt][e] = sm.valid[buf][tok] ? s[nt][e] * scale2 : -INFINITY;
        mx[e >> 1] = fmaxf(mx[e >> 1], s[nt][e]);
      }
    }
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      mx[h] = fmaxf(mx[h], __shfl_xor_sync(0xffffffffu, mx[h], 1));
      mx[h] = fmaxf(mx[h], __shfl_xor_sync(0xffffffffu, mx[h], 2));
    }
    if (tq == 0) {
      sm.part_max[warp >> 2][mr + g] = mx[0];
      sm.part_max[warp >> 2][mr + g + 8] = mx[1];
    }
    __syncthreads();
    float alpha[2];
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const int row = mr + g + 8 * h;
      const float m_new = fmaxf(m_run[h], fmaxf(sm.part_max[0][row], sm.part_max[1][row]));
      alpha[h] = m_new == -INFINITY ? 1.f : exp2f(m_run[h] - m_new);
      m_run[h] = m_new;
    }
#pragma unroll
    for (int nt = 0; nt < 2; ++nt) {
      float pv[4];
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const float m = m_run[e >> 1];
        pv[e] = s[nt][e] == -INFINITY ? 0.f : exp2f(s[nt][e] - m);
      }
      // the sum uses the bf16-rounded weights that the PV product sees
      const uint32_t lo = ptx::pack_bf16x2(pv[0], pv[1]);
      const uint32_t hi = ptx::pack_bf16x2(pv[2], pv[3]);
      const __nv_bfloat162 lo2 = *reinterpret_cast<const __nv_bfloat162*>(&lo);
      const __nv_bfloat162 hi2 = *reinterpret_cast<const __nv_bfloat162*>(&hi);
      l_run[0] = (nt == 0 ? l_run[0] * alpha[0] : l_run[0]) + __low2float(lo2) + __high2float(lo2);
      l_run[1] = (nt == 0 ? l_run[1] * alpha[1] : l_run[1]) + __low2float(hi2) + __high2float(hi2);
      const int col = nc + nt * 8 + 2 * tq;
      *reinterpret_cast<uint32_t*>(&sm.p[(mr + g) * kPPad + col]) = lo;
      *reinterpret_cast<uint32_t*>(&sm.p[(mr + g + 8) * kPPad + col]) = hi;
    }
#pragma unroll
    for (int i = 0; i < kVCols / 8; ++i) {
      o[i][0] *= alpha[0];
      o[i][1] *= alpha[0];
      o[i][2] *= alpha[1];
      o[i][3] *= alpha[1];
    }
    __syncthreads();

    // O += P V over the tile's 32 tokens, 256 value columns per warp
#pragma unroll
    for (int kk = 0; kk < kTile / 16; ++kk) {
      uint32_t a[4];
      ptx::ldmatrix_x4(a, &sm.p[(mr + (lane & 15)) * kPPad + kk * 16 + (lane >> 4) * 8]);
#pragma unroll
      for (int np = 0; np < kVCols / 16; ++np) {
        uint32_t b[4];
        ptx::ldmatrix_x4_trans(
            b, &kv[(kk * 16 + (lane & 7) + ((lane >> 3) & 1) * 8) * kPad + dc + np * 16 +
                   (lane >> 4) * 8]);
        ptx::mma_bf16_16816(o[2 * np], a, b[0], b[1]);
        ptx::mma_bf16_16816(o[2 * np + 1], a, b[2], b[3]);
      }
    }
    __syncthreads();
  }
  ptx::cp_async_wait<0>();

  // row sums: quad, then the two warps that share the rows
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    l_run[h] += __shfl_xor_sync(0xffffffffu, l_run[h], 1);
    l_run[h] += __shfl_xor_sync(0xffffffffu, l_run[h], 2);
  }
  if (tq == 0) {
    sm.part_sum[warp >> 2][mr + g] = l_run[0];
    sm.part_sum[warp >> 2][mr + g + 8] = l_run[1];
  }
  __syncthreads();
  float inv[2], lse[2];
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    const int row = mr + g + 8 * h;
    const float l = sm.part_sum[0][row] + sm.part_sum[1][row];
    inv[h] = l > 0.f ? 1.f / l : 0.f;
    lse[h] = l > 0.f ? m_run[h] + log2f(l) : -INFINITY;
  }
  if (splits == 1) {
#pragma unroll
    for (int i = 0; i < kVCols / 8; ++i) {
      const int col = dc + i * 8 + 2 * tq;
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const size_t off = (size_t(t) * p.Hq + h0 + mr + g + 8 * h) * kVDim + col;
        *reinterpret_cast<uint32_t*>(p.out + off) =
            ptx::pack_bf16x2(o[i][2 * h] * inv[h], o[i][2 * h + 1] * inv[h]);
      }
    }
    return;
  }
#pragma unroll
  for (int i = 0; i < kVCols / 8; ++i) {
    const int col = dc + i * 8 + 2 * tq;
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const size_t head = (size_t(t) * splits + split) * p.Hq + h0 + mr + g + 8 * h;
      *reinterpret_cast<float2*>(o_part + head * kVDim + col) =
          make_float2(o[i][2 * h] * inv[h], o[i][2 * h + 1] * inv[h]);
    }
  }
  if (tq == 0 && warp < 4) {
#pragma unroll
    for (int h = 0; h < 2; ++h)
      lse_part[(size_t(t) * splits + split) * p.Hq + h0 + mr + g + 8 * h] = lse[h];
  }
}

// One block per (query, head): out = sum_s w_s O_s / sum_s w_s, w_s = 2^(lse_s - max).
__global__ void __launch_bounds__(128) mla_combine_kernel(int Hq, int splits, const float* o_part,
                                                          const float* lse_part,
                                                          __nv_bfloat16* out) {
  const int t = blockIdx.x / Hq, h = blockIdx.x % Hq;
  float m = -INFINITY;
  for (int s = 0; s < splits; ++s) m = fmaxf(m, lse_part[(size_t(t) * splits + s) * Hq + h]);
  float4 acc = make_float4(0.f, 0.f, 0.f, 0.f);
  float wsum = 0.f;
  if (m != -INFINITY) {
    for (int s = 0; s < splits; ++s) {
      const size_t head = (size_t(t) * splits + s) * Hq + h;
      const float w = exp2f(lse_part[head] - m);
      if (w == 0.f) continue;
      const float4 v = reinterpret_cast<const float4*>(o_part + head * kVDim)[threadIdx.x];
      acc.x += w * v.x, acc.y += w * v.y, acc.z += w * v.z, acc.w += w * v.w;
      wsum += w;
    }
  }
  const float inv = wsum > 0.f ? 1.f / wsum : 0.f;
  uint2 packed;
  packed.x = ptx::pack_bf16x2(acc.x * inv, acc.y * inv);
  packed.y = ptx::pack_bf16x2(acc.z * inv, acc.w * inv);
  reinterpret_cast<uint2*>(out + (size_t(t) * Hq + h) * kVDim)[threadIdx.x] = packed;
}

// ---- Dense path on Hopper warpgroup MMA ----
// A block takes 64 heads of one query and one split of its prefix. Two warpgroups; tiles of 64
// rows stream through a double-buffered cp.async pipeline into 128-byte-swizzled shared memory.
// Per tile, warpgroup w computes S = Q K^T for the tile's rows 32w..32w+31 (64 heads x 32), the
// two agree on the running row maxima through shared memory and write their bf16 weights into
// one 64 x 64 P tile; then warpgroup w accumulates O[:, 256w..256w+255] += P V over all 64 rows.
// Operands are read by the tensor cores straight from shared memory.
constexpr int kDTile = 64;
constexpr int kDKBlocks = kQkDim / 64;  // 9 column blocks of 128 B
constexpr int kDRowBytes = 128;
constexpr int kDBlockBytes = kDTile * kDRowBytes;      // one 64-column block of a 64-row tile
constexpr int kDTileBytes = kDKBlocks * kDBlockBytes;  // 73728
constexpr int kDMinSplitTiles = 2;

struct DenseSmem {
  alignas(1024) unsigned char q[kDTileBytes];
  alignas(1024) unsigned char kv[2][kDTileBytes];
  alignas(1024) unsigned char p[kDBlockBytes];
  float red_max[2][kDTile];
  float red_sum[2][kDTile];
};
constexpr size_t kDenseSmemBytes = sizeof(DenseSmem) + 1024;  // + alignment slack

Plan make_dense_plan(int T, int Hq, int max_rows) {
  const int tiles = std::max(1, (max_rows + kDTile - 1) / kDTile);
  const long pairs = long(T) * (Hq / kHeads);
  int splits = int(std::max<long>(1, device_sm_count() / std::max<long>(1, pairs)));
  splits = std::min(splits, std::max(1, tiles / kDMinSplitTiles));
  const int tiles_per_split = (tiles + splits - 1) / splits;
  Plan plan;
  plan.rows_per_split = tiles_per_split * kDTile;
  plan.splits = (tiles + tiles_per_split - 1) / tiles_per_split;
  return plan;
}

// byte offset of 16-byte chunk c (0..71) of row r in a swizzled 64-row tile
[[maybe_unused]] __device__ __forceinline__ uint32_t dense_chunk_offset(int r, int c) {
  return uint32_t((c >> 3) * kDBlockBytes + r * kDRowBytes + (((c & 7) ^ (r & 7)) << 4));
}

__global__ void __launch_bounds__(kThreads, 1)
    mla_dense_kernel(MlaArgs p, int splits, int rows_per_split, float* o_part, float* lse_part) {
#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
  extern __shared__ unsigned char dsmem_raw[];
  DenseSmem& sm = *reinterpret_cast<DenseSmem*>(
      (reinterpret_cast<uintptr_t>(dsmem_raw) + 1023) & ~uintptr_t(1023));
  const int hgroups = p.Hq / kHeads;
  const int t = blockIdx.x / hgroups, hg = blockIdx.x % hgroups;
  const int split = blockIdx.y;
  const int tid = threadIdx.x, lane = tid & 31;
  const int wg = tid >> 7, wq = (tid >> 5) & 3;  // warpgroup, warp within it
  const int g = lane >> 2, tq = lane & 3;
  const int seq = p.q_seq[t];
  const int len = p.q_len[t];
  const int begin = split * rows_per_split;
  const int end = min(begin + rows_per_split, max(len, 0));
  const int n_tiles = end > begin ? (end - begin + kDTile - 1) / kDTile : 0;
  const int32_t* page_row = p.table.pages + size_t(seq) * p.table.max_pages;
  const int h0 = hg * kHeads;

  // 8 threads per row, 128 B per warp instruction; rows tid/8 and tid/8 + 32
  auto load_tile = [&](int tile, int buf) {
    const int c0 = tid & 7;
#pragma unroll
    for (int pass = 0; pass < 2; ++pass) {
      const int r = (tid >> 3) + 32 * pass;
      const int pos = begin + tile * kDTile + r;
      int row = -1;
      if (pos < end && pos / p.table.page_size < p.table.max_pages)
        row = __ldg(page_row + pos / p.table.page_size) * p.table.page_size +
              pos % p.table.page_size;
      const __nv_bfloat16* src = p.kv_pages + (row >= 0 ? size_t(row) * kQkDim : 0);
#pragma unroll
      for (int j = 0; j < kDKBlocks; ++j) {
        const int c = c0 + 8 * j;
        ptx::cp_async_16(sm.kv[buf] + dense_chunk_offset(r, c), src + c * 8, row >= 0 ? 16 : 0);
      }
    }
  };
  {
    const __nv_bfloat16* q = p.q + (size_t(t) * p.Hq + h0) * kQkDim;
    for (int i = tid; i < kHeads * kChunksPerRow; i += kThreads) {
      const int r = i / kChunksPerRow, c = i % kChunksPerRow;
      ptx::cp_async_16(sm.q + dense_chunk_offset(r, c), q + size_t(r) * kQkDim + c * 8, 16);
    }
  }
  if (n_tiles > 0) load_tile(0, 0);
  ptx::cp_async_commit();

  const float scale2 = p.softmax_scale * kLog2e;
  const int row0 = 16 * wq + g;  // head rows row0 and row0 + 8 of this thread
  const uint32_t q_addr = ptx::smem_addr(sm.q);
  const uint32_t p_addr = ptx::smem_addr(sm.p);
  float o[128];
#pragma unroll
  for (int i = 0; i < 128; ++i) o[i] = 0.f;
  float m_run[2] = {-INFINITY, -INFINITY};
  float l_run[2] = {0.f, 0.f};

  for (int it = 0; it < n_tiles; ++it) {
    const int buf = it & 1;
    if (it + 1 < n_tiles) {
      load_tile(it + 1, buf ^ 1);
      ptx::cp_async_commit();
      ptx::cp_async_wait<1>();
    } else {
      ptx::cp_async_wait<0>();
    }
    ptx::fence_proxy_async();
    __syncthreads();
    const uint32_t kv_addr = ptx::smem_addr(sm.kv[buf]);

    // S = Q K^T over this warpgroup's 32 rows of the tile
    float s[16];
    ptx::wgmma_fence();
#pragma unroll
    for (int kk = 0; kk < kQkDim / 16; ++kk) {
      const uint32_t koff = (kk >> 2) * kDBlockBytes + (kk & 3) * 32;
      const uint64_t da = ptx::wgmma_desc_sw128(q_addr + koff, 16, 1024);
      const uint64_t db = ptx::wgmma_desc_sw128(kv_addr + koff + wg * 32 * kDRowBytes, 16, 1024);
      ptx::wgmma_m64n32k16(s, da, db, kk > 0);
    }
    ptx::wgmma_commit();
    ptx::wgmma_wait<0>();

    const int tile_pos = begin + it * kDTile + wg * 32;
    float mx[2] = {-INFINITY, -INFINITY};
#pragma unroll
    for (int i = 0; i < 16; ++i) {
      const int pos = tile_pos + 8 * (i >> 2) + 2 * tq + (i & 1);
      s[i] = pos < end ? s[i] * scale2 : -INFINITY;
      mx[(i >> 1) & 1] = fmaxf(mx[(i >> 1) & 1], s[i]);
    }
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      mx[h] = fmaxf(mx[h], __shfl_xor_sync(0xffffffffu, mx[h], 1));
      mx[h] = fmaxf(mx[h], __shfl_xor_sync(0xffffffffu, mx[h], 2));
    }
    if (tq == 0) {
      sm.red_max[wg][row0] = mx[0];
      sm.red_max[wg][row0 + 8] = mx[1];
    }
    __syncthreads();
    float alpha[2];
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const int row = row0 + 8 * h;
      const float m_new = fmaxf(m_run[h], fmaxf(sm.red_max[0][row], sm.red_max[1][row]));
      alpha[h] = m_new == -INFINITY ? 1.f : exp2f(m_run[h] - m_new);
      m_run[h] = m_new;
      l_run[h] *= alpha[h];
    }
#pragma unroll
    for (int nb = 0; nb < 4; ++nb) {
      float pv[4];
#pragma unroll
      for (int e = 0; e < 4; ++e)
        pv[e] = s[4 * nb + e] == -INFINITY ? 0.f : exp2f(s[4 * nb + e] - m_run[e >> 1]);
      // the sums use the bf16-rounded weights that the PV product sees
      const uint32_t lo = ptx::pack_bf16x2(pv[0], pv[1]);
      const uint32_t hi = ptx::pack_bf16x2(pv[2], pv[3]);
      const __nv_bfloat162 lo2 = *reinterpret_cast<const __nv_bfloat162*>(&lo);
      const __nv_bfloat162 hi2 = *reinterpret_cast<const __nv_bfloat162*>(&hi);
      l_run[0] += __low2float(lo2) + __high2float(lo2);
      l_run[1] += __low2float(hi2) + __high2float(hi2);
      const int chunk = wg * 4 + nb;  // 16-byte chunk of the P row (8 rows of the tile)
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const int row = row0 + 8 * h;
        *reinterpret_cast<uint32_t*>(sm.p + row * kDRowBytes + (((chunk ^ (row & 7))) << 4) +
                                     tq * 4) = h == 0 ? lo : hi;
      }
    }
    // once the row maxima settle most tiles leave them unchanged: skip the 128 multiplies
    if (__any_sync(0xffffffffu, alpha[0] != 1.f || alpha[1] != 1.f)) {
#pragma unroll
      for (int i = 0; i < 128; ++i) o[i] *= alpha[(i >> 1) & 1];
    }
    ptx::fence_proxy_async();
    __syncthreads();

    // O[:, 256 wg ..] += P V over the tile's 64 rows
    ptx::wgmma_fence();
#pragma unroll
    for (int kk = 0; kk < kDTile / 16; ++kk) {
      const uint64_t da = ptx::wgmma_desc_sw128(p_addr + kk * 32, 16, 1024);
      const uint64_t db = ptx::wgmma_desc_sw128(
          kv_addr + (4 * wg) * kDBlockBytes + kk * 16 * kDRowBytes, kDBlockBytes, 1024);
      ptx::wgmma_m64n256k16_tb(o, da, db);
    }
    ptx::wgmma_commit();
    ptx::wgmma_wait<0>();
    __syncthreads();
  }
  ptx::cp_async_wait<0>();

#pragma unroll
  for (int h = 0; h < 2; ++h) {
    l_run[h] += __shfl_xor_sync(0xffffffffu, l_run[h], 1);
    l_run[h] += __shfl_xor_sync(0xffffffffu, l_run[h], 2);
  }
  if (tq == 0) {
    sm.red_sum[wg][row0] = l_run[0];
    sm.red_sum[wg][row0 + 8] = l_run[1];
  }
  __syncthreads();
  float inv[2], lse[2];
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    const int row = row0 + 8 * h;
    const float l = sm.red_sum[0][row] + sm.red_sum[1][row];
    inv[h] = l > 0.f ? 1.f / l : 0.f;
    lse[h] = l > 0.f ? m_run[h] + log2f(l) : -INFINITY;
  }
  const int dc = 256 * wg;
#pragma unroll
  for (int i = 0; i < 32; ++i) {
    const int col = dc + 8 * i + 2 * tq;
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const float x = o[4 * i + 2 * h] * inv[h], y = o[4 * i + 2 * h + 1] * inv[h];
      if (splits == 1) {
        const size_t off = (size_t(t) * p.Hq + h0 + row0 + 8 * h) * kVDim + col;
        *reinterpret_cast<uint32_t*>(p.out + off) = ptx::pack_bf16x2(x, y);
      } else {
        const size_t head = (size_t(t) * splits + split) * p.Hq + h0 + row0 + 8 * h;
        *reinterpret_cast<float2*>(o_part + head * kVDim + col) = make_float2(x, y);
      }
    }
  }
  if (splits > 1 && tq == 0 && wg == 0) {
#pragma unroll
    for (int h = 0; h < 2; ++h)
      lse_part[(size_t(t) * splits + split) * p.Hq + h0 + row0 + 8 * h] = lse[h];
  }
#else
  __trap();  // launched only on compute capability 9.0 (see dense_on_wgmma)
#endif
}

bool dense_on_wgmma() {
  int dev = 0, major = 0, minor = 0;
  ENVFORGE_CUDA_CHECK(cudaGetDevice(&dev));
  ENVFORGE_CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev));
  ENVFORGE_CUDA_CHECK(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev));
  return major == 9 && minor == 0;
}

void require(bool ok, const std::string& what) {
  if (!ok) throw std::invalid_argument("mla_attention: " + what);
}

}  // namespace

size_t mla_workspace_bytes(int T, int Hq, int max_rows) {
  if (T <= 0 || Hq <= 0) return 0;
  // enough for either kernel: the caller does not say whether the rows are dense
  const int splits = std::max(make_plan(T, Hq, max_rows).splits,
                              make_dense_plan(T, Hq, max_rows).splits);
  if (splits == 1) return 0;
  return size_t(T) * splits * Hq * (kVDim + 1) * sizeof(float);
}

void mla_attention(const MlaArgs& p, cudaStream_t stream) {
  require(p.T >= 0, "T must be non-negative");
  if (p.T == 0) return;
  require(p.Hq > 0 && p.Hq % kHeads == 0,
          "Hq must be a positive multiple of 64, got " + std::to_string(p.Hq));
  require(p.q && p.kv_pages && p.q_seq && p.q_len && p.out,
          "q, kv_pages, q_seq, q_len and out must be set");
  require(p.table.pages && p.table.max_pages > 0 && p.table.page_size > 0,
          "page table must be set");
  const bool sparse = p.idx != nullptr;
  require(!sparse || p.k > 0, "k must be positive with idx");
  require(sparse || p.max_len >= 0, "max_len must be non-negative");
  static const bool use_wgmma = dense_on_wgmma();
  const bool dense_wgmma = !sparse && use_wgmma;
  const Plan plan = dense_wgmma ? make_dense_plan(p.T, p.Hq, p.max_len)
                                : make_plan(p.T, p.Hq, sparse ? p.k : p.max_len);
  const size_t need = mla_workspace_bytes(p.T, p.Hq, sparse ? p.k : p.max_len);
  require(p.workspace_bytes >= need && (need == 0 || p.workspace),
          "workspace of " + std::to_string(need) + " bytes needed, got " +
              std::to_string(p.workspace_bytes));
  const long blocks = long(p.T) * (p.Hq / kHeads);
  require(blocks <= 0x7fffffffL, "too many queries");

  static const bool attr_set = [] {
    ENVFORGE_CUDA_CHECK(cudaFuncSetAttribute(
        mla_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(sizeof(Smem))));
    return true;
  }();
  (void)attr_set;
  float* o_part = static_cast<float*>(p.workspace);
  float* lse_part =
      o_part ? o_part + size_t(p.T) * plan.splits * p.Hq * kVDim : nullptr;
  const dim3 grid(unsigned(blocks), plan.splits);
  if (dense_wgmma) {
    static const bool dense_attr_set = [] {
      ENVFORGE_CUDA_CHECK(cudaFuncSetAttribute(mla_dense_kernel,
                                               cudaFuncAttributeMaxDynamicSharedMemorySize,
                                               int(kDenseSmemBytes)));
      return true;
    }();
    (void)dense_attr_set;
    mla_dense_kernel<<<grid, kThreads, kDenseSmemBytes, stream>>>(p, plan.splits,
                                                                  plan.rows_per_split, o_part,
                                                                  lse_part);
  } else {
    mla_kernel<<<grid, kThreads, sizeof(Smem), stream>>>(p, plan.splits, plan.rows_per_split,
                                                         o_part, lse_part);
  }
  ENVFORGE_CUDA_CHECK_LAUNCH();
  if (plan.splits > 1) {
    mla_combine_kernel<<<unsigned(p.T) * p.Hq, kVDim / 4, 0, stream>>>(p.Hq, plan.splits, o_part,
                                                                      lse_part, p.out);
    ENVFORGE_CUDA_CHECK_LAUNCH();
  }
}

}  // namespace envforge::engine::gpu
