// Norms, rotary embedding and the per-token preparation of the indexer and MLA inputs.
#include <cuda_fp8.h>

#include <algorithm>
#include <climits>
#include <stdexcept>
#include <string>

#include "engine/cuda/cuda_check.h"
#include "engine/cuda/dsa_kernels.h"
#include "engine/cuda/layer_kernels.h"

namespace envforge::engine::gpu {

namespace {

void require(bool ok, const char* fn, const std::string& what) {
  if (!ok) throw std::invalid_argument(std::string(fn) + ": " + what);
}

// Sum of v over the block (blockDim.x a multiple of 32, at most 1024); every thread gets it.
__device__ double block_sum(double v) {
  __shared__ double part[32];
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, warps = blockDim.x >> 5;
  __syncthreads();  // part[] may still be read by a previous call
  if (lane == 0) part[warp] = v;
  __syncthreads();
  double total = 0;
  for (int w = 0; w < warps; ++w) total += part[w];
  return total;
}

__device__ inline void rotate(float& a, float& b, float2 cs) {
  const float na = a * cs.x - b * cs.y;
  const float nb = a * cs.y + b * cs.x;
  a = na;
  b = nb;
}

__device__ inline float2 rope_cs(const RopeTable& t, int pos, int i) {
  if (pos < 0 || pos >= t.max_pos) return make_float2(__int_as_float(0x7fc00000), 0.f);  // NaN: loud
  return t.cos_sin[size_t(pos) * (t.rope_dim / 2) + i];
}

__global__ void rms_norm_kernel(const float* x, int ld_x, const float* w, int d, double eps,
                                float* out_f32, __nv_bfloat16* out_bf16, int ld_out) {
  const float* xr = x + size_t(blockIdx.x) * ld_x;
  double ss = 0;
  for (int j = threadIdx.x; j < d; j += blockDim.x) ss += double(xr[j]) * xr[j];
  ss = block_sum(ss);
  const float r = float(1.0 / sqrt(ss / d + eps));
  for (int j = threadIdx.x; j < d; j += blockDim.x) {
    const float v = xr[j] * r * w[j];
    if (out_f32) out_f32[size_t(blockIdx.x) * ld_out + j] = v;
    if (out_bf16) out_bf16[size_t(blockIdx.x) * ld_out + j] = __float2bfloat16_rn(v);
  }
}

__global__ void rope_kernel(float* x, int heads, long row_stride, int head_stride, int offset,
                            const int32_t* pos, RopeTable t, bool interleaved) {
  const int half = t.rope_dim / 2;
  const int r = blockIdx.x;
  const int p = pos[r];
  for (int e = threadIdx.x; e < heads * half; e += blockDim.x) {
    const int h = e / half, i = e % half;
    float* v = x + r * row_stride + long(h) * head_stride + offset;
    float* a = interleaved ? v + 2 * i : v + i;
    float* b = interleaved ? v + 2 * i + 1 : v + i + half;
    rotate(*a, *b, rope_cs(t, p, i));
  }
}

// One block of 128 threads per (row, output head).
__global__ void __launch_bounds__(128) index_vectors_kernel(IndexVectorArgs p) {
  __shared__ float v[128];
  __shared__ double stats[2];
  __shared__ float amax_w[4];
  const bool paged = p.table_pages != nullptr;
  const int heads_out = paged ? 1 : p.out_heads;
  const int r = blockIdx.x / heads_out, h = blockIdx.x % heads_out;
  const int tid = threadIdx.x, dim = p.dim;
  uint8_t* codes;
  float* scale;
  if (paged) {
    const int pos = p.pos[r];
    const int page = p.table_pages[size_t(p.seq[r]) * p.max_pages + pos / p.page_size];
    const size_t slot = size_t(page) * p.page_size + pos % p.page_size;
    codes = p.out_codes + slot * p.out_dim;
    scale = p.out_scale + slot;
  } else {
    codes = p.out_codes + (size_t(r) * p.out_heads + h) * p.out_dim;
    scale = p.out_scale + size_t(r) * p.out_heads + h;
  }
  if (h >= p.heads) {  // padding head: zero codes, unit scale
    for (int i = tid; i < p.out_dim; i += blockDim.x) codes[i] = 0;
    if (tid == 0) *scale = 1.f;
    return;
  }
  const float* src = p.x + r * p.row_stride + long(h) * dim;
  if (tid < dim) v[tid] = src[tid];
  __syncthreads();
  if (p.ln_w) {
    if (tid == 0) {  // serial in double, in the CPU reference's order
      double mean = 0, var = 0;
      for (int j = 0; j < dim; ++j) mean += v[j];
      mean /= dim;
      for (int j = 0; j < dim; ++j) var += (v[j] - mean) * (v[j] - mean);
      var /= dim;
      stats[0] = mean;
      stats[1] = 1.0 / sqrt(var + 1e-6);
    }
    __syncthreads();
    if (tid < dim) v[tid] = float((v[tid] - stats[0]) * stats[1]) * p.ln_w[tid] + p.ln_b[tid];
    __syncthreads();
  }
  const int half = p.table.rope_dim / 2;
  if (tid < half) {
    float a = v[tid], b = v[tid + half];
    rotate(a, b, rope_cs(p.table, p.pos[r], tid));
    v[tid] = a;
    v[tid + half] = b;
  }
  __syncthreads();
  for (int s = 1; s < dim; s *= 2) {
    if (tid < dim / 2) {
      const int j = (tid / s) * 2 * s + tid % s;
      const float a = v[j], b = v[j + s];
      v[j] = a + b;
      v[j + s] = a - b;
    }
    __syncthreads();
  }
  const float hs = float(1.0 / sqrt(double(dim)));
  float m = 0.f;
  if (tid < dim) {
    v[tid] *= hs;
    m = fabsf(v[tid]);
  }
  for (int o = 16; o > 0; o >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, o));
  if ((tid & 31) == 0) amax_w[tid >> 5] = m;
  __syncthreads();
  const float amax = fmaxf(fmaxf(amax_w[0], amax_w[1]), fmaxf(amax_w[2], amax_w[3]));
  const float sc = fmaxf(amax, 1e-4f) / 448.f;
  for (int i = tid; i < p.out_dim; i += blockDim.x)
    codes[i] = i < dim ? __nv_cvt_float_to_fp8(v[i] / sc, __NV_SATFINITE, __NV_E4M3) : 0;
  if (tid == 0) *scale = sc;
}

__global__ void index_weights_kernel(const float* w, int ld_w, int heads, float scale,
                                     int out_heads, float* out) {
  const int r = blockIdx.x;
  for (int h = threadIdx.x; h < out_heads; h += blockDim.x)
    out[size_t(r) * out_heads + h] = h < heads ? w[size_t(r) * ld_w + h] * scale : 0.f;
}

__global__ void write_latent_kernel(KvWriteArgs p) {
  const int r = blockIdx.x;
  const int rope = p.table.rope_dim, width = p.kvl + rope;
  const float* x = p.kv + size_t(r) * (p.ld ? p.ld : width);
  double ss = 0;
  for (int j = threadIdx.x; j < p.kvl; j += blockDim.x) ss += double(x[j]) * x[j];
  ss = block_sum(ss);
  const float rn = float(1.0 / sqrt(ss / p.kvl + p.eps));
  const int pos = p.pos[r];
  const int page = p.table_pages[size_t(p.seq[r]) * p.max_pages + pos / p.page_size];
  __nv_bfloat16* dst = p.kv_pages + (size_t(page) * p.page_size + pos % p.page_size) * kQkDim;
  for (int c = threadIdx.x; c < kQkDim; c += blockDim.x) {
    float v = 0.f;
    if (c < p.kvl) {
      v = x[c] * rn * p.norm_w[c];
    } else if (c >= kVDim && c < kVDim + rope) {
      const int i = (c - kVDim) / 2;
      float a = x[p.kvl + 2 * i], b = x[p.kvl + 2 * i + 1];
      rotate(a, b, rope_cs(p.table, pos, i));
      v = (c - kVDim) % 2 == 0 ? a : b;
    }
    dst[c] = __float2bfloat16_rn(v);
  }
}

__global__ void split_query_kernel(const float* q, long ld_q, int heads, int nope, int kvl,
                                   const int32_t* pos, RopeTable t, __nv_bfloat16* q_nope,
                                   __nv_bfloat16* q_abs, int q_abs_heads) {
  const int r = blockIdx.x / q_abs_heads, h = blockIdx.x % q_abs_heads;
  const int rope = t.rope_dim, qkd = nope + rope;
  __nv_bfloat16* dst = q_abs + (size_t(r) * q_abs_heads + h) * kQkDim;
  if (h >= heads) {
    for (int c = threadIdx.x; c < kQkDim; c += blockDim.x) dst[c] = __float2bfloat16_rn(0.f);
    return;
  }
  const float* src = q + r * ld_q + size_t(h) * qkd;
  for (int c = threadIdx.x; c < nope; c += blockDim.x)
    q_nope[(size_t(r) * heads + h) * nope + c] = __float2bfloat16_rn(src[c]);
  const int p = pos[r];
  for (int c = kvl + threadIdx.x; c < kQkDim; c += blockDim.x) {
    float v = 0.f;
    if (c >= kVDim && c < kVDim + rope) {
      const int i = (c - kVDim) / 2;
      float a = src[nope + 2 * i], b = src[nope + 2 * i + 1];
      rotate(a, b, rope_cs(t, p, i));
      v = (c - kVDim) % 2 == 0 ? a : b;
    }
    dst[c] = __float2bfloat16_rn(v);
  }
}

__global__ void silu_mul_kernel(const float* gu, int ld_gu, int inter, __nv_bfloat16* out) {
  const int r = blockIdx.x;
  for (int i = threadIdx.x; i < inter; i += blockDim.x) {
    const float g = gu[size_t(r) * ld_gu + i], u = gu[size_t(r) * ld_gu + inter + i];
    out[size_t(r) * inter + i] = __float2bfloat16_rn(g / (1.f + expf(-g)) * u);
  }
}

__global__ void embed_kernel(const void* table, bool f32, const int32_t* tokens, int d,
                             float* out) {
  const size_t row = size_t(tokens[blockIdx.x]) * d;
  for (int j = threadIdx.x; j < d; j += blockDim.x)
    out[size_t(blockIdx.x) * d + j] =
        f32 ? static_cast<const float*>(table)[row + j]
            : __bfloat162float(static_cast<const __nv_bfloat16*>(table)[row + j]);
}

__global__ void gather_kernel(const float* src, const int32_t* idx, int d, float* out) {
  const size_t row = size_t(idx[blockIdx.x]) * d;
  for (int j = threadIdx.x; j < d; j += blockDim.x) out[size_t(blockIdx.x) * d + j] = src[row + j];
}

__global__ void __launch_bounds__(1024) sort_rows_kernel(int32_t* idx, int k, int n2) {
  extern __shared__ int32_t keys[];
  int32_t* row = idx + size_t(blockIdx.x) * k;
  for (int i = threadIdx.x; i < n2; i += blockDim.x) {
    const int32_t v = i < k ? row[i] : -1;
    keys[i] = v < 0 ? INT_MAX : v;
  }
  __syncthreads();
  for (int size = 2; size <= n2; size *= 2)
    for (int stride = size / 2; stride > 0; stride /= 2) {
      for (int i = threadIdx.x; i < n2 / 2; i += blockDim.x) {
        const int lo = (i / stride) * 2 * stride + i % stride, hi = lo + stride;
        const bool up = (lo & size) == 0;
        const int32_t a = keys[lo], b = keys[hi];
        if ((a > b) == up) {
          keys[lo] = b;
          keys[hi] = a;
        }
      }
      __syncthreads();
    }
  for (int i = threadIdx.x; i < k; i += blockDim.x) row[i] = keys[i] == INT_MAX ? -1 : keys[i];
}

int threads_for(int n) { return n >= 256 ? 256 : (n + 31) / 32 * 32; }

}  // namespace

