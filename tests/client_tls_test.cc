// The ferry client's tokens and TLS, without ferryd (which has no TLS yet): certificates from
// scripts/make-test-ca.sh, and a small native-protocol server on a thread of this process
// that speaks OpenSSL (or plain TCP) and answers AUTH, LIST, GET, PUT and QUIT, one
// connection at a time. Every wait is bounded: socket timeouts on both sides, poll on accept.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "client/client.h"
#include "common/checksum.h"
#include "protocol/reply.h"
#include "protocol/request.h"
#include "tests/ferryd_fixture.h"
#include "tests/temp_dir.h"

namespace ferry::client {
namespace {

namespace fs = std::filesystem;
using ferry::testing::RunProgram;
using ferry::testing::RunResult;
using ferry::testing::TempDir;

constexpr std::string_view kGoodToken = "good-token_1";
constexpr std::chrono::milliseconds kIoTimeout{10'000};
constexpr int kServerTimeoutSeconds = 5;

void SetSocketTimeouts(int fd, int seconds) {
  timeval tv{.tv_sec = seconds, .tv_usec = 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

// A listening TCP socket on `host` (an IPv4 or IPv6 literal) and an ephemeral port; -1 if the
// address cannot be bound here (no IPv6, no 127.0.0.2).
int Listen(const std::string& host, int& port) {
  sockaddr_storage storage{};
  socklen_t length = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&storage);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
  if (::inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    length = sizeof(sockaddr_in);
  } else if (::inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    length = sizeof(sockaddr_in6);
  } else {
    return -1;
  }
  int fd = ::socket(storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&storage), length) != 0 || ::listen(fd, 16) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&storage), &length) != 0) {
    ::close(fd);
    return -1;
  }
  port = ntohs(storage.ss_family == AF_INET ? v4->sin_port : v6->sin6_port);
  return fd;
}

// What GET serves: a few records' worth of bytes, not a multiple of anything.
const std::string& Blob() {
  static const std::string blob = ferry::testing::RandomBytes(3 * 1024 * 1024 + 12345, 7);
  return blob;
}

Checksum Xxh128(std::string_view bytes) {
  Hasher hasher(ChecksumAlgo::kXxh128);
  hasher.Update(bytes);
  return hasher.Finish();
}

struct ServerSetup {
  bool tls = true;
  bool tls11_only = false;         // offer TLS 1.1 and nothing else (security level 0)
  std::string host = "127.0.0.1";  // to listen on
  bool too_many_failures = false;  // AUTH answers 429, whatever the token
};

