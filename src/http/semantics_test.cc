#include "http/semantics.h"

#include <gtest/gtest.h>

namespace ferry::http {
namespace {

constexpr std::int64_t kNov1994 = 784111777;  // Sun, 06 Nov 1994 08:49:37 GMT (RFC 9110's)
const std::string kEtag = "\"xxh128:00112233445566778899aabbccddeeff\"";

TEST(HttpDateTest, FormatsImfFixdate) {
  EXPECT_EQ(FormatHttpDate(kNov1994), "Sun, 06 Nov 1994 08:49:37 GMT");
  EXPECT_EQ(FormatHttpDate(0), "Thu, 01 Jan 1970 00:00:00 GMT");
}

TEST(HttpDateTest, ParsesTheThreeForms) {
  EXPECT_EQ(ParseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT"), kNov1994);
  EXPECT_EQ(ParseHttpDate("Sunday, 06-Nov-94 08:49:37 GMT"), kNov1994);
  EXPECT_EQ(ParseHttpDate("Sun Nov  6 08:49:37 1994"), kNov1994);
  EXPECT_EQ(ParseHttpDate(FormatHttpDate(1764000000)), 1764000000);
}

TEST(HttpDateTest, RefusesMalformedDates) {
  for (std::string_view bad : {"", "yesterday", "Sun, 6 Nov 1994 08:49:37 GMT",
                               "Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 06 Foo 1994 08:49:37 GMT",
                               "Sun, 06 Nov 1994 25:49:37 GMT", "Sun, 32 Nov 1994 08:49:37 GMT",
                               "Sun, 06 Nov 1994 08:49:37 GMT trailing", "Sun Nov  6 08:49:37",
                               "Sun,", "Sunday, 06-Nov-94"}) {
    EXPECT_EQ(ParseHttpDate(bad), std::nullopt) << bad;
  }
}

// Found with http_fuzz: "23:59:60" on the last day of 9999 parsed to a time FormatHttpDate
// prints with a five-digit year, which no parser reads back; timegm also turned "31 Feb" into
// 2 or 3 March. A date is now a real calendar date within years 0000-9999.
TEST(HttpDateTest, ParsesOnlyRealDatesItCanPrint) {
  for (std::string_view bad : {"Fri, 31 Dec 9999 23:59:60 GMT", "Sat, 31 Feb 2024 00:00:00 GMT",
                               "Thu, 29 Feb 2023 00:00:00 GMT", "Thu, 31 Apr 2024 00:00:00 GMT",
                               "Thursday, 29-Feb-01 00:00:00 GMT", "Wed Feb 30 00:00:00 2000"}) {
    EXPECT_EQ(ParseHttpDate(bad), std::nullopt) << bad;
  }
  EXPECT_EQ(ParseHttpDate("Thu, 29 Feb 2024 00:00:00 GMT"), 1709164800);
  EXPECT_EQ(ParseHttpDate("Tue, 29 Feb 2000 00:00:00 GMT"), 951782400);
  EXPECT_EQ(ParseHttpDate("Fri, 31 Dec 9999 23:59:59 GMT"), 253402300799);
  EXPECT_EQ(ParseHttpDate(FormatHttpDate(253402300799)), 253402300799);
  EXPECT_EQ(ParseHttpDate("Wed, 31 Dec 1969 23:59:60 GMT"), 0);  // a leap second
}

TEST(EntityTagTest, QuotesTheChecksumAndMatchesWeakly) {
  Checksum checksum = *Checksum::Parse("xxh128:00112233445566778899aabbccddeeff");
  EXPECT_EQ(EntityTag(checksum), kEtag);
  EXPECT_TRUE(IfNoneMatchMatches(kEtag, kEtag));
  EXPECT_TRUE(IfNoneMatchMatches("*", kEtag));
  EXPECT_TRUE(IfNoneMatchMatches("\"other\", W/" + kEtag, kEtag));
  EXPECT_TRUE(IfNoneMatchMatches(" \"a\" ,\t" + kEtag + " ", kEtag));
  EXPECT_FALSE(IfNoneMatchMatches("\"other\"", kEtag));
  EXPECT_FALSE(IfNoneMatchMatches("xxh128:00112233445566778899aabbccddeeff", kEtag))
      << "an unquoted tag is not the tag";
}

ReadPlan Plan(std::string_view range, std::uint64_t size = 1000) {
  return PlanRead({.range = range}, size, kNov1994, kEtag);
}

void ExpectPlan(const ReadPlan& plan, int status, std::uint64_t offset, std::uint64_t length) {
  EXPECT_EQ(plan.status, status);
  EXPECT_EQ(plan.offset, offset);
  EXPECT_EQ(plan.length, length);
}

TEST(PlanReadTest, SingleRanges) {
  ExpectPlan(Plan(""), 200, 0, 1000);
  ExpectPlan(Plan("bytes=0-99"), 206, 0, 100);
  ExpectPlan(Plan("bytes=500-599"), 206, 500, 100);
  ExpectPlan(Plan("bytes=900-"), 206, 900, 100);
  ExpectPlan(Plan("bytes=900-5000"), 206, 900, 100);
  ExpectPlan(Plan("bytes=-100"), 206, 900, 100);
  ExpectPlan(Plan("bytes=-5000"), 206, 0, 1000);
  ExpectPlan(Plan("bytes=999-999"), 206, 999, 1);
  ExpectPlan(Plan(" bytes= 1 - 2 "), 206, 1, 2);
  ExpectPlan(Plan("Bytes=0-0"), 206, 0, 1);
}

TEST(PlanReadTest, UnsatisfiableRanges) {
  ExpectPlan(Plan("bytes=1000-"), 416, 0, 0);
  ExpectPlan(Plan("bytes=5000-6000"), 416, 0, 0);
  ExpectPlan(Plan("bytes=-0"), 416, 0, 0);
  ExpectPlan(Plan("bytes=0-", 0), 416, 0, 0);
  ExpectPlan(Plan("bytes=-10", 0), 416, 0, 0);
}

TEST(PlanReadTest, IgnoredRangesServeTheWholeFile) {
  for (std::string_view ignored : {"bytes=0-1,5-6", "items=0-1", "bytes=5-1", "bytes=a-b",
                                   "bytes=-", "bytes=", "bytes 0-1", "bytes=0x1-2",
                                   "bytes=99999999999999999999-", "bytes=--1", "bytes=+1-2"}) {
    ExpectPlan(Plan(ignored), 200, 0, 1000);
  }
}

TEST(PlanReadTest, ConditionalRequests) {
  ExpectPlan(PlanRead({.if_none_match = kEtag}, 10, kNov1994, kEtag), 304, 0, 0);
  ExpectPlan(PlanRead({.if_none_match = "\"old\""}, 10, kNov1994, kEtag), 200, 0, 10);
  ExpectPlan(PlanRead({.if_modified_since = "Sun, 06 Nov 1994 08:49:37 GMT"}, 10, kNov1994, kEtag),
             304, 0, 0);
  ExpectPlan(PlanRead({.if_modified_since = "Sun, 06 Nov 1994 08:49:36 GMT"}, 10, kNov1994, kEtag),
             200, 0, 10);
  ExpectPlan(PlanRead({.if_modified_since = "garbage"}, 10, kNov1994, kEtag), 200, 0, 10);
  // If-None-Match wins over If-Modified-Since (RFC 9110 13.1.3).
  ExpectPlan(PlanRead({.if_none_match = "\"old\"", .if_modified_since = FormatHttpDate(kNov1994)},
                      10, kNov1994, kEtag),
             200, 0, 10);
}

TEST(PlanReadTest, IfRangeGuardsTheRange) {
  ExpectPlan(PlanRead({.range = "bytes=0-1", .if_range = kEtag}, 10, kNov1994, kEtag), 206, 0, 2);
  ExpectPlan(PlanRead({.range = "bytes=0-1", .if_range = "\"old\""}, 10, kNov1994, kEtag), 200, 0, 10);
  ExpectPlan(PlanRead({.range = "bytes=0-1", .if_range = FormatHttpDate(kNov1994)}, 10, kNov1994, kEtag),
             206, 0, 2);
  ExpectPlan(PlanRead({.range = "bytes=0-1", .if_range = FormatHttpDate(kNov1994 - 1)}, 10,
                      kNov1994, kEtag),
             200, 0, 10);
}

TEST(ContentTypeTest, ByExtension) {
  EXPECT_EQ(ContentTypeFor("a/b/page.HTML"), "text/html; charset=utf-8");
  EXPECT_EQ(ContentTypeFor("logs/x.tar.gz"), "application/gzip");
  EXPECT_EQ(ContentTypeFor("photo.jpg"), "image/jpeg");
  EXPECT_EQ(ContentTypeFor("README"), "application/octet-stream");
  EXPECT_EQ(ContentTypeFor(".bashrc"), "application/octet-stream");
  EXPECT_EQ(ContentTypeFor("a.png/b"), "application/octet-stream");
  EXPECT_EQ(ContentTypeFor("x."), "application/octet-stream");
}

}  // namespace
}  // namespace ferry::http
