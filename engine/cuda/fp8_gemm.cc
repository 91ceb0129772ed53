#include "engine/cuda/fp8_gemm.h"

#include <cstdint>
#include <stdexcept>
#include <string>

#include "engine/cuda/cublas_api.h"
#include "engine/cuda/cuda_check.h"

namespace envforge::engine::gpu {

namespace {

void check_lt(cublasStatus_t st, const char* what) {
  if (st != CUBLAS_STATUS_SUCCESS)
    throw std::runtime_error(std::string("cuBLASLt error: ") + what + ": " +
                             cublas_api().cublasGetStatusString(st));
}

template <class T>
void set_attr(cublasLtMatmulDesc_t d, cublasLtMatmulDescAttributes_t a, const T& v) {
  check_lt(cublas_api().cublasLtMatmulDescSetAttribute(d, a, &v, sizeof(v)), "cublasLtMatmulDescSetAttribute");
}

}  // namespace

std::vector<float> fp8_block_scales(const float* block_scales, int rows, int cols) {
  const int kb = (cols + kFp8Block - 1) / kFp8Block, kbp = fp8_padded_k(cols) / kFp8Block;
  const int rb = (rows + kFp8Block - 1) / kFp8Block;
  std::vector<float> out(size_t(rb) * kbp, 1.f);
  for (int i = 0; i < rb; ++i)
    for (int b = 0; b < kb; ++b) out[size_t(i) * kbp + b] = block_scales[size_t(i) * kb + b];
  return out;
}

namespace {
// Largest power of two (16..256) dividing the address: cuBLASLt picks kernels by it.
int alignment_of(const void* p) {
  const uintptr_t a = reinterpret_cast<uintptr_t>(p);
  int al = 256;
  while (al > 16 && a % al != 0) al /= 2;
  return al;
}
}  // namespace

Fp8Gemm::Fp8Gemm(cudaStream_t stream, int max_n, int max_k, size_t workspace_bytes)
    : stream_(stream), workspace_bytes_(workspace_bytes), max_n_(max_n), max_k_(max_k) {
  if (max_n <= 0 || max_k <= 0) throw std::invalid_argument("Fp8Gemm: max_n and max_k must be > 0");
  check_lt(cublas_api().cublasLtCreate(&handle_), "cublasLtCreate");
  try {
    const size_t kp = size_t(fp8_padded_k(max_k)), n4 = size_t(max_n + 3) / 4 * 4;
    ENVFORGE_CUDA_CHECK(cudaMalloc(&workspace_, workspace_bytes));
    ENVFORGE_CUDA_CHECK(cudaMalloc(&act_q_, n4 * kp));
    ENVFORGE_CUDA_CHECK(cudaMalloc(&act_s_, n4 * (kp / kFp8Block) * sizeof(float)));
  } catch (...) {
    cudaFree(workspace_);
    cudaFree(act_q_);
    cublas_api().cublasLtDestroy(handle_);
    throw;
  }
}

Fp8Gemm::~Fp8Gemm() {
  for (auto& [key, p] : plans_) {
    if (p.a) cublas_api().cublasLtMatrixLayoutDestroy(p.a);
    if (p.b) cublas_api().cublasLtMatrixLayoutDestroy(p.b);
    if (p.c) cublas_api().cublasLtMatrixLayoutDestroy(p.c);
    if (p.desc) cublas_api().cublasLtMatmulDescDestroy(p.desc);
  }
  cudaFree(scratch_);
  cudaFree(act_s_);
  cudaFree(act_q_);
  cudaFree(workspace_);
  cublas_api().cublasLtDestroy(handle_);
}

// The product in cuBLASLt's column-major terms, TN (the FP8 layout Hopper requires): A = weight
// codes stored [k_pad x m] with 128x128 block scales, B = activation codes stored [k_pad x n4]
// with 1x128 scales ([k_pad/128][n4], each k-block's vector 16-byte aligned: n4 = n rounded up
// to 4, padded tokens all zero), D [m x n4] column-major = y row-major. D goes straight into y
// when n is a multiple of 4 and nothing is accumulated; otherwise into a float scratch [n4][m]
// from which a small kernel writes the n rows (adding beta * y).
Fp8Gemm::Plan& Fp8Gemm::plan(int m, int n, int k_pad, OutType y_type, int ld_y, bool accumulate,
                             int y_align) {
  const int n4 = (n + 3) / 4 * 4;
  const bool direct = n4 == n && !accumulate;
  const Key key{m, n4, k_pad, int(y_type), direct ? ld_y : m, direct, direct ? y_align : 256};
  auto it = plans_.find(key);
  if (it != plans_.end()) return it->second;
  Plan p;
  p.direct = direct;
  p.name = direct ? "into y" : "f32 scratch, then written into y";
  check_lt(cublas_api().cublasLtMatmulDescCreate(&p.desc, CUBLAS_COMPUTE_32F, CUDA_R_32F),
           "cublasLtMatmulDescCreate");
  set_attr(p.desc, CUBLASLT_MATMUL_DESC_TRANSA, CUBLAS_OP_T);
  set_attr(p.desc, CUBLASLT_MATMUL_DESC_TRANSB, CUBLAS_OP_N);
  const int32_t blk = CUBLASLT_MATMUL_MATRIX_SCALE_BLK128x128_32F;
  const int32_t vec128 = CUBLASLT_MATMUL_MATRIX_SCALE_VEC128_32F;
  set_attr(p.desc, CUBLASLT_MATMUL_DESC_A_SCALE_MODE, blk);
  set_attr(p.desc, CUBLASLT_MATMUL_DESC_B_SCALE_MODE, vec128);
  // the heuristic rejects block-scaled operands without scale pointers: any device address
  // stands in for the real ones, which are set per call
  const void* any_scale = act_s_;
  set_attr(p.desc, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, any_scale);
  set_attr(p.desc, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, any_scale);
  const cudaDataType_t dt = !direct || y_type == OutType::kF32 ? CUDA_R_32F : CUDA_R_16BF;
  check_lt(cublas_api().cublasLtMatrixLayoutCreate(&p.a, CUDA_R_8F_E4M3, k_pad, m, k_pad), "layout A");
  check_lt(cublas_api().cublasLtMatrixLayoutCreate(&p.b, CUDA_R_8F_E4M3, k_pad, n4, k_pad), "layout B");
  check_lt(cublas_api().cublasLtMatrixLayoutCreate(&p.c, dt, m, n4, direct ? ld_y : m), "layout C");
  cublasLtMatmulPreference_t pref = nullptr;
  check_lt(cublas_api().cublasLtMatmulPreferenceCreate(&pref), "cublasLtMatmulPreferenceCreate");
  cublas_api().cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                       &workspace_bytes_, sizeof(workspace_bytes_));
  const uint32_t align = direct ? uint32_t(y_align) : 256u;
  cublas_api().cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &align,
                                       sizeof(align));
  cublas_api().cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &align,
                                       sizeof(align));
  cublasLtMatmulHeuristicResult_t res{};
  int found = 0;
  const cublasStatus_t st =
      cublas_api().cublasLtMatmulAlgoGetHeuristic(handle_, p.desc, p.a, p.b, p.c, p.c, pref, 1, &res, &found);
  cublas_api().cublasLtMatmulPreferenceDestroy(pref);
  p.ok = st == CUBLAS_STATUS_SUCCESS && found > 0;
  if (p.ok) p.algo = res.algo;
  p.tried = std::string(cublas_api().cublasGetStatusName(st)) + "/" + std::to_string(found);
  return plans_.emplace(key, p).first->second;
}