class MiniServer {
 public:
  MiniServer(const fs::path& certs, ServerSetup setup) : setup_(std::move(setup)) {
    listener_ = Listen(setup_.host, port_);
    if (listener_ < 0) {
      error_ = "cannot listen on " + setup_.host;
      return;
    }
    if (setup_.tls && !MakeContext(certs)) return;
    thread_ = std::thread([this] { Run(); });
  }
  ~MiniServer() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (listener_ >= 0) ::close(listener_);
    SSL_CTX_free(ctx_);
  }

  // False if the server could not be set up here; error() says why.
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  int port() const { return port_; }
  std::string address() const {
    bool v6 = setup_.host.find(':') != std::string::npos;
    return (v6 ? "[" + setup_.host + "]" : setup_.host) + ":" + std::to_string(port_);
  }
  // Every request line received so far, over all connections.
  std::vector<std::string> lines() const {
    std::lock_guard lock(mutex_);
    return lines_;
  }
  // The SNI name of each TLS connection that completed its handshake ("" without one).
  std::vector<std::string> server_names() const {
    std::lock_guard lock(mutex_);
    return server_names_;
  }
  std::string uploaded() const {
    std::lock_guard lock(mutex_);
    return uploaded_;
  }

 private:
  bool MakeContext(const fs::path& certs) {
    ctx_ = SSL_CTX_new(TLS_server_method());
    bool made = ctx_ != nullptr;
    if (made && setup_.tls11_only) {
      SSL_CTX_set_security_level(ctx_, 0);
      made = SSL_CTX_set_cipher_list(ctx_, "DEFAULT@SECLEVEL=0") == 1 &&
             SSL_CTX_set_min_proto_version(ctx_, TLS1_1_VERSION) == 1 &&
             SSL_CTX_set_max_proto_version(ctx_, TLS1_1_VERSION) == 1;
    }
    made = made && SSL_CTX_use_certificate_chain_file(ctx_, (certs / "server.pem").c_str()) == 1 &&
           SSL_CTX_use_PrivateKey_file(ctx_, (certs / "server.key").c_str(), SSL_FILETYPE_PEM) == 1;
    if (!made) {
      char text[256];
      ERR_error_string_n(ERR_get_error(), text, sizeof text);
      error_ = std::string("TLS server context: ") + text;
    }
    return made;
  }

  void Run() {
    while (!stop_) {
      pollfd p{.fd = listener_, .events = POLLIN, .revents = 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      SetSocketTimeouts(fd, kServerTimeoutSeconds);
      Serve(fd);
      ::close(fd);
    }
  }

  void Serve(int fd) {
    SSL* ssl = nullptr;
    if (setup_.tls) {
      ssl = SSL_new(ctx_);
      SSL_set_fd(ssl, fd);
      if (SSL_accept(ssl) != 1) {
        // Let the alert reach the client before close() turns unread bytes into a reset.
        ::shutdown(fd, SHUT_WR);
        char sink[4096];
        while (::recv(fd, sink, sizeof sink, 0) > 0) {}
        SSL_free(ssl);
        ERR_clear_error();
        return;
      }
      const char* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
      std::lock_guard lock(mutex_);
      server_names_.emplace_back(sni != nullptr ? sni : "");
    }
    Converse(fd, ssl);
    if (ssl != nullptr) {
      SSL_shutdown(ssl);
      SSL_free(ssl);
    }
    ERR_clear_error();
  }

  // Reads request lines and answers them until the client leaves or breaks the protocol.
  void Converse(int fd, SSL* ssl) {
    std::string buffer;
    auto fill = [&] {
      char chunk[65536];
      long got = ssl != nullptr ? SSL_read(ssl, chunk, sizeof chunk) : ::recv(fd, chunk, sizeof chunk, 0);
      if (got > 0) buffer.append(chunk, static_cast<std::size_t>(got));
      return got > 0;
    };
    auto send = [&](std::string_view bytes) {
      while (!bytes.empty()) {
        long sent = ssl != nullptr ? SSL_write(ssl, bytes.data(), static_cast<int>(bytes.size()))
                                   : ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (sent <= 0) return false;
        bytes.remove_prefix(static_cast<std::size_t>(sent));
      }
      return true;
    };
    while (!stop_) {
      std::size_t lf;
      while ((lf = buffer.find('\n')) == std::string::npos) {
        // A plain server that receives a TLS ClientHello (0x16...) says so, as ferryd would.
        if (ssl == nullptr && !buffer.empty() && !std::isalpha(static_cast<unsigned char>(buffer[0]))) {
          send("ERR 400 bad request: not a request line\n");
          return;
        }
        if (!fill()) return;
      }
      std::string line = buffer.substr(0, lf);
      buffer.erase(0, lf + 1);
      {
        std::lock_guard lock(mutex_);
        lines_.push_back(line);
      }
      protocol::ParsedLine parsed = protocol::ParseRequest(line);
      if (!parsed.request.ok()) {
        if (!send(protocol::EncodeError(parsed.request.status()))) return;
        continue;
      }
      const protocol::Request& request = *parsed.request;
      std::string reply;
      switch (request.command) {
        case protocol::Command::kAuth:
          if (setup_.too_many_failures) {
            reply = protocol::EncodeError(Status::TooManyRequests("too many failures from 127.0.0.1"));
          } else {
            reply = request.token == kGoodToken ? protocol::EncodeOk()
                                                : protocol::EncodeError(Status::Unauthenticated("bad token"));
          }
          break;
        case protocol::Command::kList:
          reply = protocol::EncodeListHead(1) +
                  protocol::EncodeListEntry({.name = "hello.txt", .size = 5, .mtime = 1'700'000'000});
          break;
        case protocol::Command::kGet:
          reply = protocol::EncodeGetHead(
                      {.length = Blob().size(), .size = Blob().size(), .checksum = Xxh128(Blob())}) +
                  Blob();
          break;
        case protocol::Command::kPut: {
          if (!request.size || !send(protocol::EncodeContinue(0))) return;
          while (buffer.size() < *request.size) {
            if (!fill()) return;
          }
          std::lock_guard lock(mutex_);
          uploaded_ = buffer.substr(0, *request.size);
          buffer.erase(0, *request.size);
          reply = protocol::EncodePutDone({.size = *request.size, .checksum = Xxh128(uploaded_)});
          break;
        }
        case protocol::Command::kQuit:
          send(protocol::EncodeOk());
          return;
        default:
          reply = protocol::EncodeError(Status::BadRequest("not here"));
      }
      if (!send(reply)) return;
    }
  }

  ServerSetup setup_;
  int listener_ = -1;
  int port_ = 0;
  SSL_CTX* ctx_ = nullptr;
  std::string error_;
  std::atomic<bool> stop_{false};
  mutable std::mutex mutex_;
  std::vector<std::string> lines_;         // GUARDED_BY(mutex_)
  std::vector<std::string> server_names_;  // GUARDED_BY(mutex_)
  std::string uploaded_;                   // GUARDED_BY(mutex_)
  std::thread thread_;
};

// True if a client limited to TLS 1.1 completes a handshake with the server on `port`: the
// proof that this OpenSSL really offers TLS 1.1 there.
bool Tls11HandshakeWorks(int port) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_security_level(ctx, 0);
  bool configured = SSL_CTX_set_cipher_list(ctx, "DEFAULT@SECLEVEL=0") == 1 &&
                    SSL_CTX_set_min_proto_version(ctx, TLS1_1_VERSION) == 1 &&
                    SSL_CTX_set_max_proto_version(ctx, TLS1_1_VERSION) == 1;
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  SetSocketTimeouts(fd, kServerTimeoutSeconds);
  sockaddr_in address{.sin_family = AF_INET, .sin_port = htons(static_cast<std::uint16_t>(port))};
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool worked = false;
  if (configured && ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) {
    SSL* ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    worked = SSL_connect(ssl) == 1 && SSL_version(ssl) == TLS1_1_VERSION;
    if (worked) SSL_shutdown(ssl);
    SSL_free(ssl);
  }
  ::close(fd);
  SSL_CTX_free(ctx);
  ERR_clear_error();
  return worked;
}

bool Contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

class ClientTlsTest : public ::testing::Test {
 protected:
  // The script runs once for the whole binary.
  static void SetUpTestSuite() {
    certs_ = new TempDir;
    made_ = RunProgram({"bash", FERRY_SOURCE_DIR "/scripts/make-test-ca.sh", certs_->path().string()},
                       std::chrono::seconds(60));
  }
  static void TearDownTestSuite() {
    delete certs_;
    certs_ = nullptr;
  }
  void SetUp() override {
    ASSERT_EQ(made_.exit_code, 0) << "make-test-ca.sh failed:\n" << made_.err;
  }

  static fs::path Certs() { return certs_->path(); }
  static ClientOptions Options(const MiniServer& server, const std::string& ca = "ca.pem",
                               std::string_view token = kGoodToken) {
    return {.server = server.address(), .io_timeout = kIoTimeout, .token = std::string(token),
            .tls = true, .ca_file = ca.empty() ? fs::path() : Certs() / ca};
  }
  // Runs the ferry CLI with a clean environment (no config file, no FERRY_*) plus `env`.
  static RunResult RunFerry(const TempDir& home, std::vector<std::string> env,
                            const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"env", "-u", "FERRY_CONFIG", "-u", "FERRY_SERVER", "-u", "FERRY_TOKEN",
                                     "HOME=" + home.path().string(),
                                     "XDG_CONFIG_HOME=" + home.path().string()};
    argv.insert(argv.end(), env.begin(), env.end());
    argv.push_back(ferry::testing::FerryPath());
    argv.insert(argv.end(), args.begin(), args.end());
    return RunProgram(argv, std::chrono::seconds(60));
  }

  static inline TempDir* certs_ = nullptr;
  static inline RunResult made_;
};

