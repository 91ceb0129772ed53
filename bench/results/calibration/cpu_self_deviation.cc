// The CPU engine against itself on perturbed weights (perturb_weights.py), with the protocol of
// tests/engine_cuda/gpu_model_test.cc (three prompts of k+23, 7 and k-3 tokens, batched prefill,
// 12 greedy decode steps): median, sparse-row median, p90 and max of the per-row logit error.
// Build against a build directory's libraries, e.g.
//   g++ -std=c++20 -O2 -I. cpu_self_deviation.cc build/model/libenvforge_model.a \
//       build/engine/libenvforge_engine.a build/model/libenvforge_model_text.a \
//       -lspdlog -lfmt -lpcre2-8 -lpthread -o cpu_self_deviation
//   ./cpu_self_deviation model/checkpoints/tiny-moe-bf16 /tmp/pert/tiny-moe-bf16
#include <cstdio>
#include <random>
#include <cmath>
#include <algorithm>
#include "model/transformer.h"
using namespace envforge::model;
double row_err(const float* g, const float* w, int V){double d=0,m=0;for(int i=0;i<V;++i){d=std::max(d,(double)std::fabs(g[i]-w[i]));m=std::max(m,(double)std::fabs(w[i]));}return d/m;}
double q(std::vector<double> v,double f){std::sort(v.begin(),v.end());return v[std::min(v.size()-1,size_t(f*v.size()))];}
int main(int argc, char** argv) {
  auto a = Model::load(argv[1]); auto b = Model::load(argv[2]);
  const int V = a->config().vocab_size, k = a->config().index_topk;
  std::mt19937 rng(31); std::uniform_int_distribution<int> tok(0, V-1);
  std::vector<int> lens = {k+23, 7, k-3};
  std::vector<std::vector<int32_t>> P; std::vector<KvCache> ca, cb;
  for (int l : lens) { std::vector<int32_t> p(l); for (auto& t:p) t=tok(rng); P.push_back(p); ca.push_back(a->new_cache()); cb.push_back(b->new_cache()); }
  std::vector<BatchItem> ba, bb; for (size_t i=0;i<lens.size();++i){ba.push_back({&ca[i],P[i]}); bb.push_back({&cb[i],P[i]});}
  ForwardOptions all; all.all_logits=true;
  auto wa=a->forward(ba,all), wb=b->forward(bb,all);
  std::vector<double> e, es; size_t row=0;
  for (int l: lens) for (int p=0;p<l;++p,++row){double x=row_err(wb.data()+row*V,wa.data()+row*V,V); e.push_back(x); if(p+1>k) es.push_back(x);}
  std::vector<int32_t> nx(3); row=0; for(int i=0;i<3;++i){row+=lens[i]; const float* r=wa.data()+(row-1)*V; nx[i]=std::max_element(r,r+V)-r;}
  for (int s=0;s<12;++s){ std::vector<BatchItem> x,y; for(int i=0;i<3;++i){x.push_back({&ca[i],{&nx[i],1}}); y.push_back({&cb[i],{&nx[i],1}});}
    auto la=a->forward(x,{}), lb=b->forward(y,{});
    for(int i=0;i<3;++i){double v=row_err(lb.data()+i*V,la.data()+i*V,V); e.push_back(v); if(ca[i].length()>k) es.push_back(v); const float* r=la.data()+i*V; nx[i]=std::max_element(r,r+V)-r;}}
  std::printf("%s median %.2e sparse median %.2e (%zu) p90 %.2e max %.2e\n", argv[1], q(e,.5), q(es,.5), es.size(), q(e,.9), q(e,1));
}
