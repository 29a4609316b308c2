// TLS for the client (private to the client folder): a verified TLS 1.2+ session over a
// connected socket, with OpenSSL. One TlsSession per Client; not thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include <openssl/ssl.h>

#include "common/status.h"

namespace ferry::client {

struct TlsOptions {
  std::string server;            // HOST:PORT, to name the server in messages
  std::string host;              // the name or IP address the certificate must be for
  std::filesystem::path ca_file; // empty: the system's trusted CAs
  std::chrono::milliseconds io_timeout{60'000};
};

class TlsSession {
 public:
  // Runs the handshake on `fd` (a connected TCP socket, which this call makes non-blocking;
  // the caller keeps owning it). Every failure names the server and the reason: an untrusted
  // or mismatched certificate, a server without TLS 1.2+, a peer that does not speak TLS.
  // 400 for a CA file that cannot be loaded, 503 on a timeout, 500 otherwise.
  static Result<std::unique_ptr<TlsSession>> Handshake(int fd, const TlsOptions& options);
  // Sends close_notify if the session is still sound; never waits for the server's.
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  // Up to `size` bytes into `data`: at least one, or 0 once the server closed the session.
  // A wait longer than io_timeout is a 503.
  Result<std::size_t> Read(char* data, std::size_t size);
  // All of `bytes`, or the reason they could not be sent.
  Status Write(std::string_view bytes);

 private:
  TlsSession(SSL_CTX* ctx, SSL* ssl, int fd, const TlsOptions& options);
  // After an SSL call returned `rc` <= 0 (with `saved_errno`, the errno it left): OK once the
  // socket is ready for a retry (waited for up to io_timeout), else the error. `what` names
  // the operation.
  Status WaitOrFail(int rc, int saved_errno, std::string_view what);

  SSL_CTX* ctx_;
  SSL* ssl_;
  int fd_;
  std::string server_;
  std::chrono::milliseconds io_timeout_;
  bool sound_ = true;  // no fatal error yet: close_notify may be sent
};

}  // namespace ferry::client
