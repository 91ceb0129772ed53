// CUDA kernels for the rest of a DeepSeek-V3.2 layer around the DSA kernels: RMSNorm, RoPE
// (YaRN tables built on the host), the lightning indexer's key/query preparation (LayerNorm,
// rope, Hadamard, E4M3 quantization), writes into the paged latent cache, SwiGLU, the MoE
// router and expert dispatch with a grouped expert GEMM. Their CPU references are the
// functions of model/ops.h and the MoE of model/moe.cc.
// Every pointer is a device pointer; every call is asynchronous on `stream` and throws
// std::invalid_argument for bad shapes and std::runtime_error for a failed launch.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace envforge::engine::gpu {

// ---- norms and rotary embedding -------------------------------------------------------------

// out = x / sqrt(mean(x^2) + eps) * w per row of d values, the sum of squares in double like
// the CPU reference. x rows are ld_x apart; either output may be null (rows ld_out apart).
void rms_norm(const float* x, int ld_x, const float* w, int n, int d, double eps, float* out_f32,
              __nv_bfloat16* out_bf16, int ld_out, cudaStream_t stream);

// Rotary embedding in place on rope_dim values of each head: row r, head h starts at
// x + r * row_stride + h * head_stride + offset. Position of row r is pos[r]; cos_sin holds
// (cos, sin) of pos * inv_freq[i] for every position < max_pos, [max_pos][rope_dim / 2].
// Interleaved rotates pairs (2i, 2i+1) (MLA); otherwise (i, i + rope_dim / 2) (indexer).
struct RopeTable {
  const float2* cos_sin = nullptr;
  int max_pos = 0;
  int rope_dim = 0;
};
void rope(float* x, int rows, int heads, long row_stride, int head_stride, int offset,
          const int32_t* pos, const RopeTable& table, bool interleaved, cudaStream_t stream);

// Lightning-indexer vectors of `dim` values (a power of two, at most 128): optional LayerNorm
// (weight and bias, eps 1e-6, statistics in double), rope (half layout) on the first rope_dim
// values, Hadamard transform scaled by dim^-0.5, then E4M3 codes with one scale
// max(amax, 1e-4) / 448 per vector. Codes are written to out_codes (zero-padded to
// out_dim >= dim), scales to out_scale.
struct IndexVectorArgs {
  const float* x = nullptr;  // vector (r, h) at x + r * row_stride + h * dim
  long row_stride = 0;
  int rows = 0, heads = 0, dim = 0;
  const float* ln_w = nullptr;  // LayerNorm weight and bias [dim], or null for none
  const float* ln_b = nullptr;
  const int32_t* pos = nullptr;  // [rows]
  RopeTable table;
  // Destination of (r, h): dense [rows][out_heads][out_dim] when `table_pages` is null, else
  // the paged cache slot of (seq[r], pos[r]) (heads must be 1).
  uint8_t* out_codes = nullptr;
  float* out_scale = nullptr;  // [rows][out_heads] or [num_pages][page_size]
  int out_heads = 0, out_dim = 0;
  const int32_t* table_pages = nullptr;  // [num_seqs][max_pages]
  const int32_t* seq = nullptr;          // [rows]
  int max_pages = 0, page_size = 0;
};
void index_vectors(const IndexVectorArgs& args, cudaStream_t stream);

// Per-head query weights of the indexer: out[r][h] = w[r * ld_w + h] * scale for h < heads,
// 0 for heads <= h < out_heads.
void index_weights(const float* w, int ld_w, int rows, int heads, float scale, int out_heads,
                   float* out, cudaStream_t stream);

// Sorts each row of idx [T][k] ascending with the empty slots (-1) last, so that attention
// sums its rows in one fixed order (the top-k kernel's order varies from run to run). k <= 4096.
void sort_selected_rows(int32_t* idx, int T, int k, cudaStream_t stream);

// ---- MLA plumbing ---------------------------------------------------------------------------

// One new latent row per token into the paged cache [num_pages][page_size][576]: RMSNorm
// (weight norm_w, eps) of kv[r][0..kvl), rope (interleaved) of kv[r][kvl..kvl+rope), stored
// as bf16 with the latent in 0..kvl, the rope key in 512..512+rope and zeros elsewhere.
struct KvWriteArgs {
  const float* kv = nullptr;  // [rows][kvl + rope], rows ld apart (0: kvl + rope)
  long ld = 0;
  int rows = 0, kvl = 0;
  const float* norm_w = nullptr;
  double eps = 1e-6;
  const int32_t* pos = nullptr;
  const int32_t* seq = nullptr;
  RopeTable table;
  const int32_t* table_pages = nullptr;
  int max_pages = 0, page_size = 0;
  __nv_bfloat16* kv_pages = nullptr;
};
void write_latent_rows(const KvWriteArgs& args, cudaStream_t stream);

