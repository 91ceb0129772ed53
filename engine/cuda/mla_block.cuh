// What a block of either MLA attention kernel (mla_attention.cu, mla_wgmma.cu) shares with the
// other: which rows it streams and where each lives in the paged cache, and at the end, the
// completed row sums and its normalized output rows. Device code only.
#pragma once

#include <cmath>

#include "engine/cuda/dsa_kernels.h"
#include "engine/cuda/mma_ptx.cuh"
#include "engine/cuda/page_math.cuh"

namespace envforge::engine::gpu::mla {

// The rows one block streams: slots [begin, end) of query t's row list, its top-k selections
// (sparse) or the positions of its prefix (dense): `count` slots from `first`, cut at the
// list's end.
struct BlockSlice {
  bool sparse = false;
  int len = 0;                        // rows visible to the query
  int begin = 0, end = 0;             // slots
  const int32_t* idx_row = nullptr;   // the query's selections (sparse)
  const int32_t* page_row = nullptr;  // the query's row of the page table
  PageMath pages{0};
};
__device__ __forceinline__ BlockSlice block_slice(const MlaArgs& p, int t, int first,
                                                  int count) {
  BlockSlice b;
  const int seq = p.q_seq[t];
  b.len = p.q_len[t];
  b.sparse = p.idx != nullptr;
  b.begin = first;
  b.end = min(first + count, b.sparse ? p.k : max(b.len, 0));
  b.idx_row = b.sparse ? p.idx + size_t(t) * p.k : nullptr;
  b.page_row = p.table.pages + size_t(seq) * p.table.max_pages;
  b.pages = PageMath(p.table.page_size);
  return b;
}
// The position a slot streams: its selection (sparse) or the slot itself (dense); -1 past the
// end. A sparse slot's position is a load that the cache row's page lookup depends on, so the
// Hopper kernel reads positions a pair of tiles before it resolves them.
__device__ __forceinline__ int slot_position(const BlockSlice& b, int slot) {
  int pos = slot < b.end ? slot : -1;
  if (b.sparse && pos >= 0) pos = __ldg(b.idx_row + slot);
  return pos;
}
// The cache row of a position; -1 for a position of -1, beyond the query's rows or beyond the
// page table (such rows are copied as zeros and masked).
__device__ __forceinline__ int position_cache_row(const MlaArgs& p, const BlockSlice& b,
                                                  int pos) {
  int row = -1;
  if (pos >= 0 && pos < b.len) {
    const int page = b.pages.page(pos);
    if (page < p.table.max_pages)
      row = __ldg(b.page_row + page) * b.pages.size + b.pages.offset(pos, page);
  }
  return row;
}
__device__ __forceinline__ int slot_cache_row(const MlaArgs& p, const BlockSlice& b, int slot) {
  return position_cache_row(p, b, slot_position(b, slot));
}

// The maximum of v over the four threads of a quad (the threads that share a head row).
__device__ __forceinline__ float quad_max(float v) {
  v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 1));
  return fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 2));
}

// The 64 x 256 output of a warpgroup times the factors of its two head rows (f[(i >> 1) & 1]
// for o[i]); once the row maxima settle most factors are 1 and the multiplies are skipped.
__device__ __forceinline__ void rescale_output(float (&o)[128], const float (&f)[2]) {
  if (__any_sync(0xffffffffu, f[0] != 1.f || f[1] != 1.f)) {
#pragma unroll
    for (int i = 0; i < 128; ++i) o[i] *= f[(i >> 1) & 1];
  }
}

// Issues the cp.async copies of a block's 64 x 576 query (thread tid of `threads`) into the
// layout the Hopper kernels' products read: nine 64-column blocks of 64 rows x 128 bytes,
// 128-byte swizzle. The caller commits and waits.
__device__ __forceinline__ void copy_query_sw128(unsigned char* dst, const __nv_bfloat16* q,
                                                 int tid, int threads) {
  constexpr int kChunks = kQkDim / 8;  // 16-byte chunks per row
  for (int i = tid; i < kMlaHeadsPerBlock * kChunks; i += threads) {
    const int r = i / kChunks, c = i % kChunks;
    const uint32_t off = uint32_t((c >> 3) * (kMlaHeadsPerBlock * 128) + r * 128 +
                                  (((c & 7) ^ (r & 7)) << 4));
    ptx::cp_async_16(dst + off, q + size_t(r) * kQkDim + c * 8, 16);
  }
}

