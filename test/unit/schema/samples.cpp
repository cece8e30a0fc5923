// Typed examples of every schema type, serialised with the production to_json.
#include "samples.hpp"

#include "schema/json.hpp"
#include "schema/tenant_deleted.hpp"

namespace loraplane::schema::testing {
namespace {

template <class T>
Sample make(std::string schema, std::string variant, const T& value) {
  Sample s;
  s.schema = std::move(schema);
  s.variant = std::move(variant);
  s.json = to_json(value);
  s.reserialize = [](std::string_view json) -> Result<std::string> {
    auto parsed = parse<T>(json);
    if (!parsed) return parsed.error();
    return to_json(*parsed);
  };
  return s;
}

constexpr std::string_view kAdapterConfig =
    R"({"peft_type":"LORA","r":16,"lora_alpha":32,"target_modules":["q_proj","k_proj","v_proj","o_proj"]})";

Adapter ready_adapter() {
  Adapter a;
  a.id = "adp_01HZX3K9Q7";
  a.name = "support-bot.v3";
  a.base_model = "llama-3.1-8b-instruct";
  a.status = AdapterStatus::ready;
  a.source = {SourceType::hf, "acme/support-lora", "main", std::string(kCommitSha)};
  a.size_bytes = 167'832'160;
  a.sha256 = std::string(kSha256);
  a.rank = 16;
  a.target_modules = {"q_proj", "k_proj", "v_proj", "o_proj"};
  a.created_at = 1'717'000'000;
  return a;
}

Adapter failed_upload() {
  Adapter a = ready_adapter();
  a.id = "adp_01HZX3KA00";
  a.name = "broken";
  a.status = AdapterStatus::failed;
  a.source = {SourceType::upload, std::nullopt, std::nullopt, std::nullopt};
  a.error =
      AdapterError{"invalid_adapter",
                   "base_model.model.layers.3.self_attn.q_proj.lora_B.weight: shape [4096, 8] "
                   "does not match rank 16"};
  return a;
}

Adapter pending_import() {
  Adapter a;
  a.id = "adp_01HZX3KB11";
  a.name = "imported";
  a.base_model = "llama-3.1-70b-instruct";
  a.status = AdapterStatus::pending;
  a.source = {SourceType::hf, "acme/big-lora", "v2", std::nullopt};
  a.created_at = 1'717'000'100;
  return a;
}

void add_events(std::vector<Sample>& out) {
  out.push_back(make("TenantRecord", "",
                     TenantRecord{1, "ten_7f3a", "acme", Tier::reserved, 1'716'999'000, false}));
  out.push_back(
      make("ApiKeyRecord", "",
           ApiKeyRecord{1, "pk-prov-3fa9", "ten_7f3a", std::string(kSha256), 1'716'999'000, true}));
  Job upload{1,
             "job_1",
             JobKind::upload,
             "ten_7f3a",
             "adp_01HZX3K9Q7",
             "support-bot.v3",
             "llama-3.1-8b-instruct",
             1'717'000'000,
             std::nullopt,
             std::nullopt,
             std::nullopt};
  upload.upload = JobUpload{"upl_9c1e",
                            161,
                            167'832'160,
                            std::string(kSha256),
                            R"({"peft_type":"LORA","r":16,"lora_alpha":32})",
                            32.5,
                            5,
                            1'204'000,
                            1'204'391};
  out.push_back(make("Job", "", upload));
  Job imported = upload;
  imported.job_id = "job_2";
  imported.kind = JobKind::import;
  imported.upload.reset();
  imported.hf_import = JobImport{"acme/support-lora", "main", "sealed:v1:AAECAwQ="};
  out.push_back(make("Job", "import", imported));
  Job removed = upload;
  removed.job_id = "job_3";
  removed.kind = JobKind::remove;
  removed.upload.reset();
  out.push_back(make("Job", "delete", removed));
  Job stored = upload;
  stored.job_id = "job_4";
  stored.kind = JobKind::stored;
  stored.upload.reset();
  stored.stored = JobStored{"store-1", "http://10.0.0.5:7301/blobs/" + std::string(kSha256)};
  out.push_back(make("Job", "stored", stored));
  out.push_back(make("UploadChunkHeader", "", UploadChunkHeader{1, "upl_9c1e", 160, 161, true}));
  out.push_back(
      make("UploadChunkHeader", "first", UploadChunkHeader{1, "upl_9c1e", 0, std::nullopt, false}));
  out.push_back(make("AdapterState", "",
                     AdapterState{1,
                                  failed_upload(),
                                  "ten_7f3a",
                                  1'717'000'050,
                                  std::nullopt,
                                  3,
                                  false,
                                  {},
                                  std::nullopt}));
  out.push_back(make("AdapterState", "ready",
                     AdapterState{1,
                                  ready_adapter(),
                                  "ten_7f3a",
                                  1'717'000'060,
                                  std::string(kAdapterConfig),
                                  4,
                                  true,
                                  {"http://10.0.0.5:7301", "http://10.0.0.6:7301"},
                                  std::nullopt}));
  Adapter validated = failed_upload();
  validated.status = AdapterStatus::validating;
  validated.error.reset();
  out.push_back(make("AdapterState", "validated",
                     AdapterState{1,
                                  validated,
                                  "ten_7f3a",
                                  1'717'000'055,
                                  std::string(kAdapterConfig),
                                  3,
                                  true,
                                  {},
                                  UploadLocation{"upl_9c1e", 5, 1'204'000, 1'204'391, 161}}));
  out.push_back(make("LoadEvent", "",
                     LoadEvent{1,
                               LoadEventKind::adapter_ready,
                               "adp_01HZX3K9Q7",
                               "ten_7f3a",
                               "llama-3.1-8b-instruct",
                               std::string(kSha256),
                               167'832'160,
                               16,
                               {"http://10.0.0.5:7301", "http://10.0.0.6:7301"},
                               1'717'000'070,
                               std::string(kAdapterConfig)}));
  out.push_back(make("Residency", "",
                     Residency{1,
                               "eng-llama8b-0",
                               "llama-3.1-8b-instruct",
                               "http://10.0.0.9:8000",
                               "http://10.0.0.9:7400",
                               {"adp_01HZX3K9Q7"},
                               {"adp_a", "adp_b"},
                               {"adp_c"},
                               {"adp_d"},
                               2,
                               5,
                               1'717'000'070'123}));
}

void add_http(std::vector<Sample>& out) {
  out.push_back(make("CreateTenantRequest", "", CreateTenantRequest{"acme", Tier::dedicated}));
  out.push_back(make("Tenant", "",
                     Tenant{"ten_7f3a", "acme", Tier::reserved, 1'716'999'000, "pk-prov-3fa9XyZ"}));
  out.push_back(make("Tenant", "no-key",
                     Tenant{"ten_7f3a", "acme", Tier::shared, 1'716'999'000, std::nullopt}));
  out.push_back(make("ApiKeyCreated", "",
                     ApiKeyCreated{"ten_7f3a", "pk-prov-8Qw2eRt", "pk-prov-8Qw2", 1'716'999'500}));
  out.push_back(make("ApiKeyRevoked", "", ApiKeyRevoked{"pk-prov-8Qw2"}));
  out.push_back(make("TenantDeleted", "", TenantDeleted{"ten_7f3a", 3}));
  out.push_back(make("CreateAdapterRequest", "",
                     CreateAdapterRequest{"support-bot.v3", "llama-3.1-8b-instruct",
                                          "acme/support-lora", "refs/pr/1", "hf_abcdef"}));
  out.push_back(make("Adapter", "", failed_upload()));
  out.push_back(make("Adapter", "ready", ready_adapter()));
  out.push_back(make("Adapter", "pending-import", pending_import()));
  out.push_back(make("AdapterList", "",
                     AdapterList{{ready_adapter(), failed_upload(), pending_import()}, true}));
  out.push_back(make("AdapterList", "empty", AdapterList{{}, false}));
  out.push_back(make("AdapterDeleted", "", AdapterDeleted{"adp_01HZX3K9Q7"}));
  out.push_back(make("Error", "",
                     ErrorBody{"The model `llama-3.1-8b-instruct:nope` does not exist.",
                               "invalid_request_error", "model", "model_not_found"}));
  out.push_back(make("Error", "nulls",
                     ErrorBody{"Rate limit reached \"quoted\", caf\u00e9\n", "rate_limit_error",
                               std::nullopt, std::nullopt}));
  out.push_back(make("ModelList", "",
                     ModelList{{{"llama-3.1-8b-instruct", 1'716'000'000, "loraplane", std::nullopt},
                                {"llama-3.1-8b-instruct:support-bot.v3", 1'717'000'000, "ten_7f3a",
                                 "llama-3.1-8b-instruct"}}}));
  EngineView engine{"eng-llama8b-0",
                    "llama-3.1-8b-instruct",
                    "http://10.0.0.9:8000",
                    true,
                    {"llama-3.1-8b-instruct:adp_01HZX3K9Q7"},
                    {},
                    {"llama-3.1-8b-instruct:adp_c"},
                    {},
                    3,
                    1,
                    412};
  out.push_back(make("EngineList", "", EngineList{{engine}}));
  out.push_back(
      make("Health", "", Health{"starting", {{"gateway", "ready"}, {"validate", "starting"}}}));
}

}  // namespace

std::vector<Sample> all_samples() {
  std::vector<Sample> out;
  add_events(out);
  add_http(out);
  return out;
}

Result<std::string> reparse(std::string_view schema, std::string_view json) {
  static const std::vector<Sample> samples = all_samples();
  for (const auto& s : samples) {
    if (s.schema == schema) return s.reserialize(json);
  }
  return make_error(Errc::not_found, "no sample for schema " + std::string(schema));
}

}  // namespace loraplane::schema::testing
