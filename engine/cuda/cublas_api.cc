#include "engine/cuda/cublas_api.h"

#include <dlfcn.h>

#include <stdexcept>
#include <string>

namespace envforge::engine::gpu {

namespace {

#define ENVFORGE_CUBLAS_STR2(x) #x
#define ENVFORGE_CUBLAS_STR(x) ENVFORGE_CUBLAS_STR2(x)

template <class Fn>
void resolve(void* library, const char* soname, const char* symbol, Fn& fn) {
  fn = reinterpret_cast<Fn>(dlsym(library, symbol));
  if (!fn) throw std::runtime_error(std::string(soname) + " has no " + symbol + " (another cuBLAS version?)");
}

CublasApi load() {
  CublasApi api;
  void* lt = open_cuda_library(ENVFORGE_CUBLASLT_SONAME);
  void* blas = open_cuda_library(ENVFORGE_CUBLAS_SONAME);
#define ENVFORGE_CUBLAS_RESOLVE(name) resolve(blas, ENVFORGE_CUBLAS_SONAME, ENVFORGE_CUBLAS_STR(name), api.name);
#define ENVFORGE_CUBLASLT_RESOLVE(name) resolve(lt, ENVFORGE_CUBLASLT_SONAME, ENVFORGE_CUBLAS_STR(name), api.name);
  ENVFORGE_CUBLAS_FUNCTIONS(ENVFORGE_CUBLAS_RESOLVE)
  ENVFORGE_CUBLAS_RESOLVE(cublasGemmEx)
  ENVFORGE_CUBLAS_RESOLVE(cublasGemmStridedBatchedEx)
  ENVFORGE_CUBLASLT_FUNCTIONS(ENVFORGE_CUBLASLT_RESOLVE)
#undef ENVFORGE_CUBLAS_RESOLVE
#undef ENVFORGE_CUBLASLT_RESOLVE
  return api;  // the libraries stay open for the life of the process
}

}  // namespace

void* open_cuda_library(const char* soname) {
  if (void* h = dlopen(soname, RTLD_NOW | RTLD_LOCAL)) return h;
  std::string first = dlerror();
  const std::string in_toolkit = std::string(ENVFORGE_CUDA_LIBRARY_DIR) + "/" + soname;
  if (void* h = dlopen(in_toolkit.c_str(), RTLD_NOW | RTLD_LOCAL)) return h;
  throw std::runtime_error(std::string("cannot load ") + soname +
                           ", which GPU GEMMs need (put the CUDA toolkit's library directory on "
                           "LD_LIBRARY_PATH): " + first);
}

const CublasApi& cublas_api() {
  static const CublasApi api = load();  // a failed load throws and is tried again next call
  return api;
}

}  // namespace envforge::engine::gpu
