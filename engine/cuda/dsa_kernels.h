// CUDA kernels of DeepSeek Sparse Attention for Hopper (sm_90a): lightning-indexer scores,
// causal top-k selection and absorbed (MQA) MLA attention, sparse over selected rows or dense,
// all reading paged caches in device memory. Their CPU references are in engine/dsa_ops.h.
// Every pointer below is a device pointer; every call is asynchronous on `stream` and throws
// std::invalid_argument for bad shapes and std::runtime_error for a failed launch.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace envforge::engine::gpu {

// DeepSeek-V3.2 shapes the kernels are built for.
constexpr int kIndexHeads = 64;
constexpr int kIndexDim = 128;
constexpr int kQkDim = 576;  // kv_lora_rank 512 ++ qk_rope_head_dim 64
constexpr int kVDim = 512;   // the latent part doubles as the value
constexpr int kMlaHeadsPerBlock = 64;
constexpr int kMlaPageRows = 32;  // page sizes are multiples of this

// Row r of sequence s lives in page pages[s * max_pages + r / page_size], slot r % page_size.
struct PageTable {
  const int32_t* pages = nullptr;  // [num_seqs][max_pages]
  int max_pages = 0;
  int page_size = 0;  // tokens per page, a positive multiple of kMlaPageRows
};

enum class IndexKeyType { kBf16, kFp8E4M3 };

struct IndexerArgs {
  IndexKeyType type = IndexKeyType::kFp8E4M3;
  const void* q = nullptr;           // [T][64][128], bf16 or e4m3
  const float* q_scale = nullptr;    // [T][64] dequantization scale of q (fp8; ignored for bf16)
  const float* weights = nullptr;    // [T][64] per-head weights
  const void* key_pages = nullptr;   // [num_pages][page_size][128], bf16 or e4m3
  const float* key_scale = nullptr;  // [num_pages][page_size] per-token scale (fp8 only)
  PageTable table;
  const int32_t* q_seq = nullptr;  // [T] row of `table` for each query
  const int32_t* q_pos = nullptr;  // [T] position of each query; it sees keys 0..q_pos
  int T = 0;
  int S = 0;             // columns of out
  float* out = nullptr;  // [T][S]; -inf where s > q_pos[t]
};
// out[t][s] = sum_h weights[t][h] * q_scale[t][h] * key_scale[s] * relu(q[t][h] . key[s]).
void indexer_scores(const IndexerArgs& args, cudaStream_t stream);

// Per row t, the indices of the k largest finite values among scores[t][0..q_pos[t]] (all S
// columns when q_pos is null); ties go to the lower index. out[t][0..k) holds them in no
// particular order; when a row has fewer than k finite values the rest are -1.
void topk_indices(const float* scores, const int32_t* q_pos, int T, int S, int k, int32_t* out,
                  cudaStream_t stream);

// Which MLA attention kernel runs. kAuto: the device's best (on compute capability 9.0 the
// 64-row dense kernel for dense rows, the 32-row ring kernel for sparse ones). The others name
// one where it can run, so that tests check each on the devices at hand and benchmarks time
// one against another: kPortable the mma.sync kernel, kRing the ring kernel for dense rows too.
enum class MlaKernelChoice { kAuto, kPortable, kRing };

struct MlaArgs {
  const __nv_bfloat16* q = nullptr;         // [T][Hq][576] absorbed query
  const __nv_bfloat16* kv_pages = nullptr;  // [num_pages][page_size][576] latent ++ rope key
  PageTable table;
  const int32_t* q_seq = nullptr;  // [T] row of `table` for each query
  const int32_t* q_len = nullptr;  // [T] rows of the sequence visible to the query
  const int32_t* idx = nullptr;    // [T][k] selected rows (-1 = empty); null = dense 0..len-1
  int k = 0;                       // slots per row of idx
  int max_len = 0;  // dense: an upper bound of q_len (sizes the split on the non-Hopper kernels)
  int T = 0;
  int Hq = 0;  // a multiple of 64
  float softmax_scale = 0.f;
  __nv_bfloat16* out = nullptr;  // [T][Hq][512]
  void* workspace = nullptr;     // mla_workspace_bytes(...) bytes
  size_t workspace_bytes = 0;
  MlaKernelChoice kernel = MlaKernelChoice::kAuto;
};
// Sparse: rows idx[t][*] that are >= 0 and < q_len[t] (others are skipped). Dense: rows
// 0..q_len[t]-1. A query with no row gets zeros.
void mla_attention(const MlaArgs& args, cudaStream_t stream);
// Scratch for splitting row lists over several blocks, enough for whichever kernel runs
// (the Hopper dense kernel always needs it); max_rows is k (sparse) or max_len.
size_t mla_workspace_bytes(int T, int Hq, int max_rows);

// Number of multiprocessors of the current device (cached per device).
int device_sm_count();

}  // namespace envforge::engine::gpu
