#include "cmd/import/manifest.hpp"

#include <simdjson.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace loraplane::cmd::import {

namespace {

Error at(std::size_t line, const std::string& what) {
  return make_error(Errc::invalid_argument, "manifest line " + std::to_string(line) + ": " + what);
}

// Checks an entry and resolves its paths against the manifest's directory.
Status finish(Entry& e, const std::filesystem::path& base) {
  if (e.name.empty()) return at(e.line, "missing \"name\"");
  if (e.base_model.empty()) return at(e.line, "missing \"base_model\"");
  if (e.file.has_value() == e.repo.has_value())
    return at(e.line, "give exactly one of \"file\" (an upload) and \"repo\" (a Hugging Face import)");
  if (e.repo && (e.config || e.lora_alpha))
    return at(e.line, "\"config\" and \"lora_alpha\" go with \"file\", not \"repo\"");
  for (auto* path : {&e.file, &e.config}) {
    if (*path && std::filesystem::path(**path).is_relative()) **path = (base / **path).string();
  }
  return {};
}

// The UTF-8 byte order mark that Excel and Notepad write at the start of a file.
void strip_bom(std::string& first_line) {
  if (first_line.starts_with("\xEF\xBB\xBF")) first_line.erase(0, 3);
}

Result<std::vector<Entry>> read_jsonl(std::istream& in, const std::filesystem::path& base) {
  std::vector<Entry> out;
  simdjson::dom::parser parser;
  std::string text;
  for (std::size_t line = 1; std::getline(in, text); ++line) {
    if (line == 1) strip_bom(text);
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
    simdjson::dom::object object;
    if (parser.parse(text).get_object().get(object))
      return at(line, "not a JSON object");
    Entry e;
    e.line = line;
    for (auto field : object) {
      std::string_view value;
      std::string number;  // lora_alpha may be written as the number it is
      if (field.key == "lora_alpha" && field.value.is_number()) {
        number = simdjson::to_string(field.value);
        value = number;
      } else if (field.value.get_string().get(value)) {
        return at(line, "\"" + std::string(field.key) + "\" must be a string");
      }
      std::string v(value);
      if (field.key == "name") e.name = v;
      else if (field.key == "base_model") e.base_model = v;
      else if (field.key == "file") e.file = v;
      else if (field.key == "config") e.config = v;
      else if (field.key == "lora_alpha") e.lora_alpha = v;
      else if (field.key == "repo") e.repo = v;
      else if (field.key == "revision") e.revision = v;
      else if (field.key == "hf_token") e.hf_token = v;
      else return at(line, "unknown field \"" + std::string(field.key) + "\"");
    }
    if (auto st = finish(e, base); !st) return st.error();
    out.push_back(std::move(e));
    if (out.size() > kMaxEntries) return at(line, "more than 100000 entries");
  }
  return out;
}

std::vector<std::string> split_csv(const std::string& line) {
  std::vector<std::string> cells(1);
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        cells.back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        cells.back() += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      cells.emplace_back();
    } else if (c != '\r') {
      cells.back() += c;
    }
  }
  return cells;
}

Result<std::vector<Entry>> read_csv(std::istream& in, const std::filesystem::path& base) {
  std::string text;
  if (!std::getline(in, text)) return at(1, "empty CSV: expected a header row");
  strip_bom(text);
  auto columns = split_csv(text);
  static const std::set<std::string> known = {"name", "base_model", "file", "config",
                                              "lora_alpha", "repo", "revision", "hf_token"};
  for (const auto& c : columns)
    if (!known.contains(c)) return at(1, "unknown column \"" + c + "\"");
  std::vector<Entry> out;
  for (std::size_t line = 2; std::getline(in, text); ++line) {
    if (text.find_first_not_of(" \t\r,") == std::string::npos) continue;
    auto cells = split_csv(text);
    if (cells.size() != columns.size())
      return at(line, std::to_string(cells.size()) + " cells for " + std::to_string(columns.size()) +
                          " columns");
    Entry e;
    e.line = line;
    for (std::size_t i = 0; i < cells.size(); ++i) {
      const auto& v = cells[i];
      if (v.empty()) continue;
      const auto& c = columns[i];
      if (c == "name") e.name = v;
      else if (c == "base_model") e.base_model = v;
      else if (c == "file") e.file = v;
      else if (c == "config") e.config = v;
      else if (c == "lora_alpha") e.lora_alpha = v;
      else if (c == "repo") e.repo = v;
      else if (c == "revision") e.revision = v;
      else if (c == "hf_token") e.hf_token = v;
    }
    if (auto st = finish(e, base); !st) return st.error();
    out.push_back(std::move(e));
    if (out.size() > kMaxEntries) return at(line, "more than 100000 entries");
  }
  return out;
}

}  // namespace

Result<std::vector<Entry>> read_manifest(const std::string& path) {
  std::ifstream in(path);
  if (!in) return make_error(Errc::invalid_argument, "cannot read manifest " + path);
  const std::filesystem::path p(path);
  const auto base = p.has_parent_path() ? p.parent_path() : std::filesystem::path(".");
  Result<std::vector<Entry>> entries = make_error(Errc::invalid_argument, "");
  if (p.extension() == ".jsonl")
    entries = read_jsonl(in, base);
  else if (p.extension() == ".csv")
    entries = read_csv(in, base);
  else
    return make_error(Errc::invalid_argument,
                      "manifest must be .jsonl (one JSON object per line) or .csv: " + path);
  if (!entries) return entries;
  std::set<std::pair<std::string, std::string>> seen;
  for (const auto& e : *entries) {
    if (!seen.insert({e.name, e.base_model}).second)
      return at(e.line, "duplicate entry for " + e.base_model + ":" + e.name);
  }
  if (entries->empty()) return make_error(Errc::invalid_argument, "manifest has no entries: " + path);
  return entries;
}

}  // namespace loraplane::cmd::import
