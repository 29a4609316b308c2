#include "store/s3_protocol.h"

#include <time.h>

#include <algorithm>
#include <charconv>
#include <cmath>

#include <fmt/format.h>
#include <pugixml.hpp>
#include <xxhash.h>

namespace ferry::store::s3 {
namespace {

bool IsUnreserved(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) {
    text.remove_suffix(1);
  }
  return text;
}

// The document's root element whatever its namespace, or a status saying why there is none.
Result<pugi::xml_node> Root(pugi::xml_document& document, std::string_view xml,
                            std::string_view expected) {
  pugi::xml_parse_result parsed = document.load_buffer(xml.data(), xml.size());
  if (!parsed) {
    return Status::Internal(fmt::format("the store's reply is not XML ({})", parsed.description()));
  }
  pugi::xml_node root = document.document_element();
  if (std::string_view(root.name()) != expected) {
    return Status::Internal(fmt::format("the store replied <{}>, not <{}>", root.name(), expected));
  }
  return root;
}

std::string_view Text(const pugi::xml_node& node, const char* child) {
  return node.child(child).text().as_string();
}

bool ParseUint(std::string_view text, std::uint64_t& out) {
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), out);
  return error == std::errc() && end == text.data() + text.size() && !text.empty();
}

}  // namespace

Result<Location> ParseLocation(std::string_view url) {
  constexpr std::string_view kScheme = "s3://";
  if (!url.starts_with(kScheme)) {
    return Status::BadRequest(fmt::format("'{}' is not an s3://BUCKET[/PREFIX] URL", url));
  }
  url.remove_prefix(kScheme.size());
  std::size_t slash = url.find('/');
  Location location;
  location.bucket = std::string(url.substr(0, slash));
  const std::string& b = location.bucket;
  bool valid = b.size() >= 3 && b.size() <= 63 && b.front() != '.' && b.front() != '-' &&
               b.back() != '.' && b.back() != '-';
  for (char c : b) valid = valid && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-');
  if (!valid) {
    return Status::BadRequest(fmt::format(
        "'{}' is not a bucket name (3 to 63 of a-z, 0-9, '.', '-')", location.bucket));
  }
  if (slash != std::string_view::npos) {
    std::string_view prefix = url.substr(slash + 1);
    while (prefix.ends_with('/')) prefix.remove_suffix(1);
    for (char c : prefix) {
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f || c == '\\') {
        return Status::BadRequest("an s3:// prefix holds no control byte or backslash");
      }
    }
    if (prefix.starts_with('/') || prefix.find("//") != std::string_view::npos) {
      return Status::BadRequest("an s3:// prefix has no empty folder ('//')");
    }
    // URLs normalise "." and "..": s3://b/../x would address bucket x.
    std::string_view rest = prefix;
    while (!rest.empty()) {
      std::string_view segment = rest.substr(0, rest.find('/'));
      if (segment == "." || segment == "..") {
        return Status::BadRequest("an s3:// prefix has no '.' or '..' folder");
      }
      rest.remove_prefix(std::min(rest.size(), segment.size() + 1));
    }
    if (!prefix.empty()) location.prefix = std::string(prefix) + "/";
  }
  return location;
}

std::string UriEncode(std::string_view bytes, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(bytes.size());
  for (char c : bytes) {
    if (IsUnreserved(c) || (keep_slash && c == '/')) {
      out += c;
    } else {
      auto byte = static_cast<unsigned char>(c);
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    }
  }
  return out;
}

std::string CanonicalQuery(std::vector<std::pair<std::string, std::string>> params) {
  for (auto& [key, value] : params) {
    key = UriEncode(key, false);
    value = UriEncode(value, false);
  }
  std::sort(params.begin(), params.end());
  std::string out;
  for (const auto& [key, value] : params) {
    if (!out.empty()) out += '&';
    out += key;
    out += '=';
    out += value;
  }
  return out;
}

Result<ListPage> ParseListPage(std::string_view xml) {
  pugi::xml_document document;
  Result<pugi::xml_node> root = Root(document, xml, "ListBucketResult");
  if (!root.ok()) return root.status();
  ListPage page;
  page.truncated = std::string_view(Text(*root, "IsTruncated")) == "true";
  page.next_token = std::string(Text(*root, "NextContinuationToken"));
  if (page.truncated && page.next_token.empty()) {
    return Status::Internal("the store's listing is truncated but names no continuation");
  }
  for (pugi::xml_node node : root->children("Contents")) {
    ObjectInfo object;
    object.key = std::string(Text(node, "Key"));
    if (object.key.empty() || !ParseUint(Text(node, "Size"), object.size)) {
      return Status::Internal("the store's listing has an object without a key or size");
    }
    object.etag = std::string(UnquoteEtag(Text(node, "ETag")));
    object.mtime_ns = ParseIsoTime(Text(node, "LastModified")).value_or(0);
    page.objects.push_back(std::move(object));
  }
  return page;
}

