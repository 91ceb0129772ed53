// bf16 matrix products through cuBLAS (fp32 accumulation) for the linear layers of the GPU
// model: one handle bound to one stream, with its own workspace so that products can be
// captured into CUDA graphs.
#pragma once

#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstddef>

namespace envforge::engine::gpu {

enum class OutType { kF32, kBf16 };

class Blas {
 public:
  explicit Blas(cudaStream_t stream, size_t workspace_bytes = size_t(32) << 20);
  ~Blas();
  Blas(const Blas&) = delete;
  Blas& operator=(const Blas&) = delete;

  // Row-major linear layer: y[r][c] = sum_k x[r][k] * w[c][k] (+ beta * y[r][c]) for r < n,
  // c < m; x bf16 with rows ld_x apart, w bf16 [m][k] dense, y f32 or bf16 rows ld_y apart.
  void linear(const __nv_bfloat16* x, int ld_x, const __nv_bfloat16* w, int n, int m, int k,
              void* y, OutType y_type, int ld_y, float beta = 0.f);

  // Column-major strided batched product C_b = op(A_b) op(B_b) (+ beta C_b) for b < batch;
  // A and B bf16, C f32 or bf16 (cuBLAS conventions).
  void batched(bool trans_a, bool trans_b, int m, int n, int k, const __nv_bfloat16* a, int lda,
               long stride_a, const __nv_bfloat16* b, int ldb, long stride_b, void* c,
               OutType c_type, int ldc, long stride_c, int batch, float beta = 0.f);

  cudaStream_t stream() const { return stream_; }

 private:
  cublasHandle_t handle_ = nullptr;
  cudaStream_t stream_ = nullptr;
  void* workspace_ = nullptr;
};

}  // namespace envforge::engine::gpu
