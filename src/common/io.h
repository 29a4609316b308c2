// Small POSIX helpers shared by the store, the cache and the client.
#pragma once

#include <string_view>

#include "common/status.h"

namespace ferry {

// Writes all of `bytes` to `fd`, retrying short writes and EINTR. `what` names the operation
// in the error ("write logs/a.gz").
Status WriteAll(int fd, std::string_view bytes, std::string_view what);

}  // namespace ferry
