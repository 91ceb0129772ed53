// Where a position lies in a paged cache: its page and its offset within the page. The page
// size is a kernel argument, so the compiler cannot turn the division into a shift; a power of
// two (the usual case) is found by shift here, any other size by division. Device code only.
#pragma once

namespace envforge::engine::gpu {

struct PageMath {
  int size = 0;
  int shift = -1;  // log2(size) when a power of two
  __device__ __forceinline__ explicit PageMath(int page_size) : size(page_size) {
    if ((page_size & (page_size - 1)) == 0) shift = __ffs(page_size) - 1;
  }
  __device__ __forceinline__ int page(int pos) const {
    return shift >= 0 ? pos >> shift : pos / size;
  }
  __device__ __forceinline__ int offset(int pos, int page) const { return pos - page * size; }
};

}  // namespace envforge::engine::gpu
