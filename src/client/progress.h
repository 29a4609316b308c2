// Progress bars for transfers on a terminal, and the summary line after them. Rendering is a
// pure function (tested alone); Progress only decides when to draw: at most ~10 times a second,
// on stderr, and only when stderr is a terminal and --quiet was not given.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>
#include <string_view>

namespace ferry::client {

// "name  [#########.........]  45%  12.0 MiB / 26.7 MiB  105 MiB/s  ETA 0:01", cut to `width`
// columns (the name is shortened first). `total` 0 draws a full bar.
std::string RenderProgressLine(std::string_view name, std::uint64_t done, std::uint64_t total,
                               double bytes_per_second, int width);

// "3 files, 12.0 MiB in 1.2 s (10.0 MiB/s), 2 from the server's cache, 1 resumed"
std::string RenderSummary(std::uint64_t files, std::uint64_t bytes, std::chrono::duration<double> elapsed,
                          std::uint64_t from_cache, std::uint64_t resumed, std::uint64_t failed);

class ProgressDisplay {
 public:
  // Draws only if `enabled` (the caller decides: a terminal, not --quiet). Thread-safe.
  ProgressDisplay(bool enabled, std::uint64_t total_files, std::uint64_t total_bytes);
  ~ProgressDisplay();  // ends the line it drew, if any

  // One file's bytes moved so far (absolute, including resumed bytes).
  void Update(std::string_view name, std::uint64_t done, std::uint64_t size);
  // A file is done (or failed): adds its bytes to the overall count.
  void FileDone(std::uint64_t size);
  bool enabled() const { return enabled_; }

 private:
  void Draw(std::string_view name, std::uint64_t done, std::uint64_t size, bool force);

  bool enabled_;
  std::uint64_t total_files_, total_bytes_;
  std::mutex mutex_;
  std::uint64_t files_done_ = 0, bytes_done_ = 0;  // GUARDED_BY(mutex_)
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_draw_{};  // GUARDED_BY(mutex_)
  bool drew_ = false;                                   // GUARDED_BY(mutex_)
};

// True if `fd` is a terminal and TERM is not "dumb".
bool IsTerminal(int fd);

}  // namespace ferry::client
