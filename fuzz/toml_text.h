// Writing TOML back, for the config and auth targets' round trips. By hand rather than with
// toml++'s formatter: toml++ 3.3 writes a table header key such as w'oz bare ("[servers.w'oz]"),
// which no TOML parser reads back. Ferry itself never writes TOML.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

namespace ferry::fuzz {

// A TOML basic string ("..."), usable as a value or a quoted key. REQUIRES: UTF-8 text.
inline std::string TomlString(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7f) {
      char escape[8];
      std::snprintf(escape, sizeof escape, "\\u%04X", u);
      out += escape;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

}  // namespace ferry::fuzz
