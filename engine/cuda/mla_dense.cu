// Dense MLA decode/prefill on Hopper warpgroup MMA (sm_90a), absorbed (MQA) form over the
// prefix 0..q_len-1 of each query. Used by mla_attention() for dense rows on compute
// capability 9.0; the split plan and the merge pass are shared with the sparse kernel
// (mla_split.cuh).
//
// A block takes 64 heads of one query and one split of its prefix. Two warpgroups; tiles of 64
// rows stream through a double-buffered cp.async pipeline into 128-byte-swizzled shared memory.
// Per tile, warpgroup w computes S = Q K^T for the tile's rows 32w..32w+31 (64 heads x 32), the
// two agree on the running row maxima through shared memory and write their bf16 weights into
// one 64 x 64 P tile; then warpgroup w accumulates O[:, 256w..256w+255] += P V over all 64 rows.
// Operands are read by the tensor cores straight from shared memory.
#include <cmath>

#include "engine/cuda/cuda_check.h"
#include "engine/cuda/mla_split.cuh"
#include "engine/cuda/mma_ptx.cuh"

namespace envforge::engine::gpu::mla {
namespace {

constexpr int kThreads = 256;
constexpr int kHeads = kMlaHeadsPerBlock;  // 64
[[maybe_unused]] constexpr int kChunksPerRow = kQkDim / 8;  // 16-byte chunks
[[maybe_unused]] constexpr float kLog2e = 1.4426950408889634f;
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

}  // namespace

bool dense_on_wgmma() {
  int dev = 0, major = 0, minor = 0;
  ENVFORGE_CUDA_CHECK(cudaGetDevice(&dev));
  ENVFORGE_CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev));
  ENVFORGE_CUDA_CHECK(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev));
  return major == 9 && minor == 0;
}

SplitPlan dense_plan(int T, int Hq, int max_len) {
  return make_split_plan(T, Hq, max_len, kDTile, kDMinSplitTiles);
}

void launch_dense(const MlaArgs& p, const SplitPlan& plan, const SplitBuffers& bufs,
                  cudaStream_t stream) {
  static const bool attr_set = [] {
    ENVFORGE_CUDA_CHECK(cudaFuncSetAttribute(
        mla_dense_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(kDenseSmemBytes)));
    return true;
  }();
  (void)attr_set;
  const dim3 grid(unsigned(p.T) * unsigned(p.Hq / kHeads), unsigned(plan.splits));
  mla_dense_kernel<<<grid, kThreads, kDenseSmemBytes, stream>>>(
      p, plan.splits, plan.rows_per_split, bufs.o_part, bufs.lse_part);
  ENVFORGE_CUDA_CHECK_LAUNCH();
}

}  // namespace envforge::engine::gpu::mla
