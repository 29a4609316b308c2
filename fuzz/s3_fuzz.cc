// s3_fuzz: the S3 store's parsers (store/s3_protocol.h), which read what a store (or anything
// claiming to be one) sends back. The input is text: a first line chooses the parser and is
// its argument where one is needed (an s3:// URL, a profile name); the rest is the document.
//
// Invariants:
//  - no parser crashes, hangs or throws, whatever the bytes; a refusal carries a message;
//  - ParseListPage: a truncated page names its continuation token; every object has a key;
//  - ParseLocation: an accepted bucket is 3-63 of a-z 0-9 . -, the prefix is empty or ends in
//    one '/', and the bucket and prefix put back together parse to the same location;
//  - UriEncode leaves only unreserved bytes and %XX (and '/' when kept), and CanonicalQuery
//    of one parameter is its encoded key, '=', its encoded value;
//  - ParseCredentialsFile: accepted keys are non-empty and have no surrounding blanks.
#include <string>

#include "fuzz/fuzz_check.h"
#include "store/s3_protocol.h"

namespace ferry::store::s3 {
namespace {

bool Unreserved(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

void CheckEncoded(std::string_view encoded, bool keep_slash) {
  for (std::size_t i = 0; i < encoded.size(); ++i) {
    char c = encoded[i];
    if (Unreserved(c) || (keep_slash && c == '/')) continue;
    FUZZ_CHECK(c == '%' && i + 2 < encoded.size());
    for (char digit : encoded.substr(i + 1, 2)) {
      FUZZ_CHECK((digit >= '0' && digit <= '9') || (digit >= 'A' && digit <= 'F'));
    }
    i += 2;
  }
}

void CheckLocation(std::string_view url) {
  Result<Location> location = ParseLocation(url);
  if (!location.ok()) {
    FUZZ_CHECK(!location.status().message().empty());
    return;
  }
  FUZZ_CHECK(location->bucket.size() >= 3 && location->bucket.size() <= 63);
  for (char c : location->bucket) {
    FUZZ_CHECK((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-');
  }
  FUZZ_CHECK(location->prefix.empty() || (location->prefix.back() == '/' && !location->prefix.ends_with("//")));
  Result<Location> again = ParseLocation("s3://" + location->bucket + "/" + location->prefix);
  FUZZ_CHECK(again.ok() && again->bucket == location->bucket && again->prefix == location->prefix);
}

}  // namespace
}  // namespace ferry::store::s3

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace ferry::store::s3;
  ferry::fuzz::FuzzInput input(data, size);
  std::string_view kind = input.Line();
  std::string_view argument = input.Line();
  std::string_view document = input.rest();

  if (kind == "list") {
    ferry::Result<ListPage> page = ParseListPage(document);
    if (page.ok()) {
      FUZZ_CHECK(!page->truncated || !page->next_token.empty());
      for (const ObjectInfo& object : page->objects) FUZZ_CHECK(!object.key.empty());
    } else {
      FUZZ_CHECK(!page.status().message().empty());
    }
  } else if (kind == "uploads") {
    ferry::Result<UploadsPage> page = ParseUploadsPage(document);
    if (page.ok()) {
      for (const PendingUpload& upload : page->uploads) {
        FUZZ_CHECK(!upload.key.empty() && !upload.upload_id.empty());
      }
    }
  } else if (kind == "credentials") {
    ferry::Result<Credentials> found = ParseCredentialsFile(document, argument);
    if (found.ok()) {
      for (const std::string* key : {&found->access_key, &found->secret_key}) {
        FUZZ_CHECK(!key->empty() && key->front() != ' ' && key->back() != ' ');
      }
    }
  } else {
    (void)ParseUploadId(document);
    (void)ParseResultEtag(document);
    (void)ParseErrorBody(document);
    (void)ParseIsoTime(document);
    (void)UnquoteEtag(document);
    CheckLocation(argument);
    CheckEncoded(UriEncode(document, true), true);
    CheckEncoded(UriEncode(document, false), false);
    std::string query = CanonicalQuery({{std::string(argument), std::string(document)}});
    FUZZ_CHECK(query == UriEncode(argument, false) + "=" + UriEncode(document, false));
  }
  return 0;
}
