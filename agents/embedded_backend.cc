#include "agents/embedded_backend.h"

#include <algorithm>
#include <chrono>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "agents/chat_json.h"
#include "agents/embedded_stream.h"
#include "engine/sampler.h"
#include "model/text/chat_encoding.h"
#include "model/text/completion_parser.h"
#include "model/text/tokenizer.h"
#include "model/batch_engine.h"
#include "model/cpu_runner.h"
#include "model/generator.h"
#include "model/transformer.h"
#if defined(ENVFORGE_HAVE_GPU_MODEL)
#include "model/gpu/gpu_runner.h"
#endif

namespace envforge::agents {

using Clock = std::chrono::steady_clock;
namespace text = model::text;

EmbeddedBackend::EmbeddedBackend(EmbeddedOptions options) : options_(std::move(options)) {
  const std::string& dir = options_.dir;
  if (!std::filesystem::is_directory(dir))
    throw BackendError(BackendErrorKind::kConfig, "embedded backend: \"" + dir + "\" is not a directory");
  const std::string& dev = options_.device;
  if (dev != "auto" && dev != "cpu" && dev != "gpu")
    throw BackendError(BackendErrorKind::kConfig, "embedded backend: device must be auto, cpu or gpu, got \"" + dev + "\"");
  if (options_.max_sequences < 1 || options_.max_context < 0)
    throw BackendError(BackendErrorKind::kConfig, "embedded backend: max sequences must be positive");
  try {
    tokenizer_ = std::make_unique<text::Tokenizer>(text::Tokenizer::from_file(dir + "/tokenizer.json"));
    model::EngineOptions eo;
    eo.prefix_cache_pages = options_.prefix_cache_pages;
    eo.detokenize = [this](const std::vector<std::int32_t>& t) { return tokenizer_->decode(t); };
    std::unique_ptr<model::SequenceRunner> runner;
#if defined(ENVFORGE_HAVE_GPU_MODEL)
    if (dev == "gpu" || (dev == "auto" && model::gpu::gpu_available())) {
      model::gpu::GpuModelOptions go;
      go.max_seqs = options_.max_sequences;
      go.max_context = options_.max_context;
      runner = model::gpu::GpuRunner::load(dir, go);
    }
#else
    if (dev == "gpu") throw std::runtime_error("this build has no GPU model runner (ENVFORGE_CUDA=OFF)");
#endif
    if (!runner) {
      model_ = model::Model::load(dir);
      model::CpuRunnerOptions co;
      co.max_sequences = options_.max_sequences;
      runner = std::make_unique<model::CpuRunner>(*model_, co);
    }
    if (options_.wrap_runner) runner = options_.wrap_runner(std::move(runner));
    engine_ = std::make_unique<model::BatchEngine>(std::move(runner), std::move(eo));
  } catch (const std::exception& e) {
    throw BackendError(BackendErrorKind::kConfig, "embedded backend \"" + dir + "\": " + e.what());
  }
  auto eos = tokenizer_->token_to_id(text::kEosToken);
  if (!eos)
    throw BackendError(BackendErrorKind::kConfig, "embedded backend \"" + dir +
                                                      "\": tokenizer.json has no end-of-sentence token");
  eos_id_ = static_cast<int>(*eos);
  if (options_.default_max_tokens < 1)
    throw BackendError(BackendErrorKind::kConfig, "embedded backend: default max tokens must be positive");
}

EmbeddedBackend::~EmbeddedBackend() = default;

std::string EmbeddedBackend::device() const { return engine_->runner().name(); }

EmbeddedCall EmbeddedBackend::prepare(const ChatRequest& request, text::ThinkingMode mode) {
  EmbeddedCall call;
  call.mode = mode;
  std::string prompt;
  try {
    text::ChatEncodeOptions enc;
    enc.mode = mode;
    prompt = text::encode_chat(request.messages, request.tools, enc);
  } catch (const std::exception& e) {
    throw BackendError(BackendErrorKind::kConfig,
                       describe() + ": the conversation cannot be encoded: " + e.what());
  }
  std::vector<text::TokenId> ids = tokenizer_->encode(prompt);
  const int context = engine_->runner().max_context();
  if (static_cast<int>(ids.size()) >= context)
    throw BackendError(BackendErrorKind::kConfig,
                       describe() + ": the prompt is " + std::to_string(ids.size()) +
                           " tokens, the model's context is " + std::to_string(context));
  int max_new = request.sampling.max_tokens.value_or(options_.default_max_tokens);
  max_new = std::max(1, std::min(max_new, context - static_cast<int>(ids.size())));

  model::GenerationRequest& gen = call.generation;
  gen.prompt.assign(ids.begin(), ids.end());
  gen.max_tokens = max_new;
  gen.sampling.temperature = static_cast<float>(request.sampling.temperature.value_or(0.0));
  gen.sampling.top_p = static_cast<float>(request.sampling.top_p.value_or(1.0));
  const std::uint64_t n = calls_.fetch_add(1);
  gen.sampling.seed =
      static_cast<std::uint64_t>(request.sampling.seed.value_or(static_cast<std::int64_t>(n)));
  gen.stop_tokens = {eos_id_};
  gen.stop_strings = request.sampling.stop;
  gen.forced = forced_tool_call(request, mode);
  call.prompt_tokens = static_cast<std::int64_t>(ids.size());
  return call;
}

// tool_choice "required" or {"type": "function", "function": {"name": N}}: the reply's tool-call
// opening is written for the model (through N's invoke tag when named), right away in chat
// mode and once the model closes its reasoning in thinking mode.
model::ForcedTokens EmbeddedBackend::forced_tool_call(const ChatRequest& request, text::ThinkingMode mode) const {
  const nlohmann::json& choice = request.tool_choice;
  std::string name;
  if (choice.is_object()) {
    const nlohmann::json* fn = choice.contains("function") ? &choice["function"] : nullptr;
    if (!fn || !fn->is_object() || !fn->contains("name") || !(*fn)["name"].is_string() ||
        (*fn)["name"].get<std::string>().empty())
      throw BackendError(BackendErrorKind::kConfig, describe() + ": tool_choice names no function: " + choice.dump());
    name = (*fn)["name"].get<std::string>();
    const bool offered = std::any_of(request.tools.begin(), request.tools.end(), [&](const model::ToolSchema& t) {
      return t.is_object() && t.contains("function") && t["function"].value("name", "") == name;
    });
    if (!offered)
      throw BackendError(BackendErrorKind::kConfig, describe() + ": tool_choice names \"" + name + "\", not a tool of the request");
  } else if (choice != "required") {
    return {};
  }
  if (request.tools.empty())
    throw BackendError(BackendErrorKind::kConfig, describe() + ": tool_choice \"required\" without tools");
  model::ForcedTokens forced;
  const std::vector<text::TokenId> opening = tokenizer_->encode(text::tool_call_opening(name));
  forced.tokens.assign(opening.begin(), opening.end());
  if (mode == text::ThinkingMode::kThinking) {
    const std::vector<text::TokenId> end = tokenizer_->encode(std::string(text::kThinkEnd));
    if (end.size() != 1)
      throw BackendError(BackendErrorKind::kConfig, describe() + ": the tokenizer has no single </think> token");
    forced.after = end[0];
  }
  return forced;
}

ChatResponse EmbeddedBackend::respond(const EmbeddedCall& call, const model::GenerationResult& result) const {
  ChatResponse out;
  out.model = describe();
  const bool ended = result.finish_reason == "stop_token" || result.finish_reason == "stop_string";
  out.message = completion_message(result.text, ended, call.mode);
  out.finish_reason = !out.message.tool_calls.empty() ? "tool_calls" : ended ? "stop" : "length";
  const bool counted_stop = result.finish_reason == "stop_token";
  out.usage.prompt_tokens = call.prompt_tokens;
  out.usage.completion_tokens = static_cast<std::int64_t>(result.tokens.size()) + (counted_stop ? 1 : 0);
  out.usage.reported = true;
  return out;
}

ChatResponse EmbeddedBackend::chat(const ChatRequest& request, const StreamCallback& on_stream) {
  const auto start = Clock::now();
  EmbeddedCall call = prepare(request, options_.mode);
  const bool streaming = request.stream && on_stream;
  std::optional<CompletionStreamer> streamer;
  if (streaming) streamer.emplace(*tokenizer_, call.mode, call.generation.stop_strings);
  std::optional<Clock::time_point> first_token;
  bool past_deadline = false;
  auto on_token = [&](std::int32_t token, const model::TokenLogprob*) {
    if (!first_token) first_token = Clock::now();
    if (streamer)
      for (const StreamEvent& ev : streamer->push(token)) on_stream(ev);
    past_deadline = request.deadline && Clock::now() >= *request.deadline;
    return !past_deadline;
  };
  model::GenerationResult result;
  try {
    result = engine_->generate(call.generation, on_token);
  } catch (const std::invalid_argument& e) {
    throw BackendError(BackendErrorKind::kConfig, describe() + ": " + e.what());
  } catch (const std::exception& e) {
    throw BackendError(BackendErrorKind::kProtocol, describe() + ": the engine failed: " + e.what());
  }
  if (result.finish_reason == "cancelled" && past_deadline)
    throw BackendError(BackendErrorKind::kTimeout,
                       describe() + ": the caller's deadline passed after " +
                           std::to_string(result.tokens.size()) + " generated tokens");

  ChatResponse out = respond(call, result);
  if (streamer)
    for (const StreamEvent& ev : streamer->finish(out.message)) on_stream(ev);
  out.timing.attempts = 1;
  out.timing.wall_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  if (first_token)
    out.timing.first_token_ms = std::chrono::duration<double, std::milli>(*first_token - start).count();
  return out;
}

}  // namespace envforge::agents
