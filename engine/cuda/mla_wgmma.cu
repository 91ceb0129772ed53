// MLA decode/prefill on Hopper warpgroup MMA (sm_90a), absorbed (MQA) form, over the prefix
// 0..q_len-1 of each query (dense) or over its selected rows (sparse: the slots of idx are the
// rows of the stream, and skipped selections are masked like rows past the end). Used by
// mla_attention() on compute capability 9.0 for sparse rows, and for dense ones when
// MlaKernelChoice::kRing asks for it (mla_dense_wgmma.cu takes them otherwise); the split plan
// and the merge pass are shared with the portable mma.sync kernel (mla_split.cuh).
//
// A block takes 64 heads of one query and one split of its rows; two warpgroups that work
// out of step ("seesaw") so that one's softmax runs while the other's products keep the tensor
// cores busy. The rows stream through a ring of four 32-row tiles; tile j is copied and
// scored (S = Q K^T, 64 heads x 32 rows) by warpgroup j % 2 alone. Per pair of tiles (a, b):
//   WG0: S_a, new row maxima m_a = max(m, rowmax S_a) -> shared; P_a -> shared;
//        O[:, 0:256] = O * scale_a + P_a V_a; issues S of its next tile; then, once WG1 has
//        m_b and P_b, O = O * scale_b + P_b V_b.
//   WG1: S_b once S_a is done; m_b = max(m_a, rowmax S_b), P_b, scale_b -> shared;
//        O[:, 256:512] = O * scale_a + P_a V_a, then O = O * scale_b + P_b V_b.
// Only row maxima, scale factors and the bf16 weights cross between the warpgroups (named
// barriers); each keeps the output of its own 256 value columns. A tile's weights P (64 heads
// x 32 rows, 64-byte swizzle) go into the tile's own rope columns, which nothing reads once
// its scores are done. bench/results/dsa_gpu_notes.md has the measurements behind the choices.
#include <cmath>

#include "engine/cuda/cuda_check.h"
#include "engine/cuda/mla_block.cuh"
#include "engine/cuda/mla_split.cuh"
#include "engine/cuda/mma_ptx.cuh"

