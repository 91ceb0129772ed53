// Causal top-k by radix selection; each row is spread over a cluster of up to 8 blocks that
// combine their histograms through distributed shared memory. The cluster size is the largest
// that lets every row's cluster be resident at once. A value's order is that of a 32-bit key
// (order-preserving bits of the float); equal values are told apart by the index (a 64-bit key
// with the bit-inverted index below), so "largest k keys" is exactly "largest k values, ties
// to the lower index".
//  1. every block histograms the top 12 key bits of its slice of the row; the cluster sums the
//     histograms (each block a range of bins, then each copies the other ranges: a block reads
//     two histograms' worth of remote shared memory, not one per block of the cluster), and
//     every block finds the bin holding the k-th largest key;
//  2. the same for the next 12 bits of the keys in that bin: scores crowd into few top bins
//     (one exponent, three mantissa bits), so one level leaves thousands of candidates;
//  3. a third pass writes every key above the 24-bit bin straight to the output and the bin's
//     keys into the shared memory of block 0, each block at offsets it knows from the counts
//     that the lower ranks published (no cluster-wide counters);
//  4. block 0 pins down the k-th key by 11-bit digit passes over the gathered keys and emits
//     the keys at or above it. A bin too large for shared memory (many equal values) is
//     refined by block 0 over the whole row instead.
#include <algorithm>
#include <cmath>
#include <mutex>
#include <stdexcept>
#include <string>

#include <cooperative_groups.h>

#include "engine/cuda/cuda_check.h"
#include "engine/cuda/dsa_kernels.h"

