// Client: the native protocol from the client's side, over one blocking TCP connection, in
// TLS if asked. The ferry CLI and the integration tests both use it. One Client per thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/checksum.h"
#include "common/object_name.h"
#include "common/status.h"
#include "protocol/reply.h"

namespace ferry::client {

struct ClientOptions {
  std::string server = "127.0.0.1:7878";  // HOST:PORT, [V6]:PORT, or a name to resolve
  // A connection that moves no byte for this long fails (the server is gone or hung).
  std::chrono::milliseconds io_timeout{60'000};
  // Sent as `AUTH <token>` first thing on every connection; empty: none (anonymous).
  std::string token;
  // The whole protocol in TLS 1.2 or later, the server's certificate verified against
  // `ca_file` (PEM), or the system's trusted CAs if that is empty, and against the host of
  // `server`, or `tls_name` if that is set (a name or an IP address).
  bool tls = false;
  std::filesystem::path ca_file;
  std::string tls_name;
};

class TlsSession;

// Called with each chunk of a download; a non-OK Status stops the transfer.
using Sink = std::function<Status(std::string_view bytes)>;
// Called with the bytes moved so far, at most once per chunk.
using Progress = std::function<void(std::uint64_t done)>;

class Client {
 public:
  // Connects, runs the TLS handshake (options.tls) and sends AUTH (options.token). Fails with
  // 400 for a malformed server or token, 503 if the server cannot be reached or does not
  // answer in time, the server's own Status if it refuses the token (401, or 429 after too
  // many failures from this address), 500 for a TLS failure (the message names the server
  // and the reason: certificate not trusted or not for this host, no TLS 1.2+...).
  static Result<std::unique_ptr<Client>> Connect(const ClientOptions& options);
  ~Client();

  Result<std::vector<protocol::FileEntry>> List(std::string_view prefix);
  Result<protocol::FileEntry> Stat(const ObjectName& name);
  // Streams the bytes of `name` from `offset` (at most `length`) to `sink`. The head's checksum
  // is of the whole file; checking it is the caller's (see DownloadFile).
  Result<protocol::GetHead> Get(const ObjectName& name, std::uint64_t offset,
                                std::optional<std::uint64_t> length, const Sink& sink);
  // Uploads the `size` bytes of `fd` (read with pread, so any position) as `name`,
  // resumably: the server says how many bytes of this exact upload (name, size, checksum) it
  // kept from an interrupted try, and only the rest is sent. `resumed_from`, if set, receives
  // that offset.
  Result<protocol::PutDone> Put(const ObjectName& name, int fd, std::uint64_t size,
                                const Checksum& checksum, const Progress& progress = nullptr,
                                std::uint64_t* resumed_from = nullptr);
  Status Remove(const ObjectName& name);
  Result<std::vector<protocol::StatValue>> Stats();
  Status Quit();
  // False once a request or reply was cut short (a body not fully sent or read, a broken
  // socket): the connection is out of step and must not carry another request.
  bool in_step() const { return in_step_; }

 private:
  Client(int fd, std::string server);
  Status Authenticate(const std::string& token);
  // Up to `size` bytes: at least one, or 0 once the server closed the connection.
  Result<std::size_t> Receive(char* data, std::size_t size);
  // `cause`, the end of the stream while a reply line was awaited, or a hint to use TLS if
  // the server answered in TLS or hung up without a byte.
  Status StreamEnded(Status cause) const;
  Status SendRaw(std::string_view bytes);
  Result<std::string> ReadLine();
  Status ReadExact(std::uint64_t length, const Sink& sink);
  // Sends bytes [offset, size) of `fd`.
  Status SendFileBytes(int fd, std::uint64_t offset, std::uint64_t size, const Progress& progress);
  // "OK <count>" then `count` lines, each parsed by `parse` (LIST, STATS).
  template <typename T>
  Result<std::vector<T>> ReadCounted(Result<T> (*parse)(std::string_view));

  int fd_;
  std::string server_;
  std::unique_ptr<TlsSession> tls_;  // null: plain TCP
  bool received_any_ = false;        // a byte came from the server (plain TCP only)
  bool in_step_ = true;
  std::string buffer_;  // received, not yet consumed
  std::size_t begin_ = 0;
};

// What a download or upload did, beyond the reply.
struct TransferInfo {
  std::uint64_t resumed_from = 0;  // bytes that an interrupted earlier try had already moved
  bool from_cache = false;         // a download: the file was in the server's cache
};

// Downloads `name` to `path` through PATH.ferry-part, renamed only once the whole file's
// checksum matches. An interrupted download leaves the part file (tagged with the server
// version's checksum), and the next one continues it with a ranged GET if the file is still
// that version, else starts over. An existing folder receives the file under its base name;
// "-" (stdout) and existing devices or FIFOs (/dev/null) are written in place and checked at
// the end.
Result<protocol::GetHead> DownloadFile(Client& client, const ObjectName& name,
                                       const std::string& path, const Progress& progress = nullptr,
                                       TransferInfo* info = nullptr);
// Uploads the file at `path` as `name`, with its xxh128 so the server verifies it; resumable
// (Client::Put).
Result<protocol::PutDone> UploadFile(Client& client, const std::string& path,
                                     const ObjectName& name, const Progress& progress = nullptr,
                                     TransferInfo* info = nullptr);

}  // namespace ferry::client
