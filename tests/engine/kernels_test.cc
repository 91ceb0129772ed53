// SIMD kernels, stored-dtype matmul and the thread pool.
#include <gtest/gtest.h>

#include <thread>

#include <atomic>
#include <cmath>
#include <cstring>
#include <random>
#include <stdexcept>

#include "engine/dtype.h"
#include "engine/matrix.h"
#include "engine/simd.h"
#include "engine/thread_pool.h"

namespace envforge::engine {
namespace {

class SimdLevels : public ::testing::TestWithParam<SimdLevel> {
 protected:
  void SetUp() override {
    saved_ = simd_level();
    if (static_cast<int>(GetParam()) > static_cast<int>(detected_simd_level()))
      GTEST_SKIP() << "CPU lacks " << simd_level_name(GetParam());
    set_simd_level(GetParam());
  }
  void TearDown() override { set_simd_level(saved_); }
  SimdLevel saved_{};
};

TEST_P(SimdLevels, DotAndAxpyMatchDoublePrecision) {
  std::mt19937 rng(1);
  std::normal_distribution<float> nd;
  for (int n : {0, 1, 7, 8, 31, 32, 33, 100, 577}) {
    std::vector<float> a(n), b(n), y(n), y0(n);
    for (int i = 0; i < n; ++i) a[i] = nd(rng), b[i] = nd(rng), y[i] = y0[i] = nd(rng);
    double want = 0;
    for (int i = 0; i < n; ++i) want += double(a[i]) * b[i];
    EXPECT_NEAR(dot(a.data(), b.data(), n), want, 1e-4 * (1 + std::sqrt(double(n)))) << n;
    axpy(0.5f, a.data(), y.data(), n);
    for (int i = 0; i < n; ++i) EXPECT_NEAR(y[i], y0[i] + 0.5 * a[i], 1e-6);
  }
}

TEST_P(SimdLevels, DecodersMatchScalarConversions) {
  std::vector<uint16_t> h(37);
  for (size_t i = 0; i < h.size(); ++i) h[i] = static_cast<uint16_t>(0x3C00 + i * 97);
  std::vector<float> out(h.size());
  decode_bf16(h.data(), out.data(), static_cast<int>(h.size()));
  for (size_t i = 0; i < h.size(); ++i) EXPECT_EQ(out[i], bf16_to_f32(h[i]));
  decode_f16(h.data(), out.data(), static_cast<int>(h.size()));
  for (size_t i = 0; i < h.size(); ++i) EXPECT_EQ(out[i], f16_to_f32(h[i]));
}

INSTANTIATE_TEST_SUITE_P(Levels, SimdLevels,
                         ::testing::Values(SimdLevel::Scalar, SimdLevel::Avx2, SimdLevel::Avx512));

// A matrix stored in `dtype`, with the float values it stands for.
struct Stored {
  std::vector<uint8_t> bytes, scales;
  std::vector<float> values;
  Matrix m;
};

Stored make_matrix(DType dtype, int rows, int cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd;
  Stored s;
  s.values.resize(size_t(rows) * cols);
  for (float& v : s.values) v = nd(rng);
  s.m.rows = rows;
  s.m.cols = cols;
  s.m.dtype = dtype;
  s.bytes.resize(s.values.size() * dtype_size(dtype));
  if (dtype == DType::F8_E4M3) {
    s.m.scale_rows = (rows + 127) / 128;
    s.m.scale_cols = (cols + 127) / 128;
    std::vector<float> sc(size_t(s.m.scale_rows) * s.m.scale_cols);
    for (size_t i = 0; i < sc.size(); ++i) sc[i] = 0.01f * (1 + i);
    s.scales.resize(sc.size() * 4);
    std::memcpy(s.scales.data(), sc.data(), s.scales.size());
    for (int r = 0; r < rows; ++r)
      for (int c = 0; c < cols; ++c) {
        const float scale = sc[(r / 128) * s.m.scale_cols + c / 128];
        const uint8_t code = f32_to_fp8_e4m3(s.values[r * cols + c] / scale);
        s.bytes[r * cols + c] = code;
        s.values[r * cols + c] = fp8_e4m3_to_f32(code) * scale;
      }
    s.m.scales = s.scales.data();
  } else {
    for (size_t i = 0; i < s.values.size(); ++i) {
      if (dtype == DType::F32) {
        std::memcpy(s.bytes.data() + 4 * i, &s.values[i], 4);
      } else {
        const uint16_t b = dtype == DType::BF16 ? f32_to_bf16(s.values[i]) : f32_to_f16(s.values[i]);
        std::memcpy(s.bytes.data() + 2 * i, &b, 2);
        s.values[i] = dtype == DType::BF16 ? bf16_to_f32(b) : f16_to_f32(b);
      }
    }
  }
  s.m.data = s.bytes.data();
  return s;
}

TEST(Matmul, EveryStoredDtypeMatchesItsDequantizedValues) {
  ThreadPool pool(3);
  for (DType dt : {DType::F32, DType::BF16, DType::F16, DType::F8_E4M3}) {
    const int rows = 200, cols = 300, n = 5;  // partial 128-blocks in both directions
    Stored s = make_matrix(dt, rows, cols, 7);
    std::vector<float> x(n * cols), y(n * rows);
    std::mt19937 rng(2);
    std::normal_distribution<float> nd;
    for (float& v : x) v = nd(rng);
    matmul(s.m, x.data(), n, y.data(), pool);
    for (int t = 0; t < n; ++t)
      for (int r = 0; r < rows; ++r) {
        double want = 0;
        for (int c = 0; c < cols; ++c) want += double(x[t * cols + c]) * s.values[r * cols + c];
        ASSERT_NEAR(y[t * rows + r], want, 1e-3 * (1 + std::fabs(want)))
            << dtype_name(dt) << " t=" << t << " r=" << r;
      }
  }
}

TEST(Matmul, ResultOfATokenDoesNotDependOnTheBatch) {
  ThreadPool pool(2);
  Stored s = make_matrix(DType::BF16, 64, 96, 3);
  std::vector<float> x(7 * 96), all(7 * 64), one(64);
  std::mt19937 rng(5);
  std::normal_distribution<float> nd;
  for (float& v : x) v = nd(rng);
  matmul(s.m, x.data(), 7, all.data(), pool);
  for (int t = 0; t < 7; ++t) {
    matmul(s.m, x.data() + t * 96, 1, one.data(), pool);
    EXPECT_EQ(0, std::memcmp(one.data(), all.data() + t * 64, 64 * sizeof(float))) << t;
  }
}

TEST(ThreadPool, CallersOnSeveralThreadsEachGetTheirWholeJob) {
  ThreadPool pool(3);
  std::vector<std::thread> callers;
  std::atomic<int> bad{0};
  for (int c = 0; c < 4; ++c)
    callers.emplace_back([&, c] {
      for (int round = 0; round < 30; ++round) {
        std::vector<std::atomic<int>> hits(500 + c);
        pool.parallel_for(static_cast<int64_t>(hits.size()), [&](int64_t b, int64_t e, int) {
          for (int64_t i = b; i < e; ++i) hits[i]++;
        });
        for (auto& h : hits) bad += h.load() != 1;
      }
    });
  for (auto& t : callers) t.join();
  EXPECT_EQ(bad.load(), 0);
}

TEST(ThreadPool, CoversEveryIndexOnceAndPropagatesErrors) {
  ThreadPool pool(4);
  EXPECT_EQ(pool.size(), 4);
  for (int round = 0; round < 50; ++round) {
    std::vector<std::atomic<int>> hits(1000);
    pool.parallel_for(1000, [&](int64_t b, int64_t e, int slot) {
      ASSERT_GE(slot, 0);
      ASSERT_LT(slot, 4);
      for (int64_t i = b; i < e; ++i) hits[i]++;
    });
    for (auto& h : hits) ASSERT_EQ(h.load(), 1);
  }
  EXPECT_THROW(pool.parallel_for(100, [](int64_t b, int64_t, int) {
    if (b >= 50) throw std::runtime_error("boom");
  }), std::runtime_error);
  int sum = 0;  // still usable after an error
  pool.parallel_for(10, [&](int64_t b, int64_t e, int) {
    static std::mutex mu;
    std::lock_guard<std::mutex> lock(mu);
    sum += static_cast<int>(e - b);
  });
  EXPECT_EQ(sum, 10);
  EXPECT_GE(ThreadPool::global().size(), 1);
}

}  // namespace
}  // namespace envforge::engine
