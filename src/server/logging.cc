#include "server/logging.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <mutex>

#include <fmt/format.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

namespace ferry::server {
namespace {

// A log destination: stderr, or a file opened for appending. Every line is one write(2) on
// an O_APPEND descriptor, so lines from many threads (and from logrotate's copy) never mix.
class LogFile {
 public:
  static Result<std::shared_ptr<LogFile>> Open(const std::filesystem::path& path) {
    if (path.empty()) return std::make_shared<LogFile>(STDERR_FILENO, path);
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0) {
      return Status::Internal(fmt::format("cannot open log file {}: {}", path.string(),
                                          std::strerror(errno)));
    }
    return std::make_shared<LogFile>(fd, path);
  }
  LogFile(int fd, std::filesystem::path path)
      : fd_(fd), path_(std::move(path)), journal_(IsJournalStream(fd)) {}
  ~LogFile() {
    if (fd_ != STDERR_FILENO) ::close(fd_);
  }
  LogFile(const LogFile&) = delete;
  LogFile& operator=(const LogFile&) = delete;

  // `priority`: syslog's (3 error ... 7 debug), for journald, which reads a "<N>" prefix.
  void Write(std::string_view line, int priority) const {
    std::string prefixed;
    if (journal_) {
      prefixed = fmt::format("<{}>{}", priority, line);
      line = prefixed;
    }
    while (!line.empty()) {
      ssize_t written = ::write(fd_, line.data(), line.size());
      if (written < 0 && errno == EINTR) continue;
      if (written <= 0) return;  // nowhere to say it
      line.remove_prefix(static_cast<std::size_t>(written));
    }
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  // Whether `fd` is the stream systemd connected to journald (JOURNAL_STREAM names its device
  // and inode), so levels can reach `journalctl -p`.
  static bool IsJournalStream(int fd) {
    const char* stream = std::getenv("JOURNAL_STREAM");
    struct stat status {};
    if (stream == nullptr || ::fstat(fd, &status) != 0) return false;
    return fmt::format("{}:{}", status.st_dev, status.st_ino) == stream;
  }

  const int fd_;
  const std::filesystem::path path_;
  const bool journal_;
};

int SyslogPriority(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::critical: return 2;
    case spdlog::level::err: return 3;
    case spdlog::level::warn: return 4;
    case spdlog::level::info: return 6;
    default: return 7;
  }
}

// Where everything goes. Swapped whole (under the mutex) by ConfigureLogging and
// ReopenLogFiles; a writer copies the pointers it needs under the lock and writes outside it.
struct Outputs {
  std::shared_ptr<LogFile> main;
  std::shared_ptr<LogFile> access;  // null: off
  LogFormat format = LogFormat::kText;
};

// Lock order: configure_mutex, then outputs_mutex. configure_mutex makes each reconfiguration
// or reopen (read, open files, swap) one step, so a reopen cannot undo a reload's settings.
std::mutex configure_mutex;
std::mutex outputs_mutex;
Outputs outputs;  // GUARDED_BY(outputs_mutex)
std::atomic<bool> access_on{false};

Outputs CurrentOutputs() {
  std::lock_guard lock(outputs_mutex);
  return outputs;
}

// The spdlog sink of the server log: formats each message as a whole line of the current
// format and writes it with one call.
class ServerLogSink : public spdlog::sinks::base_sink<spdlog::details::null_mutex> {
 protected:
  void sink_it_(const spdlog::details::log_msg& message) override {
    Outputs now = CurrentOutputs();
    if (!now.main) return;
    std::string_view text(message.payload.data(), message.payload.size());
    auto level_name = spdlog::level::to_string_view(message.level);
    std::string_view level(level_name.data(), level_name.size());
    std::string line;
    line.reserve(text.size() + 64);
    if (now.format == LogFormat::kJson) {
      line += "{\"time\":\"";
      line += FormatLogTime(message.time);
      line += "\",\"level\":\"";
      line.append(level.data(), level.size());
      line += "\",\"message\":\"";
      AppendJsonEscaped(line, text);
      line += "\"}\n";
    } else {
      line += FormatLogTime(message.time);
      line += ' ';
      line.append(level.data(), level.size());
      line += ' ';
      // The server's own messages may quote a client's words: no control byte gets through.
      AppendEscaped(line, text, /*quotes=*/false);
      line += '\n';
    }
    now.main->Write(line, SyslogPriority(message.level));
  }
  void flush_() override {}
};

bool IsContinuation(unsigned char byte) { return (byte & 0xC0) == 0x80; }

// The length of the valid UTF-8 sequence at text[i] (1 to 4), or 0 if there is none (a stray
// or truncated byte, an overlong form, a surrogate, a code point past U+10FFFF).
std::size_t Utf8SequenceLength(std::string_view text, std::size_t i, char32_t& code_point) {
  auto at = [&](std::size_t k) { return static_cast<unsigned char>(text[i + k]); };
  unsigned char lead = at(0);
  std::size_t length = lead < 0x80 ? 1 : (lead >> 5) == 0x6 ? 2 : (lead >> 4) == 0xE ? 3
                                                              : (lead >> 3) == 0x1E ? 4 : 0;
  if (length == 0 || i + length > text.size()) return 0;
  if (length == 1) {
    code_point = lead;
    return 1;
  }
  char32_t value = lead & (0x7F >> length);
  for (std::size_t k = 1; k < length; ++k) {
    if (!IsContinuation(at(k))) return 0;
    value = (value << 6) | (at(k) & 0x3F);
  }
  static constexpr char32_t kMinimum[] = {0, 0, 0x80, 0x800, 0x10000};
  if (value < kMinimum[length] || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) {
    return 0;
  }
  code_point = value;
  return length;
}

bool IsControl(char32_t code_point) {
  return code_point < 0x20 || (code_point >= 0x7F && code_point <= 0x9F);
}

}  // namespace

