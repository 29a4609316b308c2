#include "common/io.h"

#include <unistd.h>

#include <cerrno>

namespace ferry {

Status WriteAll(int fd, std::string_view bytes, std::string_view what) {
  while (!bytes.empty()) {
    ssize_t wrote = ::write(fd, bytes.data(), bytes.size());
    if (wrote < 0) {
      if (errno == EINTR) continue;
      return PosixError(errno, what);
    }
    bytes.remove_prefix(static_cast<std::size_t>(wrote));
  }
  return Status::Ok();
}

}  // namespace ferry
