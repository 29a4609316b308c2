#include "client/tls.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

namespace ferry::client {
namespace {

// The reason of the oldest queued OpenSSL error ("wrong version number"); clears the queue.
std::string TakeOpenSslReason() {
  unsigned long code = ERR_peek_error();
  const char* reason = code != 0 ? ERR_reason_error_string(code) : nullptr;
  ERR_clear_error();
  return reason != nullptr ? reason : "unknown error";
}

bool IsIpLiteral(const std::string& host) {
  in6_addr v6;
  in_addr v4;
  return ::inet_pton(AF_INET, host.c_str(), &v4) == 1 || ::inet_pton(AF_INET6, host.c_str(), &v6) == 1;
}

// Verification results that mean "no CA we trust signed this", which --ca fixes.
bool IsTrustProblem(long result) {
  switch (result) {
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_CERT_UNTRUSTED:
      return true;
    default:
      return false;
  }
}

// Waits until `fd` is ready for `events`, at most `timeout`. POLLERR and POLLHUP count as
// ready: the next SSL call reports what happened.
Status WaitReady(int fd, short events, std::chrono::milliseconds timeout, std::string_view what) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd p{.fd = fd, .events = events, .revents = 0};
    int rc = ::poll(&p, 1, static_cast<int>(std::max<std::int64_t>(left.count(), 0)));
    if (rc > 0) return Status::Ok();
    if (rc == 0) return Status::Busy(fmt::format("{}: the server did not answer in time", what));
    if (errno != EINTR) return Status::Internal(fmt::format("{}: poll: {}", what, std::strerror(errno)));
  }
}

// Why SSL_connect failed with `ssl_error`, for a person: which certificate check, a missing
// TLS 1.2, or a peer that is not speaking TLS at all.
Status HandshakeError(SSL* ssl, int ssl_error, int saved_errno, const TlsOptions& options) {
  long verify = SSL_get_verify_result(ssl);
  if (verify != X509_V_OK) {
    ERR_clear_error();
    std::string reason = X509_verify_cert_error_string(verify);
    if (verify == X509_V_ERR_HOSTNAME_MISMATCH || verify == X509_V_ERR_IP_ADDRESS_MISMATCH) {
      return Status::Internal(fmt::format("{}: TLS certificate is not for {}: {}", options.server,
                                          options.host, reason));
    }
    if (IsTrustProblem(verify)) {
      std::string hint = options.ca_file.empty()
                             ? "give --ca FILE"
                             : fmt::format("no CA in {} signed it", options.ca_file.string());
      return Status::Internal(fmt::format("{}: TLS certificate not trusted: {} ({})", options.server,
                                          reason, hint));
    }
    return Status::Internal(fmt::format("{}: TLS certificate refused: {}", options.server, reason));
  }
  unsigned long code = ERR_peek_error();
  int reason_code = ERR_GET_LIB(code) == ERR_LIB_SSL ? ERR_GET_REASON(code) : 0;
  if (ssl_error == SSL_ERROR_ZERO_RETURN || (ssl_error == SSL_ERROR_SYSCALL && code == 0 && saved_errno == 0) ||
      reason_code == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
    ERR_clear_error();
    return Status::Internal(fmt::format(
        "{}: the server closed the connection during the TLS handshake (does it speak TLS on "
        "this port?)", options.server));
  }
  if (ssl_error == SSL_ERROR_SYSCALL && code == 0) {
    return Status::Internal(fmt::format("{}: TLS handshake: {}", options.server, std::strerror(saved_errno)));
  }
  std::string reason = TakeOpenSslReason();
  switch (reason_code) {
    case SSL_R_UNSUPPORTED_PROTOCOL:
    case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
    case SSL_R_NO_PROTOCOLS_AVAILABLE:
      return Status::Internal(fmt::format("{}: the server offers no TLS 1.2 or later ({})",
                                          options.server, reason));
    case SSL_R_WRONG_VERSION_NUMBER:
    case SSL_R_PACKET_LENGTH_TOO_LONG:
    case SSL_R_RECORD_LENGTH_MISMATCH:
    case SSL_R_UNEXPECTED_RECORD:
      return Status::Internal(fmt::format(
          "{}: TLS handshake failed: {} (does the server speak TLS on this port?)", options.server, reason));
    default:
      return Status::Internal(fmt::format("{}: TLS handshake failed: {}", options.server, reason));
  }
}

}  // namespace