// Splits q [rows][heads][nope + rope] (f32, rows ld_q apart): q_nope (bf16, [rows][heads][nope]) for the
// absorbing GEMM, and the rotated rope part (interleaved) as bf16 into
// q_abs[r][h][512..512+rope). Heads >= heads up to q_abs_heads, and dims kvl..512 and past the
// rope part, are zeroed so the 576-wide attention sees exact zeros there.
void split_query(const float* q, long ld_q, int rows, int heads, int nope, int kvl, const int32_t* pos,
                 const RopeTable& table, __nv_bfloat16* q_nope, __nv_bfloat16* q_abs,
                 int q_abs_heads, cudaStream_t stream);

// ---- feed-forward ---------------------------------------------------------------------------

// out[r][i] = silu(gu[r][i]) * gu[r][inter + i] as bf16, rows of gu ld_gu apart.
void silu_mul(const float* gu, int ld_gu, int rows, int inter, __nv_bfloat16* out,
              cudaStream_t stream);

// Embedding rows: out[r] = table[tokens[r]] (f32 table when table_f32, else bf16).
void embed_rows(const void* table, bool table_f32, const int32_t* tokens, int rows, int d,
                float* out, cudaStream_t stream);

// out[r] = src[rows_idx[r]] for row length d (f32).
void gather_rows(const float* src, const int32_t* rows_idx, int rows, int d, float* out,
                 cudaStream_t stream);

struct RouterArgs {
  const float* x = nullptr;       // [n][d] normalized hidden state (f32)
  const float* gate_w = nullptr;  // [E][d]
  const float* bias = nullptr;    // [E] correction bias (selection only), or null
  int n = 0, d = 0, E = 0, K = 0;
  int n_group = 1, topk_group = 1;
  bool softmax = false;  // scores: softmax over experts instead of sigmoid
  bool normalize = true; // weights divided by their sum
  float route_scale = 1.f;
  int32_t* ids = nullptr;   // [n][K] chosen experts, best first
  float* weights = nullptr; // [n][K]
  float* scores = nullptr;  // [n][E] scratch: the raw scores
};
// Scores s = sigmoid(x W^T) (or softmax); selection by s + bias, group-limited: the topk_group
// groups with the best sum of their two best biased scores; ties to the lower index.
void route(const RouterArgs& args, cudaStream_t stream);

// Grouping of n*K (token, expert) assignments by expert, made on the device so that decode
// steps can be captured in a graph. Capacities are fixed by max_assign and E.
struct MoeDispatch {
  int32_t* offsets = nullptr;     // [E + 1]
  int32_t* perm_token = nullptr;  // [max_assign] token of each grouped row
  int32_t* slot_of = nullptr;     // [max_assign] grouped row of assignment (t, k)
  int32_t* tiles = nullptr;       // [max_tiles][2] (expert, first row) of each row tile
  int32_t* num_tiles = nullptr;   // [1]
  int max_assign = 0, E = 0;
};
constexpr int kMoeTileRows = 64;
inline int moe_max_tiles(int max_assign, int E) { return max_assign / kMoeTileRows + E + 1; }
size_t moe_dispatch_bytes(int max_assign, int E);
// Carves the arrays of a MoeDispatch out of `buffer` (moe_dispatch_bytes bytes).
MoeDispatch moe_dispatch_view(void* buffer, int max_assign, int E);
void moe_dispatch(const int32_t* ids, int n, int K, const MoeDispatch& d, cudaStream_t stream);

// xs[j] = x[perm_token[j]] for grouped rows j < n * K (bf16, d values).
void moe_gather(const __nv_bfloat16* x, const MoeDispatch& d, int n_assign, int dim,
                __nv_bfloat16* xs, cudaStream_t stream);

// Grouped GEMM: for every row j of expert e's group, y[j][c] = sum_k xs[j][k] * W_e[c][k],
// W_e = w + e * w_stride ([N][K] bf16), y f32 [rows][N]; bf16 tensor cores, fp32 accumulation.
// Two kernels: shared-memory tiles for any shape, and one that streams the weights through
// registers (K % 32 == 0, N % 16 == 0), which the few rows per expert of a decode step need to
// run at memory bandwidth. kAuto takes the second wherever the shape allows.
enum class MoeGemmPath { kAuto, kTiles, kStreamWeights };
void moe_grouped_gemm(const __nv_bfloat16* xs, int K, const __nv_bfloat16* w, long w_stride,
                      int N, const MoeDispatch& d, int n_assign, float* y, cudaStream_t stream,
                      MoeGemmPath path = MoeGemmPath::kAuto);

// h[t][c] += sum_k weights[t][k] * ye[slot_of[t * K + k]][c], k in order.
void moe_combine(const float* ye, const float* weights, const MoeDispatch& d, int n, int K,
                 int dim, float* h, cudaStream_t stream);

}  // namespace envforge::engine::gpu
