// Dense MLA decode/prefill on Hopper (sm_90a), absorbed (MQA) form, over the prefix 0..len-1
// of each query, with 64-row tiles: used by mla_attention() on compute capability 9.0 for
// dense rows (the sparse rows run on mla_wgmma.cu).
//
// Work: one block per multiprocessor. The pairs of tiles of all queries, in order, are cut
// into equal ranges, one per group of Hq / 64 blocks; each block of a group streams the
// group's range for one 64-head group, so that the blocks of a group read each cache row at
// about the same time and all but the first read hit L2. Batches of very different lengths
// thus keep every multiprocessor busy to the end. A range is one or more pieces of queries:
// a whole query writes its output rows, a query cut by a range's end leaves partial outputs
// that the merge pass (mla_dense_merge_kernel) combines.
//
// A piece: two shared-memory slots hold a 64-row tile each (the query takes the rest): slot 0
// the even tiles, scored by warpgroup 0, slot 1 the odd ones, scored by warpgroup 1. Scoring
// 64 rows per product (m64n64k16) reads half the shared memory per FLOP that 32-row tiles do,
// which is what bound the ring kernel. Each warpgroup keeps the output of its 256 value
// columns ("seesaw"); per pair of tiles:
//   WG0: S0 = Q K0^T; m0 = max(m, rowmax S0), scale0 -> shared;
//        O_L = O_L * scale0 + P0 V0_L (P0 from registers); P0 -> shared;
//        once WG1 has P1: O_L = O_L * scale1 + P1 V1_L.
//   WG1: S1 = Q K1^T; once WG0 has m0: m1 = max(m0, rowmax S1), scale1, P1 -> shared;
//        O_R = O_R * scale0 + P0 V0_R, then O_R * scale1 + P1 V1_R (P1 from registers).
// so one warpgroup's softmax runs while the other's products keep the tensor cores busy.
// Tiles arrive by tensor copy (TMA) in two halves, 64-column blocks 0-3 and 4-8, each
// completing its own barrier so that the scores start on the first half to land. A half is
// one copy when the pages hold whole 64-row tiles (3-D boxes of 64 rows x 64 columns x 4 or 5
// blocks), else one per block and 32-row box: each copy costs the issuing thread, and with it
// its warpgroup, time on the critical path. With only two slots a half must be copied again
// the moment the last product reading it is done: value blocks 0-3 of either slot by WG0
// after its product with them, blocks 4-7 and the rope block by WG1 after its own (and, for
// the rope block, once WG0 is done with that tile's P).
// A tile's weights P (64 heads x 64 rows) go into its rope block, free once it is scored.
#include <algorithm>
#include <climits>
#include <cmath>

#include "engine/cuda/cuda_check.h"
#include "engine/cuda/mla_block.cuh"
#include "engine/cuda/mla_split.cuh"
#include "engine/cuda/mma_ptx.cuh"
#include "engine/cuda/tensor_map.h"
#include "engine/cuda/warp_scan.cuh"

