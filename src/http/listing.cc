#include "http/listing.h"

#include <algorithm>
#include <ctime>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/object_name.h"
#include "common/units.h"

namespace ferry::http {
namespace {

std::string EscapeHtml(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string IsoTime(std::int64_t unix_seconds) {
  auto t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

// "2026-11-25 09:40", for people.
std::string DisplayTime(std::int64_t unix_seconds) {
  std::string iso = IsoTime(unix_seconds);
  iso[10] = ' ';
  return iso.substr(0, 16);
}

// Inline, so the page needs nothing but itself. Uploads PUT each file into this folder, one at
// a time, then swap in the fresh listing. Tests rely on the ids: listing, upload-input,
// upload-status.
constexpr std::string_view kStyle = R"(
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d232a;background:#f6f7f9}
main{max-width:960px;margin:0 auto;padding:24px}
h1{font-size:20px;font-weight:600;margin:0 0 16px;word-break:break-all}
h1 a{color:#1d5fbf;text-decoration:none}
table{width:100%;border-collapse:collapse;background:#fff;border:1px solid #dde1e6;border-radius:6px}
th,td{padding:7px 12px;text-align:left;border-bottom:1px solid #eceef1}
th{font-weight:600;font-size:13px;color:#5b6470;background:#fafbfc}
td.size,th.size{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.date{white-space:nowrap;color:#5b6470;font-variant-numeric:tabular-nums}
td a{color:#1d5fbf;text-decoration:none;word-break:break-all}
td a:hover{text-decoration:underline}
.cached{font-size:12px;color:#1b7f3b}
#drop{margin-top:16px;padding:18px;border:2px dashed #b9c1cb;border-radius:6px;text-align:center;color:#5b6470;background:#fff}
#drop.over{border-color:#1d5fbf;background:#eef4fd}
#upload-status{margin-top:8px;min-height:1.4em;font-size:14px}
.empty{color:#5b6470;font-style:italic}
)";

constexpr std::string_view kScript = R"(
(function () {
  const input = document.getElementById('upload-input');
  const drop = document.getElementById('drop');
  const status = document.getElementById('upload-status');
  async function refresh() {
    const page = await fetch(location.pathname, {headers: {Accept: 'text/html'}});
    const fresh = new DOMParser().parseFromString(await page.text(), 'text/html');
    document.getElementById('listing').replaceWith(fresh.getElementById('listing'));
  }
  async function upload(files) {
    const done = [];
    for (const [i, file] of Array.from(files).entries()) {
      status.textContent = 'uploading ' + file.name + ' (' + (i + 1) + ' of ' + files.length + ')';
      let reply;
      try {
        reply = await fetch(location.pathname + encodeURIComponent(file.name), {method: 'PUT', body: file});
      } catch (e) {
        status.textContent = 'failed ' + file.name + ': ' + e;
        return;
      }
      if (!reply.ok) {
        status.textContent = 'failed ' + file.name + ': ' + reply.status + ' ' + (await reply.text()).trim();
        return;
      }
      done.push(file.name);
    }
    await refresh();
    status.textContent = done.map(n => 'uploaded ' + n).join(', ');
  }
  input.addEventListener('change', () => { if (input.files.length) upload(input.files); });
  for (const name of ['dragenter', 'dragover']) {
    drop.addEventListener(name, e => { e.preventDefault(); drop.classList.add('over'); });
  }
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', e => {
    e.preventDefault();
    drop.classList.remove('over');
    if (e.dataTransfer.files.length) upload(e.dataTransfer.files);
  });
})();
)";

}  // namespace

FolderView BuildFolderView(std::string_view folder, std::vector<protocol::FileEntry> entries) {
  FolderView view;
  view.folder = folder;
  std::set<std::string> subfolders;
  for (protocol::FileEntry& entry : entries) {
    if (!std::string_view(entry.name).starts_with(folder)) continue;
    std::string rest = entry.name.substr(folder.size());
    std::size_t slash = rest.find('/');
    if (slash != std::string::npos) {
      subfolders.insert(rest.substr(0, slash));
    } else {
      entry.name = std::move(rest);
      view.files.push_back(std::move(entry));
    }
  }
  view.subfolders.assign(subfolders.begin(), subfolders.end());
  std::sort(view.files.begin(), view.files.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  return view;
}

std::string RenderListingJson(const FolderView& view) {
  nlohmann::json folders = nlohmann::json::array();
  for (const std::string& sub : view.subfolders) folders.push_back(sub + "/");
  nlohmann::json files = nlohmann::json::array();
  for (const protocol::FileEntry& file : view.files) {
    files.push_back({{"name", file.name},
                     {"path", view.folder + file.name},
                     {"size", file.size},
                     {"mtime", file.mtime},
                     {"modified", IsoTime(file.mtime)},
                     {"cached", file.cached}});
  }
  nlohmann::json doc = {{"folder", view.folder}, {"folders", folders}, {"files", files}};
  return doc.dump() + "\n";
}

std::string RenderListingHtml(const FolderView& view) {
  std::string out;
  auto add = [&out](auto&&... parts) { (out.append(parts), ...); };
  std::string title = "/" + view.folder;
  add("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
      "<title>ferry: ", EscapeHtml(title), "</title><style>", kStyle, "</style></head>\n<body><main>\n");
  // Breadcrumbs: each level links to its folder.
  add("<h1><a href=\"/files/\">ferry</a> / ");
  std::string_view rest = view.folder;
  std::string path = "/files/";
  while (!rest.empty()) {
    std::size_t slash = rest.find('/');
    std::string_view segment = rest.substr(0, slash);
    path += PercentEncode(segment) + "/";
    add("<a href=\"", path, "\">", EscapeHtml(segment), "</a> / ");
    rest.remove_prefix(slash + 1);
  }
  add("</h1>\n<table id=\"listing\"><thead><tr><th>Name</th><th class=\"size\">Size</th>"
      "<th>Modified (UTC)</th><th></th></tr></thead><tbody>\n");
  if (!view.folder.empty()) add("<tr><td><a href=\"../\">../</a></td><td></td><td></td><td></td></tr>\n");
  for (const std::string& sub : view.subfolders) {
    // "./" first: a name like "a:b" must not read as a URL scheme.
    add("<tr><td><a href=\"./", PercentEncode(sub), "/\">", EscapeHtml(sub),
        "/</a></td><td class=\"size\">-</td><td></td><td></td></tr>\n");
  }
  for (const protocol::FileEntry& file : view.files) {
    add("<tr><td><a href=\"./", PercentEncode(file.name), "\">", EscapeHtml(file.name),
        "</a></td><td class=\"size\" title=\"", std::to_string(file.size), " bytes\">",
        FormatBytes(file.size), "</td><td class=\"date\">", DisplayTime(file.mtime),
        "</td><td>", file.cached ? "<span class=\"cached\" title=\"in the server's cache\">cached</span>" : "",
        "</td></tr>\n");
  }
  if (view.subfolders.empty() && view.files.empty()) {
    add("<tr><td colspan=\"4\" class=\"empty\">empty folder</td></tr>\n");
  }
  add("</tbody></table>\n<div id=\"drop\"><label>Drop files here or "
      "<input type=\"file\" id=\"upload-input\" multiple></label> to upload them into this folder."
      "</div>\n<div id=\"upload-status\" role=\"status\"></div>\n<script>", kScript,
      "</script>\n</main></body></html>\n");
  return out;
}

}  // namespace ferry::http
