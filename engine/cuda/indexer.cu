// Lightning-indexer scores on tensor cores. Two kernels:
//  - FP8 on Hopper (sm_90a): warpgroup MMA (wgmma m64n64k32 e4m3, both operands in shared
//    memory, 128-byte swizzle). One block = one warpgroup = one query x a chunk of 64-key
//    tiles; key tiles stream through a ring of shared-memory stages filled by cp.async several
//    tiles ahead. (mma.sync with e4m3 operands has no native Hopper instruction: it runs as
//    conversions plus f16 MMAs, which capped the earlier kernel at ~1.9 TB/s.)
//  - bf16, FP8 elsewhere: warp-level mma.sync below. One block = one query x a chunk of keys;
//    each warp takes 32 keys at a time (two 16-row MMA tiles) against all 64 index heads.
// Keys are read once, 16 bytes per thread per load, straight into MMA A fragments; the query
// sits in shared memory. The MMA sums over the head dim in an order of its own, so the same
// permutation of the 128 dims is used for the keys (A) and the query (B): thread-quad member
// tq holds bytes [16*(4j+tq), +16) of a row for j = 0..NU-1, and k-step 2j / 2j+1 use the low
// / high half of that vector.
#include <cuda_fp8.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "engine/cuda/cuda_check.h"
#include "engine/cuda/dsa_kernels.h"
#include "engine/cuda/indexer_tuning.h"
#include "engine/cuda/mma_ptx.cuh"
#include "engine/cuda/page_math.cuh"

