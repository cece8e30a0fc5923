// schema::parse<T> for every schema type: the JSON request bodies the API accepts
// (CreateTenantRequest of POST /admin/v1/tenants, CreateAdapterRequest of POST /v1/adapters),
// the Kafka records every role reads back (tenants, keys, jobs, adapter states, load events,
// residency) and the response bodies `loraplane import` parses.
// Input: one selector byte ('A' + type index, see kTypes), then the document.
// Invariants: parse -> to_json -> parse succeeds and to_json is then a fixed point; errors are
// invalid_argument or limit_exceeded with a message; error_field never crashes.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "fuzz/invariant.hpp"
#include "schema/json.hpp"
#include "schema/tenant_deleted.hpp"

using namespace loraplane;
using namespace loraplane::schema;

namespace {

using loraplane::fuzz::fail;

template <class T>
void round_trip(std::string_view json) {
  const auto parsed = parse<T>(json);
  if (!parsed) {
    const Error& e = parsed.error();
    if (e.code != Errc::invalid_argument && e.code != Errc::limit_exceeded)
      fail("parse error of an unexpected kind");
    if (e.message.empty()) fail("parse error without a message");
    (void)error_field(e);
    return;
  }
  const std::string first = to_json(parsed.value());
  const auto again = parse<T>(first);
  if (!again) {
    std::fprintf(stderr, "%s\n%s\n", first.c_str(), again.error().message.c_str());
    fail("to_json of a parsed value does not parse");
  }
  const std::string second = to_json(again.value());
  if (first != second) {
    std::fprintf(stderr, "%s\n%s\n", first.c_str(), second.c_str());
    fail("parse -> to_json -> parse -> to_json is not stable");
  }
}

using Fn = void (*)(std::string_view);
constexpr Fn kTypes[] = {
    round_trip<CreateTenantRequest>,  // A
    round_trip<CreateAdapterRequest>, // B
    round_trip<TenantRecord>,         // C
    round_trip<ApiKeyRecord>,         // D
    round_trip<Job>,                  // E
    round_trip<UploadChunkHeader>,    // F
    round_trip<AdapterState>,         // G
    round_trip<LoadEvent>,            // H
    round_trip<Residency>,            // I
    round_trip<Tenant>,               // J
    round_trip<ApiKeyCreated>,        // K
    round_trip<ApiKeyRevoked>,        // L
    round_trip<Adapter>,              // M
    round_trip<AdapterList>,          // N
    round_trip<AdapterDeleted>,       // O
    round_trip<ErrorBody>,            // P
    round_trip<ModelList>,            // Q
    round_trip<EngineList>,           // R
    round_trip<Health>,               // S
    round_trip<TenantDeleted>,        // T
};
constexpr std::size_t kCount = sizeof(kTypes) / sizeof(kTypes[0]);

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t index = static_cast<std::uint8_t>(data[0] - 'A') % kCount;
  kTypes[index](std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1));
  return 0;
}
