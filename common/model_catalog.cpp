#include "common/model_catalog.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace loraplane {

namespace {

Result<std::int64_t> positive(const boost::json::object& o, std::string_view field,
                              const std::string& model) {
  auto* v = o.if_contains(field);
  if (!v || !v->is_int64() || v->as_int64() <= 0)
    return make_error(Errc::invalid_argument,
                      "model " + model + ": " + std::string(field) + " must be a positive integer");
  return v->as_int64();
}

Result<BaseModel> parse_model(const boost::json::value& v) {
  if (!v.is_object()) return make_error(Errc::invalid_argument, "models[]: must be objects");
  const auto& o = v.as_object();
  auto* id = o.if_contains("id");
  auto* kind = o.if_contains("kind");
  if (!id || !id->is_string() || id->as_string().empty())
    return make_error(Errc::invalid_argument, "models[].id: must be a non-empty string");
  BaseModel m;
  m.id = std::string(id->as_string());
  if (auto* repo = o.if_contains("hf_repo"); repo && repo->is_string())
    m.hf_repo = std::string(repo->as_string());
  if (!kind || !kind->is_string() || (kind->as_string() != "chat" && kind->as_string() != "embedding"))
    return make_error(Errc::invalid_argument, "model " + m.id + ": kind must be chat or embedding");
  m.kind = kind->as_string() == "chat" ? ModelKind::chat : ModelKind::embedding;
  std::pair<std::string_view, std::int64_t*> fields[] = {
      {"hidden_size", &m.hidden_size}, {"intermediate_size", &m.intermediate_size},
      {"num_layers", &m.num_layers},   {"num_heads", &m.num_heads},
      {"num_kv_heads", &m.num_kv_heads}, {"head_dim", &m.head_dim},
      {"vocab_size", &m.vocab_size}};
  for (auto& [name, out] : fields) {
    auto value = positive(o, name, m.id);
    if (!value) return value.error();
    *out = value.value();
  }
  return m;
}

}  // namespace

Result<ModelCatalog> ModelCatalog::parse(std::string_view json) {
  boost::system::error_code ec;
  auto root = boost::json::parse(json, ec);
  if (ec || !root.is_object())
    return make_error(Errc::invalid_argument, "model catalog: not a JSON object");
  auto* models = root.as_object().if_contains("models");
  if (!models || !models->is_array())
    return make_error(Errc::invalid_argument, "model catalog: models must be an array");
  ModelCatalog catalog;
  for (const auto& v : models->as_array()) {
    auto m = parse_model(v);
    if (!m) return m.error();
    if (catalog.find(m->id))
      return make_error(Errc::invalid_argument, "model catalog: duplicate id " + m->id);
    catalog.models_.push_back(std::move(m.value()));
  }
  return catalog;
}

Result<ModelCatalog> ModelCatalog::load(const std::string& path) {
  std::ifstream in(path);
  if (!in) return make_error(Errc::not_found, "model catalog not found at " + path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  auto catalog = parse(buffer.str());
  if (!catalog) return make_error(catalog.error().code, path + ": " + catalog.error().message);
  return catalog;
}

const BaseModel* ModelCatalog::find(std::string_view id) const {
  for (const auto& m : models_)
    if (m.id == id) return &m;
  return nullptr;
}

std::string default_catalog_path(const char* argv0) {
  if (const char* env = std::getenv("LORAPLANE_MODELS"); env && *env) return env;
  if (std::filesystem::exists("ops/models.json")) return "ops/models.json";
  std::error_code ec;
  auto exe = std::filesystem::canonical("/proc/self/exe", ec);
  if (ec && argv0) exe = std::filesystem::absolute(argv0);
  auto candidate = exe.parent_path().parent_path().parent_path() / "ops" / "models.json";
  return candidate.string();
}

}  // namespace loraplane