namespace envforge::engine::gpu {
namespace {

namespace cg = cooperative_groups;

constexpr int kThreads = 512;
constexpr int kMaxCluster = 8;
constexpr int kTopBits = 12;
constexpr int kTopBins = 1 << kTopBits;
constexpr int kBinsPerThread = kTopBins / kThreads;
constexpr int kDigitBits = 11;
constexpr int kCandCap = 4096;
constexpr int kUnroll = 4;  // 16-byte loads in flight per thread

struct TopkShared {
  unsigned part[2][kTopBins];  // this block's slice, per level; read by the whole cluster
  unsigned hist[kTopBins];     // the cluster's; block 0 reuses it for the refinement digits
  unsigned warp_sums[kThreads / 32];
  // published for the higher ranks: this slice's keys above the first level's bin, above the
  // 24-bit bin within it, and in the 24-bit bin
  unsigned above1, above2, in_bin;
  unsigned emit_base, cand_base;
  int found_bin;
  unsigned found_above;
  unsigned total;
  unsigned emitted;
  unsigned n_cand;
};

__device__ __forceinline__ uint32_t order_key(float v) {
  const uint32_t u = __float_as_uint(v);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}
__device__ __forceinline__ uint64_t make_key(uint32_t key, int i) {
  return (uint64_t(key) << 32) | uint32_t(~uint32_t(i));
}
__device__ __forceinline__ int key_index(uint64_t key) { return int(~uint32_t(key)); }
// A key's bin at level 0 (its top 12 bits) or 1 (the next 12), and its 24-bit bin.
__device__ __forceinline__ int level_bin(uint32_t key, int level) {
  return int(key >> (32 - kTopBits * (level + 1))) & (kTopBins - 1);
}
__device__ __forceinline__ int bin24(uint32_t key) { return int(key >> (32 - 2 * kTopBits)); }

// Block-wide sum; every thread gets it.
__device__ unsigned block_sum(TopkShared& sh, unsigned v) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  __syncthreads();  // warp_sums may still be read by an earlier caller
  if (lane == 0) sh.warp_sums[warp] = v;
  __syncthreads();
  unsigned s = 0;
  for (int w = 0; w < kThreads / 32; ++w) s += sh.warp_sums[w];
  return s;
}

// Finds the bin b (from the top) holding the want-th largest element:
// above(b) < want <= above(b) + hist[b]. Sets found_bin = -1 when the total is below want.
__device__ void find_bin(TopkShared& sh, int nbins, unsigned want) {
  const int per = (nbins + kThreads - 1) / kThreads;
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  // thread 0 owns the highest bins
  const int hi = nbins - tid * per;  // exclusive upper bound
  const int lo = max(0, hi - per);
  unsigned local = 0;
  for (int b = lo; b < hi; ++b) local += sh.hist[b];
  unsigned incl = local;
  for (int o = 1; o < 32; o <<= 1) {
    const unsigned v = __shfl_up_sync(0xffffffffu, incl, o);
    if (lane >= o) incl += v;
  }
  if (lane == 31) sh.warp_sums[warp] = incl;
  if (tid == 0) sh.found_bin = -1;
  __syncthreads();
  if (warp == 0) {
    const unsigned w = lane < kThreads / 32 ? sh.warp_sums[lane] : 0;
    unsigned wi = w;
    for (int o = 1; o < 32; o <<= 1) {
      const unsigned v = __shfl_up_sync(0xffffffffu, wi, o);
      if (lane >= o) wi += v;
    }
    if (lane < kThreads / 32) sh.warp_sums[lane] = wi - w;  // exclusive prefix of warps
    if (lane == 31) sh.total = wi;
  }
  __syncthreads();
  unsigned above = sh.warp_sums[warp] + incl - local;
  if (above < want && above + local >= want) {
    for (int b = hi - 1; b >= lo; --b) {
      if (above + sh.hist[b] >= want) {
        sh.found_bin = b;
        sh.found_above = above;
        break;
      }
      above += sh.hist[b];
    }
  }
  __syncthreads();
}

// The lanes of `mask` take consecutive slots from *counter (one atomic per warp); returns
// this lane's.
__device__ __forceinline__ unsigned warp_slots(unsigned* counter, unsigned mask) {
  const int lane = threadIdx.x & 31, leader = __ffs(mask) - 1;
  unsigned base = 0;
  if (lane == leader) base = atomicAdd(counter, unsigned(__popc(mask)));
  base = __shfl_sync(mask, base, leader);
  return base + __popc(mask & ((1u << lane) - 1u));
}
// Warp-aggregated append, called by the whole warp: this lane's slot when pred holds.
__device__ __forceinline__ unsigned warp_append(unsigned* counter, bool pred) {
  const unsigned mask = __ballot_sync(0xffffffffu, pred);
  return pred ? warp_slots(counter, mask) : 0u;
}

// Visits columns [lo, hi) of the row, f(i, value, live) with live = finite and in range.
// vec: the row is 16-byte aligned, lo a multiple of 4 and the row's width too, so the columns
// go in 16-byte loads.
template <class F>
__device__ __forceinline__ void for_slice(const float* row, int lo, int hi, bool vec, F f) {
  if (vec) {
    for (int base = lo; base < hi; base += kThreads * 4 * kUnroll) {
      float4 v[kUnroll];
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        const int i = base + 4 * (u * kThreads + int(threadIdx.x));
        v[u] = i < hi ? __ldcg(reinterpret_cast<const float4*>(row + i))
                      : make_float4(NAN, NAN, NAN, NAN);
      }
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        const int i = base + 4 * (u * kThreads + int(threadIdx.x));
        const float e[4] = {v[u].x, v[u].y, v[u].z, v[u].w};
#pragma unroll
        for (int j = 0; j < 4; ++j) f(i + j, e[j], i + j < hi && isfinite(e[j]));
      }
    }
    return;
  }
  for (int base = lo; base < hi; base += kThreads * kUnroll) {
    float v[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int i = base + u * kThreads + int(threadIdx.x);
      v[u] = i < hi ? __ldcg(row + i) : NAN;
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int i = base + u * kThreads + int(threadIdx.x);
      f(i, v[u], i < hi && isfinite(v[u]));
    }
  }
}

__device__ __forceinline__ uint64_t top_bits(uint64_t key, int bits) { return key >> (64 - bits); }

