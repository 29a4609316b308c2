// The HTTP door of a real ferryd, driven by the real curl and wget and by raw sockets.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <signal.h>
#include <sys/wait.h>

#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <thread>

#include "common/checksum.h"
#include "tests/ferryd_fixture.h"

namespace ferry::testing {
namespace {

namespace fs = std::filesystem;

std::string ReadAll(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

void WriteAll(const fs::path& path, std::string_view bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
}

std::string XxhOf(std::string_view bytes) {
  Hasher hasher(ChecksumAlgo::kXxh128);
  hasher.Update(bytes);
  return hasher.Finish().ToString();
}

// What curl saw of one exchange.
struct Reply {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  fs::path body_file;
  std::string body() const { return ReadAll(body_file); }
};

class HttpDoor : public ::testing::Test {
 protected:
  // curl with `args`; headers and body land in files of the test's folder.
  Reply Curl(std::vector<std::string> args, const std::string& url) {
    fs::path headers = local_ / ("headers-" + std::to_string(calls_));
    fs::path body = local_ / ("body-" + std::to_string(calls_++));
    std::vector<std::string> argv = {"curl", "-sS", "--max-time", "120", "-D", headers.string(),
                                      "-o", body.string()};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back(url);
    RunResult run = RunProgram(argv, std::chrono::seconds(150));
    EXPECT_EQ(run.exit_code, 0) << "curl " << url << ": " << run.err;
    Reply reply;
    reply.body_file = body;
    if (!fs::exists(body)) std::ofstream{body};  // no body at all (HEAD, 304)
    // The last header block is the final reply (after any "100 Continue").
    std::istringstream lines(ReadAll(headers));
    std::string line;
    while (std::getline(lines, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.starts_with("HTTP/")) {
        reply.status = std::stoi(line.substr(line.find(' ') + 1));
        reply.headers.clear();
      } else if (std::size_t colon = line.find(':'); colon != std::string::npos) {
        std::string name = line.substr(0, colon);
        std::transform(name.begin(), name.end(), name.begin(), ::tolower);
        std::size_t value = line.find_first_not_of(' ', colon + 1);
        reply.headers[name] = value == std::string::npos ? "" : line.substr(value);
      }
    }
    return reply;
  }
  Reply Get(const std::string& path, std::vector<std::string> args = {}) {
    return Curl(std::move(args), server_.url(path));
  }
  // PUT of a local file; `args` may add headers.
  Reply Put(const std::string& path, const fs::path& file, std::vector<std::string> args = {}) {
    args.insert(args.begin(), {"-T", file.string()});
    return Curl(std::move(args), server_.url(path));
  }

  Ferryd server_;
  TempDir local_;
  int calls_ = 0;
};

TEST_F(HttpDoor, GetAndHeadDescribeTheFile) {
  std::string bytes = RandomBytes(1000, 1);
  WriteAll(server_.data() / "docs/note.txt", bytes);
  Reply get = Get("/files/docs/note.txt");
  EXPECT_EQ(get.status, 200);
  EXPECT_EQ(get.body(), bytes);
  EXPECT_EQ(get.headers["content-length"], "1000");
  EXPECT_EQ(get.headers["content-type"], "text/plain; charset=utf-8");
  EXPECT_EQ(get.headers["etag"], "\"" + FileChecksum(server_.data() / "docs/note.txt") + "\"");
  EXPECT_EQ(get.headers["accept-ranges"], "bytes");
  EXPECT_TRUE(get.headers.contains("last-modified"));
  EXPECT_TRUE(get.headers.contains("date"));

  // (That a HEAD has no body is checked byte by byte in PipelinedRequestsAreAnsweredInOrder.)
  Reply head = Curl({"-I"}, server_.url("/files/docs/note.txt"));
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.headers["content-length"], "1000");
  EXPECT_EQ(head.headers["etag"], get.headers["etag"]);
  EXPECT_EQ(head.headers["last-modified"], get.headers["last-modified"]);
  EXPECT_EQ(Curl({"-I", "-r", "0-9"}, server_.url("/files/docs/note.txt")).status, 200)
      << "only GET honours Range";
  EXPECT_EQ(get.headers["x-content-type-options"], "nosniff");

  EXPECT_EQ(Get("/files/docs/missing.txt").status, 404);
  EXPECT_EQ(Get("/nowhere").status, 404);
  EXPECT_EQ(Get("/healthz").body(), "ok\n");
  Reply folder = Get("/files/docs");
  EXPECT_EQ(folder.status, 301);
  EXPECT_EQ(folder.headers["location"], "/files/docs/");
  EXPECT_EQ(Get("/").headers["location"], "/files/");
}

TEST_F(HttpDoor, RangesFirstMiddleSuffixAndUnsatisfiable) {
  std::string bytes = RandomBytes(1000, 2);
  WriteAll(server_.data() / "r.bin", bytes);
  struct Case {
    std::string range;
    std::size_t offset, length;
  };
  for (const Case& c : {Case{"bytes=0-99", 0, 100}, Case{"bytes=400-499", 400, 100},
                        Case{"bytes=-100", 900, 100}, Case{"bytes=990-", 990, 10},
                        Case{"bytes=999-5000", 999, 1}}) {
    Reply reply = Get("/files/r.bin", {"-H", "Range: " + c.range});
    EXPECT_EQ(reply.status, 206) << c.range;
    EXPECT_EQ(reply.body(), bytes.substr(c.offset, c.length)) << c.range;
    EXPECT_EQ(reply.headers["content-range"],
              "bytes " + std::to_string(c.offset) + "-" + std::to_string(c.offset + c.length - 1) +
                  "/1000")
        << c.range;
  }
  for (std::string range : {"bytes=1000-", "bytes=5000-6000", "bytes=-0"}) {
    Reply reply = Get("/files/r.bin", {"-H", "Range: " + range});
    EXPECT_EQ(reply.status, 416) << range;
    EXPECT_EQ(reply.headers["content-range"], "bytes */1000") << range;
  }
  // Several ranges are not served piecewise: the whole file, 200.
  Reply several = Get("/files/r.bin", {"-H", "Range: bytes=0-1,5-6"});
  EXPECT_EQ(several.status, 200);
  EXPECT_EQ(several.body(), bytes);
  // If-Range with a stale tag: the whole (new) file.
  Reply stale = Get("/files/r.bin", {"-H", "Range: bytes=0-9", "-H", "If-Range: \"old\""});
  EXPECT_EQ(stale.status, 200);
}

TEST_F(HttpDoor, ConditionalGets) {
  WriteAll(server_.data() / "c.txt", "version 1");
  Reply first = Get("/files/c.txt");
  std::string etag = first.headers["etag"];
  std::string modified = first.headers["last-modified"];
  Reply same_tag = Get("/files/c.txt", {"-H", "If-None-Match: " + etag});
  EXPECT_EQ(same_tag.status, 304);
  EXPECT_EQ(same_tag.body(), "");
  EXPECT_EQ(same_tag.headers["etag"], etag);
  EXPECT_EQ(Get("/files/c.txt", {"-H", "If-None-Match: \"other\", " + etag}).status, 304);
  EXPECT_EQ(Get("/files/c.txt", {"-H", "If-None-Match: \"other\""}).status, 200);
  EXPECT_EQ(Get("/files/c.txt", {"-H", "If-Modified-Since: " + modified}).status, 304);
  EXPECT_EQ(Get("/files/c.txt", {"-H", "If-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT"}).status,
            200);

  // A new version has a new tag: the old one no longer matches.
  fs::path update = local_ / "update";
  WriteAll(update, "version 2");
  ASSERT_EQ(Put("/files/c.txt", update).status, 200) << "a replaced file is 200, not 201";
  Reply after = Get("/files/c.txt", {"-H", "If-None-Match: " + etag});
  EXPECT_EQ(after.status, 200);
  EXPECT_EQ(after.body(), "version 2");
  EXPECT_NE(after.headers["etag"], etag);
}

TEST_F(HttpDoor, PutOfEmptyAndOneGibFilesThenByteExactGet) {
  fs::path empty = local_ / "empty";
  WriteAll(empty, "");
  Reply put_empty = Put("/files/up/empty", empty);
  EXPECT_EQ(put_empty.status, 201);
  EXPECT_EQ(put_empty.headers["location"], "/files/up/empty");
  Reply get_empty = Get("/files/up/empty");
  EXPECT_EQ(get_empty.status, 200);
  EXPECT_EQ(get_empty.headers["content-length"], "0");
  EXPECT_EQ(get_empty.body(), "");

  fs::path big = local_ / "big.bin";
  WriteRandomFile(big, std::uint64_t{1} << 30, 3);
  std::string checksum = FileChecksum(big);
  Reply put = Put("/files/up/big.bin", big);
  EXPECT_EQ(put.status, 201);
  EXPECT_EQ(put.headers["x-checksum"], checksum);
  EXPECT_EQ(FileChecksum(server_.data() / "up/big.bin"), checksum);
  Reply get = Get("/files/up/big.bin");
  EXPECT_EQ(get.status, 200);
  EXPECT_EQ(get.headers["content-length"], std::to_string(std::uint64_t{1} << 30));
  EXPECT_EQ(FileChecksum(get.body_file), checksum);
  fs::remove(get.body_file);
  EXPECT_EQ(server_.TmpFiles(), 0u);
}

TEST_F(HttpDoor, ChunkedPutAndChecksumHeader) {
  std::string bytes = RandomBytes(300'000, 4);
  fs::path file = local_ / "f";
  WriteAll(file, bytes);
  std::string checksum = FileChecksum(file);
  // Chunked (no Content-Length): curl reads stdin.
  Reply chunked = Curl({"-H", "Transfer-Encoding: chunked", "--data-binary", "@" + file.string(),
                        "-X", "PUT"},
                       server_.url("/files/chunked.bin"));
  EXPECT_EQ(chunked.status, 201);
  EXPECT_EQ(ReadAll(server_.data() / "chunked.bin"), bytes);

  EXPECT_EQ(Put("/files/sum.bin", file, {"-H", "X-Checksum: " + checksum}).status, 201);
  // A wrong checksum: 422, and the stored version stays the old one.
  fs::path other = local_ / "other";
  WriteAll(other, "not the same bytes");
  Reply mismatch = Put("/files/sum.bin", other, {"-H", "X-Checksum: " + checksum});
  EXPECT_EQ(mismatch.status, 422);
  EXPECT_NE(mismatch.body().find("checksum mismatch"), std::string::npos) << mismatch.body();
  EXPECT_EQ(ReadAll(server_.data() / "sum.bin"), bytes);
  EXPECT_EQ(Put("/files/sum.bin", other, {"-H", "X-Checksum: md5:abc"}).status, 400);
  EXPECT_EQ(server_.TmpFiles(), 0u);
}

TEST_F(HttpDoor, DeleteThenNotFound) {
  WriteAll(server_.data() / "gone.txt", "x");
  EXPECT_EQ(Curl({"-X", "DELETE"}, server_.url("/files/gone.txt")).status, 204);
  EXPECT_FALSE(fs::exists(server_.data() / "gone.txt"));
  EXPECT_EQ(Get("/files/gone.txt").status, 404);
  EXPECT_EQ(Curl({"-X", "DELETE"}, server_.url("/files/gone.txt")).status, 404);
  Reply not_allowed = Curl({"-X", "POST"}, server_.url("/files/gone.txt"));
  EXPECT_EQ(not_allowed.status, 405);
  EXPECT_EQ(not_allowed.headers["allow"], "GET, HEAD, PUT, DELETE");
}

TEST_F(HttpDoor, TraversalAndBadNamesAre400) {
  WriteAll(server_.data() / "x", "inside");
  for (std::string path : {"/files/../x", "/files/%2e%2e/x", "/files/a/%2E%2E/%2e%2e/x",
                           "/files/a/../../x", "/files/%00", "/files/a%5Cb", "/files/%zz"}) {
    Reply reply = Curl({"--path-as-is"}, server_.url(path));
    EXPECT_EQ(reply.status, 400) << path << ": " << reply.body();
  }
  fs::path file = local_ / "f";
  WriteAll(file, "evil");
  EXPECT_EQ(Curl({"--path-as-is", "-T", file.string()}, server_.url("/files/../evil")).status, 400);
  EXPECT_EQ(Put("/files/.ferry/tmp/evil", file).status, 403);
  EXPECT_FALSE(fs::exists(server_.data().parent_path() / "evil"));
}

TEST(HttpDoorLimits, UploadAboveTheLimitIs413AndStoresNothing) {
  Ferryd server({"--max-upload", "1M"});
  TempDir local;
  fs::path big = local / "big";
  WriteRandomFile(big, 2 << 20, 5);
  auto status_of = [&](std::vector<std::string> args, const std::string& path) {
    std::vector<std::string> argv = {"curl", "-sS", "--max-time", "60", "-o", "/dev/null",
                                     "-w", "%{http_code}"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back(server.url(path));
    RunResult run = RunProgram(argv, std::chrono::seconds(90));
    return run.out;
  };
  // With Expect: 100-continue (curl's default above 1 MiB): refused before the body is sent.
  EXPECT_EQ(status_of({"-T", big.string()}, "/files/a"), "413");
  // Without it, the body is on its way when the reply goes: read off, no reset.
  EXPECT_EQ(status_of({"-T", big.string(), "-H", "Expect:"}, "/files/b"), "413");
  // Chunked: no size announced, refused once the limit is passed, with or without a
  // "100 Continue" first (then the body is streaming when the refusal comes).
  EXPECT_EQ(status_of({"-H", "Transfer-Encoding: chunked", "-H", "Expect:", "--data-binary",
                       "@" + big.string(), "-X", "PUT"},
                      "/files/c"),
            "413");
  EXPECT_EQ(status_of({"-H", "Transfer-Encoding: chunked", "-H", "Expect: 100-continue",
                       "--data-binary", "@" + big.string(), "-X", "PUT"},
                      "/files/d"),
            "413");
  for (std::string name : {"a", "b", "c", "d"}) EXPECT_FALSE(fs::exists(server.data() / name)) << name;
  EXPECT_EQ(server.TmpFiles(), 0u);
  // The server is fine afterwards, and 1 MiB exactly is allowed.
  fs::path ok = local / "ok";
  WriteRandomFile(ok, 1 << 20, 6);
  EXPECT_EQ(status_of({"-T", ok.string()}, "/files/ok"), "201");
}

TEST_F(HttpDoor, ListingAsJsonAndHtml) {
  WriteAll(server_.data() / "a/one.txt", "1");
  WriteAll(server_.data() / "a/sub/two.txt", "22");
  WriteAll(server_.data() / "a/odd name #1.txt", "333");
  Reply json = Get("/files/a/", {"-H", "Accept: application/json"});
  EXPECT_EQ(json.status, 200);
  EXPECT_EQ(json.headers["content-type"], "application/json");
  auto doc = nlohmann::json::parse(json.body());
  EXPECT_EQ(doc["folder"], "a/");
  EXPECT_EQ(doc["folders"], nlohmann::json({"sub/"}));
  ASSERT_EQ(doc["files"].size(), 2u);
  EXPECT_EQ(doc["files"][0]["name"], "odd name #1.txt");
  EXPECT_EQ(doc["files"][0]["size"], 3);
  EXPECT_EQ(doc["files"][1]["path"], "a/one.txt");
  EXPECT_EQ(doc["files"][1]["cached"], false);

  Reply html = Get("/files/a/");
  EXPECT_EQ(html.headers["content-type"], "text/html; charset=utf-8");
  std::string page = html.body();
  EXPECT_NE(page.find("<a href=\"./odd%20name%20%231.txt\">odd name #1.txt</a>"), std::string::npos)
      << page;
  EXPECT_NE(page.find("<a href=\"./sub/\">sub/</a>"), std::string::npos);
  EXPECT_EQ(Get("/files/nothing/").status, 404);
  EXPECT_EQ(Get("/files/").status, 200);
}

TEST_F(HttpDoor, WgetMirrorsANestedTreeThroughTheHtmlListing) {
  // Odd names, but no '%': wget decodes an escaped '%' twice when it names the local file.
  std::vector<std::pair<std::string, std::size_t>> files = {
      {"top.bin", 5000},           {"dir with space/ünï €.txt", 10},
      {"dir with space/deep/empty", 0}, {"q?mark#hash &amp.txt", 7},
      {"a/b/c/d/e.bin", 70'000},    {"colon:name", 3}};
  for (std::size_t i = 0; i < files.size(); ++i) {
    WriteAll(server_.data() / "tree" / files[i].first, RandomBytes(files[i].second, 10 + i));
  }
  fs::path out = local_ / "mirror";
  RunResult wget = RunProgram({"wget", "-r", "-np", "-nH", "--cut-dirs=1", "-e", "robots=off",
                               "-q", "--restrict-file-names=nocontrol", "--timeout=30", "-P",
                               out.string(), server_.url("/files/tree/")},
                              std::chrono::seconds(120));
  ASSERT_EQ(wget.exit_code, 0) << wget.err;
  for (const auto& [name, size] : files) {
    fs::path mirrored = out / "tree" / name;
    ASSERT_TRUE(fs::exists(mirrored)) << name;
    EXPECT_EQ(FileChecksum(mirrored), FileChecksum(server_.data() / "tree" / name)) << name;
  }
}

// One request at a time on a raw socket: status line, headers, body by Content-Length.
struct RawReply {
  int status = 0;
  std::map<std::string, std::string> headers;
  std::string body;
};
RawReply ReadReply(RawConnection& connection, bool head = false) {
  RawReply reply;
  std::string status_line = connection.ReadLine();
  if (status_line.size() < 12) return reply;
  reply.status = std::stoi(status_line.substr(9, 3));
  while (true) {
    std::string line = connection.ReadLine();
    if (line.empty() || line == "\r") break;
    if (line.back() == '\r') line.pop_back();
    std::size_t colon = line.find(':');
    std::string name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(), ::tolower);
    reply.headers[name] = line.substr(colon + 2);
  }
  if (!head && reply.headers.contains("content-length")) {
    reply.body = connection.ReadBytes(std::stoul(reply.headers["content-length"]));
  }
  return reply;
}

TEST_F(HttpDoor, PipelinedRequestsAreAnsweredInOrder) {
  WriteAll(server_.data() / "p1", "first");
  WriteAll(server_.data() / "p2", "second!");
  RawConnection connection(server_.http_port());
  connection.Send(
      "GET /files/p1 HTTP/1.1\r\nHost: t\r\n\r\n"
      "HEAD /files/p2 HTTP/1.1\r\nHost: t\r\n\r\n"
      "PUT /files/p3 HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nthird"
      "GET /files/missing HTTP/1.1\r\nHost: t\r\n\r\n"
      "GET /files/p3 HTTP/1.1\r\nHost: t\r\n\r\n");
  RawReply one = ReadReply(connection);
  EXPECT_EQ(one.status, 200);
  EXPECT_EQ(one.body, "first");
  RawReply two = ReadReply(connection, /*head=*/true);
  EXPECT_EQ(two.status, 200);
  EXPECT_EQ(two.headers["content-length"], "7");
  EXPECT_EQ(ReadReply(connection).status, 201);
  RawReply missing = ReadReply(connection);
  EXPECT_EQ(missing.status, 404);
  EXPECT_NE(missing.body.find("not found"), std::string::npos);
  RawReply three = ReadReply(connection);
  EXPECT_EQ(three.status, 200);
  EXPECT_EQ(three.body, "third");
  // HTTP/1.0 without keep-alive: one reply, then the server closes.
  connection.Send("GET /files/p1 HTTP/1.0\r\n\r\n");
  EXPECT_EQ(ReadReply(connection).body, "first");
  EXPECT_TRUE(connection.ClosedByPeer());
}

TEST_F(HttpDoor, ABodyOnARequestThatTakesNoneIsNeverReadAsTheNextRequest) {
  WriteAll(server_.data() / "p", "payload");
  RawConnection connection(server_.http_port());
  std::string smuggled = "GET /files/p HTTP/1.1\r\nHost: t\r\n\r\n";
  connection.Send("GET /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: " +
                  std::to_string(smuggled.size()) + "\r\n\r\n" + smuggled +
                  "GET /metrics HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc"
                  "GET /files/p HTTP/1.1\r\nHost: t\r\n\r\n");
  EXPECT_EQ(ReadReply(connection).body, "ok\n");
  RawReply metrics = ReadReply(connection);
  EXPECT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find("ferry_requests_total"), std::string::npos);
  EXPECT_EQ(ReadReply(connection).body, "payload") << "the bodies were dropped, in step";
  // The smuggled GET was a body, not a request: the connection has nothing more to say.
  connection.HalfClose();
  EXPECT_TRUE(connection.ClosedByPeer());
}

TEST_F(HttpDoor, GarbageGets400AndTheServerCarriesOn) {
  RawConnection garbage(server_.http_port());
  garbage.Send("\x16\x03\x01 this is not HTTP\r\n\r\n");
  EXPECT_EQ(ReadReply(garbage).status, 400);
  EXPECT_TRUE(garbage.ClosedByPeer());
  RawConnection huge(server_.http_port());
  huge.Send("GET /files/x HTTP/1.1\r\nX-Big: " + std::string(20'000, 'a') + "\r\n\r\n");
  EXPECT_EQ(ReadReply(huge).status, 431);
  EXPECT_EQ(Get("/healthz").status, 200);
}

TEST_F(HttpDoor, OneCacheForBothDoors) {
  fs::path file = local_ / "hot.bin";
  WriteRandomFile(file, 200'000, 7);
  WriteAll(server_.data() / "hot.bin", ReadAll(file));
  // The native door's GET fills the cache; HTTP's is a hit, and the reverse.
  RunResult native = RunProgram({FerryPath(), "--server", server_.address(), "get", "hot.bin",
                                 "-o", (local_ / "native.bin").string()});
  ASSERT_EQ(native.exit_code, 0) << native.err;
  // The download ends with its last byte; the copy becomes ready just after.
  auto fills_done = [&] {
    RunResult stats = RunProgram({FerryPath(), "--server", server_.address(), "--json", "stats"});
    return nlohmann::json::parse(stats.out)["fills_in_flight"] == 0;
  };
  ASSERT_TRUE(Eventually(fills_done));
  Reply http = Get("/files/hot.bin");
  EXPECT_EQ(http.headers["x-cache"], "HIT");
  EXPECT_EQ(FileChecksum(http.body_file), FileChecksum(file));
  // A range of a cached file is a hit too.
  EXPECT_EQ(Get("/files/hot.bin", {"-r", "10-19"}).headers["x-cache"], "HIT");
  RunResult stats = RunProgram({FerryPath(), "--server", server_.address(), "--json", "stats"});
  auto doc = nlohmann::json::parse(stats.out);
  EXPECT_EQ(doc["hits"], 2) << stats.out;
  EXPECT_EQ(doc["misses"], 1) << stats.out;
}

TEST_F(HttpDoor, MetricsCountKnownTraffic) {
  WriteAll(server_.data() / "m.bin", RandomBytes(1234, 8));
  fs::path upload = local_ / "u";
  WriteAll(upload, RandomBytes(4321, 9));
  Get("/files/m.bin");
  Get("/files/m.bin");
  Get("/files/m.bin", {"-r", "0-9"});
  Get("/files/none");
  Put("/files/u", upload);
  RunProgram({FerryPath(), "--server", server_.address(), "ls"});

  std::string text = Get("/metrics").body();
  // Every line is a comment or "name{labels} value"; no series twice.
  std::map<std::string, double> samples;
  static const std::regex kSample(R"(^([a-z_]+(\{[^}]*\})?) ([0-9.eE+-]+|\+Inf)$)");
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.starts_with("# HELP ") || line.starts_with("# TYPE ")) continue;
    std::smatch match;
    ASSERT_TRUE(std::regex_match(line, match, kSample)) << "not an exposition line: " << line;
    ASSERT_FALSE(samples.contains(match[1])) << line;
    samples[match[1]] = std::stod(match[3]);
  }
  auto sample = [&](const std::string& series) {
    EXPECT_TRUE(samples.contains(series)) << series << " missing in\n" << text;
    return samples[series];
  };
  EXPECT_EQ(sample(R"(ferry_requests_total{door="http",command="get",status="2xx"})"), 3);
  EXPECT_EQ(sample(R"(ferry_requests_total{door="http",command="get",status="4xx"})"), 1);
  EXPECT_EQ(sample(R"(ferry_requests_total{door="http",command="put",status="2xx"})"), 1);
  EXPECT_EQ(sample(R"(ferry_requests_total{door="native",command="list",status="2xx"})"), 1);
  EXPECT_EQ(sample(R"(ferry_request_duration_seconds_count{door="http",command="get"})"), 4);
  EXPECT_EQ(sample(R"(ferry_request_duration_seconds_bucket{door="http",command="get",le="+Inf"})"), 4);
  EXPECT_EQ(sample(R"(ferry_sent_bytes_total{door="http"})"), 1234 * 2 + 10);
  EXPECT_EQ(sample(R"(ferry_received_bytes_total{door="http"})"), 4321);
  EXPECT_GE(sample(R"(ferry_connections{door="http"})"), 1) << "the scrape's own connection";
  EXPECT_EQ(sample("ferry_cache_hits_total"), 2);
  EXPECT_EQ(sample("ferry_cache_misses_total"), 1);
  EXPECT_EQ(sample("ferry_cache_max_bytes"), 1 << 30);
}

TEST(HttpDoorLifecycle, SigtermFinishesADownloadInFlightAndClosesIdleConnections) {
  Ferryd server;
  WriteRandomFile(server.data() / "big.bin", 64u << 20, 11);
  RawConnection idle(server.http_port());
  idle.Send("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
  EXPECT_EQ(ReadReply(idle).body, "ok\n");
  RawConnection busy(server.http_port());
  busy.Send("GET /files/big.bin HTTP/1.1\r\nHost: t\r\n\r\n");
  EXPECT_EQ(busy.ReadLine(), "HTTP/1.1 200 OK\r");
  std::string first = busy.ReadBytes(1 << 20);  // headers and the start of the body
  ::kill(server.pid(), SIGTERM);
  EXPECT_TRUE(idle.ClosedByPeer()) << "an idle keep-alive connection closes at once";
  // The download in flight finishes: every byte, then the connection closes.
  std::size_t body_start = first.find("\r\n\r\n") + 4;
  std::string rest = busy.ReadBytes((64u << 20) - (first.size() - body_start));
  EXPECT_EQ(XxhOf(first.substr(body_start) + rest), FileChecksum(server.data() / "big.bin"));
  EXPECT_TRUE(busy.ClosedByPeer());
  int status = server.Stop();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

TEST(HttpDoorOff, OffMeansNoListenerAndBothDoorsNeedTheirOwnPort) {
  RunResult same = RunProgram({FerrydPath(), "--listen", "127.0.0.1:7000", "--http-listen",
                               "127.0.0.1:7000"});
  EXPECT_EQ(same.exit_code, 2);
  EXPECT_NE(same.err.find("must differ"), std::string::npos) << same.err;
  Ferryd server({"--http-listen", "off"});
  EXPECT_EQ(server.http_port(), 0);
  RunResult ls = RunProgram({FerryPath(), "--server", server.address(), "ls"});
  EXPECT_EQ(ls.exit_code, 0);
}

}  // namespace
}  // namespace ferry::testing