std::string Fp8Gemm::describe(int m, int n, int k_pad, OutType y_type, int ld_y) {
  const Plan& p = plan(m, n, k_pad, y_type, ld_y, false, 256);
  return p.ok ? p.name : "no cuBLASLt kernel (heuristic " + p.tried + ")";
}

void Fp8Gemm::ensure_scratch(size_t bytes) {
  if (bytes <= scratch_bytes_) return;
  cudaStreamCaptureStatus cs = cudaStreamCaptureStatusNone;
  ENVFORGE_CUDA_CHECK(cudaStreamIsCapturing(stream_, &cs));
  if (cs != cudaStreamCaptureStatusNone)
    throw std::runtime_error("Fp8Gemm: transposition scratch must grow during a graph capture "
                             "(call supports() for every shape first)");
  ENVFORGE_CUDA_CHECK(cudaStreamSynchronize(stream_));
  cudaFree(scratch_);
  scratch_ = nullptr;
  scratch_bytes_ = 0;
  ENVFORGE_CUDA_CHECK(cudaMalloc(&scratch_, bytes));
  scratch_bytes_ = bytes;
}

bool Fp8Gemm::supports(int m, int n, int k_pad, OutType y_type, int ld_y, bool accumulate,
                       int y_align) {
  if (m <= 0 || n <= 0 || k_pad <= 0 || k_pad % kFp8KAlign != 0 || ld_y < m) return false;
  const Plan& p = plan(m, n, k_pad, y_type, ld_y, accumulate, y_align);
  if (p.ok && !p.direct) ensure_scratch(size_t(n + 3) / 4 * 4 * m * sizeof(float));
  return p.ok;
}