// Narrows (prefix, bits) until the bin holding the want-th largest key is exactly taken.
// src(f) must call f(key) for every live key of the source.
template <class Src>
__device__ void refine(TopkShared& sh, Src src, uint64_t& prefix, int& bits, unsigned want) {
  while (bits < 64) {
    const int d = min(kDigitBits, 64 - bits);
    const int shift = 64 - bits - d;
    const unsigned dmask = (1u << d) - 1u;
    for (int b = threadIdx.x; b < (1 << d); b += kThreads) sh.hist[b] = 0;
    __syncthreads();
    const uint64_t pre = prefix;
    const int pb = bits;
    src([&](uint64_t key) {
      if (top_bits(key, pb) == pre) atomicAdd(&sh.hist[unsigned(key >> shift) & dmask], 1u);
    });
    __syncthreads();
    find_bin(sh, 1 << d, want);
    const int b = sh.found_bin;
    const unsigned above = sh.found_above;
    const unsigned in_bin = sh.hist[b];
    __syncthreads();
    prefix = (prefix << d) | uint64_t(b);
    bits += d;
    want -= above;
    if (in_bin == want) break;
  }
}

// The cluster's histogram of one level into sh.hist, then the bin holding the want-th largest
// key (find_bin). Block r sums bins [r w, (r + 1) w) over the cluster, then every block copies
// the other ranges from their owners.
__device__ void cluster_histogram(cg::cluster_group& cluster, TopkShared& sh, int level,
                                  unsigned want) {
  const int rank = int(cluster.block_rank()), cs = int(cluster.num_blocks());
  const int width = kTopBins / cs;
  for (int b = rank * width + threadIdx.x; b < (rank + 1) * width; b += kThreads) {
    unsigned v[kMaxCluster];
#pragma unroll
    for (int r = 0; r < kMaxCluster; ++r)  // all loads in flight at once
      v[r] = r < cs ? cluster.map_shared_rank(sh.part[level], r)[b] : 0u;
    unsigned total = 0;
#pragma unroll
    for (int r = 0; r < kMaxCluster; ++r) total += v[r];
    sh.hist[b] = total;
  }
  cluster.sync();
  unsigned v[kBinsPerThread];
#pragma unroll
  for (int j = 0; j < kBinsPerThread; ++j) {
    const int b = threadIdx.x + j * kThreads, owner = b / width;
    v[j] = owner != rank ? cluster.map_shared_rank(sh.hist, owner)[b] : sh.hist[b];
  }
#pragma unroll
  for (int j = 0; j < kBinsPerThread; ++j) sh.hist[threadIdx.x + j * kThreads] = v[j];
  __syncthreads();
  find_bin(sh, kTopBins, want);
}

// Keys of this block's slice in bins above `bin` of a level (all of them for bin -1).
__device__ unsigned slice_above(TopkShared& sh, int level, int bin) {
  unsigned mine = 0;
  for (int b = max(bin + 1, 0) + int(threadIdx.x); b < kTopBins; b += kThreads)
    mine += sh.part[level][b];
  return block_sum(sh, mine);
}

