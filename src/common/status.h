// Status and Result<T>: errors as values in the native protocol's vocabulary.
//
// A Status is either OK or a wire code (400...507, the codes of docs/protocol.md) with a
// message that gives context ("no such file: logs/a.gz"). errno values are translated once,
// where the system call is made, by PosixError. Exceptions are kept for bugs and start-up
// failures. Both types are plain values, safe to copy between threads.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace ferry {

enum class Code : int {
  kOk = 200,
  kBadRequest = 400,
  kUnauthenticated = 401,
  kForbidden = 403,
  kNotFound = 404,
  kConflict = 409,
  kTooLarge = 413,
  kBadRange = 416,
  kChecksumMismatch = 422,
  kTooManyRequests = 429,
  kInternal = 500,
  kBusy = 503,
  kInsufficientStorage = 507,
};

// The code's number and its short reason phrase ("not found"); nullptr-free for every Code.
std::string_view CodeReason(Code code);
// The Code for a wire number, or kInternal for a number the protocol does not define.
Code CodeFromNumber(int number);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }
  static Status BadRequest(std::string m) { return {Code::kBadRequest, std::move(m)}; }
  static Status Forbidden(std::string m) { return {Code::kForbidden, std::move(m)}; }
  static Status NotFound(std::string m) { return {Code::kNotFound, std::move(m)}; }
  static Status Conflict(std::string m) { return {Code::kConflict, std::move(m)}; }
  static Status TooLarge(std::string m) { return {Code::kTooLarge, std::move(m)}; }
  static Status BadRange(std::string m) { return {Code::kBadRange, std::move(m)}; }
  static Status ChecksumMismatch(std::string m) { return {Code::kChecksumMismatch, std::move(m)}; }
  static Status Internal(std::string m) { return {Code::kInternal, std::move(m)}; }
  static Status Unauthenticated(std::string m) { return {Code::kUnauthenticated, std::move(m)}; }
  static Status TooManyRequests(std::string m) { return {Code::kTooManyRequests, std::move(m)}; }
  static Status Busy(std::string m) { return {Code::kBusy, std::move(m)}; }
  static Status InsufficientStorage(std::string m) {
    return {Code::kInsufficientStorage, std::move(m)};
  }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  int number() const { return static_cast<int>(code_); }
  const std::string& message() const { return message_; }
  // "404 not found: logs/a.gz", or "OK".
  std::string ToString() const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

// The Status for an errno value from a system call; `what` names the operation and object,
// e.g. PosixError(errno, "open logs/a.gz"). ENOENT is 404, EACCES 403, ENOSPC 507, and so on.
Status PosixError(int error_number, std::string_view what);

// A value or the Status that explains why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : data_(std::move(value)) {}  // NOLINT: implicit by design, as std::expected
  Result(Status status) : data_(std::move(status)) {}  // NOLINT
  // REQUIRES: !status.ok() for the Status constructor (an OK Result carries a value).

  bool ok() const { return std::holds_alternative<T>(data_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(data_);
  }
  T& value() & { return std::get<T>(data_); }
  const T& value() const& { return std::get<T>(data_); }
  T&& value() && { return std::get<T>(std::move(data_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> data_;
};

}  // namespace ferry
