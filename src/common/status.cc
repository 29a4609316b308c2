#include "common/status.h"

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace ferry {

std::string_view CodeReason(Code code) {
  switch (code) {
    case Code::kOk: return "ok";
    case Code::kBadRequest: return "bad request";
    case Code::kUnauthenticated: return "unauthenticated";
    case Code::kForbidden: return "forbidden";
    case Code::kNotFound: return "not found";
    case Code::kConflict: return "conflict";
    case Code::kTooLarge: return "too large";
    case Code::kBadRange: return "bad range";
    case Code::kChecksumMismatch: return "checksum mismatch";
    case Code::kTooManyRequests: return "too many requests";
    case Code::kInternal: return "internal error";
    case Code::kBusy: return "busy";
    case Code::kInsufficientStorage: return "insufficient storage";
  }
  return "internal error";
}

Code CodeFromNumber(int number) {
  switch (number) {
    case 200: case 400: case 401: case 403: case 404: case 409: case 413: case 416: case 422: case 429:
    case 500: case 503: case 507:
      return static_cast<Code>(number);
    default:
      return Code::kInternal;
  }
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  return fmt::format("{} {}: {}", number(), CodeReason(code_), message_);
}

Status PosixError(int error_number, std::string_view what) {
  // EXDEV's own text ("Invalid cross-device link") would puzzle whoever reads the refusal.
  const char* reason = error_number == EXDEV ? "a symbolic link leads out of the folder"
                                              : std::strerror(error_number);
  std::string message = fmt::format("{}: {}", what, reason);
  switch (error_number) {
    case ENOENT:
    case ENOTDIR:
      return Status::NotFound(std::move(message));
    case EACCES:
    case EPERM:
    case EXDEV:  // openat2(RESOLVE_BENEATH): the path would leave the root
    case ELOOP:
    case ENXIO:  // open(2) of a socket, or of a device or FIFO with nothing behind it
    case EROFS:
      return Status::Forbidden(std::move(message));
    case ENOSPC:
    case EDQUOT:
      return Status::InsufficientStorage(std::move(message));
    case EISDIR:
    case EEXIST:
    case ENOTEMPTY:
      return Status::Conflict(std::move(message));
    case ENAMETOOLONG:
      return Status::BadRequest(std::move(message));
    case EMFILE:
    case ENFILE:
    case EAGAIN:
      return Status::Busy(std::move(message));
    case EFBIG:
      return Status::TooLarge(std::move(message));
    default:
      return Status::Internal(std::move(message));
  }
}

}  // namespace ferry