std::string FormatLogTime(std::chrono::system_clock::time_point time) {
  auto since_epoch = time.time_since_epoch();
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
  auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - seconds);
  std::time_t whole = static_cast<std::time_t>(seconds.count());
  std::tm utc{};
  ::gmtime_r(&whole, &utc);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", utc.tm_year + 1900,
                     utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                     millis.count());
}

void AppendJsonEscaped(std::string& out, std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    char32_t code_point = 0;
    std::size_t length = Utf8SequenceLength(text, i, code_point);
    if (length == 0) {
      out += "\\ufffd";
      ++i;
      continue;
    }
    if (code_point == '"') out += "\\\"";
    else if (code_point == '\\') out += "\\\\";
    else if (code_point == '\n') out += "\\n";
    else if (code_point == '\r') out += "\\r";
    else if (code_point == '\t') out += "\\t";
    else if (IsControl(code_point)) out += fmt::format("\\u{:04x}", static_cast<unsigned>(code_point));
    else out.append(text.substr(i, length));
    i += length;
  }
}

void AppendTextEscaped(std::string& out, std::string_view text) { AppendEscaped(out, text, true); }

void AppendEscaped(std::string& out, std::string_view text, bool quotes) {
  for (std::size_t i = 0; i < text.size();) {
    char32_t code_point = 0;
    std::size_t length = Utf8SequenceLength(text, i, code_point);
    if (length == 0 || IsControl(code_point)) {
      if (length == 1 && code_point == '\n') out += "\\n";
      else if (length == 1 && code_point == '\r') out += "\\r";
      else if (length == 1 && code_point == '\t') out += "\\t";
      else {
        // Each byte of a C1 code point or of a broken sequence, as \xNN.
        for (std::size_t k = 0; k < std::max<std::size_t>(length, 1); ++k) {
          out += fmt::format("\\x{:02x}", static_cast<unsigned char>(text[i + k]));
        }
      }
      i += std::max<std::size_t>(length, 1);
      continue;
    }
    if (quotes && code_point == '"') out += "\\\"";
    else if (quotes && code_point == '\\') out += "\\\\";
    else out.append(text.substr(i, length));
    i += length;
  }
}

