// http_fuzz: the pure HTTP layer (http/target.h, http/semantics.h, http/listing.h). The input
// is text, one field a line:
//   request-target / Range / If-Range / If-None-Match / If-Modified-Since / size / mtime /
//   then names of files, as LIST would return them, for a folder's listing.
//
// Invariants:
//  - ParseTarget: a file is a valid name and its /files/ URL (+ any query) parses back to it;
//    a folder is "" or valid names ending in '/', likewise; other paths get their fixed kinds;
//    refusals are 400 or 403;
//  - ParseHttpDate: a parsed date formats (FormatHttpDate) to text that parses to the same
//    time; so does every time of years 0000-9999;
//  - PlanRead: 200 is the whole file, 206 a non-empty range inside it, 304 and 416 no body; no
//    Range, no 206; a well-formed single range gets exactly RFC 9110's answer;
//  - IfNoneMatchMatches finds an entity tag in any list that holds it, and "*" matches all;
//  - ContentTypeFor is never empty and ignores the extension's case;
//  - BuildFolderView puts every listed name under the folder in exactly one place (a file of
//    the folder or one of its subfolders); the JSON listing parses back to the same view and
//    the HTML one has exactly the markup (< > " ') of the same view with those characters
//    taken out of the names: names are always escaped.
#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "common/units.h"
#include "fuzz/fuzz_check.h"
#include "http/listing.h"
#include "http/semantics.h"
#include "http/target.h"

