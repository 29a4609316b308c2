// The pure half of the S3 store: URLs, key and query encoding for SigV4, the XML replies of
// the S3 API, error mapping and retry timing. No network here: all of it is tested and fuzzed
// without a server (fuzz/s3_fuzz.cc). The requests themselves are in s3_client.h.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace ferry::store::s3 {

// "s3://BUCKET[/PREFIX]": the bucket by S3's naming rules (3-63 of a-z 0-9 . -), the prefix a
// folder ("logs" and "logs/" both mean "logs/") under which every file is kept.
struct Location {
  std::string bucket;
  std::string prefix;  // "" or ending in '/'
};
Result<Location> ParseLocation(std::string_view url);

// SigV4's URI encoding: every byte but A-Z a-z 0-9 - . _ ~ as %XX (uppercase); '/' kept when
// `keep_slash` (an object key in a path), encoded otherwise (a query value).
std::string UriEncode(std::string_view bytes, bool keep_slash);

// A query string in SigV4's canonical form, which libcurl 7.88 signs as it is given: keys
// sorted, keys and values URI-encoded, "key=" for an empty value.
std::string CanonicalQuery(std::vector<std::pair<std::string, std::string>> params);

// One object of a listing.
struct ObjectInfo {
  std::string key;
  std::uint64_t size = 0;
  std::string etag;  // without quotes
  std::int64_t mtime_ns = 0;
};

// A ListObjectsV2 page.
struct ListPage {
  std::vector<ObjectInfo> objects;
  bool truncated = false;
  std::string next_token;  // NextContinuationToken, when truncated
};
Result<ListPage> ParseListPage(std::string_view xml);

// InitiateMultipartUploadResult's UploadId.
Result<std::string> ParseUploadId(std::string_view xml);

// A ListMultipartUploads page: uploads in progress, for cleaning up abandoned ones.
struct PendingUpload {
  std::string key;
  std::string upload_id;
  std::int64_t initiated_ns = 0;
};
struct UploadsPage {
  std::vector<PendingUpload> uploads;
  bool truncated = false;
  std::string next_key_marker;
  std::string next_upload_id_marker;
};
Result<UploadsPage> ParseUploadsPage(std::string_view xml);

// The ETag of a CompleteMultipartUploadResult or CopyObjectResult; nullopt for anything else
// (S3 may answer 200 with an <Error> body to both).
std::optional<std::string> ParseResultEtag(std::string_view xml);

// CompleteMultipartUpload's body for parts 1..n with these ETags.
std::string CompleteUploadXml(const std::vector<std::string>& part_etags);

// An S3 error reply's Code and Message; empty when the body is not one (HEAD has no body).
struct ErrorBody {
  std::string code;
  std::string message;
};
ErrorBody ParseErrorBody(std::string_view xml);

// "2026-12-03T08:33:34.346Z" (listings) to nanoseconds since the epoch.
std::optional<std::int64_t> ParseIsoTime(std::string_view text);

// An ETag as a number for FileVersion's identity: equal ETags, equal numbers.
std::uint64_t EtagIdentity(std::string_view etag);
// The ETag header's value without its quotes (and without a weak "W/").
std::string_view UnquoteEtag(std::string_view etag);

// What a failed request means for ferry's clients. `what` names the operation ("GET
// logs/a.gz"). Missing keys are 404; credentials, a missing bucket and a store that is down
// or overloaded are 503 (the server is fine, its store is not); anything else is 500.
Status StatusForReply(long http_status, const ErrorBody& error, std::string_view what);
// Whether a request that got this reply (0: no reply, the transfer failed) is worth retrying.
bool Retryable(long http_status, const ErrorBody& error);

// How long to wait before retry `attempt` (1, 2, ...): exponential from `base`, capped at `cap`,
// scaled by `jitter` in [0, 1) ("full jitter": retries of many clients spread out).
std::chrono::milliseconds RetryDelay(int attempt, double jitter, std::chrono::milliseconds base,
                                     std::chrono::milliseconds cap);

// An AWS shared credentials file (INI): the keys of `profile`.
struct Credentials {
  std::string access_key;
  std::string secret_key;
};
Result<Credentials> ParseCredentialsFile(std::string_view text, std::string_view profile);

}  // namespace ferry::store::s3
