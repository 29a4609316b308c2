// Many files at once: what `ferry get` and `ferry put` move (a name, a glob, a folder tree),
// and moving it over N connections in parallel with progress, skipping files that already
// match (rsync's quick check, confirmed by checksum), collecting each file's outcome.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "client/client.h"
#include "client/progress.h"

namespace ferry::client {

struct TransferJob {
  ObjectName name;               // on the server
  std::filesystem::path local;   // on this machine ("-" for stdout)
  std::uint64_t size = 0;        // as listed (download) or as found (upload)
};

struct TransferResult {
  TransferJob job;
  Status status;                 // OK, or why this file failed
  Checksum checksum;             // of the file moved (OK only)
  TransferInfo info;
  bool skipped = false;          // --skip-existing found it identical
};

struct BatchOptions {
  ClientOptions client;
  unsigned parallel = 4;         // connections, one transfer each at a time
  bool skip_existing = false;
  ProgressDisplay* progress = nullptr;
  // Called once per file as it finishes, from the worker threads (one at a time).
  std::function<void(const TransferResult&)> on_done;
};

// True if `text` has a glob character (* ? [).
bool HasGlob(std::string_view text);

// The downloads `ferry get` means. `what` is a name, a glob ("logs/*.gz": '*' stays within a
// folder) or, with `recursive`, a folder ("photos" brings photos/... into DEST/photos/...).
// `destination`: the output file for one name (default: its base name), else a folder.
Result<std::vector<TransferJob>> PlanDownloads(Client& client, const std::string& what,
                                               bool recursive, const std::string& destination);
// The uploads of `ferry put -r DIR [PREFIX]`: every regular file under DIR, named
// PREFIX + basename(DIR) + "/" + its path inside DIR.
Result<std::vector<TransferJob>> PlanUploadTree(const std::filesystem::path& folder,
                                                const std::string& prefix);

// `connected`, if given, is used by the first worker (no second connection for one file).
std::vector<TransferResult> RunDownloads(std::vector<TransferJob> jobs, const BatchOptions& options,
                                         std::unique_ptr<Client> connected = nullptr);
std::vector<TransferResult> RunUploads(std::vector<TransferJob> jobs, const BatchOptions& options,
                                       std::unique_ptr<Client> connected = nullptr);

}  // namespace ferry::client