namespace ferry::http {
namespace {

constexpr std::int64_t kLastSecondOf9999 = 253402300799;

std::uint64_t Hash(std::string_view text) {
  std::uint64_t hash = 1469598103934665603ull;
  for (char c : text) hash = (hash ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  return hash;
}

std::uint64_t NumberOr(std::string_view text, std::uint64_t fallback) {
  std::uint64_t value = 0;
  return ParseUint(text, value) ? value : fallback;
}

std::string AsciiUpper(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

void CheckTarget(std::string_view text) {
  Result<Target> target = ParseTarget(text);
  std::string_view path = text.substr(0, text.find('?'));
  if (!target.ok()) {
    FUZZ_CHECK(path.starts_with("/files/"));
    FUZZ_CHECK(target.status().code() == Code::kBadRequest ||
               target.status().code() == Code::kForbidden);
    return;
  }
  using Kind = Target::Kind;
  if (path == "/" || path == "/files") FUZZ_CHECK(target->kind == Kind::kRedirectToFiles);
  if (path == "/metrics") FUZZ_CHECK(target->kind == Kind::kMetrics);
  if (path == "/healthz") FUZZ_CHECK(target->kind == Kind::kHealth);
  FUZZ_CHECK(target->file.has_value() == (target->kind == Kind::kFile));
  FUZZ_CHECK(target->kind == Kind::kFolder || target->folder.empty());
  if (target->kind == Kind::kFile) {
    FUZZ_CHECK(path.starts_with("/files/"));
    FUZZ_CHECK(ValidateName(target->file->str()).ok());
    for (std::string_view query : {"", "?a=b", "?"}) {
      Result<Target> again = ParseTarget("/files/" + target->file->ToWire() + std::string(query));
      FUZZ_CHECK(again.ok() && again->kind == Kind::kFile && again->file == target->file);
    }
  } else if (target->kind == Kind::kFolder) {
    FUZZ_CHECK(path.starts_with("/files/"));
    const std::string& folder = target->folder;
    if (!folder.empty()) {
      FUZZ_CHECK(folder.ends_with('/'));
      FUZZ_CHECK(ValidateName(std::string_view(folder).substr(0, folder.size() - 1)).ok());
    }
    Result<Target> again = ParseTarget("/files/" + PercentEncode(folder) + "?x");
    FUZZ_CHECK(again.ok() && again->kind == Kind::kFolder && again->folder == folder);
  } else if (path.starts_with("/files/")) {
    FUZZ_CHECK(false);  // /files/... is always a file or a folder, or refused
  }
}

void CheckDate(std::string_view text) {
  std::optional<std::int64_t> parsed = ParseHttpDate(text);
  if (!parsed) return;
  // IMF-fixdate has four year digits: every time that parses is within years 0000-9999
  // (RFC 850's two-digit years too; asctime's four).
  FUZZ_CHECK(*parsed >= -62167219200 && *parsed <= kLastSecondOf9999);
  std::string formatted = FormatHttpDate(*parsed);
  FUZZ_CHECK(ParseHttpDate(formatted) == parsed);
}

void CheckPlan(const ReadConditions& conditions, std::uint64_t size, std::int64_t mtime,
               std::string_view etag) {
  ReadPlan plan = PlanRead(conditions, size, mtime, etag);
  switch (plan.status) {
    case 200:
      FUZZ_CHECK(plan.offset == 0 && plan.length == size);
      break;
    case 206:
      FUZZ_CHECK(!conditions.range.empty());
      FUZZ_CHECK(plan.length > 0 && plan.offset < size && plan.length <= size - plan.offset);
      break;
    case 304:
      FUZZ_CHECK(plan.length == 0);
      FUZZ_CHECK(!conditions.if_none_match.empty() || !conditions.if_modified_since.empty());
      break;
    case 416:
      FUZZ_CHECK(!conditions.range.empty() && plan.length == 0);
      break;
    default:
      FUZZ_CHECK(false);
  }
}

// A single well-formed range and no validators: the answer is RFC 9110's, exactly.
void CheckRangeModel(std::uint64_t size, std::uint64_t a, std::uint64_t b, int form) {
  std::string range;
  ReadPlan expected;
  if (form == 0) {  // bytes=first-last
    std::uint64_t first = std::min(a, b), last = std::max(a, b);
    range = "bytes=" + std::to_string(first) + "-" + std::to_string(last);
    if (first >= size)
      expected = {416, 0, 0};
    else
      expected = {206, first, std::min(last, size - 1) - first + 1};
  } else if (form == 1) {  // bytes=first-
    range = "bytes=" + std::to_string(a) + "-";
    if (a >= size)
      expected = {416, 0, 0};
    else
      expected = {206, a, size - a};
  } else {  // bytes=-suffix
    range = "bytes=-" + std::to_string(a);
    if (a == 0 || size == 0)
      expected = {416, 0, 0};
    else
      expected = {206, size - std::min(a, size), std::min(a, size)};
  }
  ReadPlan plan = PlanRead({.range = range}, size, 0, "\"x\"");
  FUZZ_CHECK(plan.status == expected.status && plan.offset == expected.offset &&
             plan.length == expected.length);
}

void CheckListing(const std::string& folder, const std::set<std::string>& names) {
  std::vector<protocol::FileEntry> entries;
  std::size_t under = 0;
  for (const std::string& name : names) {
    entries.push_back({.name = name,
                       .size = name.size(),
                       .mtime = static_cast<std::int64_t>(name.size()) * 86400,
                       .cached = name.size() % 2 == 1});
    if (std::string_view(name).starts_with(folder)) ++under;
  }
  FolderView view = BuildFolderView(folder, entries);
  FUZZ_CHECK(view.folder == folder);
  FUZZ_CHECK(std::is_sorted(view.subfolders.begin(), view.subfolders.end()));
  FUZZ_CHECK(std::adjacent_find(view.subfolders.begin(), view.subfolders.end()) ==
             view.subfolders.end());
  std::size_t placed = view.files.size();
  for (const protocol::FileEntry& file : view.files) {
    FUZZ_CHECK(!file.name.empty() && file.name.find('/') == std::string::npos);
    FUZZ_CHECK(names.contains(folder + file.name));
  }
  for (const std::string& sub : view.subfolders) {
    FUZZ_CHECK(!sub.empty() && sub.find('/') == std::string::npos);
    std::string inside = folder + sub + "/";
    std::size_t count = 0;
    for (const std::string& name : names) count += std::string_view(name).starts_with(inside);
    FUZZ_CHECK(count > 0);
    placed += count;
  }
  FUZZ_CHECK(placed == under);

  nlohmann::json json = nlohmann::json::parse(RenderListingJson(view));
  FUZZ_CHECK(json["folder"] == folder);
  FUZZ_CHECK(json["folders"].size() == view.subfolders.size());
  for (std::size_t i = 0; i < view.subfolders.size(); ++i) {
    FUZZ_CHECK(json["folders"][i] == view.subfolders[i] + "/");
  }
  FUZZ_CHECK(json["files"].size() == view.files.size());
  for (std::size_t i = 0; i < view.files.size(); ++i) {
    FUZZ_CHECK(json["files"][i]["name"] == view.files[i].name);
    FUZZ_CHECK(json["files"][i]["path"] == folder + view.files[i].name);
    FUZZ_CHECK(json["files"][i]["size"] == view.files[i].size);
  }

  // Markup from names would change how many markup characters the page has: the same view
  // with those characters taken out of every name must render with the same count.
  FolderView plain = view;
  auto scrub = [](std::string& text) {
    for (char& c : text) {
      if (c == '<' || c == '>' || c == '"' || c == '\'' || c == '&') c = 'x';
    }
  };
  scrub(plain.folder);
  for (std::string& sub : plain.subfolders) scrub(sub);
  for (protocol::FileEntry& file : plain.files) scrub(file.name);
  auto markup = [](const std::string& html) {
    return std::count_if(html.begin(), html.end(),
                         [](char c) { return c == '<' || c == '>' || c == '"' || c == '\''; });
  };
  FUZZ_CHECK(markup(RenderListingHtml(view)) == markup(RenderListingHtml(plain)));
}

}  // namespace
}  // namespace ferry::http

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace ferry;
  using namespace ferry::http;
  fuzz::FuzzInput input(data, size);
  std::string_view target_text = input.Line();
  std::string_view range = input.Line();
  std::string_view if_range = input.Line();
  std::string_view if_none_match = input.Line();
  std::string_view if_modified_since = input.Line();
  std::string_view size_text = input.Line();
  std::string_view mtime_text = input.Line();