void Fp8Gemm::linear(const __nv_bfloat16* x, int ld_x, int n, const Fp8Matrix& w, void* y,
                     OutType y_type, int ld_y, float beta) {
  if (n < 0 || n > max_n_ || w.cols > max_k_ || w.cols <= 0 || ld_x < w.cols)
    throw std::invalid_argument("Fp8Gemm::linear: n=" + std::to_string(n) + " (max " +
                                std::to_string(max_n_) + "), k=" + std::to_string(w.cols) +
                                " (max " + std::to_string(max_k_) + ")");
  if (n == 0) return;
  fp8_quantize_activations(x, ld_x, n, w.cols, act_q_, act_s_, stream_);
  linear_quantized(act_q_, act_s_, n, w, y, y_type, ld_y, beta);
}

void Fp8Gemm::linear_quantized(const uint8_t* q, const float* s, int n, const Fp8Matrix& w,
                               void* y, OutType y_type, int ld_y, float beta) {
  if (n < 0 || w.rows <= 0 || w.k_pad != fp8_padded_k(w.cols) || ld_y < w.rows)
    throw std::invalid_argument("Fp8Gemm::linear: bad shape m=" + std::to_string(w.rows) +
                                " k=" + std::to_string(w.cols) + " ld_y=" + std::to_string(ld_y));
  if (n == 0) return;
  Plan& p = plan(w.rows, n, w.k_pad, y_type, ld_y, beta != 0.f, alignment_of(y));
  if (!p.ok)
    throw std::runtime_error("Fp8Gemm::linear: cuBLASLt has no FP8 algorithm for m=" +
                             std::to_string(w.rows) + " n=" + std::to_string(n) +
                             " k=" + std::to_string(w.k_pad) + " ld_y=" + std::to_string(ld_y));
  set_attr(p.desc, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, static_cast<const void*>(w.scales));
  set_attr(p.desc, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, static_cast<const void*>(s));
  const float alpha = 1.f, zero = 0.f;
  const int n4 = (n + 3) / 4 * 4;
  void* d = y;
  if (!p.direct) {
    ensure_scratch(size_t(n4) * w.rows * sizeof(float));
    d = scratch_;
  }
  check_lt(cublas_api().cublasLtMatmul(handle_, p.desc, &alpha, w.codes, p.a, q, p.b, &zero, d, p.c, d, p.c,
                          &p.algo, workspace_, workspace_bytes_, stream_),
           "cublasLtMatmul (fp8 linear)");
  if (!p.direct)
    fp8_scatter_out(static_cast<const float*>(scratch_), w.rows, 1, n, w.rows, y, y_type, ld_y,
                    beta, stream_);
}

}  // namespace envforge::engine::gpu
