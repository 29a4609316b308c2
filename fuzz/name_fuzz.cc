// name_fuzz: the one name policy (common/object_name.h). The input is a name as it comes off
// the wire, and the same bytes as an already decoded name.
//
// Invariants:
//  - FromWire accepts exactly what an independent model accepts: the input decoded once (a
//    '%' that decoding produced stays a '%'), then non-empty, at most 4096 bytes, valid UTF-8,
//    no NUL/control byte/backslash, segments non-empty, not "." or "..", at most 255 bytes,
//    not under ".ferry/" (403; either code for a name both malformed and private);
//    FromDecoded likewise on the undecoded bytes;
//  - an accepted name re-encodes with ToWire to unreserved bytes, '/' and %XX only, which
//    FromWire turns back into the same name; FromDecoded(name.str()) is the same name;
//  - PrefixFromWire accepts every name's wire form, and each prefix it accepts obeys the
//    prefix rules and survives PercentEncode and PrefixFromWire unchanged.
#include <optional>
#include <string>

#include "common/object_name.h"
#include "fuzz/fuzz_check.h"

namespace ferry {
namespace {

int Hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// One pass of %XX decoding; nullopt for a '%' without two hex digits.
std::optional<std::string> DecodeOnce(std::string_view wire) {
  std::string out;
  for (std::size_t i = 0; i < wire.size(); ++i) {
    if (wire[i] != '%') {
      out += wire[i];
    } else if (i + 2 < wire.size() && Hex(wire[i + 1]) >= 0 && Hex(wire[i + 2]) >= 0) {
      out += static_cast<char>(Hex(wire[i + 1]) * 16 + Hex(wire[i + 2]));
      i += 2;
    } else {
      return std::nullopt;
    }
  }
  return out;
}

// Code points by RFC 3629's table of well-formed sequences; nullopt if `bytes` is not UTF-8.
std::optional<std::u32string> DecodeUtf8(std::string_view bytes) {
  std::u32string out;
  std::size_t i = 0;
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(bytes[k]); };
  auto in = [&](std::size_t k, unsigned lo, unsigned hi) {
    return k < bytes.size() && byte(k) >= lo && byte(k) <= hi;
  };
  while (i < bytes.size()) {
    unsigned b = byte(i);
    if (b <= 0x7f) {
      out += b;
      i += 1;
    } else if (b >= 0xc2 && b <= 0xdf && in(i + 1, 0x80, 0xbf)) {
      out += (b & 0x1f) << 6 | (byte(i + 1) & 0x3f);
      i += 2;
    } else if ((b == 0xe0 && in(i + 1, 0xa0, 0xbf)) ||
               (b >= 0xe1 && b <= 0xec && in(i + 1, 0x80, 0xbf)) ||
               (b == 0xed && in(i + 1, 0x80, 0x9f)) ||
               (b >= 0xee && b <= 0xef && in(i + 1, 0x80, 0xbf))) {
      if (!in(i + 2, 0x80, 0xbf)) return std::nullopt;
      out += (b & 0x0f) << 12 | (byte(i + 1) & 0x3f) << 6 | (byte(i + 2) & 0x3f);
      i += 3;
    } else if ((b == 0xf0 && in(i + 1, 0x90, 0xbf)) ||
               (b >= 0xf1 && b <= 0xf3 && in(i + 1, 0x80, 0xbf)) ||
               (b == 0xf4 && in(i + 1, 0x80, 0x8f))) {
      if (!in(i + 2, 0x80, 0xbf) || !in(i + 3, 0x80, 0xbf)) return std::nullopt;
      out += (b & 0x07) << 18 | (byte(i + 1) & 0x3f) << 12 | (byte(i + 2) & 0x3f) << 6 |
             (byte(i + 3) & 0x3f);
      i += 4;
    } else {
      return std::nullopt;
    }
  }
  return out;
}

// The rules names and prefixes share: UTF-8 without controls (C0, DEL, C1) or backslash.
bool CleanText(std::string_view text) {
  std::optional<std::u32string> code_points = DecodeUtf8(text);
  if (!code_points || text.size() > kMaxNameBytes) return false;
  for (char32_t c : *code_points) {
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == '\\') return false;
  }
  return true;
}

// The model's verdict on a decoded name. Which of 400 and 403 a name both malformed and
// private gets is not part of the policy.
struct Verdict {
  bool malformed = false;
  bool private_folder = false;
};

