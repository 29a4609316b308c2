// ferryd's logs: the server log (spdlog) and the access log (one line per request), each to
// stderr (journald takes it from there) or a file, as text or JSON (one object per line).
// Client-chosen text (names, commands) is escaped so no control byte reaches a log.
// No Asio here: the formatting is pure and fuzzed (fuzz/log_fuzz.cc).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "common/status.h"

namespace ferry::server {

enum class LogFormat { kText, kJson };

struct LogSettings {
  std::string level = "info";        // trace, debug, info, warn, error, critical, off
  std::filesystem::path file;        // empty: stderr
  LogFormat format = LogFormat::kText;
  // Where access lines go: "" with the server log, "off" nowhere, else this file.
  std::string access = "";
};

// Applies `settings` (the first call installs the logger): opens the files first, so a file
// that cannot be opened leaves the logs as they were and says why. Thread-safe.
Status ConfigureLogging(const LogSettings& settings);
// Reopens the log files at their paths (SIGUSR1, after logrotate renamed them). Thread-safe.
Status ReopenLogFiles();

// One finished request.
struct AccessRecord {
  std::chrono::system_clock::time_point time;  // when it finished
  std::string_view client;                     // "ADDRESS:PORT"
  std::string_view door;                       // "native", "http"
  std::string_view command;                    // the wire's verb: GET, PUT, LIST, ...; "-"
  std::string_view name;                       // the name or prefix as the client sent it; "-"
  int status = 0;
  std::uint64_t bytes_sent = 0;      // body bytes
  std::uint64_t bytes_received = 0;  // body bytes
  std::chrono::nanoseconds duration{0};
  std::string_view cache = "-";  // GET: hit, memory, miss; else "-"
};

// Writes `record` to the access log, if it is on. Thread-safe; one write(2) per line.
void LogAccess(const AccessRecord& record);
// Whether LogAccess writes anything (a session can skip building the record).
bool AccessLogOn();

// The lines LogAccess writes, '\n' included. Text: `TIME access client=... door=...
// command=... name="..." status=... bytes_sent=... bytes_received=... duration_ms=...
// cache=...`; JSON: {"time":...,"level":"info","type":"access","client":...,...}.
std::string FormatAccess(const AccessRecord& record, LogFormat format);

// "2026-12-03T12:00:00.123Z".
std::string FormatLogTime(std::chrono::system_clock::time_point time);

// Appends `text` as a JSON string's contents: ", \ and every control byte (C0, DEL and the
// C1 code points) escaped as \n, \t, \r, \uXXXX; bytes that are not UTF-8 become \ufffd.
void AppendJsonEscaped(std::string& out, std::string_view text);
// Appends `text` for a text log inside double quotes: \" \\ \n \r \t, and \xNN for every
// other control byte and every byte that is not part of valid UTF-8.
void AppendTextEscaped(std::string& out, std::string_view text);
// The same, with `quotes` false: " and \ stay as they are (the server log's messages).
void AppendEscaped(std::string& out, std::string_view text, bool quotes);

}  // namespace ferry::server