// Four of a thread's scores, s[e] of head row e >> 1, as bf16 weights 2^(s * scale2 - m[row]),
// packed in pairs (lo: row 0, hi: row 1); l[row] gets their sums as rounded, which is what
// the value product sees.
__device__ __forceinline__ void bf16_weights(const float* s, float scale2, const float (&m)[2],
                                             float (&l)[2], uint32_t& lo, uint32_t& hi) {
  float pv[4];
#pragma unroll
  for (int e = 0; e < 4; ++e) pv[e] = ptx::exp2_approx(fmaf(s[e], scale2, -m[e >> 1]));
  lo = ptx::pack_bf16x2(pv[0], pv[1]);
  hi = ptx::pack_bf16x2(pv[2], pv[3]);
  const __nv_bfloat162 lo2 = *reinterpret_cast<const __nv_bfloat162*>(&lo);
  const __nv_bfloat162 hi2 = *reinterpret_cast<const __nv_bfloat162*>(&hi);
  l[0] += __low2float(lo2) + __high2float(lo2);
  l[1] += __low2float(hi2) + __high2float(hi2);
}

// The row maxima of a pair of tiles, handed from one warpgroup to the other through shared
// memory (the Hopper kernels' seesaw): each thread holds head rows `row` and row + 8, maxima
// in scaled base 2; one thread of each quad publishes.
struct PairMaxima {
  float m_a[kMlaHeadsPerBlock], scale_a[kMlaHeadsPerBlock];  // after the first tile
  float m_b[kMlaHeadsPerBlock], scale_b[kMlaHeadsPerBlock];  // after the second

  // First warpgroup: its tile maxima mx raise the running maxima; scale_a is the factor of
  // what came before, l_run is rescaled by it; both published for the second warpgroup.
  __device__ __forceinline__ void first(int row, int tq, const float (&mx)[2], float (&m_run)[2],
                                        float (&l_run)[2], float (&scale)[2]) {
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const float m_new = fmaxf(m_run[h], mx[h]);
      scale[h] = m_new == -INFINITY ? 1.f : ptx::exp2_approx(m_run[h] - m_new);
      m_run[h] = m_new;
      l_run[h] *= scale[h];
      if (tq == 0) {
        m_a[row + 8 * h] = m_new;
        scale_a[row + 8 * h] = scale[h];
      }
    }
  }
  // Second warpgroup, once the first has published: its tile maxima on top of the first's,
  // both factors (its l_run rescaled by both), the pair's maxima and scale_b published.
  __device__ __forceinline__ void second(int row, int tq, const float (&mx)[2],
                                         float (&m_run)[2], float (&l_run)[2],
                                         float (&scale0)[2], float (&scale1)[2]) {
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      scale0[h] = scale_a[row + 8 * h];
      const float m0 = m_a[row + 8 * h];
      const float m_new = fmaxf(m0, mx[h]);
      scale1[h] = m_new == -INFINITY ? 1.f : ptx::exp2_approx(m0 - m_new);
      m_run[h] = m_new;
      l_run[h] *= scale0[h] * scale1[h];
      if (tq == 0) {
        m_b[row + 8 * h] = m_new;
        scale_b[row + 8 * h] = scale1[h];
      }
    }
  }
  // First warpgroup, once the second has published: the pair's maxima and the second factor.
  __device__ __forceinline__ void after_second(int row, float (&m_run)[2], float (&l_run)[2],
                                               float (&scale1)[2]) const {
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      m_run[h] = m_b[row + 8 * h];
      scale1[h] = scale_b[row + 8 * h];
      l_run[h] *= scale1[h];
    }
  }
};

// Where a block's 64 head rows go: with one split straight into out (bf16); with several,
// fp32 partial outputs and base-2 log-sum-exps for the merge pass (mla_split.cuh).
struct BlockRows {
  __nv_bfloat16* out = nullptr;  // MlaArgs::out
  int Hq = 0;
  int t = 0;      // query
  int h0 = 0;     // first head of the block
  int split = 0;
  int splits = 1;
  float* o_part = nullptr;
  float* lse_part = nullptr;
};