namespace envforge::engine::gpu::mla {
namespace {

constexpr int kThreads = 256;
constexpr int kHeads = kMlaHeadsPerBlock;  // 64
[[maybe_unused]] constexpr float kLog2e = 1.4426950408889634f;
constexpr int kDTile = 32;                   // rows per tile; a pair of tiles is 64 rows
constexpr int kDStages = 4;                  // two pairs: one computed on, one arriving
constexpr int kDKBlocks = kQkDim / 64;       // 9 column blocks of 128 B
constexpr int kDRowBytes = 128;
constexpr int kDBlockBytes = kDTile * kDRowBytes;      // one 64-column block of a tile
constexpr int kDTileBytes = kDKBlocks * kDBlockBytes;  // 36864
constexpr int kDQBlockBytes = kHeads * kDRowBytes;     // one 64-column block of the query
constexpr int kDQBytes = kDKBlocks * kDQBlockBytes;    // 73728
[[maybe_unused]] constexpr int kDPOffset = 8 * kDBlockBytes;  // P over the rope block, 64 x 64 B
constexpr int kDPairRows = 2 * kDTile;
constexpr int kDMinSplitPairs = 2;  // shorter splits cost more in the query load and the merge

// named barriers: 1 + wg own warpgroup, then the hand-offs (arrive by one, sync by the other)
[[maybe_unused]] constexpr int kBarAReady = 3;  // WG0 -> WG1: m_a, scale_a, P_a
[[maybe_unused]] constexpr int kBarBReady = 4;  // WG1 -> WG0: m_b, scale_b, P_b
[[maybe_unused]] constexpr int kBarScored = 5;   // WG0 -> WG1: S_a done (and the previous pair)
[[maybe_unused]] constexpr int kBarWg1Done = 6;  // WG1 -> WG0: done reading the previous pair

struct WgmmaSmem {
  alignas(1024) unsigned char q[kDQBytes];
  alignas(1024) unsigned char kv[kDStages][kDTileBytes];
  PairMaxima maxima;
  int rescale_b[4];  // per warp of WG1: some scale_b != 1
  float red_sum[2][kHeads];
  int valid[kDStages][kDTile];  // sparse rows: the slot holds a visible cache row
};
constexpr size_t kWgmmaSmemBytes = sizeof(WgmmaSmem) + 1024;  // + alignment slack

// byte offset of 16-byte chunk c (0..71) of row r in a 128-byte-swizzled tile of 64-column
// blocks block_bytes apart
[[maybe_unused]] __device__ __forceinline__ uint32_t swizzled_chunk_offset(int r, int c,
                                                                           int block_bytes) {
  return uint32_t((c >> 3) * block_bytes + r * kDRowBytes + (((c & 7) ^ (r & 7)) << 4));
}

__global__ void __launch_bounds__(kThreads, 1)
    mla_wgmma_kernel(MlaArgs p, int splits, int rows_per_split, float* o_part, float* lse_part) {
#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
  extern __shared__ unsigned char dsmem_raw[];
  WgmmaSmem& sm = *reinterpret_cast<WgmmaSmem*>(ptx::align_smem_1024(dsmem_raw));
  const int hgroups = p.Hq / kHeads;
  const int t = blockIdx.x / hgroups, hg = blockIdx.x % hgroups;
  const int split = blockIdx.y;
  const int tid = threadIdx.x, lane = tid & 31;
  // warpgroup (broadcast from lane 0 so that the compiler knows it is warp-uniform and keeps
  // the tensor-core descriptors built from it in uniform registers), warp within it
  const int wg = __shfl_sync(0xffffffffu, tid >> 7, 0), wq = (tid >> 5) & 3;
  const int lt = tid & 127;                      // thread within the warpgroup
  const int g = lane >> 2, tq = lane & 3;
  const BlockSlice slice = block_slice(p, t, split * rows_per_split, rows_per_split);
  const bool sparse = slice.sparse;
  const int begin = slice.begin, end = slice.end;
  const int n_tiles = end > begin ? (end - begin + kDTile - 1) / kDTile : 0;
  const int n_pairs = (n_tiles + 1) / 2;  // the last pair's second tile may lie past the end
  const int h0 = hg * kHeads;

  // this thread's two rows of a tile: their positions (sparse: the selections), read two
  // pairs before the copy, then their physical rows (-1 past the end and for skipped
  // selections), looked up a pair before it, so that neither load waits on the other or
  // holds up the copy
  auto tile_positions = [&](int tile, int(&pos)[2]) {
#pragma unroll
    for (int pass = 0; pass < 2; ++pass)
      pos[pass] = slot_position(slice, begin + tile * kDTile + (lt >> 3) + 16 * pass);
  };
  auto cache_rows = [&](const int(&pos)[2], int(&rows)[2]) {
#pragma unroll
    for (int pass = 0; pass < 2; ++pass) rows[pass] = position_cache_row(p, slice, pos[pass]);
  };
  // tile j into stage j % 4 by its own warpgroup: 8 threads per row, rows lt/8 and lt/8 + 16;
  // rows past the end and skipped selections are zero-filled
  auto load_tile = [&](int tile, const int(&rows)[2]) {
    unsigned char* dst = sm.kv[tile % kDStages];
    const int c0 = lt & 7;
#pragma unroll
    for (int pass = 0; pass < 2; ++pass) {
      const int r = (lt >> 3) + 16 * pass;
      const int row = rows[pass];
      if (sparse && c0 == 0) sm.valid[tile % kDStages][r] = row >= 0;
      const __nv_bfloat16* src = p.kv_pages + (row >= 0 ? size_t(row) * kQkDim : 0) + c0 * 8;
      unsigned char* d = dst + swizzled_chunk_offset(r, c0, kDBlockBytes);  // chunk c0 + 8 j
#pragma unroll
      for (int j = 0; j < kDKBlocks; ++j)
        ptx::cp_async_16(d + j * kDBlockBytes, src + 64 * j, row >= 0 ? 16 : 0);
    }
  };
  copy_query_sw128(sm.q, p.q + (size_t(t) * p.Hq + h0) * kQkDim, tid, kThreads);
  ptx::cp_async_commit();
  // this warpgroup's tiles of pairs 0 and 1; the rows of pair 2 and the positions of pair 3
  int next_rows[2], next_pos[2];
  {
    int pos0[2], pos1[2], pos2[2];
    tile_positions(wg, pos0);
    tile_positions(wg + 2, pos1);
    tile_positions(wg + 4, pos2);
    tile_positions(wg + 6, next_pos);
    cache_rows(pos0, next_rows);
    if (wg < 2 * n_pairs) load_tile(wg, next_rows);
    ptx::cp_async_commit();
    cache_rows(pos1, next_rows);
    if (wg + 2 < 2 * n_pairs) load_tile(wg + 2, next_rows);
    ptx::cp_async_commit();
    cache_rows(pos2, next_rows);
  }
  ptx::cp_async_wait<2>();  // the query (both warpgroups copied parts of it)
  ptx::fence_proxy_async();
  __syncthreads();

  const float scale2 = p.softmax_scale * kLog2e;
  const int row0 = 16 * wq + g;  // head rows row0 and row0 + 8 of this thread
  const uint32_t q_addr = ptx::smem_addr(sm.q);
  float o[128];
#pragma unroll
  for (int i = 0; i < 128; ++i) o[i] = 0.f;
  float m_run[2] = {-INFINITY, -INFINITY};
  float l_run[2] = {0.f, 0.f};  // this warpgroup's tiles only; the two are added at the end

  // the tile of pair pr that this warpgroup copied, in place for the tensor cores
  auto wait_own_tile = [&](int pr) {
    if (pr == 0)
      ptx::cp_async_wait<1>();
    else
      ptx::cp_async_wait<0>();
    ptx::fence_proxy_async();
    ptx::named_bar_sync(1 + wg, 128);
  };
  // S = Q K^T over one tile, issued as two independent accumulator chains (even and odd k
  // steps): a lone chain of small products would wait on each one's latency
  // descriptors are built once; a k step adds its byte offset / 16 to the address field
  const uint64_t q_desc = ptx::wgmma_desc_sw128(q_addr, 16, 1024);
  const uint64_t kv_desc0 = ptx::wgmma_desc_sw128(ptx::smem_addr(sm.kv[0]), 16, 1024);
  using ptx::wgmma_desc_add;
  auto issue_scores = [&](int tile, float(&s)[16], float(&s_odd)[16]) {
    const uint64_t kv_desc = wgmma_desc_add(kv_desc0, (tile % kDStages) * (kDTileBytes >> 4));
    ptx::wgmma_fence();
#pragma unroll
    for (int kk = 0; kk < kQkDim / 16; ++kk) {
      const uint32_t kcol = (kk & 3) * 32;
      const uint64_t da = wgmma_desc_add(q_desc, ((kk >> 2) * kDQBlockBytes + kcol) >> 4);
      const uint64_t db = wgmma_desc_add(kv_desc, ((kk >> 2) * kDBlockBytes + kcol) >> 4);
      if (kk < 2)
        ptx::wgmma_m64n32k16_first(kk ? s_odd : s, da, db);
      else
        ptx::wgmma_m64n32k16((kk & 1) ? s_odd : s, da, db, 1);
    }
  };
  // raw scores (the sum of both chains) into s, -inf past the end; the tile's maximum of
  // rows row0, row0 + 8 in the scaled base-2 domain of m_run
  auto tile_max = [&](int tile, const float(&acc)[16], const float(&acc_odd)[16], float(&s)[16],
                      float(&mx)[2]) {
    const int tile_pos = begin + tile * kDTile;
#pragma unroll
    for (int i = 0; i < 16; ++i) s[i] = acc[i] + acc_odd[i];
    if (tile_pos + kDTile > end) {
#pragma unroll
      for (int i = 0; i < 16; ++i)
        if (tile_pos + 8 * (i >> 2) + 2 * tq + (i & 1) >= end) s[i] = -INFINITY;
    }
    if (sparse) {  // selections of -1 or beyond the query's rows
      const int* valid = sm.valid[tile % kDStages];
#pragma unroll
      for (int i = 0; i < 16; ++i)
        if (!valid[8 * (i >> 2) + 2 * tq + (i & 1)]) s[i] = -INFINITY;
    }
    mx[0] = mx[1] = -INFINITY;
#pragma unroll
    for (int i = 0; i < 16; ++i) mx[(i >> 1) & 1] = fmaxf(mx[(i >> 1) & 1], s[i]);
#pragma unroll
    for (int h = 0; h < 2; ++h) mx[h] = quad_max(mx[h]) * scale2;
  };
  // the tile's bf16 weights into its rope block (64 heads x 32 rows, 64-byte swizzle), their
  // sums into l_run; then the whole tile is in place for this warpgroup's products
  auto write_weights = [&](int tile, const float(&s)[16]) {
    unsigned char* p_tile = sm.kv[tile % kDStages] + kDPOffset;
    // masked scores are -inf and give 0; a row with nothing visible yet subtracts 0
    const float m_use[2] = {m_run[0] == -INFINITY ? 0.f : m_run[0],
                            m_run[1] == -INFINITY ? 0.f : m_run[1]};
#pragma unroll
    for (int nb = 0; nb < 4; ++nb) {
      uint32_t lo, hi;
      bf16_weights(s + 4 * nb, scale2, m_use, l_run, lo, hi);
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const int row = row0 + 8 * h;
        *reinterpret_cast<uint32_t*>(p_tile + row * 64 + ((nb ^ ((row >> 1) & 3)) << 4) +
                                     tq * 4) = h == 0 ? lo : hi;
      }
    }
    ptx::fence_proxy_async();
    ptx::named_bar_sync(1 + wg, 128);
  };
  // O[:, 256 wg ..] += P V over one tile (2 x k16), weights and values from shared memory
  const uint64_t p_desc0 =
      ptx::wgmma_desc_sw64(ptx::smem_addr(sm.kv[0]) + kDPOffset, 16, 512);
  const uint64_t v_desc0 = ptx::wgmma_desc_sw128(
      ptx::smem_addr(sm.kv[0]) + (4 * wg) * kDBlockBytes, kDBlockBytes, 1024);
  auto issue_pv = [&](int tile) {
    const uint32_t stage = (tile % kDStages) * (kDTileBytes >> 4);
    ptx::wgmma_fence();
#pragma unroll
    for (int kk = 0; kk < kDTile / 16; ++kk) {
      const uint64_t da = wgmma_desc_add(p_desc0, stage + ((kk * 32) >> 4));
      const uint64_t db = wgmma_desc_add(v_desc0, stage + ((kk * 16 * kDRowBytes) >> 4));
      ptx::wgmma_m64n256k16_tb(o, da, db);
    }
    ptx::wgmma_commit();
  };
  // warpgroup-uniform: some row of WG1's tile raised its maximum in this pair
  auto any_rescale_b = [&] {
    return (sm.rescale_b[0] | sm.rescale_b[1] | sm.rescale_b[2] | sm.rescale_b[3]) != 0;
  };