Result<std::string> ParseUploadId(std::string_view xml) {
  pugi::xml_document document;
  Result<pugi::xml_node> root = Root(document, xml, "InitiateMultipartUploadResult");
  if (!root.ok()) return root.status();
  std::string id(Text(*root, "UploadId"));
  if (id.empty()) return Status::Internal("the store started a multipart upload without an id");
  return id;
}

Result<UploadsPage> ParseUploadsPage(std::string_view xml) {
  pugi::xml_document document;
  Result<pugi::xml_node> root = Root(document, xml, "ListMultipartUploadsResult");
  if (!root.ok()) return root.status();
  UploadsPage page;
  page.truncated = std::string_view(Text(*root, "IsTruncated")) == "true";
  page.next_key_marker = std::string(Text(*root, "NextKeyMarker"));
  page.next_upload_id_marker = std::string(Text(*root, "NextUploadIdMarker"));
  if (page.truncated && page.next_key_marker.empty()) {
    return Status::Internal("the store's upload listing is truncated but names no next key");
  }
  for (pugi::xml_node node : root->children("Upload")) {
    PendingUpload upload{std::string(Text(node, "Key")), std::string(Text(node, "UploadId")),
                         ParseIsoTime(Text(node, "Initiated")).value_or(0)};
    if (upload.key.empty() || upload.upload_id.empty()) continue;
    page.uploads.push_back(std::move(upload));
  }
  return page;
}

std::optional<std::string> ParseResultEtag(std::string_view xml) {
  pugi::xml_document document;
  if (!document.load_buffer(xml.data(), xml.size())) return std::nullopt;
  pugi::xml_node root = document.document_element();
  std::string_view name = root.name();
  if (name != "CompleteMultipartUploadResult" && name != "CopyObjectResult") return std::nullopt;
  std::string_view etag = UnquoteEtag(Text(root, "ETag"));
  if (etag.empty()) return std::nullopt;
  return std::string(etag);
}

std::string CompleteUploadXml(const std::vector<std::string>& part_etags) {
  std::string out = "<CompleteMultipartUpload>";
  for (std::size_t i = 0; i < part_etags.size(); ++i) {
    // ETags are hex digits from the store; escaping keeps a strange one from breaking the XML.
    std::string etag;
    for (char c : part_etags[i]) {
      if (c == '<') etag += "&lt;";
      else if (c == '&') etag += "&amp;";
      else if (c == '>') etag += "&gt;";
      else etag += c;
    }
    out += fmt::format("<Part><PartNumber>{}</PartNumber><ETag>\"{}\"</ETag></Part>", i + 1, etag);
  }
  out += "</CompleteMultipartUpload>";
  return out;
}

ErrorBody ParseErrorBody(std::string_view xml) {
  pugi::xml_document document;
  if (!document.load_buffer(xml.data(), xml.size())) return {};
  pugi::xml_node root = document.document_element();
  if (std::string_view(root.name()) != "Error") return {};
  return {std::string(Text(root, "Code")), std::string(Text(root, "Message"))};
}

std::optional<std::int64_t> ParseIsoTime(std::string_view text) {
  // YYYY-MM-DDTHH:MM:SS[.fraction]Z
  if (text.size() < 20 || text.size() > 40 || text[4] != '-' || text[7] != '-' || text[10] != 'T' ||
      text[13] != ':' || text[16] != ':' || text.back() != 'Z') {
    return std::nullopt;
  }
  auto number = [&](std::size_t at, std::size_t digits, int& out) {
    std::uint64_t value = 0;
    if (!ParseUint(text.substr(at, digits), value)) return false;
    out = static_cast<int>(value);
    return true;
  };
  struct tm parts {};
  int year = 0, month = 0;
  if (!number(0, 4, year) || !number(5, 2, month) || !number(8, 2, parts.tm_mday) ||
      !number(11, 2, parts.tm_hour) || !number(14, 2, parts.tm_min) ||
      !number(17, 2, parts.tm_sec)) {
    return std::nullopt;
  }
  // Years past 2262 would overflow the nanoseconds (found by s3_fuzz).
  if (month < 1 || month > 12 || parts.tm_mday < 1 || parts.tm_mday > 31 || parts.tm_hour > 23 ||
      parts.tm_min > 59 || parts.tm_sec > 60 || year < 1970 || year > 2200) {
    return std::nullopt;
  }
  parts.tm_year = year - 1900;
  parts.tm_mon = month - 1;
  std::int64_t nanos = 0;
  std::string_view rest = text.substr(19, text.size() - 20);
  if (!rest.empty()) {
    if (rest.front() != '.' || rest.size() < 2 || rest.size() > 10) return std::nullopt;
    std::uint64_t fraction = 0;
    if (!ParseUint(rest.substr(1), fraction)) return std::nullopt;
    nanos = static_cast<std::int64_t>(fraction);
    for (std::size_t digits = rest.size() - 1; digits < 9; ++digits) nanos *= 10;
  }
  time_t seconds = timegm(&parts);
  return static_cast<std::int64_t>(seconds) * 1'000'000'000 + nanos;
}

