#include "model/gpu/gpu_runner.h"

#include <cuda_runtime.h>

#include <stdexcept>

namespace envforge::model::gpu {

namespace {

// One holder of a GPU cache block; the block is released when the last reference goes.
struct GpuPageRef : SharedPage {
  GpuPageRef(GpuModel* m, int32_t p) : model(m), page(p) { model->retain_page(page); }
  ~GpuPageRef() override { model->release_page(page); }
  GpuModel* model;
  int32_t page;
};

}  // namespace

bool gpu_available() {
  int n = 0;
  return cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
}

GpuRunner::GpuRunner(std::unique_ptr<GpuModel> model) : model_(std::move(model)) {
  if (!model_) throw std::invalid_argument("GpuRunner: no model");
}

std::unique_ptr<GpuRunner> GpuRunner::load(const std::string& dir, const GpuModelOptions& opt) {
  return std::make_unique<GpuRunner>(GpuModel::load(dir, opt));
}

int GpuRunner::new_sequence(const std::vector<PageRef>& prefix) {
  std::vector<int32_t> ids;
  for (const PageRef& r : prefix) {
    auto* g = dynamic_cast<const GpuPageRef*>(r.get());
    if (!g || g->model != model_.get())
      throw std::invalid_argument("GpuRunner::new_sequence: a prefix page of another runner");
    ids.push_back(g->page);
  }
  return model_->new_sequence(ids);
}

std::vector<PageRef> GpuRunner::pages(int seq, int n) {
  const std::vector<int32_t> ids = model_->pages(seq);
  if (n < 0 || n > static_cast<int>(ids.size()) ||
      static_cast<long>(n) * page_size() > model_->length(seq))
    throw std::invalid_argument("GpuRunner::pages: " + std::to_string(n) + " full pages asked of a " +
                                std::to_string(model_->length(seq)) + "-token sequence");
  std::vector<PageRef> out;
  for (int i = 0; i < n; ++i) out.push_back(std::make_shared<GpuPageRef>(model_.get(), ids[i]));
  return out;
}

std::span<const float> GpuRunner::forward(std::span<const RunnerItem> items) {
  std::vector<GpuBatchItem> batch;
  batch.reserve(items.size());
  for (const RunnerItem& it : items) batch.push_back({it.seq, TokenView(it.tokens.data(), it.tokens.size())});
  const HostLogits v = model_->forward_view(batch.data(), batch.size());
  return {v.data, v.size};
}

}  // namespace envforge::model::gpu
