// The manifest of `loraplane import` (cmd/import/manifest.cpp): JSON lines and CSV.
// Input: one byte choosing the format (even: .jsonl, odd: .csv), then the file's text, written
// to a temporary file because read_manifest takes a path.
// Invariants: every accepted entry has a name, a base model, exactly one of file and repo
// (config and lora_alpha only with file), absolute paths, increasing line numbers and no
// duplicate name+base; written back as JSON lines it reads back the same.
#include <boost/json.hpp>
#include <simdjson.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "cmd/import/manifest.hpp"
#include "fuzz/invariant.hpp"

namespace imp = loraplane::cmd::import;

namespace {

using loraplane::fuzz::fail;

const std::filesystem::path& work_dir() {
  static const std::filesystem::path dir = [] {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/fuzz_manifest.XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) fail("mkdtemp");
    return std::filesystem::path(pattern);
  }();
  // Registered after `dir` is constructed, so it runs before `dir` is destroyed.
  static const bool cleanup = std::atexit([] {
    std::error_code ec;
    std::filesystem::remove_all(work_dir(), ec);
  }) == 0;
  (void)cleanup;
  return dir;
}

std::string write(std::string_view name, std::string_view text) {
  const auto path = work_dir() / name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  if (!out) fail("cannot write the manifest file");
  return path.string();
}

bool same(const imp::Entry& a, const imp::Entry& b) {
  return a.name == b.name && a.base_model == b.base_model && a.file == b.file &&
         a.config == b.config && a.lora_alpha == b.lora_alpha && a.repo == b.repo &&
         a.revision == b.revision && a.hf_token == b.hf_token;
}

bool utf8(const imp::Entry& e) {
  for (const std::string* s : {&e.name, &e.base_model, &e.revision})
    if (!simdjson::validate_utf8(*s)) return false;
  for (const auto* o : {&e.file, &e.config, &e.lora_alpha, &e.repo, &e.hf_token})
    if (*o && !simdjson::validate_utf8(**o)) return false;
  return true;
}

std::string to_jsonl(const std::vector<imp::Entry>& entries) {
  std::string out;
  for (const auto& e : entries) {
    boost::json::object o{{"name", e.name}, {"base_model", e.base_model}, {"revision", e.revision}};
    if (e.file) o["file"] = *e.file;
    if (e.config) o["config"] = *e.config;
    if (e.lora_alpha) o["lora_alpha"] = *e.lora_alpha;
    if (e.repo) o["repo"] = *e.repo;
    if (e.hf_token) o["hf_token"] = *e.hf_token;
    out += boost::json::serialize(o) + "\n";
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const bool csv = (data[0] & 1) != 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  const auto read = imp::read_manifest(write(csv ? "m.csv" : "m.jsonl", text));
  if (!read) {
    if (read.error().message.empty()) fail("error without a message");
    return 0;
  }
  const auto& entries = read.value();
  if (entries.empty() || entries.size() > imp::kMaxEntries) fail("entry count");
  std::set<std::pair<std::string, std::string>> seen;
  std::size_t last_line = 0;
  bool all_utf8 = true;
  for (const auto& e : entries) {
    if (e.name.empty() || e.base_model.empty()) fail("entry without name or base_model");
    if (e.file.has_value() == e.repo.has_value()) fail("entry without exactly one of file/repo");
    if (e.repo && (e.config || e.lora_alpha)) fail("repo entry with config or lora_alpha");
    for (const auto* p : {&e.file, &e.config})
      if (*p && !std::filesystem::path(**p).is_absolute()) fail("relative path left");
    if (e.line <= last_line) fail("line numbers not increasing");
    last_line = e.line;
    if (!seen.insert({e.name, e.base_model}).second) fail("duplicate entry accepted");
    all_utf8 = all_utf8 && utf8(e);
  }
  if (!all_utf8) return 0;  // CSV cells are bytes; JSON lines must be UTF-8
  const auto again = imp::read_manifest(write("again.jsonl", to_jsonl(entries)));
  if (!again) {
    std::fprintf(stderr, "%s\n", again.error().message.c_str());
    fail("entries written as JSON lines do not read back");
  }
  if (again->size() != entries.size()) fail("JSON lines read back a different count");
  for (std::size_t i = 0; i < entries.size(); ++i)
    if (!same(entries[i], again.value()[i])) fail("JSON lines read back different entries");
  return 0;
}