Result<std::unique_ptr<TlsSession>> TlsSession::Handshake(int fd, const TlsOptions& options) {
  ERR_clear_error();
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr) return Status::Internal(fmt::format("TLS: {}", TakeOpenSslReason()));
  // Owns ctx and ssl from here on, so every return below frees them.
  std::unique_ptr<TlsSession> session(new TlsSession(ctx, nullptr, fd, options));
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  // Partial writes let Write move big buffers a record at a time on a non-blocking socket.
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // A server that closes without close_notify ends the stream like one that sends it: every
  // reply and body of the protocol carries its own length, so a cut is still caught above.
  SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
  if (!options.ca_file.empty()) {
    int probe = ::open(options.ca_file.c_str(), O_RDONLY | O_CLOEXEC);
    if (probe < 0) return PosixError(errno, fmt::format("read the CA file {}", options.ca_file.string()));
    ::close(probe);
    if (SSL_CTX_load_verify_locations(ctx, options.ca_file.c_str(), nullptr) != 1) {
      return Status::BadRequest(fmt::format("CA file {}: no certificate could be loaded ({})",
                                            options.ca_file.string(), TakeOpenSslReason()));
    }
  } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
    return Status::Internal(fmt::format("TLS: the system's CAs: {}", TakeOpenSslReason()));
  }
  SSL* ssl = SSL_new(ctx);
  if (ssl == nullptr) return Status::Internal(fmt::format("TLS: {}", TakeOpenSslReason()));
  session->ssl_ = ssl;
  SSL_set_fd(ssl, fd);
  if (IsIpLiteral(options.host)) {
    // No SNI for an address (RFC 6066 allows only names); the certificate needs an IP SAN.
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), options.host.c_str());
  } else {
    SSL_set_tlsext_host_name(ssl, options.host.c_str());
    SSL_set1_host(ssl, options.host.c_str());
  }
  // Non-blocking, so that every wait is a poll bounded by io_timeout.
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) return PosixError(errno, "TLS: fcntl");
  while (true) {
    ERR_clear_error();
    errno = 0;
    int rc = SSL_connect(ssl);
    if (rc == 1) break;
    int saved_errno = errno;
    int error = SSL_get_error(ssl, rc);
    if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
      Status waited = WaitReady(fd, error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, options.io_timeout,
                                fmt::format("{}: TLS handshake", options.server));
      if (waited.code() == Code::kBusy) {
        waited = Status::Busy(waited.message() + " (does it speak TLS on this port?)");
      }
      if (!waited.ok()) return waited;
      continue;
    }
    session->sound_ = false;
    return HandshakeError(ssl, error, saved_errno, options);
  }
  if (SSL_get_verify_result(ssl) != X509_V_OK || SSL_get0_peer_certificate(ssl) == nullptr) {
    session->sound_ = false;  // cannot happen with SSL_VERIFY_PEER; checked all the same
    return Status::Internal(fmt::format("{}: TLS: the server's certificate was not verified", options.server));
  }
  return session;
}

TlsSession::TlsSession(SSL_CTX* ctx, SSL* ssl, int fd, const TlsOptions& options)
    : ctx_(ctx), ssl_(ssl), fd_(fd), server_(options.server), io_timeout_(options.io_timeout) {}

TlsSession::~TlsSession() {
  if (ssl_ != nullptr) {
    // One try: close_notify goes out if the socket takes it; the server's is not awaited.
    if (sound_ && SSL_is_init_finished(ssl_)) SSL_shutdown(ssl_);
    SSL_free(ssl_);
  }
  SSL_CTX_free(ctx_);
  ERR_clear_error();
}

Status TlsSession::WaitOrFail(int rc, int saved_errno, std::string_view what) {
  int error = SSL_get_error(ssl_, rc);
  if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
    return WaitReady(fd_, error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, io_timeout_, what);
  }
  sound_ = false;
  if (error == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
    if (saved_errno == 0) return Status::Internal("the server closed the connection");
    return Status::Internal(fmt::format("{}: {}", what, std::strerror(saved_errno)));
  }
  if (error == SSL_ERROR_ZERO_RETURN) return Status::Internal("the server closed the connection");
  return Status::Internal(fmt::format("{}: TLS: {}", what, TakeOpenSslReason()));
}

Result<std::size_t> TlsSession::Read(char* data, std::size_t size) {
  while (true) {
    ERR_clear_error();
    errno = 0;
    std::size_t got = 0;
    int rc = SSL_read_ex(ssl_, data, size, &got);
    if (rc == 1) return got;
    int saved_errno = errno;
    if (SSL_get_error(ssl_, rc) == SSL_ERROR_ZERO_RETURN) return std::size_t{0};
    if (Status s = WaitOrFail(rc, saved_errno, "receive"); !s.ok()) return s;
  }
}

Status TlsSession::Write(std::string_view bytes) {
  while (!bytes.empty()) {
    ERR_clear_error();
    errno = 0;
    std::size_t sent = 0;
    int rc = SSL_write_ex(ssl_, bytes.data(), bytes.size(), &sent);
    if (rc == 1) {
      bytes.remove_prefix(sent);
      continue;
    }
    if (Status s = WaitOrFail(rc, errno, "send"); !s.ok()) return s;
  }
  return Status::Ok();
}

}  // namespace ferry::client
