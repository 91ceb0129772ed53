// Internal state of GpuModel: device weights, paged caches, step buffers, graphs.
#pragma once

#include <cuda_runtime.h>

#include <map>
#include <memory>
#include <tuple>
#include <vector>

#include "engine/cuda/fp8_gemm.h"
#include "engine/cuda/gemm.h"
#include "engine/cuda/layer_kernels.h"
#include "model/gpu/gpu_model.h"
#include "model/gpu/gpu_phase_timer.h"
#include "model/gpu/gpu_weights.h"

namespace envforge::model::gpu {

// Shapes of one forward step; a decode graph is keyed by them.
struct StepShape {
  int n = 0;        // tokens
  int rows = 0;     // logit rows
  bool sparse = false;
  int span = 0;     // indexer columns (sparse) or dense row bound, a power-of-two bucket
  auto key() const { return std::make_tuple(n, rows, sparse, span); }
};

struct GpuModel::Impl {
  ModelConfig cfg;
  GpuModelOptions opt;
  GpuWeights w;
  cudaStream_t stream = nullptr;
  std::unique_ptr<engine::gpu::Blas> blas;
  std::unique_ptr<engine::gpu::Fp8Gemm> fp8;  // only when some weight is FP8
  GpuModelStats stats;

  // derived sizes
  int d = 0, H = 0, Hp = 0, nope = 0, rope = 0, qkd = 0, kvl = 0, vd = 0, IH = 0, ID = 0;
  int wa = 0, wb = 0, max_pages = 0, num_pages = 0, max_inter = 0, K = 0, E = 0, mi = 0;
  float softmax_scale = 0.f, index_weight_scale = 0.f;

  // paged caches, one set per layer
  std::vector<DeviceArray<__nv_bfloat16>> kv_pages;
  std::vector<DeviceArray<uint8_t>> key_pages;
  std::vector<DeviceArray<float>> key_scales;
  DeviceArray<float2> rope_table;
  engine::gpu::RopeTable rope_tab;

  // sequences and blocks
  struct Seq {
    bool alive = false;
    int length = 0;
    std::vector<int32_t> pages;
  };
  std::vector<Seq> seqs;
  std::vector<int32_t> free_pages;
  std::vector<int32_t> page_refs;   // holders of each block (0 = free)
  std::vector<int32_t> table_host;  // [max_seqs][max_pages]

  // step inputs: a pinned host block and its device copy, copied in one transfer
  int32_t* in_host = nullptr;
  DeviceArray<int32_t> in_dev;
  int32_t* tokens = nullptr;  // device views into in_dev
  int32_t* pos = nullptr;
  int32_t* seq_of = nullptr;
  int32_t* qlen = nullptr;
  int32_t* out_rows = nullptr;
  int32_t* table = nullptr;
  size_t in_count = 0;

  // activations (capacity max_step_tokens)
  DeviceArray<float> h, xn, a_out, b_out, scores, q8_scale, iwt, gu, logits, sel, mla_ws;
  DeviceArray<__nv_bfloat16> xn_bf, qr_bf, q_nope, q_abs, olat, ocat, act, sel_bf;
  DeviceArray<uint8_t> q8;
  DeviceArray<int32_t> idx;
  // MoE
  DeviceArray<int32_t> moe_ids;
  DeviceArray<float> moe_w, router_scores, gu_e, ye;
  DeviceArray<__nv_bfloat16> xs, act_e;
  DeviceArray<char> dispatch_buf;
  engine::gpu::MoeDispatch dispatch;
  size_t mla_ws_bytes = 0;

  // logits of the last forward in pinned host memory (grown on demand)
  float* logits_host = nullptr;
  size_t logits_host_floats = 0;
  std::unique_ptr<PhaseTimer> phases;  // while set_phase_timing(true)
  void phase(const char* name) {
    if (phases) phases->mark(name, stream);
  }

  // decode graphs: times each shape was seen, and the captured ones
  std::map<std::tuple<int, int, bool, int>, int> seen;
  std::map<std::tuple<int, int, bool, int>, cudaGraphExec_t> graphs;

  Impl() = default;
  ~Impl();
  void init(const ModelWeights& host_w);
  // Enqueues the whole forward of one step (inputs already in in_dev) on `stream`.
  void enqueue_step(const StepShape& s);
  void enqueue_attention(int layer, const StepShape& s);
  // y (rows ld_y apart, columns = w's rows) = x w^T (+ beta y), segment by segment.
  void linear(const __nv_bfloat16* x, int ld_x, const Linear& w, int n, void* y,
              engine::gpu::OutType y_type, int ld_y, float beta = 0.f);
  // Keeps an FP8 segment only where cuBLASLt runs it for every step size and the output
  // offset is aligned; otherwise converts it to bf16 on the device.
  void settle_fp8(Linear& w, engine::gpu::OutType y_type, int ld_y, bool accumulate);
  // Indexer vector prep arguments common to keys and queries (see gpu_step.cc).
  engine::gpu::IndexVectorArgs index_vector_args(const float* x, int row_stride, int rows,
                                                 int heads, uint8_t* codes, float* scales,
                                                 int out_heads) const;
  void enqueue_feed_forward(int layer, const StepShape& s);
  // Runs one step: uploads inputs, then replays/captures a graph or runs eagerly.
  void run_step(const StepShape& s, bool decode);
};

}  // namespace envforge::model::gpu
