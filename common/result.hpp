// Errors as values: Result<T> for expected failures (validation, I/O, not found).
#pragma once

#include <iosfwd>
#include <string>
#include <utility>
#include <variant>

namespace loraplane {

enum class Errc {
  invalid_argument,  // caller's input is wrong
  not_found,
  already_exists,
  conflict,
  corrupt,          // stored or received bytes fail a check (sha256 mismatch, bad header)
  io,               // disk or network failure; usually retryable
  unavailable,      // a dependency is down or overloaded; retry later
  limit_exceeded,   // size, count or rate bound hit
  internal,
};

const char* to_string(Errc code);
std::ostream& operator<<(std::ostream& out, Errc code);  // for test diagnostics

struct Error {
  Errc code = Errc::internal;
  std::string message;
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() { return value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT
  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return error_; }

 private:
  Error error_;
  bool ok_ = true;
};

using Status = Result<void>;

inline Error make_error(Errc code, std::string message) { return Error{code, std::move(message)}; }

}  // namespace loraplane