Verdict ModelName(std::string_view name) {
  Verdict verdict;
  verdict.private_folder =
      name == kPrivateFolder || name.starts_with(std::string(kPrivateFolder) + "/");
  if (name.empty() || !CleanText(name)) verdict.malformed = true;
  std::size_t start = 0;
  while (!verdict.malformed) {
    std::size_t slash = name.find('/', start);
    std::string_view segment =
        name.substr(start, slash == std::string_view::npos ? slash : slash - start);
    if (segment.empty() || segment == "." || segment == ".." || segment.size() > kMaxSegmentBytes) {
      verdict.malformed = true;
    }
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return verdict;
}

bool ModelPrefix(std::string_view prefix) {
  if (!CleanText(prefix) || prefix.starts_with('/')) return false;
  std::size_t start = 0;
  while (start <= prefix.size()) {
    std::size_t slash = prefix.find('/', start);
    std::string_view segment =
        prefix.substr(start, slash == std::string_view::npos ? slash : slash - start);
    bool complete = slash != std::string_view::npos;
    if (segment == "." || segment == ".." || (complete && segment.empty())) return false;
    if (!complete) break;
    start = slash + 1;
  }
  return true;
}

bool IsCanonicalWire(std::string_view wire) {
  for (std::size_t i = 0; i < wire.size(); ++i) {
    char c = wire[i];
    bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                 c == '-' || c == '.' || c == '_' || c == '~' || c == '/';
    if (plain) continue;
    if (c != '%' || i + 2 >= wire.size()) return false;
    for (char digit : wire.substr(i + 1, 2)) {
      if (!((digit >= '0' && digit <= '9') || (digit >= 'A' && digit <= 'F'))) return false;
    }
    i += 2;
  }
  return true;
}

void CheckName(const Result<ObjectName>& name, std::string_view decoded) {
  Verdict verdict = ModelName(decoded);
  Code code = name.status().code();
  if (verdict.malformed && verdict.private_folder) {
    FUZZ_CHECK(code == Code::kBadRequest || code == Code::kForbidden);
  } else if (verdict.malformed) {
    FUZZ_CHECK(code == Code::kBadRequest);
  } else if (verdict.private_folder) {
    FUZZ_CHECK(code == Code::kForbidden);
  } else {
    FUZZ_CHECK(code == Code::kOk);
  }
  if (!name.ok()) {
    FUZZ_CHECK(!name.status().message().empty());
    return;
  }
  FUZZ_CHECK(name->str() == decoded);
  std::string wire = name->ToWire();
  FUZZ_CHECK(IsCanonicalWire(wire));
  Result<ObjectName> again = ObjectName::FromWire(wire);
  FUZZ_CHECK(again.ok() && *again == *name && again->ToWire() == wire);
  Result<ObjectName> same = ObjectName::FromDecoded(name->str());
  FUZZ_CHECK(same.ok() && *same == *name);
  Result<std::string> as_prefix = PrefixFromWire(wire);
  FUZZ_CHECK(as_prefix.ok() && *as_prefix == name->str());
}

}  // namespace
}  // namespace ferry

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace ferry;
  std::string_view input(reinterpret_cast<const char*>(data), size);

  std::optional<std::string> decoded = DecodeOnce(input);
  Result<ObjectName> from_wire = ObjectName::FromWire(input);
  Result<std::string> percent = PercentDecode(input);
  FUZZ_CHECK(percent.ok() == decoded.has_value());
  if (decoded) {
    FUZZ_CHECK(*percent == *decoded);
    CheckName(from_wire, *decoded);  // decoded exactly once: "%2541" names "%41"
  } else {
    FUZZ_CHECK(from_wire.status().code() == Code::kBadRequest);
  }
  CheckName(ObjectName::FromDecoded(input), input);

  FUZZ_CHECK(IsValidUtf8(input) == DecodeUtf8(input).has_value());
  FUZZ_CHECK(IsCanonicalWire(PercentEncode(input)));
  Result<std::string> round = PercentDecode(PercentEncode(input));
  FUZZ_CHECK(round.ok() && *round == input);

  Result<std::string> prefix = PrefixFromWire(input);
  FUZZ_CHECK(prefix.ok() == (decoded && ModelPrefix(*decoded)));
  if (prefix.ok()) {
    FUZZ_CHECK(*prefix == *decoded);
    Result<std::string> again = PrefixFromWire(PercentEncode(*prefix));
    FUZZ_CHECK(again.ok() && *again == *prefix);
  }
  return 0;
}
