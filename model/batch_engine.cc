#include "model/batch_engine.h"

#include <algorithm>
#include <chrono>
#include <stdexcept>

#include "engine/sampler.h"

namespace envforge::model {

namespace {
using EngineClock = std::chrono::steady_clock;
double engine_seconds(EngineClock::time_point a, EngineClock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}
}  // namespace

struct BatchEngine::Request {
  Request(GenerationRequest rq, TokenCallback cb)
      : req(std::move(rq)), on_token(std::move(cb)), sampler(req.sampling), forced(req.forced) {}
  GenerationRequest req;
  TokenCallback on_token;
  DoneCallback on_done;
  engine::Sampler sampler;
  ForcedCursor forced;
  std::promise<GenerationResult> promise;
  GenerationResult result;
  int seq = -1;
  std::vector<int32_t> fed;  // tokens in the sequence's cache (prompt, then generated)
  size_t prompt_done = 0;    // prompt tokens in the cache
  bool has_next = false;     // a sampled token waits to be fed
  int32_t next = 0;
  size_t cached_pages = 0;   // full pages already offered to the prefix cache
  EngineClock::time_point admitted, first_token;
  bool prefilled() const { return prompt_done == req.prompt.size(); }
};

BatchEngine::BatchEngine(std::unique_ptr<SequenceRunner> runner, EngineOptions options)
    : runner_(std::move(runner)),
      options_(std::move(options)),
      prefix_(runner_ ? runner_->page_size() : 1, options_.prefix_cache_pages) {
  if (!runner_) throw std::invalid_argument("BatchEngine: no runner");
  if (options_.max_step_tokens < 0 || options_.prefill_chunk < 0)
    throw std::invalid_argument("BatchEngine: max_step_tokens and prefill_chunk must not be negative");
  step_tokens_ = options_.max_step_tokens > 0 ? options_.max_step_tokens : runner_->max_step_tokens();
  chunk_ = options_.prefill_chunk > 0 ? std::min(options_.prefill_chunk, step_tokens_) : step_tokens_;
  scheduler_ = std::thread([this] { run(); });
}

BatchEngine::~BatchEngine() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  scheduler_.join();
}

std::future<GenerationResult> BatchEngine::submit(GenerationRequest request, TokenCallback on_token,
                                                  DoneCallback on_done) {
  const ModelConfig& c = runner_->config();
  if (request.prompt.empty()) throw std::invalid_argument("BatchEngine: the prompt is empty");
  for (int32_t t : request.prompt)
    if (t < 0 || t >= c.vocab_size)
      throw std::invalid_argument("BatchEngine: prompt token id " + std::to_string(t) +
                                  " outside the vocabulary of " + std::to_string(c.vocab_size));
  if (static_cast<int64_t>(request.prompt.size()) > runner_->max_context())
    throw std::invalid_argument("BatchEngine: the prompt is " + std::to_string(request.prompt.size()) +
                                " tokens, the context is " + std::to_string(runner_->max_context()));
  if (!request.stop_strings.empty() && !options_.detokenize)
    throw std::invalid_argument("BatchEngine: stop strings need a detokenizer");
  for (int32_t t : request.forced.tokens)
    if (t < 0 || t >= c.vocab_size) throw std::invalid_argument("BatchEngine: forced token id outside the vocabulary");
  if (request.top_logprobs < -1 || request.top_logprobs > kMaxTopLogprobs)
    throw std::invalid_argument("BatchEngine: top_logprobs must be -1.." + std::to_string(kMaxTopLogprobs));
  auto r = std::make_unique<Request>(std::move(request), std::move(on_token));  // checks sampling
  r->on_done = std::move(on_done);
  std::future<GenerationResult> f = r->promise.get_future();
  {
    std::lock_guard lock(mu_);
    if (stopping_) throw std::runtime_error("BatchEngine: shutting down");
    queue_.push_back(std::move(r));
  }
  wake_.notify_one();
  return f;
}

GenerationResult BatchEngine::generate(GenerationRequest request, TokenCallback on_token) {
  return submit(std::move(request), std::move(on_token)).get();
}

EngineStats BatchEngine::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

void BatchEngine::run() {
  std::vector<std::unique_ptr<Request>> active;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty() || !active.empty(); });
      if (stopping_) {
        for (auto& r : queue_) active.push_back(std::move(r));
        queue_.clear();
        break;
      }
    }
    admit(active);
    if (!active.empty()) step(active);
  }
  const auto err = std::make_exception_ptr(std::runtime_error("BatchEngine: shut down"));
  for (auto& r : active) fail(*r, err);
  prefix_.clear();
}

