// cuBLAS is opened on first use: the table loads without a GPU, every entry
// resolves to the library's own function, and the library is not linked.
#include "engine/cuda/cublas_api.h"

#include <dlfcn.h>
#include <gtest/gtest.h>
#include <link.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

namespace envforge::engine::gpu {
namespace {

TEST(CublasApi, EveryFunctionResolvesWithoutAGpu) {
  const CublasApi& api = cublas_api();
#define ENVFORGE_EXPECT_LOADED(name) EXPECT_NE(api.name, nullptr) << #name;
  ENVFORGE_CUBLAS_FUNCTIONS(ENVFORGE_EXPECT_LOADED)
  ENVFORGE_CUBLASLT_FUNCTIONS(ENVFORGE_EXPECT_LOADED)
#undef ENVFORGE_EXPECT_LOADED
  EXPECT_NE(api.cublasGemmEx, nullptr);
  EXPECT_NE(api.cublasGemmStridedBatchedEx, nullptr);
  // Built against this major version: the loaded library reports it.
  EXPECT_EQ(api.cublasLtGetVersion() / 10000, static_cast<size_t>(CUBLAS_VER_MAJOR));
  EXPECT_STREQ(api.cublasGetStatusName(CUBLAS_STATUS_NOT_INITIALIZED), "CUBLAS_STATUS_NOT_INITIALIZED");
  // The same table on every call.
  EXPECT_EQ(&cublas_api(), &api);
}

// A library that is nowhere to be found: the error names it and says where
// it was looked for, instead of a crash on the first GEMM.
TEST(CublasApi, AMissingLibraryIsAnErrorNamingIt) {
  try {
    open_cuda_library("libenvforge-no-such-blas.so.1");
    FAIL() << "a missing library was opened";
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("cannot load libenvforge-no-such-blas.so.1"), std::string::npos) << what;
    EXPECT_NE(what.find("LD_LIBRARY_PATH"), std::string::npos) << what;
  }
}

// Not a dependency of the program (its DT_NEEDED entries): only a process
// that sets up a GPU GEMM loads the library and pays for its start-up.
TEST(CublasApi, TheProgramDoesNotLinkCublas) {
  std::vector<std::string> needed;
  dl_iterate_phdr(
      [](dl_phdr_info* info, size_t, void* out) {
        if (info->dlpi_name && info->dlpi_name[0]) return 0;  // the program is the nameless entry
        for (int i = 0; i < info->dlpi_phnum; ++i) {
          if (info->dlpi_phdr[i].p_type != PT_DYNAMIC) continue;
          auto* dyn = reinterpret_cast<const ElfW(Dyn)*>(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
          const char* strtab = nullptr;
          for (auto* d = dyn; d->d_tag != DT_NULL; ++d)
            if (d->d_tag == DT_STRTAB) strtab = reinterpret_cast<const char*>(d->d_un.d_ptr);
          for (auto* d = dyn; strtab && d->d_tag != DT_NULL; ++d)
            if (d->d_tag == DT_NEEDED) static_cast<std::vector<std::string>*>(out)->push_back(strtab + d->d_un.d_val);
        }
        return 1;
      },
      &needed);
  // The C library is needed by any program: the list was read.
  ASSERT_NE(std::find(needed.begin(), needed.end(), "libc.so.6"), needed.end());
  for (const std::string& lib : needed) EXPECT_EQ(lib.find("libcublas"), std::string::npos) << lib;
}

}  // namespace
}  // namespace envforge::engine::gpu
