#include "http/target.h"

namespace ferry::http {

Result<Target> ParseTarget(std::string_view target) {
  std::string_view path = target.substr(0, target.find('?'));
  constexpr std::string_view kFiles = "/files/";
  Target parsed;
  if (path == "/" || path == "/files") {
    parsed.kind = Target::Kind::kRedirectToFiles;
  } else if (path == "/metrics") {
    parsed.kind = Target::Kind::kMetrics;
  } else if (path == "/healthz") {
    parsed.kind = Target::Kind::kHealth;
  } else if (path.starts_with(kFiles)) {
    std::string_view encoded = path.substr(kFiles.size());
    if (encoded.empty() || encoded.ends_with('/')) {
      Result<std::string> folder = PrefixFromWire(encoded);
      if (!folder.ok()) return folder.status();
      // A prefix may stop inside a segment; a folder is whole segments, so "a//" is refused.
      if (!folder->empty()) {
        Status valid = ValidateName(std::string_view(*folder).substr(0, folder->size() - 1));
        if (!valid.ok()) return valid;
      }
      parsed.kind = Target::Kind::kFolder;
      parsed.folder = std::move(*folder);
    } else {
      Result<ObjectName> file = ObjectName::FromWire(encoded);
      if (!file.ok()) return file.status();
      parsed.kind = Target::Kind::kFile;
      parsed.file = std::move(*file);
    }
  }
  return parsed;
}

}  // namespace ferry::http