namespace envforge::engine::gpu::mla {
namespace {

constexpr int kThreads = 256;
constexpr int kHeads = kMlaHeadsPerBlock;  // 64
constexpr int kTileRows = 64;              // one warpgroup's scores: N = 64
// The rows of one copy when pages may hold half a tile: 32, which always lie in one page.
constexpr int kSmallBoxRows = kMlaPageRows;
// A tile's column blocks come in two halves, each completing its own barrier: the low ones,
// the value columns that WG0 multiplies and frees, and the high ones (value columns and the
// rope block), freed by WG1.
constexpr int kLowBlocks = 4;
constexpr int kBlocks = kQkDim / 64;       // 9 column blocks of 128 B
[[maybe_unused]] constexpr int kRopeBlock = kBlocks - 1;  // also the tile's weights P once scored
constexpr int kRowBytes = 128;
constexpr int kBlockBytes = kTileRows * kRowBytes;  // 8192
constexpr int kTileBytes = kBlocks * kBlockBytes;   // 73728
constexpr int kQBytes = kBlocks * kHeads * kRowBytes;
constexpr int kPairRows = 2 * kTileRows;
constexpr int kMinBlockPairs = 2;  // shorter ranges cost more in the query load and the merge
[[maybe_unused]] constexpr float kLog2e = 1.4426950408889634f;

// named barriers: 1 + wg its own warpgroup, then the hand-offs (arrive by one, sync by the other)
[[maybe_unused]] constexpr int kBarP0Ready = 3;  // WG0 -> WG1: m0, scale0, P0
[[maybe_unused]] constexpr int kBarP1Ready = 4;  // WG1 -> WG0: m1, scale1, P1
[[maybe_unused]] constexpr int kBarP0Read = 5;   // WG0 -> WG1: its product with P0 is done
[[maybe_unused]] constexpr int kBarP1Read = 6;   // WG0 -> WG1: its product with P1 is done

// The workspace: a partial output (64 head rows of 512) and its log-sum-exps for each of the
// two partial pieces a block may have, and each query's first pair (T + 1 entries, the last
// the total), written by block 0 for the merge pass.
struct DenseWork {
  float* o_part = nullptr;     // [2 * grid][64][512]
  float* lse_part = nullptr;   // [2 * grid][64]
  int* query_start = nullptr;  // [T + 1]
};
DenseWork dense_work(void* workspace, int grid) {
  DenseWork w;
  w.o_part = static_cast<float*>(workspace);
  w.lse_part = w.o_part + size_t(2 * grid) * kHeads * kVDim;
  w.query_start = reinterpret_cast<int*>(w.lse_part + size_t(2 * grid) * kHeads);
  return w;
}

struct DenseSmem {
  alignas(1024) unsigned char q[kQBytes];
  alignas(1024) unsigned char kv[2][kTileBytes];
  uint64_t full[2][2];  // the slot's low blocks (0-3) / its high blocks (4-8) have landed
  PairMaxima maxima;  // m_a, scale_a: tile 0 (WG0); m_b, scale_b: tile 1 (WG1)
  float red_sum[2][kHeads];
  int warp_sums[kThreads / 32];
  int first_query, first_start;  // the query that holds this block's first pair, its first pair
};
constexpr size_t kDenseSmemBytes = sizeof(DenseSmem) + 1024;  // + alignment slack
static_assert(kDenseSmemBytes <= 227 * 1024, "beyond the shared memory of a Hopper SM");

// Pairs of tiles over query t's prefix (for each of its head groups).
[[maybe_unused]] __device__ __forceinline__ int query_pairs(const MlaArgs& p, int t) {
  return (max(__ldg(p.q_len + t), 0) + kPairRows - 1) / kPairRows;
}
// Ranges that get work: all, unless that leaves some fewer than kMinBlockPairs pairs.
__device__ __forceinline__ int active_ranges(int total_pairs, int grid) {
  return max(1, min(grid, (total_pairs + kMinBlockPairs - 1) / kMinBlockPairs));
}
// The first pair of range r, and the range that holds pair x.
__device__ __forceinline__ int range_start(int total_pairs, int ranges, int r) {
  return int(int64_t(total_pairs) * r / ranges);
}
__device__ __forceinline__ int range_of_pair(int total_pairs, int ranges, int x) {
  return int(((int64_t(x) + 1) * ranges - 1) / total_pairs);
}

// The exclusive prefix sum of x over the block's threads in order, and the block's total.
[[maybe_unused]] __device__ int block_exclusive_scan(int x, int (&warp_sums)[kThreads / 32],
                                                     int& total) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int incl = warp_inclusive_sum(x);
  if (lane == 31) warp_sums[warp] = incl;
  __syncthreads();
  int before = 0;
  total = 0;
#pragma unroll
  for (int w = 0; w < kThreads / 32; ++w) {
    before += w < warp ? warp_sums[w] : 0;
    total += warp_sums[w];
  }
  __syncthreads();  // warp_sums is written again by the next scan
  return before + incl - x;
}

// kBoxRows: the rows of one copy, a whole tile (64) or half of one (32)
template <int kBoxRows>
__global__ void __launch_bounds__(kThreads, 1)
    mla_dense_kernel(const __grid_constant__ CUtensorMap low_map,
                     const __grid_constant__ CUtensorMap high_map, MlaArgs p, DenseWork work) {
#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
  constexpr int kBoxes = kTileRows / kBoxRows;  // boxes of rows in a tile
  extern __shared__ unsigned char dsmem_raw[];
  DenseSmem& sm = *reinterpret_cast<DenseSmem*>(ptx::align_smem_1024(dsmem_raw));
  const int hgroups = p.Hq / kHeads;
  const int tid = threadIdx.x, lane = tid & 31;
  // warpgroup (broadcast so that the compiler knows it is warp-uniform and keeps the
  // descriptors built from it in uniform registers), warp within it
  const int wg = __shfl_sync(0xffffffffu, tid >> 7, 0), wq = (tid >> 5) & 3;
  const int lt = tid & 127;
  const int g = lane >> 2, tq = lane & 3;

  // The pairs of all queries, in order, are cut into one range per group of hgroups blocks;
  // the blocks of a group take the group's range for one head group each, side by side, so
  // that the second read of each cache row is an L2 hit. First the total, then the query
  // that holds the range's first pair; block 0 records every query's first pair for the
  // merge pass.
  const int range = blockIdx.x / hgroups, hg = blockIdx.x % hgroups;
  int total_pairs = 0;
  for (int t0 = 0; t0 < p.T; t0 += kThreads) {
    const int t = t0 + tid;
    int step_total;
    block_exclusive_scan(t < p.T ? query_pairs(p, t) : 0, sm.warp_sums, step_total);
    total_pairs += step_total;
  }
  const int ranges = active_ranges(total_pairs, gridDim.x / hgroups);
  if (range >= ranges) return;
  const int range_begin = range_start(total_pairs, ranges, range);
  const int range_end = range_start(total_pairs, ranges, range + 1);
  if (tid == 0) sm.first_query = p.T;
  for (int t0 = 0, before = 0; t0 < p.T; t0 += kThreads) {
    const int t = t0 + tid;
    const int n = t < p.T ? query_pairs(p, t) : 0;
    int step_total;
    const int start = before + block_exclusive_scan(n, sm.warp_sums, step_total);
    if (t < p.T) {
      if (blockIdx.x == 0) work.query_start[t] = start;
      if (start <= range_begin && range_begin < start + n) {
        sm.first_query = t;
        sm.first_start = start;
      }
    }
    before += step_total;
  }
  if (blockIdx.x == 0 && tid == 0) work.query_start[p.T] = total_pairs;
  if (tid == 0) {
    for (int s = 0; s < 2; ++s)
      for (int half = 0; half < 2; ++half) ptx::mbar_init(&sm.full[s][half], 1);
    ptx::mbar_init_fence();
  }
  __syncthreads();

  // The pieces of the range, one query each: a piece that is a whole query writes its output
  // rows, any other its partial output for the merge pass, the range's first piece into slot
  // 2 c and its last into slot 2 c + 1 (no other piece can be partial).
  const int h0 = hg * kHeads;
  int pairs_done = 0;  // pairs this block has streamed: the parity of the copy barriers
  for (int t = sm.first_query, query_begin = sm.first_start; t < p.T && query_begin < range_end;
       ++t) {
    const int pairs = query_pairs(p, t);
    const int lo = max(range_begin, query_begin), hi = min(range_end, query_begin + pairs);
    const bool whole = lo == query_begin && hi == query_begin + pairs;
    const int first_pair = lo - query_begin;
    query_begin += pairs;
    if (lo >= hi) continue;
    const int n_pairs = hi - lo;
    const BlockSlice slice = block_slice(p, t, first_pair * kPairRows, n_pairs * kPairRows);
    const int begin = slice.begin, end = slice.end;

    // The cache rows of tile n's boxes; a box past the end is read from row -kBoxRows, outside
    // the tensor, as zeros.
    auto box_rows = [&](int n, int(&rows)[kBoxes]) {
#pragma unroll
      for (int h = 0; h < kBoxes; ++h) {
        const int row = slot_cache_row(p, slice, begin + n * kTileRows + h * kBoxRows);
        rows[h] = row >= 0 ? row : -kBoxRows;
      }
    };
    // the low or the high column blocks of tile n into its slot (one thread): one copy each
    // from a 64-row box, else one per block and box
    auto copy_half = [&](int n, const int(&rows)[kBoxes], int half) {
      const int slot = n & 1;
      const int b0 = half ? kLowBlocks : 0, b1 = half ? kBlocks : kLowBlocks;
      ptx::mbar_arrive_expect_tx(&sm.full[slot][half], (b1 - b0) * kBlockBytes);
      if constexpr (kBoxes == 1) {
        ptx::tma_load_3d(sm.kv[slot] + b0 * kBlockBytes, half ? &high_map : &low_map, 0, rows[0],
                         b0, &sm.full[slot][half]);
      } else {
        for (int b = b0; b < b1; ++b) {
#pragma unroll
          for (int h = 0; h < kBoxes; ++h)
            ptx::tma_load_2d(sm.kv[slot] + b * kBlockBytes + h * kBoxRows * kRowBytes, &low_map,
                             64 * b, rows[h], &sm.full[slot][half]);
        }
      }
    };

    __syncthreads();  // the slots and the query are free
    if (tid == 0) {
      int rows[kBoxes];
      for (int n = 0; n < 2; ++n) {
        box_rows(n, rows);
        copy_half(n, rows, 0);
        copy_half(n, rows, 1);
      }
    }
    copy_query_sw128(sm.q, p.q + (size_t(t) * p.Hq + h0) * kQkDim, tid, kThreads);
    ptx::cp_async_commit();
    ptx::cp_async_wait<0>();
    ptx::fence_proxy_async();
    __syncthreads();

    const float scale2 = p.softmax_scale * kLog2e;
    const int row0 = 16 * wq + g;  // head rows row0 and row0 + 8 of this thread
    float o[128];
#pragma unroll
    for (int i = 0; i < 128; ++i) o[i] = 0.f;
    float m_run[2] = {-INFINITY, -INFINITY};
    float l_run[2] = {0.f, 0.f};  // this warpgroup's tiles only; the two are added at the end

    // descriptors are built once and moved on by constant offsets
    using ptx::wgmma_desc_add;
    const uint64_t q_desc = ptx::wgmma_desc_sw128(ptx::smem_addr(sm.q), 16, 1024);
    const uint64_t own_desc = ptx::wgmma_desc_sw128(ptx::smem_addr(sm.kv[wg]), 16, 1024);
    // S = Q K^T over this warpgroup's tile of pair pr, each column block as soon as it lands
    // (blocks 0-3 are copied first)
    auto issue_scores = [&](int pr, float(&s)[32]) {
#pragma unroll
      for (int b = 0; b < kBlocks; ++b) {
        if (b == 0 || b == kLowBlocks)
          ptx::mbar_wait(&sm.full[wg][b == 0 ? 0 : 1], (pairs_done + pr) & 1);
        ptx::wgmma_fence();
#pragma unroll
        for (int kk = 0; kk < 4; ++kk) {
          const uint32_t off16 = (b * kBlockBytes + kk * 32) >> 4;
          const uint64_t da = wgmma_desc_add(q_desc, off16), db = wgmma_desc_add(own_desc, off16);
          if (b == 0 && kk == 0)
            ptx::wgmma_m64n64k16_first(s, da, db);
          else
            ptx::wgmma_m64n64k16(s, da, db);
        }
      }
      ptx::wgmma_commit();
    };
    // A box that holds the end and rows past it (cache rows of other positions, never written
    // or stale) is cleared past the end: the masked weights are 0, but 0 * NaN is not.
    auto clear_past_end = [&](int pr) {
      const int tile_pos = begin + (2 * pr + wg) * kTileRows;
      if (tile_pos >= end || tile_pos + kTileRows <= end || (end % kBoxRows) == 0) return;
      for (int half = 0; half < 2; ++half)
        ptx::mbar_wait(&sm.full[wg][half], (pairs_done + pr) & 1);
      const int r0 = end - tile_pos, r1 = (r0 + kBoxRows - 1) / kBoxRows * kBoxRows;
      for (int i = lt; i < kBlocks * (r1 - r0) * 8; i += 128) {
        const int b = i / ((r1 - r0) * 8), r = r0 + (i / 8) % (r1 - r0), c = i % 8;
        *reinterpret_cast<uint4*>(sm.kv[wg] + b * kBlockBytes + r * kRowBytes + c * 16) =
            make_uint4(0, 0, 0, 0);
      }
      ptx::fence_proxy_async();
      ptx::named_bar_sync(1 + wg, 128);
    };
    // this warpgroup's tile maxima of rows row0, row0 + 8 (scaled base 2); -inf past the end
    auto tile_max = [&](int pr, float(&s)[32], float(&mx)[2]) {
      const int tile_pos = begin + (2 * pr + wg) * kTileRows;
      if (tile_pos + kTileRows > end) {
#pragma unroll
        for (int i = 0; i < 32; ++i)
          if (tile_pos + 8 * (i >> 2) + 2 * tq + (i & 1) >= end) s[i] = -INFINITY;
      }
      mx[0] = mx[1] = -INFINITY;
#pragma unroll
      for (int i = 0; i < 32; ++i) mx[(i >> 1) & 1] = fmaxf(mx[(i >> 1) & 1], s[i]);
#pragma unroll
      for (int h = 0; h < 2; ++h) mx[h] = quad_max(mx[h]) * scale2;
    };
    // the tile's bf16 weights in the register layout of a product's A operand (k16 step kk in
    // w[4 kk .. 4 kk + 3]), their sums into l_run
    auto make_weights = [&](const float(&s)[32], uint32_t(&w)[16]) {
      const float m_use[2] = {m_run[0] == -INFINITY ? 0.f : m_run[0],
                              m_run[1] == -INFINITY ? 0.f : m_run[1]};
#pragma unroll
      for (int j = 0; j < 8; ++j)
        bf16_weights(s + 4 * j, scale2, m_use, l_run, w[2 * j], w[2 * j + 1]);
    };
    // the weights into the tile's rope block (64 heads x 64 rows, 128-byte swizzle) for the
    // other warpgroup's product, visible to it once the hand-off barrier is passed
    auto store_weights = [&](const uint32_t(&w)[16]) {
      unsigned char* p_tile = sm.kv[wg] + kRopeBlock * kBlockBytes;
#pragma unroll
      for (int j = 0; j < 8; ++j) {
#pragma unroll
        for (int h = 0; h < 2; ++h) {
          const int row = row0 + 8 * h;  // row & 7 == g
          *reinterpret_cast<uint32_t*>(p_tile + row * kRowBytes + ((j ^ g) << 4) + tq * 4) =
              w[2 * j + h];
        }
      }
      ptx::fence_proxy_async();
    };
    // O[:, 256 wg ..] += P V over a tile (4 x k16), this warpgroup's four value blocks: the
    // other warpgroup's tile with its weights from the tile's rope block, or its own tile with
    // its weights still in registers
    const uint32_t slot16 = kTileBytes >> 4;
    const uint64_t p_desc0 =
        ptx::wgmma_desc_sw128(ptx::smem_addr(sm.kv[0]) + kRopeBlock * kBlockBytes, 16, 1024);
    const uint64_t v_desc0 = ptx::wgmma_desc_sw128(
        ptx::smem_addr(sm.kv[0]) + (4 * wg) * kBlockBytes, kBlockBytes, 1024);
    auto issue_pv_other = [&]() {
      const int slot = wg ^ 1;
      ptx::wgmma_fence();
#pragma unroll
      for (int kk = 0; kk < kTileRows / 16; ++kk) {
        const uint64_t da = wgmma_desc_add(p_desc0, slot * slot16 + ((kk * 32) >> 4));
        const uint64_t db = wgmma_desc_add(v_desc0, slot * slot16 + ((kk * 16 * kRowBytes) >> 4));
        ptx::wgmma_m64n256k16_tb(o, da, db);
      }
      ptx::wgmma_commit();
    };
    auto issue_pv_own = [&](const uint32_t(&w)[16]) {
      ptx::wgmma_fence();
#pragma unroll
      for (int kk = 0; kk < kTileRows / 16; ++kk) {
        const uint32_t a[4] = {w[4 * kk], w[4 * kk + 1], w[4 * kk + 2], w[4 * kk + 3]};
        const uint64_t db = wgmma_desc_add(v_desc0, wg * slot16 + ((kk * 16 * kRowBytes) >> 4));
        ptx::wgmma_m64n256k16_rs_tb(o, a, db);
      }
      ptx::wgmma_commit();
    };

    // the cache rows of the next pair's tiles, looked up by the thread that issues their copies
    // at the start of the pair, long before the copies
    int next_rows[2][kBoxes] = {};
    // the start of either warpgroup's pair: its tile scored, masked, and its row maxima
    auto score_tile = [&](int pr, bool refill, float(&s)[32], float(&mx)[2]) {
      if (lt == 0 && refill) {
        box_rows(2 * pr + 2, next_rows[0]);
        box_rows(2 * pr + 3, next_rows[1]);
      }
      clear_past_end(pr);
      issue_scores(pr, s);
      ptx::wgmma_wait<0>();
      tile_max(pr, s, mx);
    };
    if (wg == 0) {
      for (int pr = 0; pr < n_pairs; ++pr) {
        const bool refill = pr + 1 < n_pairs;
        float s[32], mx[2], scale0[2], scale1[2];
        score_tile(pr, refill, s, mx);
        sm.maxima.first(row0, tq, mx, m_run, l_run, scale0);
        uint32_t w[16];
        make_weights(s, w);
        rescale_output(o, scale0);
        issue_pv_own(w);
        store_weights(w);
        ptx::named_bar_arrive(kBarP0Ready, 256);
        ptx::named_bar_sync(kBarP1Ready, 256);
        sm.maxima.after_second(row0, m_run, l_run, scale1);
        ptx::wgmma_wait<0>();  // P0 V0_L: WG0 is done with value blocks 0-3 of slot 0
        ptx::named_bar_arrive(kBarP0Read, 256);
        if (lt == 0 && refill) copy_half(2 * pr + 2, next_rows[0], 0);
        rescale_output(o, scale1);
        issue_pv_other();
        ptx::wgmma_wait<0>();  // P1 V1_L: WG0 is done with value blocks 0-3 of slot 1
        ptx::named_bar_arrive(kBarP1Read, 256);
        if (lt == 0 && refill) copy_half(2 * pr + 3, next_rows[1], 0);
      }
    } else {
      for (int pr = 0; pr < n_pairs; ++pr) {
        const bool refill = pr + 1 < n_pairs;
        float s[32], mx[2], scale0[2], scale1[2];
        score_tile(pr, refill, s, mx);
        ptx::named_bar_sync(kBarP0Ready, 256);
        sm.maxima.second(row0, tq, mx, m_run, l_run, scale0, scale1);
        uint32_t w[16];
        make_weights(s, w);
        store_weights(w);
        ptx::named_bar_arrive(kBarP1Ready, 256);
        rescale_output(o, scale0);
        issue_pv_other();
        // waiting for this product alone gives slot 0's value blocks 4-7 and P0 (once WG0 is
        // done with it too) back a product earlier, for the scores that come next
        ptx::wgmma_wait<0>();
        ptx::named_bar_sync(kBarP0Read, 256);
        if (lt == 0 && refill) copy_half(2 * pr + 2, next_rows[0], 1);
        rescale_output(o, scale1);
        issue_pv_own(w);
        ptx::wgmma_wait<0>();  // WG1 is done with value blocks 4-7 of slot 1, and with P1
        ptx::named_bar_sync(kBarP1Read, 256);  // as is WG0
        if (lt == 0 && refill) copy_half(2 * pr + 3, next_rows[1], 1);
      }
    }

    const int slot = 2 * blockIdx.x + (lo == range_begin ? 0 : 1);
    const BlockRows rows = whole ? BlockRows{p.out, p.Hq, t, h0, 0, 1, nullptr, nullptr}
                                 : BlockRows{nullptr, kHeads, 0, 0, slot, 2 * int(gridDim.x),
                                             work.o_part, work.lse_part};
    write_block_rows(rows, wg, row0, tq, 256 * wg, l_run, m_run, sm.red_sum,
                     [&](int i, int e) { return o[4 * i + e]; });
    pairs_done += n_pairs;
  }
#else
  __trap();  // launched only on compute capability 9.0 (see wgmma_kernel_supported)
#endif
}

// One block per (query, head): a query that one block streamed whole is written already; an
// empty one gets zeros; any other is the merge of the partial outputs of the blocks of its
// head group that streamed it, block c's in slot 2 c if the query holds c's first pair,
// else in 2 c + 1.
__global__ void __launch_bounds__(kVDim / 4)
    mla_dense_merge_kernel(int Hq, int grid, DenseWork work, __nv_bfloat16* __restrict__ out) {
  const int T = gridDim.x / Hq, hgroups = Hq / kHeads;
  const int t = blockIdx.x / Hq, h = blockIdx.x % Hq, hg = h / kHeads, row = h % kHeads;
  const int total_pairs = work.query_start[T];
  const int ranges = active_ranges(total_pairs, grid / hgroups);
  const int first = work.query_start[t], pairs = work.query_start[t + 1] - first;
  __nv_bfloat16* out_row = out + (size_t(t) * Hq + h) * kVDim;
  if (pairs == 0) {
    reinterpret_cast<uint2*>(out_row)[threadIdx.x] = make_uint2(0, 0);
    return;
  }
  const int r0 = range_of_pair(total_pairs, ranges, first);
  const int r1 = range_of_pair(total_pairs, ranges, first + pairs - 1);
  if (r0 == r1) return;
  // slot of range r's block for this head group: its first piece, or its last
  auto slot = [&](int r, bool first_piece) {
    return 2 * (r * hgroups + hg) + (first_piece ? 0 : 1);
  };
  const int r0_slot = slot(r0, range_start(total_pairs, ranges, r0) == first);
  merge_partial_rows(
      r1 - r0 + 1,
      [&](int s) { return size_t(s == 0 ? r0_slot : slot(r0 + s, true)) * kHeads + row; },
      work.o_part, work.lse_part, out_row);
}

// The paged latent cache for the tensor copies, with the 128-byte swizzle the products read.
// Its row count is unknown here and only page-table rows are ever read: it is set to the
// largest a copy coordinate can name.
// As a 2-D tensor of 576-wide bf16 rows, in boxes of 32 rows x 64 columns:
CUtensorMap latent_row_boxes(const __nv_bfloat16* kv_pages) {
  const cuuint64_t dims[2] = {cuuint64_t(kQkDim), cuuint64_t(INT_MAX)};
  const cuuint64_t strides[1] = {cuuint64_t(kQkDim) * sizeof(__nv_bfloat16)};
  const cuuint32_t box[2] = {64, kSmallBoxRows};
  return encode_tiled_map(CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, 2, kv_pages, dims, strides, box,
                          CU_TENSOR_MAP_SWIZZLE_128B, "mla_attention: the latent cache");
}
// As a 3-D tensor (64 columns, rows, column blocks 128 bytes apart), in boxes of 64 rows x
// `blocks` column blocks, which land block after block as the products read them:
CUtensorMap latent_tile_boxes(const __nv_bfloat16* kv_pages, int blocks) {
  const cuuint64_t dims[3] = {64, cuuint64_t(INT_MAX), kBlocks};
  const cuuint64_t strides[2] = {cuuint64_t(kQkDim) * sizeof(__nv_bfloat16), kRowBytes};
  const cuuint32_t box[3] = {64, kTileRows, cuuint32_t(blocks)};
  return encode_tiled_map(CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, 3, kv_pages, dims, strides, box,
                          CU_TENSOR_MAP_SWIZZLE_128B, "mla_attention: the latent cache");
}

// One block per multiprocessor, in whole groups of Hq / 64 (at least one group).
int dense_grid(int Hq) {
  const int hgroups = Hq / kHeads;
  return std::max(1, device_sm_count() / hgroups) * hgroups;
}

}  // namespace