TEST_F(ClientTlsTest, ScriptIsQuietAndIdempotent) {
  EXPECT_EQ(made_.out, "");
  EXPECT_EQ(made_.err, "");
  for (const char* file : {"ca.pem", "ca.key", "server.pem", "server.key", "other-ca.pem"}) {
    EXPECT_GT(fs::file_size(Certs() / file), 0u) << file;
  }
  EXPECT_EQ(fs::status(Certs() / "server.key").permissions() & fs::perms::others_read, fs::perms::none);
  std::string before = ferry::testing::ReadFile(Certs() / "server.pem");
  RunResult again = RunProgram({"bash", FERRY_SOURCE_DIR "/scripts/make-test-ca.sh", Certs().string()},
                               std::chrono::seconds(60));
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(again.out + again.err, "");
  EXPECT_EQ(ferry::testing::ReadFile(Certs() / "server.pem"), before) << "a valid set is kept";
}

TEST_F(ClientTlsTest, AuthThenListInTlsWithTheTestCa) {
  MiniServer server(Certs(), {});
  ASSERT_TRUE(server.ok()) << server.error();
  auto client = Client::Connect(Options(server));
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  auto entries = (*client)->List("");
  ASSERT_TRUE(entries.ok()) << entries.status().ToString();
  ASSERT_EQ(entries->size(), 1u);
  EXPECT_EQ(entries->front().name, "hello.txt");
  EXPECT_EQ(server.lines(), (std::vector<std::string>{"AUTH good-token_1", "LIST"}));
  EXPECT_EQ(server.server_names(), std::vector<std::string>{""}) << "no SNI for an IP address";
}