bool BatchEngine::admit(std::vector<std::unique_ptr<Request>>& active) {
  bool any = false;
  for (;;) {
    if (static_cast<int>(active.size()) >= runner_->max_sequences()) return any;
    std::unique_ptr<Request> r;
    {
      std::lock_guard lock(mu_);
      // The first queued request that does not wait for a running prompt it shares pages with.
      auto it = std::find_if(queue_.begin(), queue_.end(),
                             [&](const std::unique_ptr<Request>& q) { return !waits_for_prefix(*q, active); });
      if (it == queue_.end()) return any;
      r = std::move(*it);
      queue_.erase(it);
    }
    r->admitted = EngineClock::now();
    const auto& prompt = r->req.prompt;
    // At least the last prompt token is computed: its logits give the first new token.
    const size_t most = (prompt.size() - 1) / runner_->page_size();
    std::vector<PageRef> hit;
    if (prefix_.max_pages() > 0) hit = prefix_.match(prompt, most);
    try {
      r->seq = runner_->new_sequence(hit);
    } catch (...) {
      fail(*r, std::current_exception());
      continue;
    }
    r->prompt_done = hit.size() * runner_->page_size();
    r->cached_pages = hit.size();
    r->fed.assign(prompt.begin(), prompt.begin() + static_cast<long>(r->prompt_done));
    active.push_back(std::move(r));
    any = true;
  }
}

bool BatchEngine::waits_for_prefix(const Request& r, const std::vector<std::unique_ptr<Request>>& active) const {
  if (prefix_.max_pages() == 0) return false;
  const size_t P = static_cast<size_t>(runner_->page_size());
  const auto& p = r.req.prompt;
  for (const auto& a : active) {
    if (a->prefilled()) continue;
    const auto& q = a->req.prompt;
    const size_t n = std::min(p.size() - 1, q.size());  // r computes at least its last token
    const size_t common =
        static_cast<size_t>(std::mismatch(p.begin(), p.begin() + static_cast<long>(n), q.begin()).first - p.begin());
    // A full page of it is still to be computed by `a`: r takes it from the cache afterwards.
    if (common / P * P > a->prompt_done) return true;
  }
  return false;
}

void BatchEngine::step(std::vector<std::unique_ptr<Request>>& active) {
  // Every decoding sequence feeds its sampled token; prompts fill the rest of the budget in
  // arrival order.
  std::vector<RunnerItem> items;
  std::vector<Request*> owner;
  std::vector<int> prompt_take;
  int budget = step_tokens_, decodes = 0;
  for (auto& r : active)
    if (r->has_next) {
      items.push_back({r->seq, std::span<const int32_t>(&r->next, 1)});
      owner.push_back(r.get());
      prompt_take.push_back(0);
      --budget;
      ++decodes;
    }
  for (auto& r : active) {
    if (budget <= 0) break;
    if (r->prefilled()) continue;
    const int take = static_cast<int>(
        std::min<size_t>({r->req.prompt.size() - r->prompt_done, size_t(chunk_), size_t(budget)}));
    items.push_back({r->seq, std::span<const int32_t>(r->req.prompt.data() + r->prompt_done, take)});
    owner.push_back(r.get());
    prompt_take.push_back(take);
    budget -= take;
  }
  // A runner with pooled memory: make room by dropping cached prefixes, then by leaving
  // prompt chunks for a later step.
  if (runner_->free_pages() >= 0) {
    auto pages_needed = [&] {
      long need = 0;
      const int P = runner_->page_size();
      for (const RunnerItem& it : items) {
        const int len = runner_->length(it.seq);
        need += (len + static_cast<long>(it.tokens.size()) + P - 1) / P - (len + P - 1) / P;
      }
      return need;
    };
    while (pages_needed() > runner_->free_pages() && prefix_.evict(1) > 0) {
    }
    while (pages_needed() > runner_->free_pages() && !items.empty() && prompt_take.back() > 0) {
      items.pop_back();
      owner.pop_back();
      prompt_take.pop_back();
    }
  }
  if (items.empty()) {
    // Not even the decodes fit: the newest sequence gives up its memory.
    Request& r = *active.back();
    r.result.finish_reason = "context";
    finish(r);
    active.pop_back();
    return;
  }

  std::span<const float> logits;
  try {
    logits = runner_->forward(items);
  } catch (...) {
    const auto err = std::current_exception();
    for (Request* r : owner) fail(*r, err);
    std::erase_if(active, [](const std::unique_ptr<Request>& r) { return r->seq < 0; });
    return;
  }
  {
    std::lock_guard lock(mu_);
    ++stats_.steps;
    if (decodes > 0 && decodes < static_cast<int>(items.size())) ++stats_.mixed_steps;
    stats_.decode_tokens += decodes;
    for (int t : prompt_take) stats_.prefill_tokens += t;
    stats_.max_batch = std::max(stats_.max_batch, static_cast<int>(items.size()));
  }
  const int V = runner_->config().vocab_size;
  for (size_t i = 0; i < items.size(); ++i) {
    Request& r = *owner[i];
    if (prompt_take[i] > 0) {
      const auto& p = r.req.prompt;
      r.fed.insert(r.fed.end(), p.begin() + static_cast<long>(r.prompt_done),
                   p.begin() + static_cast<long>(r.prompt_done) + prompt_take[i]);
      r.prompt_done += prompt_take[i];
      if (!r.prefilled()) continue;  // a middle chunk: its logits are not needed
      cache_pages(r);                // later attempts of the same prompt start from here
    } else {
      r.fed.push_back(r.next);
      r.has_next = false;
    }
    // The caller's callbacks (streaming, detokenizing) may throw: that request fails alone.
    try {
      if (!advance(r, logits.data() + i * static_cast<size_t>(V))) finish(r);
    } catch (...) {
      fail(r, std::current_exception());
    }
  }
  std::erase_if(active, [](const std::unique_ptr<Request>& r) { return r->seq < 0; });
  {
    std::lock_guard lock(mu_);
    stats_.prefix = prefix_.stats();
  }
}

