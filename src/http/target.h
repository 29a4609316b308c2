// What an HTTP request target names, decoded and checked by the one name policy
// (common/object_name.h), as a pure function:
//   /files/<name>      a file            /files/ or /files/<folder>/   a folder's listing
//   /metrics           Prometheus        /healthz                       liveness
//   / and /files       redirect to /files/
// The query string is dropped; everything else is 404.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/object_name.h"
#include "common/status.h"

namespace ferry::http {

struct Target {
  enum class Kind { kFile, kFolder, kMetrics, kHealth, kRedirectToFiles, kUnknown };
  Kind kind = Kind::kUnknown;
  std::optional<ObjectName> file;  // kFile
  std::string folder;              // kFolder: "" (the root) or decoded, ending in '/'
};

// 400 for a name the policy refuses (traversal, control bytes, bad escapes...).
Result<Target> ParseTarget(std::string_view target);

}  // namespace ferry::http