void sort_selected_rows(int32_t* idx, int T, int k, cudaStream_t stream) {
  require(T >= 0 && k >= 0 && k <= 4096, "sort_selected_rows", "k must be at most 4096");
  if (T == 0 || k <= 1) return;
  int n2 = 1;
  while (n2 < k) n2 *= 2;
  sort_rows_kernel<<<T, std::min(1024, std::max(32, n2 / 2)), n2 * sizeof(int32_t), stream>>>(
      idx, k, n2);
  ENVFORGE_CUDA_CHECK_LAUNCH();
}

void rms_norm(const float* x, int ld_x, const float* w, int n, int d, double eps, float* out_f32,
              __nv_bfloat16* out_bf16, int ld_out, cudaStream_t stream) {
  require(n >= 0 && d > 0 && ld_x >= d && ld_out >= d, "rms_norm", "bad shape");
  if (n == 0) return;
  require(x && w && (out_f32 || out_bf16), "rms_norm", "x, w and an output must be set");
  rms_norm_kernel<<<n, 256, 0, stream>>>(x, ld_x, w, d, eps, out_f32, out_bf16, ld_out);
  ENVFORGE_CUDA_CHECK_LAUNCH();
}

void rope(float* x, int rows, int heads, long row_stride, int head_stride, int offset,
          const int32_t* pos, const RopeTable& table, bool interleaved, cudaStream_t stream) {
  require(rows >= 0 && heads > 0 && table.rope_dim > 0 && table.rope_dim % 2 == 0, "rope",
          "bad shape");
  if (rows == 0) return;
  require(x && pos && table.cos_sin, "rope", "x, pos and the table must be set");
  rope_kernel<<<rows, threads_for(heads * table.rope_dim / 2), 0, stream>>>(
      x, heads, row_stride, head_stride, offset, pos, table, interleaved);
  ENVFORGE_CUDA_CHECK_LAUNCH();
}