size_t dense_workspace_bytes(int T, int Hq) {
  const size_t slots = 2 * size_t(dense_grid(Hq));
  return slots * kHeads * (kVDim + 1) * sizeof(float) + (size_t(T) + 1) * sizeof(int);
}

void launch_dense(const MlaArgs& p, cudaStream_t stream) {
  static const bool attr_set = [] {
    for (auto kernel : {mla_dense_kernel<kTileRows>, mla_dense_kernel<kSmallBoxRows>})
      ENVFORGE_CUDA_CHECK(cudaFuncSetAttribute(
          kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(kDenseSmemBytes)));
    return true;
  }();
  (void)attr_set;
  // Tiles start at multiples of 64 rows: with pages of whole tiles, each half of a tile is
  // one copy; else each column block is two.
  const bool whole_tiles = p.table.page_size % kTileRows == 0;
  const CUtensorMap low_map =
      whole_tiles ? latent_tile_boxes(p.kv_pages, kLowBlocks) : latent_row_boxes(p.kv_pages);
  const CUtensorMap high_map =
      whole_tiles ? latent_tile_boxes(p.kv_pages, kBlocks - kLowBlocks) : low_map;
  const int grid = dense_grid(p.Hq);
  const DenseWork work = dense_work(p.workspace, grid);
  auto kernel = whole_tiles ? mla_dense_kernel<kTileRows> : mla_dense_kernel<kSmallBoxRows>;
  kernel<<<grid, kThreads, kDenseSmemBytes, stream>>>(low_map, high_map, p, work);
  ENVFORGE_CUDA_CHECK_LAUNCH();
  mla_dense_merge_kernel<<<unsigned(p.T) * p.Hq, kVDim / 4, 0, stream>>>(p.Hq, grid, work, p.out);
  ENVFORGE_CUDA_CHECK_LAUNCH();
}

}  // namespace envforge::engine::gpu::mla
