// Upload jobs end to end: chunks, pending record and job in; the worker's records out.
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <thread>

#include "common/sha256.hpp"
#include "schema/adapter/adapter_config.hpp"
#include "test/unit/validate/adapters.hpp"
#include "test/unit/validate/harness.hpp"

using namespace loraplane;
using namespace loraplane::validate::testing;
using schema::AdapterStatus;

namespace {

std::string new_tenant(schema::Tier tier = schema::Tier::shared) {
  auto id = unique_id("ten_");
  Harness::get().put_tenant(id, tier);
  return id;
}

bool validated(const schema::AdapterState& s) {
  return s.adapter.status == AdapterStatus::failed || s.validated;
}

schema::AdapterState verdict(const Sent& sent) {
  return Harness::get().wait_state(sent.adapter_id, validated);
}

std::string error_message(const schema::AdapterState& s, const std::string& code) {
  BOOST_REQUIRE_MESSAGE(s.adapter.status == AdapterStatus::failed, "adapter did not fail");
  BOOST_REQUIRE(s.adapter.error.has_value());
  BOOST_TEST(s.adapter.error->code == code);
  return s.adapter.error->message;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(upload, *boost::unit_test::precondition(ClusterGiven()))

BOOST_AUTO_TEST_CASE(a_good_bare_adapter_goes_pending_validating_validated) {
  auto& h = Harness::get();
  const auto tenant = new_tenant();
  UploadSpec spec;
  spec.bytes = file_of(toy_tensors(8));
  spec.lora_alpha = 16;
  auto sent = h.upload(tenant, "good-bare", spec);
  auto s = verdict(sent);
  BOOST_TEST_REQUIRE(s.validated);
  BOOST_TEST((s.adapter.status == AdapterStatus::validating));
  BOOST_TEST(!s.adapter.error.has_value());
  BOOST_TEST(s.adapter.rank == 8);
  BOOST_TEST(s.adapter.target_modules ==
                 (std::vector<std::string>{"k_proj", "o_proj", "q_proj", "v_proj"}),
             boost::test_tools::per_element());
  BOOST_TEST(s.adapter.sha256 == sha256_hex(spec.bytes));
  BOOST_TEST(s.adapter.size_bytes == spec.bytes.size());
  BOOST_REQUIRE(s.upload_location.has_value());
  BOOST_TEST(s.upload_location->upload_id == sent.job.upload->upload_id);
  BOOST_TEST(s.upload_location->partition == sent.job.upload->partition);
  BOOST_TEST(s.upload_location->first_offset == sent.job.upload->first_offset);
  BOOST_TEST(s.upload_location->last_offset == sent.job.upload->last_offset);
  BOOST_TEST(s.upload_location->chunk_count == 1u);
  BOOST_REQUIRE(s.adapter_config.has_value());
  auto config = adapter::parse_adapter_config(*s.adapter_config);
  BOOST_REQUIRE(config.ok());
  BOOST_TEST(config->r == 8);
  BOOST_TEST(config->lora_alpha == 16.0);
  BOOST_TEST(config->target_modules.size() == 4u);
  BOOST_TEST(*config->base_model_name_or_path == "loraplane/toy-llama");

  // pending (gateway, seq 1) → validating (seq 2) → validating + validated (seq 3)
  auto history = h.history(sent.adapter_id);
  BOOST_REQUIRE(history.size() >= 3u);
  BOOST_TEST((history[0].adapter.status == AdapterStatus::pending));
  BOOST_TEST((history[1].adapter.status == AdapterStatus::validating));
  BOOST_TEST(!history[1].validated);
  BOOST_TEST(history[1].seq == 2u);
  // Where the chunks are, already while validating: storage nodes start copying them then.
  BOOST_REQUIRE(history[1].upload_location.has_value());
  BOOST_TEST(history[1].upload_location->upload_id == sent.job.upload->upload_id);
  BOOST_TEST(history[1].upload_location->last_offset == sent.job.upload->last_offset);
  BOOST_TEST(history[1].adapter.sha256 == sha256_hex(spec.bytes));
  BOOST_TEST(history[2].seq == 3u);
  BOOST_TEST(history[2].validated);
}

BOOST_AUTO_TEST_CASE(many_chunks_with_a_config_and_a_repeated_chunk) {
  const auto tenant = new_tenant();
  UploadSpec spec;
  spec.bytes = file_of(toy_tensors(64, adapter::testing::all_modules(), "F32"));
  spec.chunk_bytes = std::size_t{64} * 1024;
  spec.repeat = {3};
  spec.config = R"({"peft_type":"LORA","r":64,"lora_alpha":128,"target_modules":)"
                R"(["q_proj","k_proj","v_proj","o_proj","gate_proj","up_proj","down_proj"],)"
                R"("base_model_name_or_path":"loraplane/toy-llama"})";
  auto sent = Harness::get().upload(tenant, "big-config", spec);
  BOOST_TEST_REQUIRE(sent.job.upload->chunk_count > 4u);
  auto s = verdict(sent);
  BOOST_TEST_REQUIRE(s.validated, (s.adapter.error ? s.adapter.error->message : ""));
  BOOST_TEST(s.adapter.rank == 64);
  BOOST_TEST(s.adapter.target_modules.size() == 7u);
  BOOST_TEST(s.adapter.sha256 == sha256_hex(spec.bytes));
  auto config = adapter::parse_adapter_config(*s.adapter_config);
  BOOST_REQUIRE(config.ok());
  BOOST_TEST(config->lora_alpha == 128.0);
}

BOOST_AUTO_TEST_CASE(bad_adapters_fail_naming_the_tensor_or_field) {
  auto& h = Harness::get();
  const auto tenant = new_tenant();
  const auto q_a = adapter::testing::lora_name(0, "q_proj", true);
  const auto q_b = adapter::testing::lora_name(0, "q_proj", false);

  UploadSpec rank128;
  rank128.bytes = file_of(toy_tensors(128));
  auto big_rank = h.upload(tenant, "rank-128", rank128);

  auto tensors = toy_tensors(8);
  std::erase_if(tensors, [&](const TensorSpec& t) { return t.name == q_b; });
  UploadSpec a_only;
  a_only.bytes = file_of(tensors);
  auto missing_b = h.upload(tenant, "a-without-b", a_only);

  tensors = toy_tensors(8);
  for (auto& t : tensors)
    if (t.name == q_b) t.shape = {63, 8};
  UploadSpec wrong;
  wrong.bytes = file_of(tensors);
  auto wrong_shape = h.upload(tenant, "wrong-shape", wrong);

  UploadSpec cut;
  cut.bytes = file_of(toy_tensors(8));
  cut.bytes.resize(cut.bytes.size() - 100);
  auto truncated = h.upload(tenant, "truncated", cut);

  UploadSpec lying;
  lying.bytes = file_of(toy_tensors(8));
  lying.sha256 = sha256_hex("not these bytes");
  auto sha = h.upload(tenant, "sha-mismatch", lying);

  UploadSpec embedding;
  embedding.bytes = file_of(toy_tensors(8));
  auto on_bge = h.upload(tenant, "on-embedding", embedding, "bge-m3");

  auto message = error_message(verdict(big_rank), "invalid_adapter");
  BOOST_TEST(contains(message, "rank 128 exceeds the limit of 64"));
  BOOST_TEST(contains(message, "lora_"));
  BOOST_TEST(contains(error_message(verdict(missing_b), "invalid_adapter"), q_a));
  BOOST_TEST(contains(error_message(verdict(wrong_shape), "invalid_adapter"), q_b));
  BOOST_TEST(contains(error_message(verdict(truncated), "invalid_adapter"), "truncated"));
  BOOST_TEST(contains(error_message(verdict(sha), "invalid_adapter"), "sha256"));
  BOOST_TEST(contains(error_message(verdict(on_bge), "invalid_adapter"), "embedding model"));
  BOOST_TEST(!verdict(sha).validated);
}

// A tenant uploading bad files again and again keeps its newest kMaxFailed failures: each one
// beyond deletes an older failed adapter (never the one that just failed), so the records a
// tenant can leave behind are bounded.
BOOST_AUTO_TEST_CASE(a_tenants_failed_adapters_are_bounded) {
  auto& h = Harness::get();
  const auto tenant = new_tenant();
  UploadSpec cut;
  cut.bytes = file_of(toy_tensors(8));
  cut.bytes.resize(cut.bytes.size() - 100);
  std::vector<std::string> ids;
  for (std::size_t i = 0; i < kMaxFailed + 2; ++i) {
    auto sent = h.upload(tenant, "bad-" + std::to_string(i), cut);
    error_message(verdict(sent), "invalid_adapter");
    ids.push_back(sent.adapter_id);
  }
  auto pruned = [&] {
    std::size_t n = 0;
    for (const auto& id : ids) n += h.tombstoned(id) ? 1 : 0;
    return n;
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (pruned() < 2 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  BOOST_TEST(pruned() == 2u);
  BOOST_TEST(!h.tombstoned(ids.back()));  // the newest failure is what the user looks for
  // A pruned adapter went through `deleting` like a user's delete, without an adapter.deleted
  // event: it was never announced ready, so no agent has anything to forget.
  for (const auto& id : ids) {
    if (!h.tombstoned(id)) continue;
    BOOST_TEST((h.history(id).back().adapter.status == AdapterStatus::deleting));
    BOOST_TEST(h.events(id).empty());
  }
}

BOOST_AUTO_TEST_CASE(a_bad_config_fails_naming_the_field) {
  const auto tenant = new_tenant();
  UploadSpec spec;
  spec.bytes = file_of(toy_tensors(8));
  spec.config = R"({"peft_type":"LORA","r":8,"lora_alpha":16,"use_dora":true})";
  auto sent = Harness::get().upload(tenant, "dora", spec);
  BOOST_TEST(contains(error_message(verdict(sent), "invalid_adapter"), "use_dora"));
}

BOOST_AUTO_TEST_CASE(a_second_adapter_with_the_same_name_fails_adapter_exists) {
  auto& h = Harness::get();
  const auto tenant = new_tenant();
  UploadSpec spec;
  spec.bytes = file_of(toy_tensors(8));
  auto first = h.upload(tenant, "same-name", spec);
  auto second = h.upload(tenant, "same-name", spec);
  BOOST_TEST(verdict(first).validated);
  const auto message = error_message(verdict(second), "adapter_exists");
  BOOST_TEST(contains(message, "same-name"));
  BOOST_TEST(contains(message, "(" + first.adapter_id + ", validating)"), message);  // the holder
  // Another tenant's adapter of that name is no conflict.
  auto other = h.upload(new_tenant(), "same-name", spec);
  BOOST_TEST(verdict(other).validated);
}

BOOST_AUTO_TEST_CASE(over_the_tier_quota_fails_adapter_limit_reached) {
  auto& h = Harness::get();
  const auto tenant = new_tenant(schema::Tier::shared);
  const int limit = schema::limits(schema::Tier::shared).max_adapters;
  for (int i = 0; i < limit; ++i) {
    schema::AdapterState s;
    s.seq = 4;
    s.tenant_id = tenant;
    s.adapter.id = unique_id("adp_");
    s.adapter.name = "existing-" + std::to_string(i);
    s.adapter.base_model = "toy-llama";
    s.adapter.status = i % 2 ? AdapterStatus::ready : AdapterStatus::validating;
    h.put_state(s);
  }
  // These records stand for another writer's (a previous owner of the tenant's partition). A
  // starting worker reads all of them before it takes jobs, while a running one reads them
  // asynchronously and might not have them yet when the job arrives: restart it.
  h.restart_worker();
  UploadSpec spec;
  spec.bytes = file_of(toy_tensors(8));
  auto sent = h.upload(tenant, "one-too-many", spec);
  BOOST_TEST(contains(error_message(verdict(sent), "adapter_limit_reached"), "20"));
}

BOOST_AUTO_TEST_SUITE_END()
