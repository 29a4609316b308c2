// TraceWriter: records requests in ferry-sim's CSV format ("timestamp,name,size"), so an
// operator can replay real traffic through the simulator (ferryd --trace-out). Names are
// percent-encoded (no comma or newline can reach the file). Bounded: past max_bytes the file
// is renamed to FILE.1 (replacing the previous one) and a new one starts. Thread-safe.
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string_view>

#include "common/status.h"

namespace ferry::sim {

class TraceWriter {
 public:
  static Result<std::unique_ptr<TraceWriter>> Open(const std::filesystem::path& path,
                                                   std::uint64_t max_bytes);
  ~TraceWriter();  // flushes

  void Record(std::int64_t unix_seconds, std::string_view name, std::uint64_t size);
  void Flush();

 private:
  TraceWriter(std::filesystem::path path, std::uint64_t max_bytes, std::FILE* file,
              std::uint64_t written)
      : path_(std::move(path)), max_bytes_(max_bytes), file_(file), written_(written) {}

  const std::filesystem::path path_;
  const std::uint64_t max_bytes_;
  std::mutex mutex_;
  std::FILE* file_;        // GUARDED_BY(mutex_)
  std::uint64_t written_;  // GUARDED_BY(mutex_)
};

}  // namespace ferry::sim
