// POST /v1/adapters/upload: streams the multipart file part into loraplane.uploads while it
// arrives (sha256 and safetensors header checked on the fly, size limit enforced as bytes
// come), then queues the validate job and records the adapter as pending. 202 only after every
// chunk, the job and the state record are acknowledged by Kafka.
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include <charconv>
#include <cmath>
#include <chrono>

#include "common/http_malformed.hpp"
#include "common/log.hpp"
#include "common/request_id.hpp"
#include "common/sha256.hpp"
#include "common/unix_time.hpp"
#include "gateway/gateway_metrics.hpp"
#include "gateway/adapters/chunk_sender.hpp"
#include "gateway/adapters/handlers.hpp"
#include "gateway/adapters/upload_session.hpp"
#include "gateway/adapters/upload_slots.hpp"
#include "gateway/adapter_directory.hpp"
#include "gateway/errors.hpp"
#include "schema/adapter/adapter_config.hpp"
#include "schema/adapter/validate.hpp"
#include "schema/adapter_job.hpp"
#include "schema/json.hpp"

namespace loraplane::gateway::adapters {

namespace {

namespace bhttp = http::beast::http;
constexpr std::size_t kReadBuffer = 256 * 1024;
constexpr std::size_t kChunksInFlight = 8;
constexpr std::uint64_t kFormOverhead = 1024 * 1024;  // fields and part headers

http::Response invalid_adapter(std::string message, std::string_view param = "file") {
  return http::error_response(http::Status::unprocessable_entity, "invalid_request_error",
                              "invalid_adapter", message, param);
}

// Kafka cannot take the chunks now: refuse at once rather than wait out the delivery timeout.
http::Response kafka_down() {
  return errors::unavailable("upload store unavailable: Kafka is unreachable; retry shortly", 5);
}

// Checks that need the whole body: file present, header complete and matching the size,
// lora_alpha a number (into `alpha`), config parsable (into `config`).
std::optional<http::Response> final_checks(UploadSession& session, std::optional<double>& alpha,
                                           std::optional<adapter::AdapterConfig>& config) {
  const auto& f = session.fields();
  if (!f.name) return errors::invalid_request("missing form field 'name'", "name");
  if (!f.base_model) return errors::invalid_request("missing form field 'base_model'", "base_model");
  if (!session.file_seen()) return errors::invalid_request("missing file part 'file'", "file");
  using State = adapter::HeaderReader::State;
  if (session.header().state() == State::need_more)
    return invalid_adapter("adapter_model.safetensors: file ends inside its header (" +
                           std::to_string(session.file_bytes()) + " bytes)");
  if (auto st = adapter::check_file_size(session.header().header(), session.file_bytes()); !st)
    return invalid_adapter("adapter_model.safetensors: " + st.error().message);
  if (f.lora_alpha) {
    double value = 0;
    auto [end, ec] = std::from_chars(f.lora_alpha->data(), f.lora_alpha->data() + f.lora_alpha->size(), value);
    // from_chars takes "inf" and "infinity": refused, as JSON (the job) cannot carry them.
    if (ec != std::errc() || end != f.lora_alpha->data() + f.lora_alpha->size() ||
        !std::isfinite(value) || !(value > 0))
      return errors::invalid_request("lora_alpha: must be a positive number", "lora_alpha");
    alpha = value;
  }
  if (f.config) {
    auto parsed = adapter::parse_adapter_config(*f.config);
    if (!parsed) return invalid_adapter(parsed.error().message, "config");  // names the file
    config = std::move(parsed).value();
  }
  return std::nullopt;
}

// Reads the body through the multipart parser, sending chunks as they fill. Returns the error
// response that ended it early, or nullopt when the whole body was read and sent.
awaitable<std::optional<http::Response>> stream_body(http::StreamContext& sc,
                                                     MultipartParser& parser,
                                                     UploadSession& session, ChunkSender& sender,
                                                     const kafka::Producer& producer,
                                                     std::chrono::seconds ctx_body_timeout) {
  bhttp::request_parser<bhttp::buffer_body> body(std::move(sc.parser));
  body.body_limit(boost::none);  // the session enforces the tier's file limit
  std::vector<char> buf(kReadBuffer);
  while (!body.is_done()) {
    body.get().body().data = buf.data();
    body.get().body().size = buf.size();
    sc.stream.expires_after(ctx_body_timeout);
    auto [ec, n] = co_await bhttp::async_read(sc.stream, sc.buffer, body, use_nothrow_awaitable);
    (void)n;
    if (ec == bhttp::error::need_buffer) ec = {};
    if (http::malformed_request(ec)) co_return http::malformed_response(ec);
    if (ec) co_return errors::invalid_request("request body incomplete: " + ec.message());
    std::size_t got = buf.size() - body.get().body().size;
    if (auto st = parser.feed({buf.data(), got}); !st) {
      if (session.error()) co_return *session.error();
      co_return errors::invalid_request("malformed multipart body: " + st.error().message);
    }
    // Keep one chunk back: the last one is sent with last=true once the body has ended.
    while (session.ready_chunks().size() > 1) {
      if (!producer.brokers_reachable()) co_return kafka_down();
      auto chunk = std::move(session.ready_chunks().front());
      session.ready_chunks().pop_front();
      if (auto st = co_await sender.send(std::move(chunk), false); !st)
        co_return errors::unavailable("upload store unavailable: " + st.error().message);
    }
  }
  if (auto st = parser.finish(); !st)
    co_return errors::invalid_request("malformed multipart body: " + st.error().message);
  session.finish_file();
  co_return std::nullopt;
}

schema::AdapterState pending_state(const schema::TenantRecord& tenant, UploadSession& session,
                                   const std::string& id, std::string sha256,
                                   std::int64_t created_ms) {
  schema::AdapterState state;
  state.seq = 1;
  state.tenant_id = tenant.id;
  state.updated_at = created_ms / 1000;
  auto& a = state.adapter;
  a.id = id;
  a.name = *session.fields().name;
  a.base_model = *session.fields().base_model;
  a.status = schema::AdapterStatus::pending;
  a.source.type = schema::SourceType::upload;
  a.size_bytes = session.file_bytes();
  a.sha256 = std::move(sha256);
  a.rank = 0;
  a.created_at = created_ms / 1000;
  return state;
}

// Rank and target modules as the header and config say, so the 202 and the lists show them
// while the adapter waits for its worker (not 0 and []). The worker validates again, with the
// bytes, and its verdict replaces them; a header the check refuses leaves them unset, for the
// worker to fail with the full error.
void describe_from_header(const ModelCatalog& catalog, const UploadSession& session, int max_rank,
                          std::optional<double> alpha,
                          const std::optional<adapter::AdapterConfig>& config,
                          schema::Adapter& adapter) {
  const auto* base = catalog.find(adapter.base_model);
  if (!base) return;
  auto summary = adapter::validate_adapter(session.header().header(), config, *base, max_rank, alpha);
  if (!summary) return;
  adapter.rank = summary->rank;
  adapter.target_modules = std::move(summary->target_modules);
}

}  // namespace

awaitable<http::Response> upload(GatewayContext& ctx, http::StreamContext& sc) {
  const auto& req = sc.parser.get();
  auto tenant = ctx.authenticate(req);
  if (!tenant) co_return errors::invalid_api_key(req);
  auto boundary = boundary_from_content_type(req[bhttp::field::content_type]);
  if (!boundary)
    co_return errors::invalid_request("Content-Type must be multipart/form-data with a boundary");
  auto tier = schema::limits(tenant->tier);
  if (auto len = sc.parser.content_length(); len && *len > tier.max_adapter_bytes + kFormOverhead)
    co_return http::error_response(
        http::Status::payload_too_large, "invalid_request_error", "adapter_too_large",
        "adapter file exceeds the limit of " + std::to_string(tier.max_adapter_bytes / 1000000) +
            " MB for this tenant's tier",
        "file");
  if (auto full = check_quota(ctx, *tenant)) co_return std::move(*full);
  if (!ctx.producer.brokers_reachable()) {
    count_upload("unavailable", 0, 0);
    co_return kafka_down();
  }
  auto admission = ctx.upload_slots->acquire(tenant->id);
  if (!admission.slot) {
    count_upload("throttled", 0, 0);
    if (admission.refusal == UploadSlots::Refusal::key_full)
      co_return errors::rate_limited(
          "this tenant already has " + std::to_string(ctx.upload_slots->tenant_max()) +
              " uploads in progress; retry when one has finished",
          2);
    co_return errors::unavailable("this gateway is at its limit of " +
                                      std::to_string(ctx.upload_slots->gateway_max()) +
                                      " uploads in progress; retry shortly",
                                  2);
  }

  AdapterDirectory::NameClaim claim;  // outlives the session, whose check takes it
  UploadSession session(tier.max_adapter_bytes, tier.max_rank);
  session.set_field_check([&ctx, &tenant, &claim](const UploadFields& f) {
    return check_new_adapter(ctx, *tenant, *f.name, *f.base_model, claim);
  });
  MultipartLimits limits;
  limits.caller_bounded = {std::string(kFileField)};  // the session holds it to the tier's limit
  MultipartParser parser(*boundary, session.callbacks(), limits);
  if (http::beast::iequals(req[bhttp::field::expect], "100-continue")) {
    bhttp::response<bhttp::empty_body> cont{bhttp::status::continue_, 11};
    co_await bhttp::async_write(sc.stream, cont, use_nothrow_awaitable);
  }
  auto start = std::chrono::steady_clock::now();
  std::string upload_id = "upl_" + random_base62(20);
  ChunkSender sender(ctx.producer, upload_id, co_await asio::this_coro::executor, kChunksInFlight,
                     sc.request_id);
  auto early = co_await stream_body(sc, parser, session, sender, ctx.producer, ctx.body_timeout);
  if (early) {
    co_await sender.wait_all();
    count_upload("rejected", 0, 0);
    co_return std::move(*early);
  }
  std::optional<double> alpha;
  std::optional<adapter::AdapterConfig> config;
  if (!session.fields_checked() && session.fields().name && session.fields().base_model) {
    session.mark_fields_checked();
    if (auto rejected = check_new_adapter(ctx, *tenant, *session.fields().name,
                                          *session.fields().base_model, claim))
      early = std::move(rejected);
  }
  if (!early) early = final_checks(session, alpha, config);
  // What is left: the chunk held back while reading plus the file's partial tail, if any.
  while (!early && !session.ready_chunks().empty()) {
    auto chunk = std::move(session.ready_chunks().front());
    session.ready_chunks().pop_front();
    const bool last = session.ready_chunks().empty();
    auto st = co_await sender.send(std::move(chunk), last);
    if (!st) early = errors::unavailable("upload store unavailable: " + st.error().message);
  }
  auto delivered = co_await sender.wait_all();
  if (early) {
    count_upload("rejected", 0, 0);
    co_return std::move(*early);
  }
  if (!delivered) {
    count_upload("failed", 0, 0);
    co_return errors::unavailable("upload store unavailable: " + delivered.error().message);
  }

  auto created_ms = unix_now_ms();
  std::string adapter_id = new_adapter_id(created_ms);
  auto sha = session.sha256_hex();
  auto state = pending_state(*tenant, session, adapter_id, sha, created_ms);
  describe_from_header(ctx.catalog, session, tier.max_rank, alpha, config, state.adapter);
  auto job =
      schema::adapter_job(schema::JobKind::upload, tenant->id, state.adapter, created_ms / 1000);
  schema::JobUpload u;
  u.upload_id = upload_id;
  u.chunk_count = sender.sent();
  u.size_bytes = session.file_bytes();
  u.sha256 = sha;
  u.partition = sender.partition();
  u.first_offset = sender.first_offset();
  u.last_offset = sender.last_offset();
  u.config = session.fields().config;
  u.lora_alpha = alpha;
  job.upload = std::move(u);

  // The job before the pending state: a gateway that dies (or loses the broker) between the
  // two leaves a job whose adapter never appears, which the validate worker drops — never a
  // pending adapter without a job, stuck forever and holding its name (docs/lifecycle.md).
  // A tenant deleted while its upload streamed gets no adapter: the delete swept before this
  // one existed.
  if (!ctx.tenants.tenant(tenant->id)) {
    count_upload("rejected", 0, 0);
    co_return errors::invalid_api_key();
  }
  const auto request_headers = kafka::request_id_headers(sc.request_id);
  auto sent = co_await kafka::produce(ctx.producer, kafka::kJobs, tenant->id, schema::to_json(job),
                                      request_headers);
  if (sent)
    sent = co_await kafka::produce(ctx.producer, kafka::kAdapters, adapter_id,
                                   schema::to_json(state), request_headers);
  if (!sent) {
    count_upload("failed", 0, 0);
    co_return errors::unavailable("adapter store unavailable: " + sent.error().message);
  }
  ctx.adapters.put(state);
  auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  count_upload("accepted", session.file_bytes(), seconds);
  logging::info({"gateway", sc.request_id},
                "upload {} for tenant {}: adapter {} ({} bytes, {} chunks, {:.0f} MB/s)",
                upload_id, tenant->id, adapter_id, session.file_bytes(), sender.sent(),
                seconds > 0 ? session.file_bytes() / seconds / 1e6 : 0.0);
  co_return http::json_response(http::Status::accepted, schema::to_json(state.adapter));
}

}  // namespace loraplane::gateway::adapters
