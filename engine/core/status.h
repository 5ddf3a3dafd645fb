// Run-time error reporting: Status and Result<T>. Config-time problems use config::Diagnostics.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace dataflow {

class Status {
 public:
  enum class Code { Ok, Retriable, Fatal };

  Status() = default;
  static Status ok() { return Status(); }
  static Status retriable(std::string message) {
    return Status(Code::Retriable, std::move(message));
  }
  static Status fatal(std::string message) { return Status(Code::Fatal, std::move(message)); }

  bool isOk() const { return code_ == Code::Ok; }
  bool isRetriable() const { return code_ == Code::Retriable; }
  bool isFatal() const { return code_ == Code::Fatal; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

 private:
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}
  Code code_ = Code::Ok;
  std::string message_;
};

template <class T>
class Result {
 public:
  Result(T value) : value_(std::move(value)) {}          // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {}  // NOLINT: implicit by design

  bool isOk() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace dataflow