  if (wg == 0) {
    // WG0 runs one tile ahead: the scores of its next tile are issued right after its first
    // product, so that they occupy the tensor cores while WG1 does its softmax
    float acc[16], acc_odd[16];
    for (int pr = 0; pr < n_pairs; ++pr) {
      const int tile = 2 * pr;
      float s[16], mx[2], scale_a[2], scale_b[2];
      if (pr == 0) {
        wait_own_tile(0);
        issue_scores(0, acc, acc_odd);
        ptx::wgmma_commit();
      }
      // S_a and the previous pair's last product (issued after it). Waiting for S_a alone
      // (wait_group 1) makes ptxas serialize every product of the kernel.
      ptx::wgmma_wait<0>();
      ptx::named_bar_arrive(kBarScored, 256);
      if (pr >= 1) {
        // WG1 is done with the previous pair: its stage of WG0 takes the next tile
        ptx::named_bar_sync(kBarWg1Done, 256);
        if (tile + 2 < 2 * n_pairs) load_tile(tile + 2, next_rows);
        ptx::cp_async_commit();
        cache_rows(next_pos, next_rows);
        tile_positions(tile + 6, next_pos);
      }
      tile_max(tile, acc, acc_odd, s, mx);
      sm.maxima.first(row0, tq, mx, m_run, l_run, scale_a);
      write_weights(tile, s);
      ptx::named_bar_arrive(kBarAReady, 256);
      rescale_output(o, scale_a);
      issue_pv(tile);
      // after the last pair this scores a stale stage, unread: no branch around the
      // products, which ptxas would otherwise serialize
      wait_own_tile(pr + 1);
      issue_scores(tile + 2, acc, acc_odd);
      ptx::wgmma_commit();
      ptx::named_bar_sync(kBarBReady, 256);
      sm.maxima.after_second(row0, m_run, l_run, scale_b);
      if (any_rescale_b()) {
        ptx::wgmma_wait<0>();  // the first product (and the next scores)
        rescale_output(o, scale_b);
      }
      issue_pv(tile + 1);
    }
  } else {
    for (int pr = 0; pr < n_pairs; ++pr) {
      const int tile = 2 * pr + 1;
      wait_own_tile(pr);
      // scored once WG0's scores are done, so that each one's softmax runs while the
      // other's products occupy the tensor cores
      ptx::named_bar_sync(kBarScored, 256);
      float acc[16], acc_odd[16], s[16], mx[2], scale_a[2], scale_b[2];
      issue_scores(tile, acc, acc_odd);
      ptx::wgmma_commit();
      ptx::wgmma_wait<0>();
      tile_max(tile, acc, acc_odd, s, mx);
      ptx::named_bar_sync(kBarAReady, 256);
      if (pr >= 1) {
        // WG0 is done with the previous pair (it waits before kBarAReady) and so is WG1:
        // its stage takes this warpgroup's tile of the next pair
        if (tile + 2 < 2 * n_pairs) load_tile(tile + 2, next_rows);
        ptx::cp_async_commit();
        cache_rows(next_pos, next_rows);
        tile_positions(tile + 6, next_pos);
      }
      sm.maxima.second(row0, tq, mx, m_run, l_run, scale_a, scale_b);
      const bool any = __any_sync(0xffffffffu, scale_b[0] != 1.f || scale_b[1] != 1.f);
      if (lane == 0) sm.rescale_b[wq] = any;
      write_weights(tile, s);
      ptx::named_bar_arrive(kBarBReady, 256);
      rescale_output(o, scale_a);
      issue_pv(tile - 1);
      if (any_rescale_b()) {
        ptx::wgmma_wait<0>();
        rescale_output(o, scale_b);
      }
      issue_pv(tile);
      ptx::wgmma_wait<0>();
      if (pr + 1 < n_pairs) ptx::named_bar_arrive(kBarWg1Done, 256);
    }
  }
  ptx::wgmma_wait<0>();
  ptx::cp_async_wait<0>();