bool BatchEngine::advance(Request& r, const float* logits) {
  const ModelConfig& c = runner_->config();
  GenerationResult& res = r.result;
  const GenerationRequest& rq = r.req;
  if (res.tokens.empty()) r.first_token = EngineClock::now();
  if (static_cast<int>(res.tokens.size()) >= rq.max_tokens) {
    res.finish_reason = "max_tokens";
    return false;
  }
  int32_t tok;
  if (std::optional<int32_t> f = r.forced.next()) {
    tok = *f;
  } else {
    tok = r.sampler.sample(logits, c.vocab_size);
    r.forced.saw(tok);
  }
  if (tok == c.eos_token_id ||
      std::find(rq.stop_tokens.begin(), rq.stop_tokens.end(), tok) != rq.stop_tokens.end()) {
    res.finish_reason = "stop_token";
    return false;
  }
  res.tokens.push_back(tok);
  if (rq.top_logprobs >= 0)
    res.logprobs.push_back(token_logprob({logits, static_cast<size_t>(c.vocab_size)}, tok, rq.top_logprobs));
  if (options_.detokenize) {
    res.text = options_.detokenize(res.tokens);
    bool stop = false;
    for (const std::string& s : rq.stop_strings) {
      const size_t at = s.empty() ? std::string::npos : res.text.find(s);
      if (at != std::string::npos) {
        res.text.resize(at);
        res.finish_reason = "stop_string";
        stop = true;
      }
    }
    if (stop) return false;
  }
  if (r.on_token && !r.on_token(tok, rq.top_logprobs >= 0 ? &res.logprobs.back() : nullptr)) {
    res.finish_reason = "cancelled";
    return false;
  }
  if (static_cast<int>(res.tokens.size()) >= rq.max_tokens) {
    res.finish_reason = "max_tokens";
    return false;
  }
  if (static_cast<int>(r.fed.size()) + 1 > runner_->max_context()) {
    res.finish_reason = "context";
    return false;
  }
  r.next = tok;
  r.has_next = true;
  return true;
}

void BatchEngine::cache_pages(Request& r) {
  if (prefix_.max_pages() == 0 || r.seq < 0) return;
  const size_t full = r.fed.size() / runner_->page_size();
  if (full <= r.cached_pages) return;
  prefix_.insert(r.fed, runner_->pages(r.seq, static_cast<int>(full)));
  r.cached_pages = full;
}

void BatchEngine::finish(Request& r) {
  if (r.seq < 0) return;
  const auto now = EngineClock::now();
  if (r.result.tokens.empty() && r.first_token == EngineClock::time_point{}) r.first_token = now;
  r.result.prefill_seconds = engine_seconds(r.admitted, r.first_token);
  r.result.decode_seconds = engine_seconds(r.first_token, now);
  try {
    cache_pages(r);  // a follow-up turn of this conversation starts with these tokens
  } catch (...) {
  }
  runner_->release_sequence(r.seq);
  r.seq = -1;
  {
    std::lock_guard lock(mu_);
    ++stats_.finished;
    stats_.prefix = prefix_.stats();  // current when the caller sees the result
  }
  r.promise.set_value(std::move(r.result));
  notify_done(r);
}

void BatchEngine::fail(Request& r, std::exception_ptr error) {
  if (r.seq >= 0) {
    try {
      runner_->release_sequence(r.seq);
    } catch (...) {
    }
  }
  r.seq = -1;
  r.promise.set_exception(error);
  notify_done(r);
}

void BatchEngine::notify_done(Request& r) {
  if (!r.on_done) return;
  try {
    r.on_done();
  } catch (...) {  // the caller's hook must not take the scheduler down
  }
  r.on_done = nullptr;
}

}  // namespace envforge::model
