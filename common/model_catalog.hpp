// The base-model catalog (ops/models.json): which bases exist, whether they take LoRA (chat) or
// not (embedding), and the dimensions adapter shapes are checked against.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"

namespace loraplane {

enum class ModelKind { chat, embedding };

struct BaseModel {
  std::string id;
  std::string hf_repo;
  ModelKind kind = ModelKind::chat;
  std::int64_t hidden_size = 0;
  std::int64_t intermediate_size = 0;
  std::int64_t num_layers = 0;
  std::int64_t num_heads = 0;
  std::int64_t num_kv_heads = 0;
  std::int64_t head_dim = 0;
  std::int64_t vocab_size = 0;
};

class ModelCatalog {
 public:
  static Result<ModelCatalog> parse(std::string_view json);
  static Result<ModelCatalog> load(const std::string& path);
  const BaseModel* find(std::string_view id) const;
  const std::vector<BaseModel>& models() const { return models_; }

 private:
  std::vector<BaseModel> models_;
};

// ops/models.json of the source tree or install: $LORAPLANE_MODELS, else ./ops/models.json,
// else next to the binary (../../ops/models.json from build/bin).
std::string default_catalog_path(const char* argv0);

}  // namespace loraplane
