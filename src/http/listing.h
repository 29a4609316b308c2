// A folder's listing for the HTTP door: one level of a folder (its subfolders and files) built
// from the store's recursive LIST, rendered as JSON for programs or as a self-contained HTML
// page for browsers (no external asset; plain <a href> links that wget -r and rclone follow;
// an upload form with drag and drop). Pure.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "protocol/reply.h"

namespace ferry::http {

struct FolderView {
  std::string folder;                         // "" or "a/b/"
  std::vector<std::string> subfolders;        // names only ("c"), sorted
  std::vector<protocol::FileEntry> files;     // names relative to the folder, sorted
};

// `entries` are every file whose name starts with `folder` (as LIST returns them).
FolderView BuildFolderView(std::string_view folder, std::vector<protocol::FileEntry> entries);

// {"folder":"a/","folders":["c/"],"files":[{"name":"x","path":"a/x","size":1,"mtime":0,
//  "modified":"2024-...Z","cached":false}]}
std::string RenderListingJson(const FolderView& view);
std::string RenderListingHtml(const FolderView& view);

}  // namespace ferry::http
