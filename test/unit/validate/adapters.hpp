// Toy-llama adapter files for the validate tests, built with the adapter suite's fixtures.
#pragma once

#include <string>
#include <vector>

#include "test/unit/adapter/fixtures.hpp"

namespace loraplane::validate::testing {

using adapter::testing::TensorSpec;

inline std::vector<TensorSpec> toy_tensors(
    std::uint64_t rank = 8, std::vector<std::string> modules = adapter::testing::qkvo(),
    std::string dtype = "BF16") {
  adapter::testing::LoraSpec spec;
  spec.rank = rank;
  spec.modules = std::move(modules);
  spec.dtype = std::move(dtype);
  return adapter::testing::lora_tensors(adapter::testing::toy_llama(), spec);
}

inline std::string file_of(const std::vector<TensorSpec>& tensors) {
  return adapter::testing::file_bytes(tensors);
}

inline bool contains(const std::string& text, std::string_view part) {
  return adapter::testing::contains(text, part);
}

}  // namespace loraplane::validate::testing
