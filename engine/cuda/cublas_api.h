// cuBLAS and cuBLASLt, opened on first use instead of linked.
//
// Loading libcublasLt (half a gigabyte, with static constructors) costs about
// a third of a CPU-second, in every process that links it: every `envforge`
// command, every shard of a CPU-only synthesis job. Opened with dlopen when
// the first GPU GEMM is set up, only GPU runs pay for it.
//
// Calls go through the table: cublas_api().cublasLtMatmul(...). A function the
// engine starts using is added to one of the two lists below.
#pragma once

#include <cublasLt.h>
#include <cublas_v2.h>

namespace envforge::engine::gpu {

// The names are those of the headers, whose macros (cublasCreate ->
// cublasCreate_v2) also apply to the members and to the symbols looked up.
#define ENVFORGE_CUBLAS_FUNCTIONS(X) \
  X(cublasCreate)                    \
  X(cublasDestroy)                   \
  X(cublasSetStream)                 \
  X(cublasSetWorkspace)              \
  X(cublasSetMathMode)               \
  X(cublasGetStatusString)           \
  X(cublasGetStatusName)

#define ENVFORGE_CUBLASLT_FUNCTIONS(X)   \
  X(cublasLtCreate)                      \
  X(cublasLtDestroy)                     \
  X(cublasLtGetVersion)                  \
  X(cublasLtMatmul)                      \
  X(cublasLtMatmulDescCreate)            \
  X(cublasLtMatmulDescDestroy)           \
  X(cublasLtMatmulDescSetAttribute)      \
  X(cublasLtMatrixLayoutCreate)          \
  X(cublasLtMatrixLayoutDestroy)         \
  X(cublasLtMatmulPreferenceCreate)      \
  X(cublasLtMatmulPreferenceDestroy)     \
  X(cublasLtMatmulPreferenceSetAttribute) \
  X(cublasLtMatmulAlgoGetHeuristic)

struct CublasApi {
#define ENVFORGE_CUBLAS_MEMBER(name) decltype(&::name) name = nullptr;
  ENVFORGE_CUBLAS_FUNCTIONS(ENVFORGE_CUBLAS_MEMBER)
  ENVFORGE_CUBLASLT_FUNCTIONS(ENVFORGE_CUBLAS_MEMBER)
#undef ENVFORGE_CUBLAS_MEMBER
  // Overloaded in C++ (the header adds inline forms taking cudaDataType as
  // the compute type): the exported C functions, by their full types.
  cublasStatus_t (*cublasGemmEx)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int,
                                 const void*, const void*, cudaDataType, int, const void*, cudaDataType,
                                 int, const void*, void*, cudaDataType, int, cublasComputeType_t,
                                 cublasGemmAlgo_t) = nullptr;
  cublasStatus_t (*cublasGemmStridedBatchedEx)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int,
                                               int, int, const void*, const void*, cudaDataType, int,
                                               long long, const void*, cudaDataType, int, long long,
                                               const void*, void*, cudaDataType, int, long long, int,
                                               cublasComputeType_t, cublasGemmAlgo_t) = nullptr;
};

// The loaded table; the first call opens the libraries (from the library
// path, else the CUDA toolkit's directory this build found). Throws
// std::runtime_error naming the library or symbol when one cannot be loaded.
const CublasApi& cublas_api();

// Opens one shared library as the loader does (the library path, then the
// toolkit's directory); throws std::runtime_error naming it when neither has it.
void* open_cuda_library(const char* soname);

}  // namespace envforge::engine::gpu