// Each thread holds head rows `row` and row + 8 of the block: their running maxima m_run
// (scaled base 2), its part of their row sums l_run (the four threads of a quad and the block's
// two halves each summed a share), and 32 x 2 output values per row, o(i, e) = column
// col0 + 8 i + 2 tq + (e & 1) of row + 8 (e >> 1). part_sum is shared memory for the halves.
template <class Values>
__device__ __forceinline__ void write_block_rows(const BlockRows& b, int half, int row, int tq,
                                                 int col0, float (&l_run)[2],
                                                 const float (&m_run)[2],
                                                 float (&part_sum)[2][kMlaHeadsPerBlock],
                                                 Values o) {
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    l_run[h] += __shfl_xor_sync(0xffffffffu, l_run[h], 1);
    l_run[h] += __shfl_xor_sync(0xffffffffu, l_run[h], 2);
  }
  if (tq == 0) {
    part_sum[half][row] = l_run[0];
    part_sum[half][row + 8] = l_run[1];
  }
  __syncthreads();
  float inv[2], lse[2];
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    const float l = part_sum[0][row + 8 * h] + part_sum[1][row + 8 * h];
    inv[h] = l > 0.f ? 1.f / l : 0.f;
    lse[h] = l > 0.f ? m_run[h] + log2f(l) : -INFINITY;
  }
  const int Hq = b.Hq;
#pragma unroll
  for (int i = 0; i < 32; ++i) {
    const int col = col0 + 8 * i + 2 * tq;
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const float x = o(i, 2 * h) * inv[h], y = o(i, 2 * h + 1) * inv[h];
      if (b.splits == 1) {
        const size_t off = (size_t(b.t) * Hq + b.h0 + row + 8 * h) * kVDim + col;
        *reinterpret_cast<uint32_t*>(b.out + off) = ptx::pack_bf16x2(x, y);
      } else {
        const size_t head = (size_t(b.t) * b.splits + b.split) * Hq + b.h0 + row + 8 * h;
        *reinterpret_cast<float2*>(b.o_part + head * kVDim + col) = make_float2(x, y);
      }
    }
  }
  if (b.splits > 1 && tq == 0 && half == 0) {
#pragma unroll
    for (int h = 0; h < 2; ++h)
      b.lse_part[(size_t(b.t) * b.splits + b.split) * Hq + b.h0 + row + 8 * h] = lse[h];
  }
}

// The merge of one head row's partial outputs (kVDim / 4 threads, four columns each): out =
// sum_s w_s O_s / sum_s w_s, w_s = 2^(lse_s - max), partial s in row row_of(s) of o_part and
// lse_part. The loops are unrolled so that the loads of several partials are in flight
// together; a partial with nothing visible has lse -inf and O = 0: it adds nothing.
template <class RowOf>
__device__ __forceinline__ void merge_partial_rows(int count, RowOf row_of,
                                                   const float* __restrict__ o_part,
                                                   const float* __restrict__ lse_part,
                                                   __nv_bfloat16* __restrict__ out_row) {
  float m = -INFINITY;
#pragma unroll 4
  for (int s = 0; s < count; ++s) m = fmaxf(m, lse_part[row_of(s)]);
  float4 acc = make_float4(0.f, 0.f, 0.f, 0.f);
  float wsum = 0.f;
  if (m != -INFINITY) {
#pragma unroll 4
    for (int s = 0; s < count; ++s) {
      const size_t r = row_of(s);
      const float w = exp2f(lse_part[r] - m);
      const float4 v = reinterpret_cast<const float4*>(o_part + r * kVDim)[threadIdx.x];
      acc.x += w * v.x, acc.y += w * v.y, acc.z += w * v.z, acc.w += w * v.w;
      wsum += w;
    }
  }
  const float inv = wsum > 0.f ? 1.f / wsum : 0.f;
  uint2 packed;
  packed.x = ptx::pack_bf16x2(acc.x * inv, acc.y * inv);
  packed.y = ptx::pack_bf16x2(acc.z * inv, acc.w * inv);
  reinterpret_cast<uint2*>(out_row)[threadIdx.x] = packed;
}

}  // namespace envforge::engine::gpu::mla
