#include "engine/cuda/gemm.h"

#include <stdexcept>
#include <string>

#include "engine/cuda/cublas_api.h"
#include "engine/cuda/cuda_check.h"

namespace envforge::engine::gpu {

namespace {

void check_blas(cublasStatus_t st, const char* what) {
  if (st != CUBLAS_STATUS_SUCCESS)
    throw std::runtime_error(std::string("cuBLAS error: ") + what + ": " +
                             cublas_api().cublasGetStatusString(st));
}

cudaDataType_t data_type(OutType t) { return t == OutType::kF32 ? CUDA_R_32F : CUDA_R_16BF; }

}  // namespace

Blas::Blas(cudaStream_t stream, size_t workspace_bytes) : stream_(stream) {
  check_blas(cublas_api().cublasCreate(&handle_), "cublasCreate");
  try {
    check_blas(cublas_api().cublasSetStream(handle_, stream), "cublasSetStream");
    ENVFORGE_CUDA_CHECK(cudaMalloc(&workspace_, workspace_bytes));
    check_blas(cublas_api().cublasSetWorkspace(handle_, workspace_, workspace_bytes), "cublasSetWorkspace");
    // Reproducible results between eager runs and graph replays.
    check_blas(cublas_api().cublasSetMathMode(handle_, CUBLAS_DEFAULT_MATH), "cublasSetMathMode");
  } catch (...) {
    if (workspace_) cudaFree(workspace_);
    cublas_api().cublasDestroy(handle_);
    throw;
  }
}

Blas::~Blas() {
  cublas_api().cublasDestroy(handle_);
  if (workspace_) cudaFree(workspace_);
}

void Blas::linear(const __nv_bfloat16* x, int ld_x, const __nv_bfloat16* w, int n, int m, int k,
                  void* y, OutType y_type, int ld_y, float beta) {
  if (n < 0 || m <= 0 || k <= 0 || ld_x < k || ld_y < m)
    throw std::invalid_argument("Blas::linear: bad shape n=" + std::to_string(n) +
                                " m=" + std::to_string(m) + " k=" + std::to_string(k));
  if (n == 0) return;
  // Column-major view: y^T [m x n] = w^T... i.e. C = op(A) B with A = w stored [k x m].
  const float alpha = 1.f;
  check_blas(cublas_api().cublasGemmEx(handle_, CUBLAS_OP_T, CUBLAS_OP_N, m, n, k, &alpha, w, CUDA_R_16BF, k,
                          x, CUDA_R_16BF, ld_x, &beta, y, data_type(y_type), ld_y,
                          CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
             "cublasGemmEx (linear)");
}

void Blas::batched(bool trans_a, bool trans_b, int m, int n, int k, const __nv_bfloat16* a,
                   int lda, long stride_a, const __nv_bfloat16* b, int ldb, long stride_b,
                   void* c, OutType c_type, int ldc, long stride_c, int batch, float beta) {
  if (m <= 0 || k <= 0 || n < 0 || batch < 0)
    throw std::invalid_argument("Blas::batched: bad shape");
  if (n == 0 || batch == 0) return;
  const float alpha = 1.f;
  check_blas(cublas_api().cublasGemmStridedBatchedEx(
                 handle_, trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, trans_b ? CUBLAS_OP_T : CUBLAS_OP_N,
                 m, n, k, &alpha, a, CUDA_R_16BF, lda, stride_a, b, CUDA_R_16BF, ldb, stride_b,
                 &beta, c, data_type(c_type), ldc, stride_c, batch, CUBLAS_COMPUTE_32F,
                 CUBLAS_GEMM_DEFAULT),
             "cublasGemmStridedBatchedEx");
}

}  // namespace envforge::engine::gpu