TEST_F(ClientTlsTest, NamesGetSniAndIpv6Works) {
  MiniServer server(Certs(), {});
  ASSERT_TRUE(server.ok()) << server.error();
  ClientOptions options = Options(server);
  options.server = "localhost:" + std::to_string(server.port());
  auto client = Client::Connect(options);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  EXPECT_TRUE((*client)->List("").ok());
  EXPECT_EQ(server.server_names(), std::vector<std::string>{"localhost"});

  MiniServer v6(Certs(), {.host = "::1"});
  if (!v6.ok()) GTEST_SKIP() << "no IPv6 loopback here: " << v6.error();
  auto over_v6 = Client::Connect(Options(v6));
  ASSERT_TRUE(over_v6.ok()) << over_v6.status().ToString();
  EXPECT_TRUE((*over_v6)->List("").ok());
}

TEST_F(ClientTlsTest, BodiesBothWaysStayInStep) {
  MiniServer server(Certs(), {});
  ASSERT_TRUE(server.ok()) << server.error();
  auto client = Client::Connect(Options(server));
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  std::string received;
  auto head = (*client)->Get(*ObjectName::FromDecoded("blob"), 0, std::nullopt, [&](std::string_view bytes) {
    received.append(bytes);
    return Status::Ok();
  });
  ASSERT_TRUE(head.ok()) << head.status().ToString();
  EXPECT_TRUE(received == Blob()) << received.size() << " bytes of " << Blob().size();

  TempDir dir;
  std::string upload = ferry::testing::RandomBytes(5 * 1024 * 1024 + 7, 11);
  ferry::testing::WriteFile(dir / "up", upload);
  auto done = UploadFile(**client, (dir / "up").string(), *ObjectName::FromDecoded("up"));
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  EXPECT_EQ(done->size, upload.size());
  EXPECT_TRUE(server.uploaded() == upload) << server.uploaded().size() << " bytes of " << upload.size();
  EXPECT_TRUE((*client)->List("").ok());
  EXPECT_TRUE((*client)->in_step());
}

