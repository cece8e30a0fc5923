// Enum spellings, tier limits and the string rules shared by parsers and handlers.
#include "schema/types.hpp"

#include <algorithm>
#include <array>

namespace loraplane::schema {
namespace {

// One table per enum: spelling i belongs to enumerator i.
template <class E, std::size_t N>
std::optional<E> lookup(const std::array<std::string_view, N>& names, std::string_view text) {
  for (std::size_t i = 0; i < N; ++i) {
    if (names[i] == text) return static_cast<E>(i);
  }
  return std::nullopt;
}

template <class E, std::size_t N>
std::string_view name_of(const std::array<std::string_view, N>& names, E value) {
  const auto index = static_cast<std::size_t>(value);
  return index < N ? names[index] : std::string_view("unknown");
}

constexpr std::array<std::string_view, 3> kTierNames = {"shared", "reserved", "dedicated"};
constexpr std::array<std::string_view, 5> kStatusNames = {"pending", "validating", "ready",
                                                          "failed", "deleting"};
constexpr std::array<std::string_view, 4> kJobKindNames = {"upload", "import", "delete", "stored"};
constexpr std::array<std::string_view, 2> kLoadEventNames = {"adapter.ready", "adapter.deleted"};
constexpr std::array<std::string_view, 2> kSourceTypeNames = {"upload", "hf"};

constexpr std::uint64_t kMaxAdapterBytes = 500'000'000;  // 500 MB
constexpr int kMaxRank = 64;

bool is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool is_name_char(char c) { return is_alnum(c) || c == '.' || c == '_' || c == '-'; }

bool is_visible_ascii(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u > 0x20 && u < 0x7f;
}

// "[A-Za-z0-9][A-Za-z0-9._-]*"
bool valid_repo_part(std::string_view part) {
  return !part.empty() && is_alnum(part.front()) &&
         std::all_of(part.begin(), part.end(), is_name_char);
}

}  // namespace

std::string_view to_string(Tier tier) { return name_of(kTierNames, tier); }
std::optional<Tier> parse_tier(std::string_view text) { return lookup<Tier>(kTierNames, text); }

std::string_view to_string(AdapterStatus status) { return name_of(kStatusNames, status); }
std::optional<AdapterStatus> parse_adapter_status(std::string_view text) {
  return lookup<AdapterStatus>(kStatusNames, text);
}

std::string_view to_string(JobKind kind) { return name_of(kJobKindNames, kind); }
std::optional<JobKind> parse_job_kind(std::string_view text) {
  return lookup<JobKind>(kJobKindNames, text);
}

std::string_view to_string(LoadEventKind kind) { return name_of(kLoadEventNames, kind); }
std::optional<LoadEventKind> parse_load_event_kind(std::string_view text) {
  return lookup<LoadEventKind>(kLoadEventNames, text);
}

std::string_view to_string(SourceType type) { return name_of(kSourceTypeNames, type); }
std::optional<SourceType> parse_source_type(std::string_view text) {
  return lookup<SourceType>(kSourceTypeNames, text);
}

TierLimits limits(Tier tier) {
  switch (tier) {
    case Tier::shared:
      return {20, kMaxAdapterBytes, kMaxRank};
    case Tier::reserved:
      return {200, kMaxAdapterBytes, kMaxRank};
    case Tier::dedicated:
      return {200, kMaxAdapterBytes, kMaxRank};
  }
  return {20, kMaxAdapterBytes, kMaxRank};
}

bool valid_name(std::string_view name) {
  return !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), is_name_char);
}

bool valid_sha256(std::string_view hex) {
  return hex.size() == 64 && std::all_of(hex.begin(), hex.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

bool valid_adapter_id(std::string_view id) {
  constexpr std::string_view kPrefix = "adp_";
  if (id.size() <= kPrefix.size() || id.size() > kPrefix.size() + 64 ||
      id.substr(0, kPrefix.size()) != kPrefix) {
    return false;
  }
  const auto rest = id.substr(kPrefix.size());
  return std::all_of(rest.begin(), rest.end(),
                     [](char c) { return is_alnum(c) || c == '_' || c == '-'; });
}

bool valid_base_model(std::string_view base_model) {
  return !base_model.empty() && base_model.size() <= 128 &&
         std::all_of(base_model.begin(), base_model.end(),
                     [](char c) { return is_name_char(c) || c == '/'; });
}

bool valid_repo(std::string_view repo) {
  if (repo.empty() || repo.size() > 96) return false;
  const auto slash = repo.find('/');
  if (slash == std::string_view::npos) return valid_repo_part(repo);
  return valid_repo_part(repo.substr(0, slash)) && valid_repo_part(repo.substr(slash + 1));
}

bool valid_revision(std::string_view revision) {
  return !revision.empty() && revision.size() <= 255 &&
         std::all_of(revision.begin(), revision.end(), is_visible_ascii);
}

}  // namespace loraplane::schema
