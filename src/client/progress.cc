#include "client/progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include <fmt/format.h>

#include "common/units.h"

namespace ferry::client {
namespace {

constexpr auto kRedrawEvery = std::chrono::milliseconds(100);

int TerminalWidth() {
  winsize size{};
  if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col >= 20) return size.ws_col;
  return 80;
}

std::string FormatEta(double seconds) {
  if (seconds < 0 || seconds > 99 * 3600) return "--:--";
  auto s = static_cast<long>(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
  return fmt::format("{}:{:02}", s / 60, s % 60);
}

}  // namespace

std::string RenderProgressLine(std::string_view name, std::uint64_t done, std::uint64_t total,
                               double bytes_per_second, int width) {
  double fraction = total == 0 ? 1.0 : std::min(1.0, static_cast<double>(done) / static_cast<double>(total));
  std::string rate = bytes_per_second > 0 ? FormatBytes(static_cast<std::uint64_t>(bytes_per_second)) + "/s" : "";
  double eta = bytes_per_second > 0 ? static_cast<double>(total - std::min(done, total)) / bytes_per_second : -1;
  std::string tail = fmt::format(" {:3}%  {} / {}  {}  ETA {}", static_cast<int>(fraction * 100),
                                 FormatBytes(done), FormatBytes(total), rate, FormatEta(eta));
  // The bar gives up columns (20 down to 10) before the name does.
  constexpr int kNameWanted = 24;
  int bar_width = std::clamp(width - static_cast<int>(tail.size()) - 4 - kNameWanted, 10, 20);
  int filled = static_cast<int>(fraction * bar_width);
  std::string bar = "[" + std::string(static_cast<std::size_t>(filled), '#') +
                    std::string(static_cast<std::size_t>(bar_width - filled), '.') + "]";
  // The name gets what is left, shortened from the front ("...logs/x.gz") when too long.
  int room = width - static_cast<int>(bar.size() + tail.size()) - 3;
  std::string shown(name);
  if (room < 8) {
    shown.clear();
  } else if (static_cast<int>(shown.size()) > room) {
    shown = "..." + shown.substr(shown.size() - static_cast<std::size_t>(room - 3));
  }
  std::string line = shown.empty() ? bar + tail : shown + "  " + bar + tail;
  if (static_cast<int>(line.size()) > width) line.resize(static_cast<std::size_t>(std::max(width, 0)));
  return line;
}

std::string RenderSummary(std::uint64_t files, std::uint64_t bytes, std::chrono::duration<double> elapsed,
                          std::uint64_t from_cache, std::uint64_t resumed, std::uint64_t failed) {
  double seconds = std::max(elapsed.count(), 1e-3);
  std::string out = fmt::format("{} file{}, {} in {:.1f} s ({}/s)", files, files == 1 ? "" : "s",
                                FormatBytes(bytes), elapsed.count(),
                                FormatBytes(static_cast<std::uint64_t>(static_cast<double>(bytes) / seconds)));
  if (from_cache > 0) out += fmt::format(", {} from the server's cache", from_cache);
  if (resumed > 0) out += fmt::format(", {} resumed", resumed);
  if (failed > 0) out += fmt::format(", {} FAILED", failed);
  return out;
}

bool IsTerminal(int fd) {
  const char* term = std::getenv("TERM");
  return ::isatty(fd) == 1 && !(term != nullptr && std::string_view(term) == "dumb");
}

ProgressDisplay::ProgressDisplay(bool enabled, std::uint64_t total_files, std::uint64_t total_bytes)
    : enabled_(enabled), total_files_(total_files), total_bytes_(total_bytes) {}

ProgressDisplay::~ProgressDisplay() {
  if (enabled_ && drew_) std::fputs("\n", stderr);
}

void ProgressDisplay::Update(std::string_view name, std::uint64_t done, std::uint64_t size) {
  if (enabled_) Draw(name, done, size, done == size);
}

void ProgressDisplay::FileDone(std::uint64_t size) {
  std::lock_guard lock(mutex_);
  ++files_done_;
  bytes_done_ += size;
}

void ProgressDisplay::Draw(std::string_view name, std::uint64_t done, std::uint64_t size, bool force) {
  std::lock_guard lock(mutex_);
  auto now = std::chrono::steady_clock::now();
  if (!force && drew_ && now - last_draw_ < kRedrawEvery) return;
  last_draw_ = now;
  drew_ = true;
  double seconds = std::chrono::duration<double>(now - started_).count();
  int width = TerminalWidth() - 1;
  std::string line;
  if (total_files_ > 1) {
    // Many files: the overall bar, with the file in flight as its name.
    std::uint64_t overall = bytes_done_ + done;
    double rate = seconds > 0 ? static_cast<double>(overall) / seconds : 0;
    line = RenderProgressLine(fmt::format("{}/{} {}", files_done_ + 1, total_files_, name), overall,
                              total_bytes_, rate, width);
  } else {
    line = RenderProgressLine(name, done, size, seconds > 0 ? static_cast<double>(done) / seconds : 0, width);
  }
  std::fputs(("\r" + line + "\x1b[K").c_str(), stderr);
  std::fflush(stderr);
}

}  // namespace ferry::client
