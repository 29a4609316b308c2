#include "sim/trace_writer.h"

#include <cerrno>

#include <fmt/format.h>

#include "common/object_name.h"

namespace ferry::sim {

Result<std::unique_ptr<TraceWriter>> TraceWriter::Open(const std::filesystem::path& path,
                                                       std::uint64_t max_bytes) {
  std::FILE* file = std::fopen(path.c_str(), "ae");
  if (file == nullptr) return PosixError(errno, fmt::format("open trace {}", path.string()));
  std::error_code error;
  std::uint64_t size = std::filesystem::file_size(path, error);
  return std::unique_ptr<TraceWriter>(new TraceWriter(path, max_bytes, file, error ? 0 : size));
}

TraceWriter::~TraceWriter() {
  std::lock_guard lock(mutex_);
  if (file_ != nullptr) std::fclose(file_);
}

void TraceWriter::Record(std::int64_t unix_seconds, std::string_view name, std::uint64_t size) {
  std::string line = fmt::format("{},{},{}\n", unix_seconds, PercentEncode(name), size);
  std::lock_guard lock(mutex_);
  if (file_ == nullptr) return;
  if (written_ + line.size() > max_bytes_ && written_ > 0) {
    std::fclose(file_);
    std::filesystem::path old = path_;
    old += ".1";
    std::error_code ignored;
    std::filesystem::rename(path_, old, ignored);
    file_ = std::fopen(path_.c_str(), "we");
    written_ = 0;
    if (file_ == nullptr) return;  // the disk went away: stop recording rather than fail GETs
  }
  std::fwrite(line.data(), 1, line.size(), file_);
  written_ += line.size();
}

void TraceWriter::Flush() {
  std::lock_guard lock(mutex_);
  if (file_ != nullptr) std::fflush(file_);
}

}  // namespace ferry::sim