void index_vectors(const IndexVectorArgs& p, cudaStream_t stream) {
  require(p.rows >= 0 && p.heads > 0, "index_vectors", "bad shape");
  if (p.rows == 0) return;
  require(p.dim >= 2 && p.dim <= 128 && (p.dim & (p.dim - 1)) == 0, "index_vectors",
          "dim must be a power of two of at most 128, got " + std::to_string(p.dim));
  require(p.out_dim >= p.dim && p.table.rope_dim <= p.dim, "index_vectors",
          "out_dim must hold dim, and rope_dim fit in it");
  require(p.x && p.pos && p.out_codes && p.out_scale && p.table.cos_sin, "index_vectors",
          "x, pos, outputs and the rope table must be set");
  const bool paged = p.table_pages != nullptr;
  require(!paged || (p.heads == 1 && p.seq && p.page_size > 0 && p.max_pages > 0),
          "index_vectors", "a paged destination needs one head, seq and the page geometry");
  require(paged || p.out_heads >= p.heads, "index_vectors", "out_heads must be >= heads");
  const int blocks = p.rows * (paged ? 1 : p.out_heads);
  index_vectors_kernel<<<blocks, 128, 0, stream>>>(p);
  ENVFORGE_CUDA_CHECK_LAUNCH();
}

