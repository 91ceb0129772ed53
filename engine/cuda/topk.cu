// Causal top-k by radix selection; each row is spread over a cluster of up to 8 blocks (one per
// SM) that combine their histograms through distributed shared memory. The cluster size is the
// largest that lets every row's cluster be resident at once. Every value is turned into a 64-bit
// key (order-preserving bits of the float, then the bit-inverted index), so all keys are
// distinct and "largest k keys" is exactly "largest k values, ties to the lower index".
//  1. every block histograms the top 12 key bits of its slice of the row; each block sums the
//     cluster's histograms and finds the bin holding the k-th largest key;
//  2. a second pass over the slices emits everything above that bin and gathers the bin's keys
//     into the shared memory of block 0, each warp reserving its slots with one atomic;
//  3. block 0 pins down the k-th key by 11-bit digit passes over the gathered keys and emits
//     the keys at or above it. A bin too large for shared memory is refined by block 0 over
//     the whole row instead.
#include <algorithm>
#include <cmath>
#include <mutex>
#include <stdexcept>
#include <string>

#include <cooperative_groups.h>

#include "engine/cuda/cuda_check.h"
#include "engine/cuda/dsa_kernels.h"
#include "engine/cuda/warp_scan.cuh"

namespace envforge::engine::gpu {
namespace {

namespace cg = cooperative_groups;

constexpr int kThreads = 1024;
constexpr int kMaxCluster = 8;
constexpr int kTopBits = 12;
constexpr int kTopBins = 1 << kTopBits;
constexpr int kDigitBits = 11;
constexpr int kCandCap = 16384;
constexpr int kUnroll = 4;

struct TopkShared {
  unsigned part[kTopBins];  // this block's slice; read by the whole cluster
  unsigned hist[kTopBins];
  unsigned warp_sums[kThreads / 32];
  int found_bin;
  unsigned found_above;
  unsigned total;
  unsigned emitted;
  unsigned n_cand;
};

__device__ __forceinline__ uint64_t make_key(float v, int i) {
  uint32_t u = __float_as_uint(v);
  u = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
  return (uint64_t(u) << 32) | uint32_t(~uint32_t(i));
}
__device__ __forceinline__ int key_index(uint64_t key) { return int(~uint32_t(key)); }

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
  const unsigned incl = warp_inclusive_sum(local);
  if (lane == 31) sh.warp_sums[warp] = incl;
  if (tid == 0) sh.found_bin = -1;
  __syncthreads();
  if (warp == 0) {
    const unsigned w = sh.warp_sums[lane];
    const unsigned wi = warp_inclusive_sum(w);
    sh.warp_sums[lane] = wi - w;  // exclusive prefix of warps
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

// Warp-aggregated append: returns this lane's slot when pred holds.
__device__ __forceinline__ unsigned warp_append(unsigned* counter, bool pred) {
  const unsigned mask = __ballot_sync(0xffffffffu, pred);
  const int lane = threadIdx.x & 31;
  unsigned base = 0;
  if (lane == 0 && mask) base = atomicAdd(counter, unsigned(__popc(mask)));
  base = __shfl_sync(0xffffffffu, base, 0);
  return base + __popc(mask & ((1u << lane) - 1u));
}

// Warp-aggregated reservation of na slots of counter a and nb of counter b per lane (each
// below 2^16 per warp): this lane's first slot of each. One scan and one atomic per counter
// and warp, however many lanes take slots.
__device__ __forceinline__ void warp_reserve(unsigned* a, unsigned na, unsigned* b, unsigned nb,
                                             unsigned& slot_a, unsigned& slot_b) {
  const int lane = threadIdx.x & 31;
  const unsigned n = na | (nb << 16);
  const unsigned incl = warp_inclusive_sum(n);
  const unsigned total = __shfl_sync(0xffffffffu, incl, 31);
  unsigned base_a = 0, base_b = 0;
  if (lane == 0) {
    if (total & 0xffffu) base_a = atomicAdd(a, total & 0xffffu);
    if (total >> 16) base_b = atomicAdd(b, total >> 16);
  }
  const unsigned before = incl - n;
  slot_a = __shfl_sync(0xffffffffu, base_a, 0) + (before & 0xffffu);
  slot_b = __shfl_sync(0xffffffffu, base_b, 0) + (before >> 16);
}

// Visits every column of the row in groups of kUnroll per thread, their loads in flight
// together: g(i[], value[], live[]), live meaning inside the row and finite.
template <class G>
__device__ __forceinline__ void for_row_groups(const float* row, int lo, int n, G g) {
  for (int base = lo; base < n; base += kThreads * kUnroll) {
    int i[kUnroll];
    float v[kUnroll];
    bool live[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      i[u] = base + u * kThreads + threadIdx.x;
      v[u] = i[u] < n ? __ldcg(row + i[u]) : NAN;
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) live[u] = i[u] < n && isfinite(v[u]);
    g(i, v, live);
  }
}
// The same, column by column: f(i, value, live).
template <class F>
__device__ __forceinline__ void for_row(const float* row, int lo, int n, F f) {
  for_row_groups(row, lo, n, [&](const int(&i)[kUnroll], const float(&v)[kUnroll],
                                 const bool(&live)[kUnroll]) {
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) f(i[u], v[u], live[u]);
  });
}

__device__ __forceinline__ uint64_t top_bits(uint64_t key, int bits) { return key >> (64 - bits); }

// Narrows (prefix, bits) until the bin holding the want-th largest key is exactly taken.
// count(f) must call f(key) for every live key of the source.
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

__global__ void __launch_bounds__(kThreads)
    topk_kernel(const float* scores, const int32_t* q_pos, int S, int k, int32_t* out) {
  extern __shared__ __align__(16) unsigned char smem_raw[];
  TopkShared& sh = *reinterpret_cast<TopkShared*>(smem_raw);
  uint64_t* cand = reinterpret_cast<uint64_t*>(smem_raw + (sizeof(TopkShared) + 7) / 8 * 8);
  cg::cluster_group cluster = cg::this_cluster();
  const int rank = int(cluster.block_rank());
  const int cs = int(cluster.num_blocks());
  TopkShared& lead = *cluster.map_shared_rank(&sh, 0);  // block 0 of the cluster
  uint64_t* lead_cand = cluster.map_shared_rank(cand, 0);
  const int t = blockIdx.x / cs;
  const float* row = scores + size_t(t) * S;
  int32_t* o = out + size_t(t) * k;
  const int n = q_pos ? max(0, min(S, q_pos[t] + 1)) : S;
  // this block's slice, a multiple of 4 columns wide
  const int per = ((n + cs - 1) / cs + 3) / 4 * 4;
  const int lo = min(n, rank * per), hi = min(n, lo + per);

  for (int b = threadIdx.x; b < kTopBins; b += kThreads) sh.part[b] = 0;
  if (threadIdx.x == 0) sh.emitted = 0, sh.n_cand = 0;
  __syncthreads();
  for_row(row, lo, hi, [&](int i, float v, bool live) {
    if (live) atomicAdd(&sh.part[unsigned(make_key(v, i) >> (64 - kTopBits))], 1u);
  });
  cluster.sync();
  for (int b = threadIdx.x; b < kTopBins; b += kThreads) {
    unsigned total = 0;
    for (int r = 0; r < cs; ++r) total += cluster.map_shared_rank(sh.part, r)[b];
    sh.hist[b] = total;
  }
  cluster.sync();  // every remote read of `part` is done; blocks may leave from here on
  find_bin(sh, kTopBins, unsigned(k));

  if (sh.found_bin < 0) {  // at most k finite values: take them all
    for_row(row, lo, hi, [&](int i, float, bool live) {
      const unsigned slot = warp_append(&lead.emitted, live);
      if (live && slot < unsigned(k)) o[slot] = i;
    });
    cluster.sync();
    if (rank == 0)
      for (int j = int(sh.emitted) + threadIdx.x; j < k; j += kThreads) o[j] = -1;
    return;
  }
  const int bin = sh.found_bin;
  const unsigned want = unsigned(k) - sh.found_above;
  uint64_t prefix = uint64_t(bin);
  int bits = kTopBits;

  if (sh.hist[bin] <= unsigned(kCandCap)) {
    // the slots of a warp's values above the bin and of its candidates, reserved together
    for_row_groups(row, lo, hi, [&](const int(&i)[kUnroll], const float(&v)[kUnroll],
                                    const bool(&live)[kUnroll]) {
      uint64_t key[kUnroll];
      bool above[kUnroll], here[kUnroll];
      unsigned n_above = 0, n_here = 0;
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        key[u] = live[u] ? make_key(v[u], i[u]) : 0;
        const int top = int(key[u] >> (64 - kTopBits));
        above[u] = live[u] && top > bin;
        here[u] = live[u] && top == bin;
        n_above += above[u];
        n_here += here[u];
      }
      unsigned slot, c;
      warp_reserve(&lead.emitted, n_above, &lead.n_cand, n_here, slot, c);
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        if (above[u]) {
          if (slot < unsigned(k)) o[slot] = i[u];
          ++slot;
        }
        if (here[u]) {
          if (c < unsigned(kCandCap)) lead_cand[c] = key[u];
          ++c;
        }
      }
    });
    cluster.sync();  // all candidates and emissions have landed in block 0
    if (rank != 0) return;
    const int nc = int(sh.n_cand);
    auto from_cand = [&](auto f) {
      for (int c = threadIdx.x; c < nc; c += kThreads) f(cand[c]);
    };
    refine(sh, from_cand, prefix, bits, want);
    for (int base = 0; base < nc; base += kThreads) {
      const int c = base + threadIdx.x;
      const bool take = c < nc && top_bits(cand[c], bits) >= prefix;
      const unsigned slot = warp_append(&sh.emitted, take);
      if (take && slot < unsigned(k)) o[slot] = key_index(cand[c]);
    }
    return;
  }

  // The bin is too large for shared memory (many equal values): block 0 refines over the row.
  if (rank != 0) return;
  auto from_row = [&](auto f) {
    for_row(row, 0, n, [&](int i, float v, bool live) {
      if (live) f(make_key(v, i));
    });
  };
  refine(sh, from_row, prefix, bits, want);
  for_row(row, 0, n, [&](int i, float v, bool live) {
    const bool take = live && top_bits(make_key(v, i), bits) >= prefix;
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