namespace envforge::engine::gpu {
namespace {

constexpr int kWarps = 4;
constexpr int kThreads = kWarps * 32;
constexpr int kGroupKeys = 32;  // keys per warp step
constexpr int kHeadTiles = kIndexHeads / 8;
constexpr int kMaxChunkPages = 512;

template <bool kFp8>
struct IndexerTraits {
  static constexpr int kRowBytes = kFp8 ? kIndexDim : kIndexDim * 2;
  static constexpr int kVecPerRow = kRowBytes / 64;  // uint4 per thread per row
  static constexpr int kSmemRow = kRowBytes + 64;    // padding keeps quads on distinct banks
};

template <bool kFp8>
__device__ __forceinline__ void mma_step(float (&acc)[4], const uint32_t (&a)[4], uint32_t b0,
                                         uint32_t b1) {
  if constexpr (kFp8) {
    ptx::mma_e4m3_16832(acc, a, b0, b1);
  } else {
    ptx::mma_bf16_16816(acc, a, b0, b1);
  }
}

template <bool kFp8>
__global__ void __launch_bounds__(kThreads) indexer_kernel(IndexerArgs p, int chunk_groups) {
  using Tr = IndexerTraits<kFp8>;
  constexpr int NU = Tr::kVecPerRow;
  __shared__ __align__(16) uint8_t s_q[kIndexHeads * Tr::kSmemRow];
  __shared__ float s_w[kIndexHeads];
  __shared__ int s_pages[kMaxChunkPages];

  const int t = blockIdx.y;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int g = lane >> 2, tq = lane & 3;
  const int seq = p.q_seq[t];
  const int lim = min(p.q_pos[t], p.S - 1);  // last visible key

  {  // query and folded head weights into shared memory
    const uint8_t* q = static_cast<const uint8_t*>(p.q) + size_t(t) * kIndexHeads * Tr::kRowBytes;
    constexpr int kVecs = kIndexHeads * Tr::kRowBytes / 16;
    for (int v = threadIdx.x; v < kVecs; v += kThreads) {
      const int h = v / (Tr::kRowBytes / 16), c = v % (Tr::kRowBytes / 16);
      *reinterpret_cast<uint4*>(s_q + h * Tr::kSmemRow + c * 16) =
          *reinterpret_cast<const uint4*>(q + v * 16);
    }
    if (threadIdx.x < kIndexHeads) {
      float w = p.weights[size_t(t) * kIndexHeads + threadIdx.x];
      if (kFp8) w *= p.q_scale[size_t(t) * kIndexHeads + threadIdx.x];
      s_w[threadIdx.x] = w;
    }
  }
  __syncthreads();
  float w_lo[kHeadTiles], w_hi[kHeadTiles];
#pragma unroll
  for (int nt = 0; nt < kHeadTiles; ++nt) {
    w_lo[nt] = s_w[nt * 8 + 2 * tq];
    w_hi[nt] = s_w[nt * 8 + 2 * tq + 1];
  }

  const uint8_t* keys = static_cast<const uint8_t*>(p.key_pages);
  float* out_row = p.out + size_t(t) * p.S;
  const int total_groups = (p.S + kGroupKeys - 1) / kGroupKeys;
  const int g_begin = blockIdx.x * chunk_groups;
  const int g_end = min(total_groups, g_begin + chunk_groups);
  // the chunk's page ids, so that key loads never wait on a page-table load
  const int page_first = g_begin * kGroupKeys / p.table.page_size;
  const int page_count = min(kMaxChunkPages, p.table.max_pages - page_first);
  for (int i = threadIdx.x; i < page_count; i += kThreads)
    s_pages[i] = p.table.pages[size_t(seq) * p.table.max_pages + page_first + i];
  __syncthreads();

  // rows g, g+8, g+16, g+24 of a group: r = 0..3 -> (m-tile r/2, half r%2)
  auto load_group = [&](int grp, uint4 (&a)[4][NU], float (&scale)[4]) {
    const int key0 = grp * kGroupKeys;
    const int slot = key0 / p.table.page_size - page_first;
    const bool any = key0 <= lim && slot < page_count;
    size_t row0 = 0;
    if (any) row0 = size_t(s_pages[slot]) * p.table.page_size + key0 % p.table.page_size;
    const uint8_t* base = keys + row0 * Tr::kRowBytes;
#pragma unroll
    for (int r = 0; r < 4; ++r) {
      const int row = g + 8 * r;
      const bool valid = any && key0 + row <= lim;
#pragma unroll
      for (int j = 0; j < NU; ++j) {
        a[r][j] = valid ? ptx::ld_stream_16(base + size_t(row) * Tr::kRowBytes + 16 * (4 * j + tq))
                        : make_uint4(0, 0, 0, 0);
      }
      if constexpr (kFp8) {
        scale[r] = valid ? __ldg(p.key_scale + row0 + row) : 0.f;
      } else {
        scale[r] = 1.f;
      }
    }
  };

  uint4 a[4][NU];
  float scale[4];
  int grp = g_begin + warp;
  if (grp < g_end) load_group(grp, a, scale);
  for (; grp < g_end; grp += kWarps) {
    const int key0 = grp * kGroupKeys;
    uint4 a_next[4][NU];
    float scale_next[4];
    // the next group's loads are in flight while this one is computed (FP8: registers allow)
    if (kFp8 && grp + kWarps < g_end) load_group(grp + kWarps, a_next, scale_next);
    if (key0 > lim || key0 / p.table.page_size - page_first >= page_count) {
      if (key0 + lane < p.S) out_row[key0 + lane] = -INFINITY;
    } else {
      float acc[2][kHeadTiles][4];
#pragma unroll
      for (int m = 0; m < 2; ++m)
#pragma unroll
        for (int nt = 0; nt < kHeadTiles; ++nt)
#pragma unroll
          for (int e = 0; e < 4; ++e) acc[m][nt][e] = 0.f;

#pragma unroll
      for (int j = 0; j < NU; ++j) {
#pragma unroll
        for (int nt = 0; nt < kHeadTiles; ++nt) {
          const uint4 qv = *reinterpret_cast<const uint4*>(s_q + (nt * 8 + g) * Tr::kSmemRow +
                                                           16 * (4 * j + tq));
#pragma unroll
          for (int m = 0; m < 2; ++m) {
            const uint4& lo = a[2 * m][j];
            const uint4& hi = a[2 * m + 1][j];
            const uint32_t f0[4] = {lo.x, hi.x, lo.y, hi.y};
            const uint32_t f1[4] = {lo.z, hi.z, lo.w, hi.w};
            mma_step<kFp8>(acc[m][nt], f0, qv.x, qv.y);
            mma_step<kFp8>(acc[m][nt], f1, qv.z, qv.w);
          }
        }
      }

#pragma unroll
      for (int m = 0; m < 2; ++m) {
        float s_lo = 0.f, s_hi = 0.f;
#pragma unroll
        for (int nt = 0; nt < kHeadTiles; ++nt) {
          s_lo += w_lo[nt] * fmaxf(acc[m][nt][0], 0.f) + w_hi[nt] * fmaxf(acc[m][nt][1], 0.f);
          s_hi += w_lo[nt] * fmaxf(acc[m][nt][2], 0.f) + w_hi[nt] * fmaxf(acc[m][nt][3], 0.f);
        }
        s_lo += __shfl_xor_sync(0xffffffffu, s_lo, 1);
        s_lo += __shfl_xor_sync(0xffffffffu, s_lo, 2);
        s_hi += __shfl_xor_sync(0xffffffffu, s_hi, 1);
        s_hi += __shfl_xor_sync(0xffffffffu, s_hi, 2);
        if (tq == 0) {
          const int k_lo = key0 + m * 16 + g, k_hi = k_lo + 8;
          if (k_lo < p.S) out_row[k_lo] = k_lo <= lim ? s_lo * scale[2 * m] : -INFINITY;
          if (k_hi < p.S) out_row[k_hi] = k_hi <= lim ? s_hi * scale[2 * m + 1] : -INFINITY;
        }
      }
    }
    if constexpr (kFp8) {
#pragma unroll
      for (int r = 0; r < 4; ++r) {
        scale[r] = scale_next[r];
#pragma unroll
        for (int j = 0; j < NU; ++j) a[r][j] = a_next[r][j];
      }
    } else if (grp + kWarps < g_end) {
      load_group(grp + kWarps, a, scale);
    }
  }
}


// ---- FP8 on warpgroup MMA ---------------------------------------------------------------------
constexpr int kTileKeys = 64;                           // keys per wgmma tile (M)
constexpr int kTileBytes = kTileKeys * kIndexDim;       // 8 KB, 128-byte rows
constexpr int kWgThreads = 128;

// D(64x64 f32) (+)= A(64x32 e4m3, smem, K-major) * B(32x64 e4m3, smem, K-major).
[[maybe_unused]] __device__ __forceinline__ void wgmma_m64n64k32_e4m3(float (&d)[32], uint64_t a, uint64_t b,
                                                                      int scale_d) {
#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, %34, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n64k32.f32.e4m3.e4m3 "
      "{%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,%16,%17,%18,%19,%20,%21,%22,%23,"
      "%24,%25,%26,%27,%28,%29,%30,%31}, %32, %33, p, 1, 1;\n}\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]),
        "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]),
        "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]),
        "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]),
        "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31])
      : "l"(a), "l"(b), "r"(scale_d));
#endif
}

// cp.async of 16 bytes (src_bytes 0 fills zeros), optionally with an L2 prefetch-size hint
// of 256 bytes (a key tile streams 4 KB contiguous runs).
template <bool kPrefetch256>
__device__ __forceinline__ void cp_async_16_hint(void* dst, const void* src, int src_bytes) {
  if constexpr (kPrefetch256) {
    asm volatile("cp.async.cg.shared.global.L2::256B [%0], [%1], 16, %2;\n" ::"r"(
                     ptx::smem_addr(dst)),
                 "l"(src), "r"(src_bytes));
  } else {
    ptx::cp_async_16(dst, src, src_bytes);
  }
}

// Byte offset of 16-byte chunk c of row r in a 1024-aligned tile of 128-byte rows with the
// 128-byte swizzle (address bits 4-6 xor bits 7-9), the layout the wgmma descriptors name.
[[maybe_unused]] __device__ __forceinline__ int sw128(int r, int c) { return r * 128 + ((c ^ (r & 7)) << 4); }

template <int kStages>
struct WgSmem {
  static constexpr int kQ = 0;                                  // query [64 heads][128 B]
  static constexpr int kTiles = kQ + kIndexHeads * kIndexDim;   // kStages key tiles
  static constexpr int kScales = kTiles + kStages * kTileBytes; // [kStages][64] f32
  static constexpr int kW = kScales + kStages * kTileKeys * 4;  // [64] f32
  static constexpr int kPages = kW + kIndexHeads * 4;           // [kMaxChunkPages] i32
  static constexpr int kBytes = kPages + kMaxChunkPages * 4 + 1024;  // + alignment slack
};

template <int kStages, bool kPrefetch256>
__global__ void __launch_bounds__(kWgThreads) indexer_wgmma_kernel(IndexerArgs p,
                                                                   int chunk_tiles) {
#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
  using L = WgSmem<kStages>;
  extern __shared__ uint8_t smem_raw[];
  uint8_t* smem = ptx::align_smem_1024(smem_raw);
  uint8_t* s_q = smem + L::kQ;
  uint8_t* s_tiles = smem + L::kTiles;
  float* s_scale = reinterpret_cast<float*>(smem + L::kScales);
  float* s_w = reinterpret_cast<float*>(smem + L::kW);
  int* s_pages = reinterpret_cast<int*>(smem + L::kPages);

  const int t = blockIdx.y, tid = threadIdx.x;
  const int warp = tid >> 5, lane = tid & 31, g = lane >> 2, tq = lane & 3;
  const int seq = p.q_seq[t];
  const int lim = min(p.q_pos[t], p.S - 1);
  {
    const uint8_t* q = static_cast<const uint8_t*>(p.q) + size_t(t) * kIndexHeads * kIndexDim;
    for (int v = tid; v < kIndexHeads * 8; v += kWgThreads)
      *reinterpret_cast<uint4*>(s_q + sw128(v >> 3, v & 7)) =
          *reinterpret_cast<const uint4*>(q + v * 16);
    if (tid < kIndexHeads)
      s_w[tid] = p.weights[size_t(t) * kIndexHeads + tid] * p.q_scale[size_t(t) * kIndexHeads + tid];
  }
  const uint8_t* keys = static_cast<const uint8_t*>(p.key_pages);
  float* out_row = p.out + size_t(t) * p.S;
  const int total_tiles = (p.S + kTileKeys - 1) / kTileKeys;
  const int t_begin = blockIdx.x * chunk_tiles;
  const int t_end = min(total_tiles, t_begin + chunk_tiles);
  const int page_first = t_begin * kTileKeys / p.table.page_size;
  const int page_count = min(kMaxChunkPages, p.table.max_pages - page_first);
  for (int i = tid; i < page_count; i += kWgThreads)
    s_pages[i] = p.table.pages[size_t(seq) * p.table.max_pages + page_first + i];
  ptx::fence_proxy_async();  // the query, written by plain stores, is read by wgmma
  __syncthreads();
  float w_lo[kHeadTiles], w_hi[kHeadTiles];
#pragma unroll
  for (int i = 0; i < kHeadTiles; ++i) {
    w_lo[i] = s_w[i * 8 + 2 * tq];
    w_hi[i] = s_w[i * 8 + 2 * tq + 1];
  }

  // 32-key halves of a tile: each lies in one page (page_size is a multiple of 32)
  const PageMath pages(p.table.page_size);
  auto half_row0 = [&](int key0, size_t& row0) {
    const int page = pages.page(key0);
    const int slot = page - page_first;
    if (key0 > lim || slot >= page_count) return false;
    row0 = size_t(s_pages[slot]) * pages.size + pages.offset(key0, page);
    return true;
  };
  auto issue = [&](int tile, int stage) {
    if (tile < t_end) {
      uint8_t* dst = s_tiles + stage * kTileBytes;
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const int key0 = tile * kTileKeys + 32 * h;
        size_t row0;
        if (!half_row0(key0, row0)) continue;
        const uint8_t* src = keys + row0 * kIndexDim;
#pragma unroll
        for (int i = 0; i < 2; ++i) {  // 32 rows x 8 chunks over 128 threads
          const int c = tid + kWgThreads * i, row = c >> 3;
          cp_async_16_hint<kPrefetch256>(dst + sw128(32 * h + row, c & 7), src + c * 16,
                                         key0 + row <= lim ? 16 : 0);
        }
        if (tid < 8)
          ptx::cp_async_16(s_scale + stage * kTileKeys + 32 * h + 4 * tid,
                           p.key_scale + row0 + 4 * tid, 16);
      }
    }
    ptx::cp_async_commit();
  };

#pragma unroll
  for (int i = 0; i < kStages - 1; ++i) issue(t_begin + i, i);
  const uint32_t q_addr = ptx::smem_addr(s_q);
  for (int tile = t_begin, i = 0; tile < t_end; ++tile, ++i) {
    ptx::cp_async_wait<kStages - 2>();
    ptx::fence_proxy_async();  // cp.async writes, read next by wgmma
    __syncthreads();           // tile i landed for all; the stage of tile i-1 is free
    issue(tile + kStages - 1, (i + kStages - 1) % kStages);
    const int key0 = tile * kTileKeys;
    if (key0 > lim) {
      for (int k = key0 + tid; k < min(p.S, key0 + kTileKeys); k += kWgThreads)
        out_row[k] = -INFINITY;
      continue;
    }
    const int stage = i % kStages;
    const uint32_t a_addr = ptx::smem_addr(s_tiles + stage * kTileBytes);
    float acc[32];
    ptx::wgmma_fence();
#pragma unroll
    for (int k = 0; k < kIndexDim / 32; ++k)
      wgmma_m64n64k32_e4m3(acc, ptx::wgmma_desc_sw128(a_addr + 32 * k, 16, 1024),
                           ptx::wgmma_desc_sw128(q_addr + 32 * k, 16, 1024), k);
    ptx::wgmma_commit();
    ptx::wgmma_wait<0>();
    // rows 16 warp + g (+8) of the tile, heads 8i + 2tq (+1)
    float s0 = 0.f, s1 = 0.f;
#pragma unroll
    for (int i8 = 0; i8 < kHeadTiles; ++i8) {
      s0 += w_lo[i8] * fmaxf(acc[4 * i8], 0.f) + w_hi[i8] * fmaxf(acc[4 * i8 + 1], 0.f);
      s1 += w_lo[i8] * fmaxf(acc[4 * i8 + 2], 0.f) + w_hi[i8] * fmaxf(acc[4 * i8 + 3], 0.f);
    }
    s0 += __shfl_xor_sync(0xffffffffu, s0, 1);
    s0 += __shfl_xor_sync(0xffffffffu, s0, 2);
    s1 += __shfl_xor_sync(0xffffffffu, s1, 1);
    s1 += __shfl_xor_sync(0xffffffffu, s1, 2);
    if (tq == 0) {
      const int r0 = 16 * warp + g, r1 = r0 + 8;
      const float* sc = s_scale + stage * kTileKeys;
      if (key0 + r0 < p.S) out_row[key0 + r0] = key0 + r0 <= lim ? s0 * sc[r0] : -INFINITY;
      if (key0 + r1 < p.S) out_row[key0 + r1] = key0 + r1 <= lim ? s1 * sc[r1] : -INFINITY;
    }
  }
  ptx::cp_async_wait<0>();
#endif
}