  const BlockRows rows{p.out, p.Hq, t, h0, split, splits, o_part, lse_part};
  write_block_rows(rows, wg, row0, tq, 256 * wg, l_run, m_run, sm.red_sum,
                   [&](int i, int e) { return o[4 * i + e]; });
#else
  __trap();  // launched only on compute capability 9.0 (see wgmma_kernel_supported)
#endif
}

}  // namespace

bool wgmma_kernel_supported() {
  int dev = 0, major = 0, minor = 0;
  ENVFORGE_CUDA_CHECK(cudaGetDevice(&dev));
  ENVFORGE_CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev));
  ENVFORGE_CUDA_CHECK(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev));
  return major == 9 && minor == 0;
}

SplitPlan wgmma_plan(int T, int Hq, int max_rows) {
  return make_split_plan(T, Hq, max_rows, kDPairRows, kDMinSplitPairs);
}

void launch_wgmma(const MlaArgs& p, const SplitPlan& plan, const SplitBuffers& bufs,
                  cudaStream_t stream) {
  static const bool attr_set = [] {
    ENVFORGE_CUDA_CHECK(cudaFuncSetAttribute(
        mla_wgmma_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(kWgmmaSmemBytes)));
    return true;
  }();
  (void)attr_set;
  const dim3 grid(unsigned(p.T) * unsigned(p.Hq / kHeads), unsigned(plan.splits));
  mla_wgmma_kernel<<<grid, kThreads, kWgmmaSmemBytes, stream>>>(
      p, plan.splits, plan.rows_per_split, bufs.o_part, bufs.lse_part);
  ENVFORGE_CUDA_CHECK_LAUNCH();
}

}  // namespace envforge::engine::gpu::mla