  CheckTarget(target_text);
  for (std::string_view date : {if_modified_since, if_range, target_text}) CheckDate(date);

  std::uint64_t file_size = NumberOr(size_text, Hash(size_text) % 100'000);
  auto mtime = static_cast<std::int64_t>(NumberOr(mtime_text, Hash(mtime_text)) %
                                         static_cast<std::uint64_t>(kLastSecondOf9999 + 1));
  FUZZ_CHECK(ParseHttpDate(FormatHttpDate(mtime)) == mtime);

  Hasher hasher(ChecksumAlgo::kXxh128);
  hasher.Update(target_text);
  std::string etag = EntityTag(hasher.Finish());
  FUZZ_CHECK(IfNoneMatchMatches(etag, etag));
  FUZZ_CHECK(IfNoneMatchMatches(std::string(if_none_match) + ", W/" + etag, etag));
  FUZZ_CHECK(IfNoneMatchMatches(" * ", etag));
  if (IfNoneMatchMatches(if_none_match, etag)) {
    FUZZ_CHECK(if_none_match.find('*') != std::string_view::npos ||
               if_none_match.find(etag) != std::string_view::npos);
  }

  ReadConditions conditions{if_none_match, if_modified_since, range, if_range};
  CheckPlan(conditions, file_size, mtime, etag);
  CheckPlan({.range = range}, file_size, mtime, etag);
  CheckPlan({.range = range, .if_range = if_range}, file_size, mtime, etag);
  for (int form = 0; form < 3; ++form) {
    CheckRangeModel(file_size, Hash(range) % (file_size + 2), Hash(if_range) % (file_size + 2),
                    form);
  }
  CheckRangeModel(file_size, NumberOr(range, 0), NumberOr(if_range, UINT64_MAX), 0);

  std::string_view type = ContentTypeFor(target_text);
  FUZZ_CHECK(!type.empty());
  FUZZ_CHECK(ContentTypeFor(AsciiUpper(target_text)) == type);

  std::set<std::string> names;
  while (!input.empty()) {
    Result<ObjectName> name = ObjectName::FromDecoded(input.Line());
    if (name.ok()) names.insert(name->str());
  }
  Result<Target> target = ParseTarget(target_text);
  std::string folder = target.ok() && target->kind == Target::Kind::kFolder ? target->folder : "";
  CheckListing(folder, names);
  return 0;
}