void require(bool ok, const std::string& what) {
  if (!ok) throw std::invalid_argument("indexer_scores: " + what);
}

template <class K>
int resident_blocks(K kernel) {
  int n = 0;
  ENVFORGE_CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&n, kernel, kThreads, 0));
  return std::max(1, n);
}

template <int kStages, bool kPrefetch256>
int wgmma_blocks_per_sm() {
  const int smem = WgSmem<kStages>::kBytes;
  auto kernel = indexer_wgmma_kernel<kStages, kPrefetch256>;
  ENVFORGE_CUDA_CHECK(
      cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
  int n = 0;
  ENVFORGE_CUDA_CHECK(
      cudaOccupancyMaxActiveBlocksPerMultiprocessor(&n, kernel, kWgThreads, smem));
  return std::max(1, n);
}

bool device_is_hopper() {
  static const bool yes = [] {
    int dev = 0, major = 0, minor = 0;
    ENVFORGE_CUDA_CHECK(cudaGetDevice(&dev));
    ENVFORGE_CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev));
    ENVFORGE_CUDA_CHECK(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev));
    return major == 9 && minor == 0;
  }();
  return yes;
}

template <int kStages, bool kPrefetch256>
void launch_wgmma(const IndexerArgs& p, cudaStream_t stream) {
  static const int per_sm = wgmma_blocks_per_sm<kStages, kPrefetch256>();
  const int total_tiles = (p.S + kTileKeys - 1) / kTileKeys;
  const long wave = long(device_sm_count()) * per_sm;
  const long per_row = std::max<long>(1, wave / p.T);
  int chunk_tiles = int((total_tiles + per_row - 1) / per_row);
  chunk_tiles = std::max(chunk_tiles, 4);  // the query's trip into shared memory amortized
  // a chunk's pages must fit the page-id cache
  chunk_tiles = std::min(chunk_tiles, (kMaxChunkPages - 2) * p.table.page_size / kTileKeys);
  const int chunks = (total_tiles + chunk_tiles - 1) / chunk_tiles;
  indexer_wgmma_kernel<kStages, kPrefetch256>
      <<<dim3(chunks, p.T), kWgThreads, WgSmem<kStages>::kBytes, stream>>>(p, chunk_tiles);
}

}  // namespace

