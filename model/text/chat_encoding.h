// DeepSeek-V3.2's prompt encoding (its encode_messages): system, developer, user,
// assistant (with or without thinking), tool results, tools and response formats
// in the system prompt, DSML tool-call blocks. Output matches DeepSeek's
// published encoding script byte for byte (tests/model_text/fixtures).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/chat_message.h"
#include "model/text/chat_tokens.h"

namespace envforge::model::text {

struct ChatEncodeOptions {
  ThinkingMode mode = ThinkingMode::kChat;
  // In thinking mode, drop the reasoning of assistant turns before the last user
  // turn (the model keeps only the current turn's thinking, across its tool calls).
  bool drop_thinking = true;
  // Start with the BOS text (only when there is no context).
  bool add_bos = true;
};

// The reference interface: messages as OpenAI-format objects (role, content,
// reasoning_content, tool_calls[].function.{name,arguments as JSON text}, and
// tools / response_format on system or developer messages). `context` holds
// earlier messages already encoded: only `messages` are rendered, as continuation.
// Key order of the objects is kept (it shows in the prompt). Throws ChatFormatError.
std::string encode_messages(const nlohmann::ordered_json& messages, const ChatEncodeOptions& options,
                            const nlohmann::ordered_json& context = nlohmann::ordered_json::array());

// The shared chat types in the reference's message format. `tools` go to the
// first message when it is a system message, else to a new empty system message
// put first (as OpenAI-compatible servers do for DeepSeek-V3.2).
nlohmann::ordered_json to_reference_messages(const std::vector<ChatMessage>& messages,
                                             const std::vector<ToolSchema>& tools = {});

std::string encode_chat(const std::vector<ChatMessage>& messages, const std::vector<ToolSchema>& tools,
                        const ChatEncodeOptions& options);

// The opening of an assistant reply that calls a tool, as encode_chat renders one: up to the
// tool's name when `name` is empty (any tool), else through the whole invoke tag of `name`.
std::string tool_call_opening(const std::string& name);

}  // namespace envforge::model::text
