#include "common/object_name.h"

#include <fmt/format.h>

namespace ferry {
namespace {

bool IsUnreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// C0 controls, DEL, and the C1 controls U+0080..U+009F (UTF-8 C2 80..C2 9F).
// REQUIRES: `bytes` is valid UTF-8 (so a C2 lead byte has a continuation byte after it).
bool HasControlOrBackslash(std::string_view bytes) {
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    auto c = static_cast<unsigned char>(bytes[i]);
    if (c < 0x20 || c == 0x7f || c == '\\') return true;
    if (c == 0xc2 && i + 1 < bytes.size()) {
      auto next = static_cast<unsigned char>(bytes[i + 1]);
      if (next >= 0x80 && next <= 0x9f) return true;
    }
  }
  return false;
}

// Checks the parts of the policy that names and prefixes share. `kind` is "name" or "prefix".
Status ValidateCommon(std::string_view decoded, std::string_view kind) {
  if (decoded.size() > kMaxNameBytes) {
    return Status::BadRequest(fmt::format("{} longer than {} bytes", kind, kMaxNameBytes));
  }
  if (!IsValidUtf8(decoded)) return Status::BadRequest(fmt::format("{} is not valid UTF-8", kind));
  if (HasControlOrBackslash(decoded)) {
    return Status::BadRequest(fmt::format("{} holds a control byte or a backslash", kind));
  }
  if (!decoded.empty() && decoded.front() == '/') {
    return Status::BadRequest(fmt::format("{} must be relative (no leading '/')", kind));
  }
  return Status::Ok();
}

}  // namespace

std::string PercentEncode(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(bytes.size());
  for (char ch : bytes) {
    auto c = static_cast<unsigned char>(ch);
    if (IsUnreserved(c) || c == '/') {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kDigits[c >> 4]);
      out.push_back(kDigits[c & 0xf]);
    }
  }
  return out;
}

Result<std::string> PercentDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    if (i + 2 >= text.size()) return Status::BadRequest("truncated percent escape");
    int high = HexValue(text[i + 1]);
    int low = HexValue(text[i + 2]);
    if (high < 0 || low < 0) return Status::BadRequest("bad percent escape");
    out.push_back(static_cast<char>(high * 16 + low));
    i += 2;
  }
  return out;
}

bool IsValidUtf8(std::string_view bytes) {
  std::size_t i = 0;
  while (i < bytes.size()) {
    auto c = static_cast<unsigned char>(bytes[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t length;
    std::uint32_t code_point;
    if (c >= 0xc2 && c <= 0xdf) {
      length = 2;
      code_point = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      length = 3;
      code_point = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      length = 4;
      code_point = c & 0x07;
    } else {
      return false;  // continuation byte first, overlong lead (C0, C1) or > U+10FFFF lead
    }
    if (i + length > bytes.size()) return false;
    for (std::size_t k = 1; k < length; ++k) {
      auto next = static_cast<unsigned char>(bytes[i + k]);
      if ((next & 0xc0) != 0x80) return false;
      code_point = (code_point << 6) | (next & 0x3f);
    }
    if ((length == 3 && code_point < 0x800) || (length == 4 && code_point < 0x10000)) {
      return false;  // overlong
    }
    if (code_point > 0x10ffff || (code_point >= 0xd800 && code_point <= 0xdfff)) return false;
    i += length;
  }
  return true;
}

Status ValidateName(std::string_view decoded) {
  if (decoded.empty()) return Status::BadRequest("empty name");
  if (Status s = ValidateCommon(decoded, "name"); !s.ok()) return s;
  std::size_t start = 0;
  bool first = true;
  while (true) {
    std::size_t slash = decoded.find('/', start);
    std::string_view segment = decoded.substr(start, slash == std::string_view::npos
                                                         ? std::string_view::npos
                                                         : slash - start);
    if (segment.empty()) return Status::BadRequest("name has an empty segment ('//' or a trailing '/')");
    if (segment == "." || segment == "..") {
      return Status::BadRequest("name has a '.' or '..' segment");
    }
    if (segment.size() > kMaxSegmentBytes) {
      return Status::BadRequest(fmt::format("name segment longer than {} bytes", kMaxSegmentBytes));
    }
    if (first && segment == kPrivateFolder) {
      return Status::Forbidden("names under .ferry/ are the server's own");
    }
    first = false;
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return Status::Ok();
}

Result<ObjectName> ObjectName::FromWire(std::string_view encoded) {
  Result<std::string> decoded = PercentDecode(encoded);
  if (!decoded.ok()) return decoded.status();
  return FromDecoded(*decoded);
}

Result<ObjectName> ObjectName::FromDecoded(std::string_view decoded) {
  if (Status s = ValidateName(decoded); !s.ok()) return s;
  return ObjectName(std::string(decoded));
}

Result<std::string> PrefixFromWire(std::string_view encoded) {
  Result<std::string> decoded = PercentDecode(encoded);
  if (!decoded.ok()) return decoded.status();
  if (Status s = ValidateCommon(*decoded, "prefix"); !s.ok()) return s;
  // Every complete segment (those followed by '/') must be a valid segment.
  std::string_view view = *decoded;
  std::size_t start = 0;
  for (std::size_t slash = view.find('/'); slash != std::string_view::npos;
       slash = view.find('/', start)) {
    std::string_view segment = view.substr(start, slash - start);
    if (segment.empty() || segment == "." || segment == "..") {
      return Status::BadRequest("prefix has an empty, '.' or '..' segment");
    }
    start = slash + 1;
  }
  std::string_view last = view.substr(start);
  if (last == "." || last == "..") return Status::BadRequest("prefix has a '.' or '..' segment");
  return decoded;
}

}  // namespace ferry
