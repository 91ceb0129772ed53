// Absorbed (MQA) MLA attention on tensor cores, sparse over selected rows or dense over a
// prefix. A block takes 64 query heads of one query and one slice of its rows ("split"); rows
// arrive 32 at a time through a double-buffered cp.async pipeline from the paged latent cache
// into shared memory, where all 64 heads share them. 8 warps: for S = Q K^T warp w owns heads
// 16*(w%4).. and tokens 16*(w/4)..; for O += P V it owns heads 16*(w%4).. and value columns
// 256*(w/4)... Online softmax in base 2. With several splits, each writes a normalized partial
// output and its log-sum-exp; a second kernel merges them. On compute capability 9.0 both
// paths run on the warpgroup MMA kernels instead (mla_dense_wgmma.cu for dense rows,
// mla_wgmma.cu for sparse ones), unless the caller asks for this portable one.
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "engine/cuda/cuda_check.h"
#include "engine/cuda/dsa_kernels.h"
#include "engine/cuda/mla_block.cuh"
#include "engine/cuda/mla_split.cuh"
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
static_assert(kVCols / 8 == 32, "write_block_rows takes 32 x 4 output values per thread");
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

mla::SplitPlan make_plan(int T, int Hq, int max_rows) {
  return mla::make_split_plan(T, Hq, max_rows, kTile, kMinSplitTiles);
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
  const mla::BlockSlice slice = mla::block_slice(p, t, split * rows_per_split, rows_per_split);
  const int begin = slice.begin, end = slice.end;
  const int n_tiles = end > begin ? (end - begin + kTile - 1) / kTile : 0;

  // slots [chunk * kOffsetRows, +kOffsetRows) of this split -> physical rows
  auto resolve_rows = [&](int chunk) {
    for (int r = tid; r < kOffsetRows; r += kThreads)
      sm.row_of[r] = mla::slot_cache_row(p, slice, begin + chunk * kOffsetRows + r);
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
    for (int h = 0; h < 2; ++h) mx[h] = mla::quad_max(mx[h]);
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

  // row sums over the quad and the two warps that share the rows, then the output
  const mla::BlockRows rows{p.out, p.Hq, t, h0, split, splits, o_part, lse_part};
  mla::write_block_rows(rows, warp >> 2, mr + g, tq, dc, l_run, m_run, sm.part_sum,
                        [&](int i, int e) { return o[i][e]; });
}

// One block per (query, head): the merge of its splits' partial outputs.
__global__ void __launch_bounds__(kVDim / 4)
    mla_combine_kernel(int Hq, int splits, const float* __restrict__ o_part,
                       const float* __restrict__ lse_part, __nv_bfloat16* __restrict__ out) {
  const int t = blockIdx.x / Hq, h = blockIdx.x % Hq;
  const size_t head0 = size_t(t) * splits * Hq + h;  // split 0's row of this head
  mla::merge_partial_rows(
      splits, [&](int s) { return head0 + size_t(s) * Hq; }, o_part, lse_part,
      out + (size_t(t) * Hq + h) * kVDim);
}

void require(bool ok, const std::string& what) {
  if (!ok) throw std::invalid_argument("mla_attention: " + what);
}

}  // namespace

namespace mla {
void launch_combine(int T, int Hq, const SplitPlan& plan, const SplitBuffers& bufs,
                    __nv_bfloat16* out, cudaStream_t stream) {
  mla_combine_kernel<<<unsigned(T) * Hq, kVDim / 4, 0, stream>>>(Hq, plan.splits, bufs.o_part,
                                                                 bufs.lse_part, out);
  ENVFORGE_CUDA_CHECK_LAUNCH();
}
}  // namespace mla

size_t mla_workspace_bytes(int T, int Hq, int max_rows) {
  if (T <= 0 || Hq <= 0) return 0;
  // enough for either kernel: the caller says neither whether the rows are dense nor which
  // kernel will run (MlaArgs::kernel)
  const int splits =
      std::max(make_plan(T, Hq, max_rows).splits, mla::wgmma_plan(T, Hq, max_rows).splits);
  return std::max(mla::split_workspace_bytes(T, Hq, splits), mla::dense_workspace_bytes(T, Hq));
}

void mla_attention(const MlaArgs& p, cudaStream_t stream) {
  require(p.T >= 0, "T must be non-negative");
  if (p.T == 0) return;
  require(p.Hq > 0 && p.Hq % kHeads == 0,
          "Hq must be a positive multiple of 64, got " + std::to_string(p.Hq));
  require(p.q && p.kv_pages && p.q_seq && p.q_len && p.out,
          "q, kv_pages, q_seq, q_len and out must be set");
  require(p.table.pages && p.table.max_pages > 0, "page table must be set");
  require(p.table.page_size > 0 && p.table.page_size % kMlaPageRows == 0,
          "page_size must be a positive multiple of 32, got " + std::to_string(p.table.page_size));
  // rows and queries are copied 16 bytes at a time
  require(reinterpret_cast<uintptr_t>(p.q) % 16 == 0 &&
              reinterpret_cast<uintptr_t>(p.kv_pages) % 16 == 0,
          "q and kv_pages must be 16-byte aligned");
  const bool sparse = p.idx != nullptr;
  require(!sparse || p.k > 0, "k must be positive with idx");
  require(sparse || p.max_len >= 0, "max_len must be non-negative");
  static const bool wgmma_device = mla::wgmma_kernel_supported();
  const bool use_wgmma = wgmma_device && p.kernel != MlaKernelChoice::kPortable;
  const bool use_dense = use_wgmma && !sparse && p.kernel != MlaKernelChoice::kRing;
  const int max_rows = sparse ? p.k : p.max_len;
  const long blocks = long(p.T) * (p.Hq / kHeads);
  require(blocks <= 0x7fffffffL, "too many queries");
  // what this launch needs (mla_workspace_bytes covers every kernel)
  auto require_workspace = [&](size_t need) {
    require(p.workspace_bytes >= need && (need == 0 || p.workspace),
            "workspace of " + std::to_string(need) + " bytes needed, got " +
                std::to_string(p.workspace_bytes));
  };
  if (use_dense) {
    require_workspace(mla::dense_workspace_bytes(p.T, p.Hq));
    mla::launch_dense(p, stream);
    return;
  }
  const mla::SplitPlan plan =
      use_wgmma ? mla::wgmma_plan(p.T, p.Hq, max_rows) : make_plan(p.T, p.Hq, max_rows);
  require_workspace(mla::split_workspace_bytes(p.T, p.Hq, plan.splits));
  const mla::SplitBuffers bufs = mla::split_buffers(p.workspace, p.T, p.Hq, plan);
  if (use_wgmma) {
    mla::launch_wgmma(p, plan, bufs, stream);
  } else {
    static const bool attr_set = [] {
      ENVFORGE_CUDA_CHECK(cudaFuncSetAttribute(
          mla_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(sizeof(Smem))));
      return true;
    }();
    (void)attr_set;
    const dim3 grid(unsigned(blocks), plan.splits);
    mla_kernel<<<grid, kThreads, sizeof(Smem), stream>>>(p, plan.splits, plan.rows_per_split,
                                                         bufs.o_part, bufs.lse_part);
    ENVFORGE_CUDA_CHECK_LAUNCH();
  }
  if (plan.splits > 1) mla::launch_combine(p.T, p.Hq, plan, bufs, p.out, stream);
}

}  // namespace envforge::engine::gpu