__global__ void __launch_bounds__(kThreads) topk_kernel(const float* scores, const int32_t* q_pos, int S, int k, int32_t* out) {
  extern __shared__ __align__(16) unsigned char smem_raw[];
  TopkShared& sh = *reinterpret_cast<TopkShared*>(smem_raw);
  uint64_t* cand = reinterpret_cast<uint64_t*>(smem_raw + (sizeof(TopkShared) + 7) / 8 * 8);
  cg::cluster_group cluster = cg::this_cluster();
  const int rank = int(cluster.block_rank());
  const int cs = int(cluster.num_blocks());
  uint64_t* lead_cand = cluster.map_shared_rank(cand, 0);  // block 0's
  const int t = blockIdx.x / cs;
  const float* row = scores + size_t(t) * S;
  int32_t* o = out + size_t(t) * k;
  const int n = q_pos ? max(0, min(S, q_pos[t] + 1)) : S;
  // 16-byte loads when every row starts 16-byte aligned (a slice's last load then ends
  // inside the row)
  const bool vec = S % 4 == 0 && (reinterpret_cast<uintptr_t>(scores) & 15) == 0;
  // this block's slice, a multiple of 4 columns wide
  const int per = ((n + cs - 1) / cs + 3) / 4 * 4;
  const int lo = min(n, rank * per), hi = min(n, lo + per);

  for (int b = threadIdx.x; b < 2 * kTopBins; b += kThreads) sh.part[b / kTopBins][b % kTopBins] = 0;
  if (threadIdx.x == 0) sh.emitted = 0, sh.n_cand = 0, sh.above2 = 0, sh.in_bin = 0;
  __syncthreads();
  for_slice(row, lo, hi, vec, [&](int, float v, bool live) {
    if (live) atomicAdd(&sh.part[0][level_bin(order_key(v), 0)], 1u);
  });
  cluster.sync();
  cluster_histogram(cluster, sh, 0, unsigned(k));
  // bin -1: at most k finite values, every one of them is taken
  const int bin1 = sh.found_bin;
  unsigned above_total = bin1 >= 0 ? sh.found_above : sh.total;
  {
    const unsigned a = slice_above(sh, 0, bin1);
    if (threadIdx.x == 0) sh.above1 = a;
  }
  // the 24-bit bin of the k-th key (-1: every key is above it), the cluster's keys in it
  int bin = -1;
  unsigned in_bin = 0;
  if (bin1 >= 0) {
    for_slice(row, lo, hi, vec, [&](int, float v, bool live) {
      const uint32_t key = order_key(v);
      if (live && level_bin(key, 0) == bin1) atomicAdd(&sh.part[1][level_bin(key, 1)], 1u);
    });
    cluster.sync();  // the second level's slices are complete
    cluster_histogram(cluster, sh, 1, unsigned(k) - above_total);
    const int bin2 = sh.found_bin;  // found: the level holds the bin's keys, >= k - above
    bin = (bin1 << kTopBits) | bin2;
    above_total += sh.found_above;
    in_bin = sh.hist[bin2];
    const unsigned a = slice_above(sh, 1, bin2);
    if (threadIdx.x == 0) sh.above2 = a, sh.in_bin = sh.part[1][bin2];
  }
  cluster.sync();  // every block's counts are published
  if (threadIdx.x < 32) {  // where this block's keys above the bin, and in it, start
    const int r = int(threadIdx.x);
    unsigned e = 0, c = 0;
    if (r < rank) {
      const TopkShared& other = *cluster.map_shared_rank(&sh, r);
      e = other.above1 + other.above2;
      c = other.in_bin;
    }
    for (int off = 16; off > 0; off >>= 1) {
      e += __shfl_xor_sync(0xffffffffu, e, off);
      c += __shfl_xor_sync(0xffffffffu, c, off);
    }
    if (r == 0) sh.emit_base = e, sh.cand_base = c;
  }
  __syncthreads();
  const unsigned emit_base = sh.emit_base, cand_base = sh.cand_base;
  const bool whole_row = in_bin > unsigned(kCandCap);
  if (!whole_row) {
    for_slice(row, lo, hi, vec, [&](int i, float v, bool live) {
      const uint32_t key = order_key(v);
      const int top = bin24(key);
      const bool above = live && top > bin;
      const bool here = live && top == bin;
      const unsigned am = __ballot_sync(0xffffffffu, above);
      const unsigned hm = __ballot_sync(0xffffffffu, here);
      if (am) {
        const unsigned slot = above ? warp_slots(&sh.emitted, am) : 0u;
        if (above) o[emit_base + slot] = i;
      }
      if (hm) {
        const unsigned c = here ? warp_slots(&sh.n_cand, hm) : 0u;
        if (here) lead_cand[cand_base + c] = make_key(key, i);
      }
    });
  }
  cluster.sync();  // candidates have landed in block 0; no block reads another's memory from here
  if (rank != 0) return;
  if (bin < 0) {
    for (int j = int(above_total) + threadIdx.x; j < k; j += kThreads) o[j] = -1;
    return;
  }
  const unsigned want = unsigned(k) - above_total;
  uint64_t prefix = uint64_t(bin);
  int bits = 2 * kTopBits;
  if (!whole_row) {
    const int nc = int(in_bin);
    auto from_cand = [&](auto f) {
      for (int c = threadIdx.x; c < nc; c += kThreads) f(cand[c]);
    };
    if (in_bin != want) refine(sh, from_cand, prefix, bits, want);
    __syncthreads();
    if (threadIdx.x == 0) sh.emitted = 0;
    __syncthreads();
    for (int base = 0; base < nc; base += kThreads) {
      const int c = base + threadIdx.x;
      const bool take = c < nc && top_bits(cand[c], bits) >= prefix;
      const unsigned slot = warp_append(&sh.emitted, take);
      if (take && slot < want) o[above_total + slot] = key_index(cand[c]);
    }
    return;
  }

  // The bin is too large for shared memory (many equal values): block 0 refines over the row
  // and emits every key at or above the k-th.
  auto from_row = [&](auto f) {
    for_slice(row, 0, n, vec, [&](int i, float v, bool live) {
      if (live) f(make_key(order_key(v), i));
    });
  };
  refine(sh, from_row, prefix, bits, want);
  __syncthreads();
  if (threadIdx.x == 0) sh.emitted = 0;
  __syncthreads();
  for_slice(row, 0, n, vec, [&](int i, float v, bool live) {
    const bool take = live && top_bits(make_key(order_key(v), i), bits) >= prefix;
    const unsigned slot = warp_append(&sh.emitted, take);
    if (take && slot < unsigned(k)) o[slot] = i;
  });
}