TEST_F(ClientTlsTest, RefusedTokensGiveTheServersStatus) {
  MiniServer server(Certs(), {});
  ASSERT_TRUE(server.ok()) << server.error();
  auto bad = Client::Connect(Options(server, "ca.pem", "wrong-token"));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Code::kUnauthenticated);
  EXPECT_EQ(bad.status().message(), "bad token");

  auto malformed = Client::Connect(Options(server, "ca.pem", "has space"));
  ASSERT_FALSE(malformed.ok());
  EXPECT_EQ(malformed.status().code(), Code::kBadRequest);
  EXPECT_FALSE(Contains(malformed.status().message(), "has space"));

  MiniServer limited(Certs(), {.too_many_failures = true});
  ASSERT_TRUE(limited.ok()) << limited.error();
  auto refused = Client::Connect(Options(limited));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kTooManyRequests);

  // Without a token nothing is sent before the first command.
  auto anonymous = Client::Connect(Options(server, "ca.pem", ""));
  ASSERT_TRUE(anonymous.ok()) << anonymous.status().ToString();
  ASSERT_TRUE((*anonymous)->List("").ok());
  EXPECT_EQ(server.lines(), (std::vector<std::string>{"AUTH wrong-token", "LIST"}));
}

TEST_F(ClientTlsTest, UntrustedCertificatesAreRefusedClearly) {
  MiniServer server(Certs(), {});
  ASSERT_TRUE(server.ok()) << server.error();
  auto other = Client::Connect(Options(server, "other-ca.pem"));
  ASSERT_FALSE(other.ok());
  const std::string& message = other.status().message();
  EXPECT_TRUE(Contains(message, server.address() + ": TLS certificate not trusted: ")) << message;
  EXPECT_TRUE(Contains(message, "self-signed certificate in certificate chain")) << message;
  EXPECT_TRUE(Contains(message, "other-ca.pem")) << message;

  auto system_store = Client::Connect(Options(server, ""));
  ASSERT_FALSE(system_store.ok());
  EXPECT_TRUE(Contains(system_store.status().message(), server.address() + ": TLS certificate not trusted: "))
      << system_store.status().message();
  EXPECT_TRUE(Contains(system_store.status().message(), "(give --ca FILE)")) << system_store.status().message();

  auto missing = Client::Connect(Options(server, "no-such.pem"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), Code::kNotFound) << missing.status().ToString();
  EXPECT_TRUE(Contains(missing.status().message(), "no-such.pem"));

  TempDir dir;
  ferry::testing::WriteFile(dir / "junk.pem", "not a certificate\n");
  ClientOptions junk = Options(server);
  junk.ca_file = dir / "junk.pem";
  auto not_pem = Client::Connect(junk);
  ASSERT_FALSE(not_pem.ok());
  EXPECT_EQ(not_pem.status().code(), Code::kBadRequest) << not_pem.status().ToString();
  // No request ever reached the server.
  EXPECT_TRUE(server.lines().empty());
}

