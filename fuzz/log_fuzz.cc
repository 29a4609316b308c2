// The logs' escaping (server/logging.h): whatever bytes a client puts in a name, the access
// line is one line with no control byte, its JSON parses, and a name that is valid UTF-8 comes
// back out of the JSON exactly.
#include <nlohmann/json.hpp>

#include "fuzz/fuzz_check.h"
#include "server/logging.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view name(reinterpret_cast<const char*>(data), size);
  ferry::server::AccessRecord record{.client = "127.0.0.1:1", .door = "http", .command = "GET",
                                     .name = name, .status = 200};
  for (auto format : {ferry::server::LogFormat::kText, ferry::server::LogFormat::kJson}) {
    std::string line = ferry::server::FormatAccess(record, format);
    FUZZ_CHECK(!line.empty() && line.back() == '\n');
    for (std::size_t i = 0; i + 1 < line.size(); ++i) {
      auto byte = static_cast<unsigned char>(line[i]);
      FUZZ_CHECK(byte >= 0x20 && byte != 0x7f);
    }
    if (format == ferry::server::LogFormat::kJson) {
      nlohmann::json parsed = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      FUZZ_CHECK(!parsed.is_discarded());
      bool valid_utf8 = true;
      try {
        (void)nlohmann::json(std::string(name)).dump();  // throws on invalid UTF-8
      } catch (const nlohmann::json::type_error&) {
        valid_utf8 = false;
      }
      if (valid_utf8) FUZZ_CHECK(parsed["name"].get<std::string>() == name);
    }
  }
  return 0;
}
