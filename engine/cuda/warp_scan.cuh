// Prefix sums across the 32 lanes of a warp, for the kernels that hand out slots or ranges by
// lane order (top-k, the dense MLA kernel's cut of the queries). Device code only.
#pragma once

namespace envforge::engine::gpu {

// The sum of x over lanes 0..lane of the calling warp (all 32 lanes must call).
template <class T>
__device__ __forceinline__ T warp_inclusive_sum(T x) {
  const int lane = threadIdx.x & 31;
#pragma unroll
  for (int d = 1; d < 32; d <<= 1) {
    const T y = __shfl_up_sync(0xffffffffu, x, d);
    if (lane >= d) x += y;
  }
  return x;
}

}  // namespace envforge::engine::gpu