TEST_F(ClientTlsTest, CertificateForAnotherHostIsRefused) {
  MiniServer server(Certs(), {});
  ASSERT_TRUE(server.ok()) << server.error();
  ClientOptions options = Options(server);
  options.tls_name = "files.example.com";
  auto wrong_name = Client::Connect(options);
  ASSERT_FALSE(wrong_name.ok());
  EXPECT_TRUE(Contains(wrong_name.status().message(),
                       server.address() + ": TLS certificate is not for files.example.com"))
      << wrong_name.status().message();

  MiniServer other_ip(Certs(), {.host = "127.0.0.2"});
  if (!other_ip.ok()) GTEST_SKIP() << "127.0.0.2 is not usable here: " << other_ip.error();
  auto wrong_ip = Client::Connect(Options(other_ip));
  ASSERT_FALSE(wrong_ip.ok());
  EXPECT_TRUE(Contains(wrong_ip.status().message(), "TLS certificate is not for 127.0.0.2"))
      << wrong_ip.status().message();
  EXPECT_TRUE(other_ip.lines().empty());
}

TEST_F(ClientTlsTest, ServerWithOnlyTls11IsRefused) {
  MiniServer server(Certs(), {.tls11_only = true});
  if (!server.ok()) GTEST_SKIP() << "this OpenSSL cannot make a TLS 1.1 server: " << server.error();
  if (!Tls11HandshakeWorks(server.port())) {
    GTEST_SKIP() << "this OpenSSL does not complete a TLS 1.1 handshake even at security level 0";
  }
  auto client = Client::Connect(Options(server));
  ASSERT_FALSE(client.ok());
  EXPECT_TRUE(Contains(client.status().message(), server.address() + ": the server offers no TLS 1.2 or later"))
      << client.status().message();
  EXPECT_TRUE(server.lines().empty());
}

TEST_F(ClientTlsTest, PlainAndTlsMismatchesSaySo) {
  MiniServer plain(Certs(), {.tls = false});
  ASSERT_TRUE(plain.ok()) << plain.error();
  auto tls_to_plain = Client::Connect(Options(plain));
  ASSERT_FALSE(tls_to_plain.ok());
  EXPECT_TRUE(Contains(tls_to_plain.status().message(), "does the server speak TLS on this port?"))
      << tls_to_plain.status().message();

  MiniServer tls(Certs(), {});
  ASSERT_TRUE(tls.ok()) << tls.error();
  ClientOptions options = Options(tls);
  options.tls = false;
  auto plain_to_tls = Client::Connect(options);
  ASSERT_FALSE(plain_to_tls.ok());
  EXPECT_TRUE(Contains(plain_to_tls.status().message(), tls.address() + " closed the connection without a reply"))
      << plain_to_tls.status().message();
  EXPECT_TRUE(Contains(plain_to_tls.status().message(), "--tls")) << plain_to_tls.status().message();
}

TEST_F(ClientTlsTest, SilentServerTimesOut) {
  int port = 0;
  int listener = Listen("127.0.0.1", port);  // never accepts: the kernel completes the connect
  ASSERT_GE(listener, 0);
  ClientOptions options{.server = "127.0.0.1:" + std::to_string(port),
                        .io_timeout = std::chrono::milliseconds(300), .tls = true,
                        .ca_file = Certs() / "ca.pem"};
  auto started = std::chrono::steady_clock::now();
  auto client = Client::Connect(options);
  auto took = std::chrono::steady_clock::now() - started;
  ::close(listener);
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.status().code(), Code::kBusy) << client.status().ToString();
  EXPECT_TRUE(Contains(client.status().message(), "did not answer in time")) << client.status().message();
  EXPECT_LT(took, std::chrono::seconds(5));
}

