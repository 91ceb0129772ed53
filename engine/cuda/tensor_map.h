// Tensor maps: the descriptors of global tensors that Hopper's tensor copies (TMA) read boxes
// of, encoded through the CUDA driver's entry point.
#pragma once

#include <cuda.h>

namespace envforge::engine::gpu {

// A rank-dimensional tensor at base (dims innermost first, byte strides of dims 1..rank-1),
// copied in boxes of box elements per dim, unit element strides, no interleave, the given
// swizzle, 256-byte L2 promotion; coordinates outside it read as zeros. Throws naming `what`
// when the driver rejects the description.
CUtensorMap encode_tiled_map(CUtensorMapDataType type, int rank, const void* base,
                             const cuuint64_t* dims, const cuuint64_t* strides,
                             const cuuint32_t* box, CUtensorMapSwizzle swizzle, const char* what);

}  // namespace envforge::engine::gpu
