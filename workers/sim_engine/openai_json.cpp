#include "workers/sim_engine/openai_json.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

namespace loraplane::sim_engine {

namespace json = boost::json;

namespace {

json::object usage_object(const Usage& u, bool with_details) {
  json::object o;
  o["prompt_tokens"] = u.prompt_tokens;
  o["total_tokens"] = u.prompt_tokens + u.completion_tokens;
  o["completion_tokens"] = u.completion_tokens;
  if (with_details) o["prompt_tokens_details"] = nullptr;
  return o;
}

json::object head_object(const ResponseHead& head, std::string_view object) {
  json::object o;
  o["id"] = head.id;
  o["object"] = object;
  o["created"] = head.created;
  o["model"] = head.model;
  return o;
}

json::value finish_value(std::optional<std::string_view> finish) {
  return finish ? json::value(*finish) : json::value(nullptr);
}

}  // namespace

http::Response vllm_error(http::Status status, std::string_view type, std::string_view message,
                          std::optional<std::string_view> param) {
  json::object error;
  error["message"] = message;
  error["type"] = type;
  error["param"] = param ? json::value(*param) : json::value(nullptr);
  error["code"] = static_cast<unsigned>(status);
  json::object body;
  body["error"] = std::move(error);
  return http::json_response(status, json::serialize(body));
}

http::Response vllm_bad_request(std::string_view message, std::optional<std::string_view> param) {
  return vllm_error(http::Status::bad_request, "BadRequestError", message, param);
}

http::Response vllm_model_not_found(std::string_view model) {
  return vllm_error(http::Status::not_found, "NotFoundError",
                    "The model `" + std::string(model) + "` does not exist.", "model");
}

std::string chat_response(const ResponseHead& head, std::string_view text,
                          std::string_view finish_reason, const Usage& usage) {
  json::object message;
  message["role"] = "assistant";
  message["content"] = text;
  message["refusal"] = nullptr;
  message["annotations"] = nullptr;
  message["audio"] = nullptr;
  message["function_call"] = nullptr;
  message["tool_calls"] = json::array();
  message["reasoning_content"] = nullptr;
  json::object choice;
  choice["index"] = 0;
  choice["message"] = std::move(message);
  choice["logprobs"] = nullptr;
  choice["finish_reason"] = finish_reason;
  choice["stop_reason"] = nullptr;
  auto o = head_object(head, "chat.completion");
  o["choices"] = json::array{std::move(choice)};
  o["service_tier"] = nullptr;
  o["system_fingerprint"] = nullptr;
  o["usage"] = usage_object(usage, true);
  o["prompt_logprobs"] = nullptr;
  o["kv_transfer_params"] = nullptr;
  return json::serialize(o);
}

std::string chat_chunk(const ResponseHead& head, std::optional<std::string_view> role,
                       std::string_view content, std::optional<std::string_view> finish_reason,
                       const std::optional<Usage>& usage) {
  json::object delta;
  if (role) delta["role"] = *role;
  delta["content"] = content;
  json::object choice;
  choice["index"] = 0;
  choice["delta"] = std::move(delta);
  choice["logprobs"] = nullptr;
  choice["finish_reason"] = finish_value(finish_reason);
  if (finish_reason) choice["stop_reason"] = nullptr;
  auto o = head_object(head, "chat.completion.chunk");
  o["choices"] = json::array{std::move(choice)};
  if (usage) o["usage"] = usage_object(*usage, false);
  return json::serialize(o);
}

std::string completion_response(const ResponseHead& head, std::string_view text,
                                std::string_view finish_reason, const Usage& usage) {
  json::object choice;
  choice["index"] = 0;
  choice["text"] = text;
  choice["logprobs"] = nullptr;
  choice["finish_reason"] = finish_reason;
  choice["stop_reason"] = nullptr;
  choice["prompt_logprobs"] = nullptr;
  auto o = head_object(head, "text_completion");
  o["choices"] = json::array{std::move(choice)};
  o["usage"] = usage_object(usage, true);
  o["kv_transfer_params"] = nullptr;
  return json::serialize(o);
}

std::string completion_chunk(const ResponseHead& head, std::string_view text,
                             std::optional<std::string_view> finish_reason,
                             const std::optional<Usage>& usage) {
  json::object choice;
  choice["index"] = 0;
  choice["text"] = text;
  choice["logprobs"] = nullptr;
  choice["finish_reason"] = finish_value(finish_reason);
  choice["stop_reason"] = nullptr;
  auto o = head_object(head, "text_completion");
  o["choices"] = json::array{std::move(choice)};
  o["usage"] = usage ? json::value(usage_object(*usage, false)) : json::value(nullptr);
  return json::serialize(o);
}

std::string usage_chunk(const ResponseHead& head, std::string_view object, const Usage& usage) {
  auto o = head_object(head, object);
  o["choices"] = json::array();
  o["usage"] = usage_object(usage, false);
  return json::serialize(o);
}

}  // namespace loraplane::sim_engine
