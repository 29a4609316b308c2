#include "store/s3_protocol.h"

#include <gtest/gtest.h>

#include "store/store.h"

namespace ferry::store::s3 {
namespace {

TEST(S3Location, BucketAndPrefix) {
  Result<Location> plain = ParseLocation("s3://my-bucket");
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  EXPECT_EQ(plain->bucket, "my-bucket");
  EXPECT_EQ(plain->prefix, "");
  Result<Location> prefixed = ParseLocation("s3://my.bucket/team/files/");
  ASSERT_TRUE(prefixed.ok());
  EXPECT_EQ(prefixed->prefix, "team/files/");
  EXPECT_EQ(ParseLocation("s3://abc/x")->prefix, "x/");
}

TEST(S3Location, RefusesWhatS3Would) {
  for (const char* bad : {"", "http://bucket", "s3://", "s3://ab", "s3://UPPER", "s3://-start",
                          "s3://under_score", "s3://bucket//x", "s3://bucket/a//b",
                          "s3://bucket/a\nb", "s3://bucket/../x", "s3://bucket/a/./b",
                          "s3://bucket/a/.."}) {
    Result<Location> parsed = ParseLocation(bad);
    EXPECT_EQ(parsed.status().code(), Code::kBadRequest) << bad;
    EXPECT_FALSE(parsed.status().message().empty());
  }
  EXPECT_FALSE(ParseLocation("s3://" + std::string(64, 'a')).ok());
}

TEST(S3Encoding, KeysKeepSlashesQueriesDoNot) {
  EXPECT_EQ(UriEncode("a b/c%d~e_f.-", true), "a%20b/c%25d~e_f.-");
  EXPECT_EQ(UriEncode("a b/c", false), "a%20b%2Fc");
  EXPECT_EQ(UriEncode("\xc3\xa9", true), "%C3%A9");
  EXPECT_EQ(UriEncode("+=&", false), "%2B%3D%26");
}

TEST(S3Encoding, CanonicalQuerySortsAndEncodes) {
  EXPECT_EQ(CanonicalQuery({{"prefix", "a b/"}, {"list-type", "2"}, {"continuation-token", "x=y"}}),
            "continuation-token=x%3Dy&list-type=2&prefix=a%20b%2F");
  EXPECT_EQ(CanonicalQuery({{"uploads", ""}}), "uploads=");
  EXPECT_EQ(CanonicalQuery({{"uploadId", "2~abc"}, {"partNumber", "10"}}),
            "partNumber=10&uploadId=2~abc");
  EXPECT_EQ(CanonicalQuery({}), "");
}

TEST(S3Xml, ListPage) {
  constexpr std::string_view kPage = R"(<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name>
<Prefix></Prefix><MaxKeys>1000</MaxKeys><IsTruncated>true</IsTruncated>
<NextContinuationToken>tok/1+</NextContinuationToken>
<Contents><Key>a &amp; b/c.txt</Key><LastModified>2026-12-03T08:33:34.346Z</LastModified>
<ETag>&quot;764efa883dda1e11db47671c4a3bbd9e&quot;</ETag><Size>3</Size></Contents>
<Contents><Key>big</Key><LastModified>2026-12-03T08:33:35Z</LastModified>
<ETag>"abc-2"</ETag><Size>10737418240</Size></Contents></ListBucketResult>)";
  Result<ListPage> page = ParseListPage(kPage);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_TRUE(page->truncated);
  EXPECT_EQ(page->next_token, "tok/1+");
  ASSERT_EQ(page->objects.size(), 2u);
  EXPECT_EQ(page->objects[0].key, "a & b/c.txt");
  EXPECT_EQ(page->objects[0].etag, "764efa883dda1e11db47671c4a3bbd9e");
  EXPECT_EQ(page->objects[0].size, 3u);
  EXPECT_EQ(page->objects[0].mtime_ns, 1'796'286'814'346'000'000);
  EXPECT_EQ(page->objects[1].size, 10737418240u);
  EXPECT_EQ(page->objects[1].etag, "abc-2");
}

TEST(S3Xml, MalformedRepliesAreErrorsNotCrashes) {
  for (std::string_view bad :
       {"", "<", "not xml", "<Error><Code>AccessDenied</Code></Error>",
        "<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>",
        "<ListBucketResult><Contents><Key>k</Key><Size>-1</Size></Contents></ListBucketResult>",
        "<ListBucketResult><Contents><Size>1</Size></Contents></ListBucketResult>"}) {
    Result<ListPage> page = ParseListPage(bad);
    EXPECT_EQ(page.status().code(), Code::kInternal) << bad;
  }
  EXPECT_FALSE(ParseUploadId("<InitiateMultipartUploadResult/>").ok());
  EXPECT_FALSE(ParseResultEtag("<Error><Code>InternalError</Code></Error>").has_value());
}

TEST(S3Xml, UploadIdsEtagsAndErrors) {
  EXPECT_EQ(*ParseUploadId("<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key>"
                           "<UploadId>2~xyz</UploadId></InitiateMultipartUploadResult>"),
            "2~xyz");
  EXPECT_EQ(*ParseResultEtag("<CompleteMultipartUploadResult><ETag>&quot;ab-3&quot;</ETag>"
                             "</CompleteMultipartUploadResult>"),
            "ab-3");
  EXPECT_EQ(*ParseResultEtag("<CopyObjectResult><ETag>\"cd\"</ETag></CopyObjectResult>"), "cd");
  ErrorBody error = ParseErrorBody(
      "<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code><Message>gone</Message></Error>");
  EXPECT_EQ(error.code, "NoSuchKey");
  EXPECT_EQ(error.message, "gone");
  EXPECT_EQ(ParseErrorBody("").code, "");
  EXPECT_EQ(CompleteUploadXml({"a", "b<"}),
            "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>\"a\"</ETag></Part>"
            "<Part><PartNumber>2</PartNumber><ETag>\"b&lt;\"</ETag></Part></CompleteMultipartUpload>");
}

TEST(S3Xml, PendingUploads) {
  Result<UploadsPage> page = ParseUploadsPage(
      "<ListMultipartUploadsResult><IsTruncated>true</IsTruncated><NextKeyMarker>k2</NextKeyMarker>"
      "<NextUploadIdMarker>u2</NextUploadIdMarker><Upload><Key>k1</Key><UploadId>u1</UploadId>"
      "<Initiated>2026-12-03T08:00:00.000Z</Initiated></Upload></ListMultipartUploadsResult>");
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->uploads.size(), 1u);
  EXPECT_EQ(page->uploads[0].upload_id, "u1");
  EXPECT_EQ(page->uploads[0].initiated_ns, 1'796'284'800'000'000'000);
  EXPECT_EQ(page->next_key_marker, "k2");
}