constexpr size_t kSmemBytes = (sizeof(TopkShared) + 7) / 8 * 8 + kCandCap * sizeof(uint64_t);

}  // namespace
void topk_indices(const float* scores, const int32_t* q_pos, int T, int S, int k, int32_t* out,
                  cudaStream_t stream) {
  if (T < 0 || S < 0 || k < 0)
    throw std::invalid_argument("topk_indices: T, S and k must be non-negative (got T=" +
                                std::to_string(T) + ", S=" + std::to_string(S) +
                                ", k=" + std::to_string(k) + ")");
  if (T == 0 || k == 0) return;
  if (!scores || !out) throw std::invalid_argument("topk_indices: scores and out must be set");
  static const bool attr_set = [] {
    ENVFORGE_CUDA_CHECK(cudaFuncSetAttribute(topk_kernel,
                                             cudaFuncAttributeMaxDynamicSharedMemorySize,
                                             int(kSmemBytes)));
    ENVFORGE_CUDA_CHECK(
        cudaFuncSetAttribute(topk_kernel, cudaFuncAttributeNonPortableClusterSizeAllowed, 0));
    return true;
  }();
  (void)attr_set;
  if (T > 0x7fffffff / kMaxCluster) throw std::invalid_argument("topk_indices: too many rows");
  cudaLaunchConfig_t cfg = {};
  cudaLaunchAttribute attr[1];
  attr[0].id = cudaLaunchAttributeClusterDimension;
  attr[0].val.clusterDim.y = 1;
  attr[0].val.clusterDim.z = 1;
  cfg.blockDim = dim3(kThreads);
  cfg.dynamicSmemBytes = kSmemBytes;
  cfg.stream = stream;
  cfg.attrs = attr;
  cfg.numAttrs = 1;
  // resident clusters per size, read once per device
  static std::mutex mu;
  static int max_clusters[kMaxCluster + 1] = {};
  static int for_device = -1;
  int dev = 0;
  ENVFORGE_CUDA_CHECK(cudaGetDevice(&dev));
  std::unique_lock<std::mutex> lock(mu);
  if (for_device != dev) {
    for (int c = 1; c <= kMaxCluster; c *= 2) {
      attr[0].val.clusterDim.x = c;
      cfg.gridDim = dim3(c);
      int n = 0;
      if (cudaOccupancyMaxActiveClusters(&n, topk_kernel, &cfg) != cudaSuccess) {
        cudaGetLastError();  // a size the device cannot run: never chosen
        n = 0;
      }
      max_clusters[c] = n;
    }
    for_device = dev;
  }
  int cs = 1;
  for (int c = kMaxCluster; c > 1; c /= 2) {
    if (max_clusters[c] >= T) {
      cs = c;
      break;
    }
  }
  lock.unlock();
  attr[0].val.clusterDim.x = cs;
  cfg.gridDim = dim3(unsigned(T) * cs);
  ENVFORGE_CUDA_CHECK(cudaLaunchKernelEx(&cfg, topk_kernel, scores, q_pos, S, k, out));
}

}  // namespace envforge::engine::gpu
