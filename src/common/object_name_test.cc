#include "common/object_name.h"

#include <gtest/gtest.h>

#include <string>

namespace ferry {
namespace {

TEST(PercentCoding, RoundTripsEveryByte) {
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  std::string encoded = PercentEncode(all);
  EXPECT_EQ(encoded.find(' '), std::string::npos);
  EXPECT_EQ(encoded.find('\n'), std::string::npos);
  EXPECT_EQ(*PercentDecode(encoded), all);
}

TEST(PercentCoding, KeepsUnreservedAndSlash) {
  EXPECT_EQ(PercentEncode("logs/a-b_c.~txt"), "logs/a-b_c.~txt");
  EXPECT_EQ(PercentEncode("my file ü.txt"), "my%20file%20%C3%BC.txt");
  EXPECT_EQ(*PercentDecode("my%20file%20%c3%bc.txt"), "my file ü.txt");
  EXPECT_EQ(*PercentDecode("a+b"), "a+b");
}

TEST(PercentCoding, RefusesBrokenEscapes) {
  for (const char* bad : {"%", "%2", "a%", "%zz", "%2g", "abc%4"}) {
    EXPECT_EQ(PercentDecode(bad).status().code(), Code::kBadRequest) << bad;
  }
}

TEST(Utf8, Validation) {
  EXPECT_TRUE(IsValidUtf8("plain"));
  EXPECT_TRUE(IsValidUtf8("ü€𝄞"));
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xe0\x80\xaf"));      // overlong '/', 3 bytes
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // > U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\x80"));              // lone continuation
  EXPECT_FALSE(IsValidUtf8("\xc3"));              // truncated
}

TEST(ObjectName, AcceptsCanonicalNames) {
  for (const char* good : {"a", "a.txt", "logs/2024/a.gz", ".hidden", "a..b", "...", "ü/€",
                           "name with spaces", "x/.ferry", ".ferryx/a"}) {
    Result<ObjectName> name = ObjectName::FromDecoded(good);
    ASSERT_TRUE(name.ok()) << good << ": " << name.status().ToString();
    EXPECT_EQ(name->str(), good);
  }
}

// Hostile names, as they arrive on the wire (percent-encoded where needed).
TEST(ObjectName, RefusesHostileNames) {
  const char* hostile[] = {
      "",          "/",           "/etc/passwd", "..",        "../x",        "a/../../x",
      "a/..",      "./a",         "a/./b",       "a//b",      "a/",          "%2e%2e/x",
      "%2E%2E",    "a/%2e%2e/b",  "%2fetc",      "a%00b",     "%00",         "a%0ab",
      "a%0db",     "a%09b",       "a%7fb",       "a%c2%85b",  "a%5cb",       "..%5c..%5cx",
      "%c0%ae%c0%ae/x",           "%c0%afetc",   "%e0%80%ae", "%ff",         "%ed%a0%80",
      "%",         "%zz",         ".ferry",      ".ferry/tmp/x", "%2eferry/x", "a%2f..%2fb",
  };
  for (const char* wire : hostile) {
    Result<ObjectName> name = ObjectName::FromWire(wire);
    EXPECT_FALSE(name.ok()) << "'" << wire << "' was accepted as '"
                            << (name.ok() ? name->str() : "") << "'";
    if (!name.ok()) {
      EXPECT_TRUE(name.status().code() == Code::kBadRequest ||
                  name.status().code() == Code::kForbidden)
          << wire;
    }
  }
}

TEST(ObjectName, LengthLimits) {
  EXPECT_TRUE(ObjectName::FromDecoded(std::string(255, 'a')).ok());
  EXPECT_FALSE(ObjectName::FromDecoded(std::string(256, 'a')).ok());
  std::string deep;  // "a/a/.../bb": exactly the limit, then one byte over
  for (int i = 0; i < 2047; ++i) deep += "a/";
  deep += "bb";
  ASSERT_EQ(deep.size(), kMaxNameBytes);
  EXPECT_TRUE(ObjectName::FromDecoded(deep).ok());
  EXPECT_FALSE(ObjectName::FromDecoded(deep + "b").ok());
  EXPECT_FALSE(ObjectName::FromDecoded(std::string(kMaxNameBytes + 1, 'a')).ok());
}

TEST(ObjectName, DecodedExactlyOnce) {
  // "%2541" is "%41" after one decoding; a second decoding would make it "A".
  Result<ObjectName> name = ObjectName::FromWire("%2541");
  ASSERT_TRUE(name.ok());
  EXPECT_EQ(name->str(), "%41");
  EXPECT_EQ(name->ToWire(), "%2541");
}

TEST(Prefix, AcceptsPartialNamesAndRefusesTraversal) {
  EXPECT_EQ(*PrefixFromWire(""), "");
  EXPECT_EQ(*PrefixFromWire("logs/"), "logs/");
  EXPECT_EQ(*PrefixFromWire("logs/20"), "logs/20");
  for (const char* bad : {"/", "../", "a/../", "..", "a//", "%00", "a%0a"}) {
    EXPECT_FALSE(PrefixFromWire(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace ferry