TEST(S3Time, IsoDates) {
  EXPECT_EQ(ParseIsoTime("1970-01-01T00:00:01Z"), 1'000'000'000);
  EXPECT_EQ(ParseIsoTime("1970-01-01T00:00:00.5Z"), 500'000'000);
  for (const char* bad : {"", "2026-13-01T00:00:00Z", "2026-12-03 08:33:34Z", "2026-12-03T08:33:34",
                          "2026-12-03T08:33:34.Z", "2026-12-03T08:33:34.12345678901Z",
                          "4052-12-03T08:33:34Z"}) {  // s3_fuzz: nanoseconds past 2262 overflow
    EXPECT_FALSE(ParseIsoTime(bad).has_value()) << bad;
  }
}

TEST(S3Errors, WhatClientsAreTold) {
  EXPECT_EQ(StatusForReply(404, {"NoSuchKey", ""}, "GET a").code(), Code::kNotFound);
  EXPECT_EQ(StatusForReply(404, {}, "STAT a").code(), Code::kNotFound);  // HEAD: no body
  Status bucket = StatusForReply(404, {"NoSuchBucket", ""}, "GET a");
  EXPECT_EQ(bucket.code(), Code::kBusy);
  EXPECT_NE(bucket.message().find("NoSuchBucket"), std::string::npos);
  Status credentials = StatusForReply(403, {"InvalidAccessKeyId", ""}, "GET a");
  EXPECT_EQ(credentials.code(), Code::kBusy);
  EXPECT_NE(credentials.message().find("refused"), std::string::npos);
  EXPECT_EQ(StatusForReply(0, {"", "Connection refused"}, "GET a").code(), Code::kBusy);
  EXPECT_EQ(StatusForReply(503, {"SlowDown", ""}, "GET a").code(), Code::kBusy);
  EXPECT_EQ(StatusForReply(400, {"InvalidArgument", ""}, "GET a").code(), Code::kInternal);
  EXPECT_TRUE(Retryable(0, {}));
  EXPECT_TRUE(Retryable(503, {"SlowDown", ""}));
  EXPECT_TRUE(Retryable(500, {}));
  EXPECT_FALSE(Retryable(403, {"AccessDenied", ""}));
  EXPECT_FALSE(Retryable(404, {}));
}

TEST(S3Retry, ExponentialCappedJittered) {
  using std::chrono::milliseconds;
  EXPECT_EQ(RetryDelay(1, 0.999, milliseconds(100), milliseconds(2000)).count(), 99);
  EXPECT_EQ(RetryDelay(3, 0.5, milliseconds(100), milliseconds(2000)).count(), 200);
  EXPECT_EQ(RetryDelay(10, 0.5, milliseconds(100), milliseconds(2000)).count(), 1000);
  EXPECT_EQ(RetryDelay(1000, 1.0, milliseconds(100), milliseconds(2000)).count(), 2000);
  EXPECT_EQ(RetryDelay(2, 0.0, milliseconds(100), milliseconds(2000)).count(), 0);
}

TEST(S3Credentials, SharedFile) {
  constexpr std::string_view kFile =
      "# comment\n[other]\naws_access_key_id = X\naws_secret_access_key = Y\n\n"
      "[default]\r\naws_access_key_id=AK\r\naws_secret_access_key = SK/+=\r\nregion = eu\r\n";
  Result<Credentials> found = ParseCredentialsFile(kFile, "default");
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  EXPECT_EQ(found->access_key, "AK");
  EXPECT_EQ(found->secret_key, "SK/+=");
  EXPECT_EQ(ParseCredentialsFile(kFile, "other")->access_key, "X");
  EXPECT_EQ(ParseCredentialsFile(kFile, "missing").status().code(), Code::kBadRequest);
  EXPECT_EQ(ParseCredentialsFile("[default\n", "default").status().code(), Code::kBadRequest);
  EXPECT_EQ(ParseCredentialsFile("[default]\nno equals\n", "default").status().code(),
            Code::kBadRequest);
}

// Nothing is asked of the store to open it or to refuse an upload too large for it.
TEST(S3Store, AnnouncedUploadsBeyondTenThousandPartsAreRefusedFirst) {
  Result<std::unique_ptr<Store>> store = OpenS3Store(
      {.url = "s3://bucket", .endpoint = "http://127.0.0.1:1", .access_key = "a", .secret_key = "s"});
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  constexpr std::uint64_t kPart = 8 << 20;
  EXPECT_TRUE((*store)->Reserve(10'000 * kPart - 1).ok());
  Status refused = (*store)->Reserve(10'000 * kPart);
  EXPECT_EQ(refused.code(), Code::kTooLarge);
  EXPECT_NE(refused.message().find("--s3-part-size"), std::string::npos) << refused.message();
  EXPECT_EQ(OpenS3Store({.url = "s3://bucket", .endpoint = "http://x", .access_key = "a",
                         .secret_key = "s", .part_size = 1 << 20})
                .status()
                .code(),
            Code::kBadRequest);
}

}  // namespace
}  // namespace ferry::store::s3