void indexer_scores(const IndexerArgs& p, cudaStream_t stream) {
  indexer_scores_variant(p, 0, stream);
}

void indexer_scores_variant(const IndexerArgs& p, int variant, cudaStream_t stream) {
  require(p.T >= 0 && p.S >= 0, "T and S must be non-negative");
  if (p.T == 0 || p.S == 0) return;
  require(p.q && p.weights && p.key_pages && p.q_seq && p.q_pos && p.out,
          "q, weights, key_pages, q_seq, q_pos and out must be set");
  require(p.table.pages && p.table.max_pages > 0, "page table must be set");
  require(p.table.page_size > 0 && p.table.page_size % kGroupKeys == 0,
          "page_size must be a positive multiple of 32, got " + std::to_string(p.table.page_size));
  const bool fp8 = p.type == IndexKeyType::kFp8E4M3;
  require(!fp8 || (p.q_scale && p.key_scale), "fp8 keys need q_scale and key_scale");
  require(p.T <= 65535, "T must be at most 65535 per call");

  // 16-byte copies of key rows and of 4 scales at a time (wgmma kernel)
  require(reinterpret_cast<uintptr_t>(p.key_pages) % 16 == 0 &&
              (!fp8 || reinterpret_cast<uintptr_t>(p.key_scale) % 16 == 0),
          "key_pages and key_scale must be 16-byte aligned");
  if (fp8 && variant != 2 && device_is_hopper()) {
    if (variant == 1) {
      launch_wgmma<4, true>(p, stream);
    } else {
      launch_wgmma<4, false>(p, stream);
    }
    ENVFORGE_CUDA_CHECK_LAUNCH();
    return;
  }
  const int total_groups = (p.S + kGroupKeys - 1) / kGroupKeys;
  // One full wave of resident blocks: every block streams a long run of keys, and no tail
  // wave runs with the device half idle.
  static const int per_sm_fp8 = resident_blocks(indexer_kernel<true>);
  static const int per_sm_bf16 = resident_blocks(indexer_kernel<false>);
  const long wave = long(device_sm_count()) * (fp8 ? per_sm_fp8 : per_sm_bf16);
  const long per_row = std::max<long>(1, wave / p.T);
  int chunk_groups = int((total_groups + per_row - 1) / per_row);
  // at least four groups per warp, so the query's trip into shared memory is amortized
  chunk_groups = std::max(4 * kWarps, (chunk_groups + kWarps - 1) / kWarps * kWarps);
  // a chunk's pages must fit the block's page-id cache
  const int max_groups = (kMaxChunkPages - 1) * (p.table.page_size / kGroupKeys);
  chunk_groups = std::min(chunk_groups, max_groups / kWarps * kWarps);
  const int chunks = (total_groups + chunk_groups - 1) / chunk_groups;
  const dim3 grid(chunks, p.T);
  if (fp8) {
    indexer_kernel<true><<<grid, kThreads, 0, stream>>>(p, chunk_groups);
  } else {
    indexer_kernel<false><<<grid, kThreads, 0, stream>>>(p, chunk_groups);
  }
  ENVFORGE_CUDA_CHECK_LAUNCH();
}

}  // namespace envforge::engine::gpu