std::string_view UnquoteEtag(std::string_view etag) {
  etag = Trim(etag);
  if (etag.starts_with("W/")) etag.remove_prefix(2);
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') {
    etag = etag.substr(1, etag.size() - 2);
  }
  return etag;
}

std::uint64_t EtagIdentity(std::string_view etag) {
  return XXH3_64bits(etag.data(), etag.size());
}

Status StatusForReply(long http_status, const ErrorBody& error, std::string_view what) {
  std::string reason = error.code.empty() ? fmt::format("HTTP {}", http_status)
                                          : fmt::format("{} (HTTP {})", error.code, http_status);
  if (!error.message.empty()) reason += ": " + error.message;
  if (http_status == 404 && error.code != "NoSuchBucket" && error.code != "NoSuchUpload") {
    return Status::NotFound(std::string(what));
  }
  if (http_status == 0) {
    return Status::Busy(fmt::format("{}: the data store does not answer ({})", what, error.message));
  }
  if (http_status == 403 || http_status == 401 || error.code == "NoSuchBucket" ||
      error.code == "InvalidAccessKeyId" || error.code == "SignatureDoesNotMatch") {
    return Status::Busy(fmt::format("{}: the data store refused ferryd: {}", what, reason));
  }
  if (http_status == 503 || http_status >= 500) {
    return Status::Busy(fmt::format("{}: the data store failed: {}", what, reason));
  }
  return Status::Internal(fmt::format("{}: the data store replied {}", what, reason));
}

bool Retryable(long http_status, const ErrorBody& error) {
  return http_status == 0 || http_status >= 500 || http_status == 429 ||
         error.code == "SlowDown" || error.code == "RequestTimeout" ||
         error.code == "InternalError";
}

std::chrono::milliseconds RetryDelay(int attempt, double jitter, std::chrono::milliseconds base,
                                     std::chrono::milliseconds cap) {
  double exponential = static_cast<double>(base.count()) * std::ldexp(1.0, std::clamp(attempt - 1, 0, 30));
  double bounded = std::min(exponential, static_cast<double>(cap.count()));
  return std::chrono::milliseconds(static_cast<std::int64_t>(bounded * std::clamp(jitter, 0.0, 1.0)));
}

Result<Credentials> ParseCredentialsFile(std::string_view text, std::string_view profile) {
  Credentials found;
  bool in_profile = false;
  std::size_t line_number = 0;
  while (!text.empty()) {
    std::size_t end = text.find('\n');
    std::string_view line = Trim(text.substr(0, end));
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    ++line_number;
    if (line.empty() || line.front() == '#' || line.front() == ';') continue;
    if (line.front() == '[') {
      if (line.back() != ']') {
        return Status::BadRequest(fmt::format("credentials line {}: a section without ']'", line_number));
      }
      in_profile = Trim(line.substr(1, line.size() - 2)) == profile;
      continue;
    }
    std::size_t equals = line.find('=');
    if (equals == std::string_view::npos) {
      return Status::BadRequest(fmt::format("credentials line {}: not KEY = VALUE", line_number));
    }
    if (!in_profile) continue;
    std::string_view key = Trim(line.substr(0, equals));
    std::string_view value = Trim(line.substr(equals + 1));
    if (key == "aws_access_key_id") found.access_key = std::string(value);
    if (key == "aws_secret_access_key") found.secret_key = std::string(value);
  }
  if (found.access_key.empty() || found.secret_key.empty()) {
    return Status::BadRequest(fmt::format(
        "the credentials have no aws_access_key_id and aws_secret_access_key in [{}]", profile));
  }
  return found;
}

}  // namespace ferry::store::s3