void index_weights(const float* w, int ld_w, int rows, int heads, float scale, int out_heads,
                   float* out, cudaStream_t stream) {
  require(rows >= 0 && heads > 0 && out_heads >= heads && ld_w >= heads, "index_weights",
          "bad shape");
  if (rows == 0) return;
  index_weights_kernel<<<rows, threads_for(out_heads), 0, stream>>>(w, ld_w, heads, scale,
                                                                    out_heads, out);
  ENVFORGE_CUDA_CHECK_LAUNCH();
}

void write_latent_rows(const KvWriteArgs& p, cudaStream_t stream) {
  require(p.rows >= 0 && p.kvl > 0 && p.kvl <= kVDim && p.table.rope_dim > 0 &&
              p.table.rope_dim <= kQkDim - kVDim,
          "write_latent_rows", "kv_lora_rank must be <= 512 and the rope dim <= 64");
  if (p.rows == 0) return;
  require(p.kv && p.norm_w && p.pos && p.seq && p.table_pages && p.kv_pages && p.page_size > 0,
          "write_latent_rows", "inputs, page table and pages must be set");
  write_latent_kernel<<<p.rows, 256, 0, stream>>>(p);
  ENVFORGE_CUDA_CHECK_LAUNCH();
}

void split_query(const float* q, long ld_q, int rows, int heads, int nope, int kvl, const int32_t* pos,
                 const RopeTable& table, __nv_bfloat16* q_nope, __nv_bfloat16* q_abs,
                 int q_abs_heads, cudaStream_t stream) {
  require(rows >= 0 && heads > 0 && q_abs_heads >= heads && kvl <= kVDim &&
              table.rope_dim <= kQkDim - kVDim,
          "split_query", "bad shape");
  if (rows == 0) return;
  require(ld_q >= long(heads) * (nope + table.rope_dim), "split_query", "ld_q too small");
  split_query_kernel<<<rows * q_abs_heads, 128, 0, stream>>>(q, ld_q, heads, nope, kvl, pos, table,
                                                             q_nope, q_abs, q_abs_heads);
  ENVFORGE_CUDA_CHECK_LAUNCH();
}

void silu_mul(const float* gu, int ld_gu, int rows, int inter, __nv_bfloat16* out,
              cudaStream_t stream) {
  require(rows >= 0 && inter > 0 && ld_gu >= 2 * inter, "silu_mul", "bad shape");
  if (rows == 0) return;
  silu_mul_kernel<<<rows, threads_for(inter), 0, stream>>>(gu, ld_gu, inter, out);
  ENVFORGE_CUDA_CHECK_LAUNCH();
}

void embed_rows(const void* table, bool table_f32, const int32_t* tokens, int rows, int d,
                float* out, cudaStream_t stream) {
  require(rows >= 0 && d > 0, "embed_rows", "bad shape");
  if (rows == 0) return;
  embed_kernel<<<rows, threads_for(d), 0, stream>>>(table, table_f32, tokens, d, out);
  ENVFORGE_CUDA_CHECK_LAUNCH();
}

void gather_rows(const float* src, const int32_t* rows_idx, int rows, int d, float* out,
                 cudaStream_t stream) {
  require(rows >= 0 && d > 0, "gather_rows", "bad shape");
  if (rows == 0) return;
  gather_kernel<<<rows, threads_for(d), 0, stream>>>(src, rows_idx, d, out);
  ENVFORGE_CUDA_CHECK_LAUNCH();
}

}  // namespace envforge::engine::gpu
