// JSON for the service-wide HTTP bodies: the OpenAI error body, /healthz, /v1/models and the
// admin fleet view.
#include "schema/reader_impl.hpp"
#include "schema/writer_impl.hpp"

namespace loraplane::schema {
namespace {

using detail::ObjectReader;
using detail::put;

constexpr detail::StringRule kMessageRule{.max = 65536};
constexpr detail::StringRule kShortRule{.max = 256};
constexpr detail::StringRule kUrlRule{.max = 2048};
constexpr std::string_view kRoleStates = "ready, starting";

bool valid_role_state(std::string_view state) { return state == "ready" || state == "starting"; }

constexpr detail::StringRule kRoleStateRule{.check = valid_role_state,
                                            .message = "must be one of ready, starting"};

}  // namespace

// ---- ErrorBody ---------------------------------------------------------------------------

template <>
Result<ErrorBody> parse<ErrorBody>(std::string_view json, const ParseLimits& limits) {
  return detail::parse_document<ErrorBody>(json, limits, [](ObjectReader& r, ErrorBody& e) {
    r.object("error", [&e](ObjectReader& inner) {
      inner.string("message", e.message, kMessageRule);
      inner.string("type", e.type, kShortRule);
      // Nullable, but always present in the OpenAI shape.
      inner.nullable_string("param", e.param, kShortRule, true);
      inner.nullable_string("code", e.code, kShortRule, true);
    });
  });
}

std::string to_json(const ErrorBody& value) {
  boost::json::object inner;
  put(inner, "message", value.message);
  put(inner, "type", value.type);
  detail::put_nullable(inner, "param", value.param);
  detail::put_nullable(inner, "code", value.code);
  boost::json::object out;
  out["error"] = std::move(inner);
  return detail::serialize(out);
}

// ---- Health ------------------------------------------------------------------------------

template <>
Result<Health> parse<Health>(std::string_view json, const ParseLimits& limits) {
  return detail::parse_document<Health>(json, limits, [](ObjectReader& r, Health& h) {
    r.string("status", h.status, kShortRule);
    r.string_map(
        "roles",
        [&h](std::string_view role, std::string state) {
          h.roles.emplace_back(std::string(role), std::move(state));
        },
        kRoleStateRule);
  });
}

std::string to_json(const Health& value) {
  boost::json::object roles;
  for (const auto& [role, state] : value.roles) put(roles, role, state);
  boost::json::object out;
  put(out, "status", value.status);
  out["roles"] = std::move(roles);
  return detail::serialize(out);
}

// ---- ModelList ---------------------------------------------------------------------------

template <>
Result<ModelList> parse<ModelList>(std::string_view json, const ParseLimits& limits) {
  return detail::parse_document<ModelList>(json, limits, [](ObjectReader& r, ModelList& list) {
    r.constant("object", "list");
    r.object_list("data", [&list](ObjectReader& item, std::size_t) {
      Model& m = list.data.emplace_back();
      item.string("id", m.id, kShortRule);
      item.constant("object", "model");
      item.integer("created", m.created);
      item.string("owned_by", m.owned_by, kShortRule);
      item.nullable_string("parent", m.parent, kShortRule);
    });
  });
}

std::string to_json(const ModelList& value) {
  boost::json::array data;
  data.reserve(value.data.size());
  for (const auto& m : value.data) {
    boost::json::object item;
    put(item, "id", m.id);
    put(item, "object", "model");
    item["created"] = m.created;
    put(item, "owned_by", m.owned_by);
    detail::put_nullable(item, "parent", m.parent);
    data.emplace_back(std::move(item));
  }
  boost::json::object out;
  put(out, "object", "list");
  out["data"] = std::move(data);
  return detail::serialize(out);
}

// ---- EngineList --------------------------------------------------------------------------

namespace {

void read_engine(ObjectReader& r, EngineView& e) {
  r.string("id", e.id, detail::kIdRule);
  r.string("base_model", e.base_model, detail::kBaseModelRule);
  r.string("url", e.url, kUrlRule);
  r.boolean("healthy", e.healthy);
  r.string_list("gpu", e.gpu, kShortRule);
  r.string_list("cpu", e.cpu, kShortRule);
  r.string_list("disk", e.disk, kShortRule);
  r.string_list("loading", e.loading, kShortRule);
  r.integer("free_slots", e.free_slots);
  r.integer("queue_depth", e.queue_depth);
  r.integer("heartbeat_age_ms", e.heartbeat_age_ms);
}

boost::json::object write_engine(const EngineView& e) {
  boost::json::object out;
  put(out, "id", e.id);
  put(out, "base_model", e.base_model);
  put(out, "url", e.url);
  out["healthy"] = e.healthy;
  out["gpu"] = detail::string_array(e.gpu);
  out["cpu"] = detail::string_array(e.cpu);
  out["disk"] = detail::string_array(e.disk);
  out["loading"] = detail::string_array(e.loading);
  out["free_slots"] = e.free_slots;
  out["queue_depth"] = e.queue_depth;
  out["heartbeat_age_ms"] = e.heartbeat_age_ms;
  return out;
}

}  // namespace

template <>
Result<EngineList> parse<EngineList>(std::string_view json, const ParseLimits& limits) {
  return detail::parse_document<EngineList>(json, limits, [](ObjectReader& r, EngineList& list) {
    r.object_list("data", [&list](ObjectReader& item, std::size_t) {
      read_engine(item, list.data.emplace_back());
    });
  });
}

std::string to_json(const EngineList& value) {
  boost::json::array data;
  data.reserve(value.data.size());
  for (const auto& e : value.data) data.emplace_back(write_engine(e));
  boost::json::object out;
  out["data"] = std::move(data);
  return detail::serialize(out);
}

}  // namespace loraplane::schema