TEST_F(ClientTlsTest, CliTakesTokensFromFileEnvironmentAndConfig) {
  MiniServer server(Certs(), {});
  ASSERT_TRUE(server.ok()) << server.error();
  TempDir home;
  std::string ca = (Certs() / "ca.pem").string();
  auto auths = [&server] {
    std::vector<std::string> lines = server.lines();
    return std::count_if(lines.begin(), lines.end(), [](const std::string& l) { return l.starts_with("AUTH "); });
  };

  RunResult env = RunFerry(home, {"FERRY_TOKEN=good-token_1"}, {"--server", server.address(), "--ca", ca, "ls"});
  EXPECT_EQ(env.exit_code, 0) << env.err;
  EXPECT_TRUE(Contains(env.out, "hello.txt")) << env.out;
  EXPECT_EQ(auths(), 1);

  // --token-file wins over FERRY_TOKEN; the first line counts, trimmed.
  ferry::testing::WriteFile(home / "token", "  good-token_1 \nsecond line\n");
  fs::permissions(home / "token", fs::perms::owner_read | fs::perms::owner_write);
  RunResult file = RunFerry(home, {"FERRY_TOKEN=wrong"}, {"--server", server.address(), "--ca", ca,
                                                           "--token-file", (home / "token").string(), "ls"});
  EXPECT_EQ(file.exit_code, 0) << file.err;
  EXPECT_EQ(file.err, "");
  EXPECT_EQ(auths(), 2);

  // A refused token: exit 1, where it came from, never the token.
  RunResult refused = RunFerry(home, {"FERRY_TOKEN=wrong-secret"}, {"--server", server.address(), "--ca", ca, "ls"});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_TRUE(Contains(refused.err, "401")) << refused.err;
  EXPECT_TRUE(Contains(refused.err, "FERRY_TOKEN")) << refused.err;
  EXPECT_FALSE(Contains(refused.err, "wrong-secret")) << refused.err;

  // The config file: per-server ca (which implies TLS) and token-file, relative to the file.
  fs::create_directories(home / "ferry");
  fs::copy_file(Certs() / "ca.pem", home / "ferry/mini-ca.pem");
  ferry::testing::WriteFile(home / "ferry/mini.token", "good-token_1\n");
  fs::permissions(home / "ferry/mini.token", fs::perms::owner_read | fs::perms::owner_write);
  ferry::testing::WriteFile(home / "ferry/config.toml",
                            "token = \"top-level-token\"\n[servers.mini]\naddress = \"" + server.address() +
                                "\"\nca = \"mini-ca.pem\"\ntoken-file = \"mini.token\"\n");
  RunResult config = RunFerry(home, {}, {"--server", "mini", "ls"});
  EXPECT_EQ(config.exit_code, 0) << config.err;
  EXPECT_EQ(server.lines().back(), "LIST");
  EXPECT_EQ(auths(), 4);
  EXPECT_EQ(server.lines()[server.lines().size() - 2], "AUTH good-token_1");

  // A token file others can read works, with a warning.
  fs::permissions(home / "token", fs::perms::others_read, fs::perm_options::add);
  RunResult loose = RunFerry(home, {}, {"--server", server.address(), "--ca", ca, "--token-file",
                                        (home / "token").string(), "ls"});
  EXPECT_EQ(loose.exit_code, 0) << loose.err;
  EXPECT_TRUE(Contains(loose.err, "can be read by other users")) << loose.err;

  // --tls alone trusts only the system's CAs.
  RunResult system_store = RunFerry(home, {}, {"--server", server.address(), "--tls", "ls"});
  EXPECT_EQ(system_store.exit_code, 1);
  EXPECT_TRUE(Contains(system_store.err, "TLS certificate not trusted")) << system_store.err;
  EXPECT_TRUE(Contains(system_store.err, "(give --ca FILE)")) << system_store.err;

  // A missing token file is a usage error, before any connection.
  std::size_t before = server.lines().size();
  RunResult missing = RunFerry(home, {}, {"--server", server.address(), "--token-file", "/nonexistent/t", "ls"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_TRUE(Contains(missing.err, "--token-file")) << missing.err;
  EXPECT_EQ(server.lines().size(), before);

  RunResult help = RunFerry(home, {}, {"--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_TRUE(Contains(help.out, "--token-file")) << help.out;
  EXPECT_TRUE(Contains(help.out, "ps")) << help.out;
  RunResult no_flag = RunFerry(home, {}, {"--server", server.address(), "--token", "x", "ls"});
  EXPECT_EQ(no_flag.exit_code, 2) << "there is no --token flag";
}

}  // namespace
}  // namespace ferry::client