std::string FormatAccess(const AccessRecord& record, LogFormat format) {
  std::string line;
  line.reserve(256);
  double duration_ms = static_cast<double>(record.duration.count()) / 1e6;
  if (format == LogFormat::kJson) {
    line += "{\"time\":\"";
    line += FormatLogTime(record.time);
    line += "\",\"level\":\"info\",\"type\":\"access\",\"client\":\"";
    AppendJsonEscaped(line, record.client);
    line += "\",\"door\":\"";
    AppendJsonEscaped(line, record.door);
    line += "\",\"command\":\"";
    AppendJsonEscaped(line, record.command);
    line += "\",\"name\":\"";
    AppendJsonEscaped(line, record.name);
    line += fmt::format("\",\"status\":{},\"bytes_sent\":{},\"bytes_received\":{},"
                        "\"duration_ms\":{:.3f},\"cache\":\"",
                        record.status, record.bytes_sent, record.bytes_received, duration_ms);
    AppendJsonEscaped(line, record.cache);
    line += "\"}\n";
  } else {
    line += FormatLogTime(record.time);
    line += " access client=";
    AppendTextEscaped(line, record.client);
    line += " door=";
    AppendTextEscaped(line, record.door);
    line += " command=";
    AppendTextEscaped(line, record.command);
    line += " name=\"";
    AppendTextEscaped(line, record.name);
    line += fmt::format("\" status={} bytes_sent={} bytes_received={} duration_ms={:.3f} cache=",
                        record.status, record.bytes_sent, record.bytes_received, duration_ms);
    AppendTextEscaped(line, record.cache);
    line += '\n';
  }
  return line;
}

namespace {

LogSettings settings_in_force;  // GUARDED_BY(configure_mutex)

// Opens the files `settings` name and swaps them in. `reuse_open`: a file already open at the
// same path is kept (a reload that changes nothing reopens nothing); else every file is
// opened anew (after logrotate renamed them). REQUIRES: configure_mutex held.
Status Install(const LogSettings& settings, bool reuse_open) {
  Outputs current = CurrentOutputs();
  auto open = [&](const std::filesystem::path& path) -> Result<std::shared_ptr<LogFile>> {
    for (const auto& file : {current.main, current.access}) {
      if (reuse_open && file && file->path() == path) return file;
    }
    return LogFile::Open(path);
  };
  Outputs next{.format = settings.format};
  Result<std::shared_ptr<LogFile>> main = open(settings.file);
  if (!main.ok()) return main.status();
  next.main = *main;
  if (settings.access.empty()) {
    next.access = next.main;
  } else if (settings.access != "off") {
    Result<std::shared_ptr<LogFile>> access = open(settings.access);
    if (!access.ok()) return access.status();
    next.access = *access;
  }
  std::lock_guard lock(outputs_mutex);
  outputs = std::move(next);
  access_on.store(outputs.access != nullptr, std::memory_order_relaxed);
  settings_in_force = settings;
  return Status::Ok();
}

}  // namespace

Status ConfigureLogging(const LogSettings& settings) {
  std::lock_guard configuring(configure_mutex);
  bool first = CurrentOutputs().main == nullptr;
  if (Status installed = Install(settings, /*reuse_open=*/true); !installed.ok()) return installed;
  if (first) {
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("ferryd", std::make_shared<ServerLogSink>()));
  }
  spdlog::set_level(spdlog::level::from_str(settings.level));
  return Status::Ok();
}

Status ReopenLogFiles() {
  std::lock_guard configuring(configure_mutex);
  return Install(settings_in_force, /*reuse_open=*/false);
}

bool AccessLogOn() { return access_on.load(std::memory_order_relaxed); }

void LogAccess(const AccessRecord& record) {
  if (!AccessLogOn()) return;
  Outputs now = CurrentOutputs();
  if (now.access) now.access->Write(FormatAccess(record, now.format), 6);
}

}  // namespace ferry::server
