// Programmatic dependent launch (compute capability 9.0): a kernel that only reads what the
// kernel before it in the stream wrote, such as a merge pass, is launched before that one ends.
// Its blocks wait in wait_for_prior_grid() for the earlier kernel to finish and its writes to
// be visible, so the launch latency between the two kernels overlaps the earlier kernel's work.
#pragma once

#include <cuda_runtime.h>

#include <utility>

#include "engine/cuda/cuda_check.h"

namespace envforge::engine::gpu {

// In the earlier kernel: its dependent may be launched now (once every block has called this
// or exited) rather than at its end.
__device__ __forceinline__ void allow_dependent_launch() {
  asm volatile("griddepcontrol.launch_dependents;\n" ::: "memory");
}
// In the dependent kernel, before its first read of the earlier kernel's output.
__device__ __forceinline__ void wait_for_prior_grid() {
  asm volatile("griddepcontrol.wait;\n" ::: "memory");
}

// kernel<<<grid, block, 0, stream>>>(args...), as a dependent launch.
template <typename... Params, typename... Args>
void launch_dependent(void (*kernel)(Params...), dim3 grid, dim3 block, cudaStream_t stream,
                      Args&&... args) {
  cudaLaunchAttribute attr{};
  attr.id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attr.val.programmaticStreamSerializationAllowed = 1;
  cudaLaunchConfig_t config{};
  config.gridDim = grid;
  config.blockDim = block;
  config.stream = stream;
  config.attrs = &attr;
  config.numAttrs = 1;
  ENVFORGE_CUDA_CHECK(cudaLaunchKernelEx(&config, kernel, std::forward<Args>(args)...));
}

}  // namespace envforge::engine::gpu
