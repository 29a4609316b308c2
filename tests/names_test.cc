// Hostile names against both doors of a real ferryd: one table, each row a name as it goes on
// the wire (raw bytes of the native protocol; a raw HTTP request-target, sent on a raw socket
// so no client normalizes it) and the status every method must get on each door. After each
// row, and after all rows on one server, the folder next to the data folder is unchanged and
// the data folder holds exactly what the test planted. The policy: common/object_name.h,
// docs/security.md ("Names and files").
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "tests/ferryd_fixture.h"

namespace ferry::testing {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

enum class Door { kNative, kHttp };

// What one door answers for one name: GET and STAT (native) or GET and HEAD (HTTP), a PUT of a
// small body, and DEL / DELETE. 0: not sent.
struct Expect {
  int read = 0;
  int put = 0;
  int del = 0;
};
// Every method refused with `status`.
constexpr Expect Refused(int status) { return {status, status, status}; }
// A valid name that does not exist: reads and deletes get 404, and a PUT stores the file inside
// the data folder, at the row's `lands` (the test finds it there, then deletes it).
constexpr int kStored = 1;
constexpr Expect Missing() { return {404, kStored, 404}; }
// Reads only: a symlink to a real system file is never offered a PUT or a DEL (as root, a
// broken server would destroy it); the same shapes leading to the test's own folder take them.
constexpr Expect ReadsOnly(int status) { return {status, 0, 0}; }
constexpr Expect kNotApplicable{};

struct Row {
  std::string id;      // the test's name: letters, digits, '_'
  std::string native;  // the name's bytes after "GET " on the native door
  Expect native_expect;
  std::string target;  // the HTTP request-target, sent as is
  Expect http_expect;
  std::string reason;
  std::string lands;         // Missing() rows: where a PUT stores the file, under the data folder
  std::string defect = {};   // a server defect not fixed here: the row is skipped, saying why
};

// The common case: the same wire form on both doors (after "/files/" for HTTP).
Row Both(std::string id, std::string wire, int status, std::string reason) {
  return {std::move(id), wire, Refused(status), "/files/" + wire, Refused(status),
          std::move(reason), ""};
}
Row BothMissing(std::string id, std::string wire, std::string lands, std::string reason) {
  return {std::move(id), wire, Missing(), "/files/" + wire, Missing(), std::move(reason),
          std::move(lands)};
}
Row HttpOnly(std::string id, std::string target, Expect expect, std::string reason,
             std::string lands = "") {
  return {std::move(id), "", kNotApplicable, std::move(target), expect, std::move(reason),
          std::move(lands)};
}

std::string Segments(std::size_t total) {  // "aaa.../aaa.../a...": `total` bytes, segments of 255
  std::string name;
  while (name.size() < total) {
    if (!name.empty()) name += '/';
    name += std::string(std::min<std::size_t>(255, total - name.size()), 'a');
  }
  return name;
}

std::vector<Row> Rows() {
  const std::string long_segment(256, 'a');
  const std::string max_segment(255, 'b');
  return {
      // Traversal, plain and encoded.
      Both("dotdot", "..", 400, "a '..' segment"),
      Both("dot", ".", 400, "a '.' segment"),
      Both("dotdot_x", "../x", 400, "'..' first"),
      Both("dotdot_outside", "../outside/secret.txt", 400, "'..' to the folder next to data"),
      Both("a_dotdot_dotdot_x", "a/../../x", 400, "'..' in the middle"),
      Both("planted_dotdot", "planted.txt/..", 400, "'..' last"),
      Both("enc_dotdot_x", "%2e%2e/x", 400, "'..' percent-encoded: decoded before the check"),
      Both("enc_upper_dotdot_slash", "%2E%2E%2Fx", 400, "upper-case escapes, '/' encoded too"),
      Both("enc_dotdot_outside", "%2e%2e%2foutside%2fsecret.txt", 400, "all encoded"),
      Both("half_enc_dotdot", ".%2e/x", 400, "half encoded '..'"),
      BothMissing("double_enc_dotdot", "%252e%252e/outside/secret.txt", "%2e%2e/outside/secret.txt",
                  "decoded once: the literal segment '%2e%2e', a valid name, not the secret"),
      BothMissing("double_enc_all", "%252e%252e%252fx", "%2e%2e%2fx",
                  "decoded once: one literal segment '%2e%2e%2fx'"),
      Both("bad_escape_nested", "%%32%65%%32%65/x", 400, "'%' not followed by two hex digits"),
      Both("bad_escape_truncated", "x%2", 400, "truncated escape"),
      Both("bad_escape_not_hex", "x%zz", 400, "escape that is not hex"),
      // UTF-8 that is not valid.
      Both("overlong_dotdot", "%c0%ae%c0%ae/x", 400, "overlong '.' (2 bytes): not UTF-8"),
      Both("overlong_slash", "%c0%af", 400, "overlong '/'"),
      Both("overlong3_dot", "%e0%80%ae%e0%80%ae/x", 400, "overlong '.' (3 bytes)"),
      Both("invalid_ff", "%ff", 400, "0xFF is never UTF-8"),
      Both("lone_continuation", "a%80", 400, "a continuation byte alone"),
      Both("truncated_sequence", "a%e2%82", 400, "a sequence cut short"),
      Both("lone_surrogate", "%ed%a0%80", 400, "U+D800, a surrogate"),
      Both("above_max_code_point", "%f4%90%80%80", 400, "above U+10FFFF"),
      BothMissing("unicode_dots", "%e2%80%a4%e2%80%a4/x", "\u2024\u2024/x",
                  "U+2024 ONE DOT LEADER: a name, never normalized to '..'"),
      // Control bytes and backslashes.
      Both("nul", "a%00b", 400, "NUL"),
      Both("nul_alone", "%00", 400, "NUL alone"),
      Both("c0_01", "%01", 400, "C0 control"),
      Both("escape_1b", "x%1b%5b31m", 400, "ESC: a terminal escape in logs and listings"),
      Both("newline", "x%0aOK%200", 400, "LF: a forged reply line"),
      Both("carriage_return", "x%0d", 400, "CR"),
      Both("del_7f", "%7f", 400, "DEL 0x7F is a control byte in the policy"),
      Both("c1_85", "x%c2%85", 400, "C1 control U+0085 (NEL)"),
      Both("backslash_dotdot", "..%5cx", 400, "backslash: a separator on Windows"),
      Both("backslash_enc", "a%5cb", 400, "backslash, encoded"),
      Both("backslash_raw", "a\\b", 400, "backslash, raw"),
      Both("backslash_raw_dotdot", "..\\..\\x", 400, "backslash traversal, raw"),
      // Raw bytes: the native door takes any byte but space; Beast refuses control bytes in a
      // request-target itself (400, then closes).
      Both("raw_nul", std::string("a\0b", 3), 400, "raw NUL"),
      Both("raw_01", "a\x01" "b", 400, "raw C0 control"),
      Both("raw_tab", "a\tb", 400, "raw TAB"),
      Both("raw_cr", "a\rb", 400, "raw CR inside the line"),
      Both("raw_7f", "a\x7f" "b", 400, "raw DEL"),
      Both("raw_ff", "a\xff" "b", 400, "raw byte that is not UTF-8"),
      Both("raw_overlong", "\xc0\xae\xc0\xae/x", 400, "raw overlong '.'"),
      // Absolute and non-canonical forms: refused, never rewritten.
      Both("absolute", "/etc/passwd", 400, "leading '/'"),
      Both("absolute_enc", "%2fetc%2fpasswd", 400, "leading '/', encoded"),
      Both("double_slash_first", "//x", 400, "leading '//'"),
      Both("double_slash", "a//b", 400, "an empty segment"),
      Both("dot_first", "./planted.txt", 400, "'./' first"),
      Both("dot_last", "a/.", 400, "'.' last"),
      Both("dot_middle", "a/./b", 400, "'.' in the middle"),
      {"trailing_slash", "a/", Refused(400), "/files/a%2f", Refused(400),
       "trailing '/' (HTTP: encoded, since /files/a/ is a folder: http_trailing_slash)", ""},
      Both("long_segment", long_segment, 400, "a 256-byte segment"),
      BothMissing("max_segment", max_segment, max_segment, "255 bytes: the longest segment"),
      Both("long_name", Segments(4097), 400, "4097 bytes in all"),
      // The store's private folder (403 on the first segment, before any other rule).
      Both("private", ".ferry", 403, "the private folder"),
      Both("private_tmp", ".ferry/tmp", 403, "uploads in progress"),
      Both("private_file", ".ferry/partial/x", 403, "a file inside it"),
      Both("private_enc", "%2eferry/tmp/put-x", 403, "encoded"),
      Both("private_dotdot", ".ferry/../planted.txt", 403, "private first, then '..'"),
      Both("private_trailing", ".ferry/", 403, "private first, then a trailing '/'"),
      BothMissing("private_other_case", ".FERRY", ".FERRY",
                  "another name on a case-sensitive file system"),
      // Planted by the fixture: symlinks leading out, special files.
      {"symlink_etc_passwd", "escape-passwd", ReadsOnly(403), "/files/escape-passwd",
       ReadsOnly(403), "symlink to /etc/passwd", ""},
      {"symlinked_dir_etc", "etc/passwd", ReadsOnly(403), "/files/etc/passwd", ReadsOnly(403),
       "symlinked folder to /etc", ""},
      Both("symlink_abs", "escape-abs", 403, "absolute symlink to the secret"),
      Both("symlink_rel", "escape-rel", 403, "relative symlink ../outside/secret.txt"),
      Both("symlinked_dir", "escape-dir/secret.txt", 403, "symlinked folder leading out"),
      Both("symlinked_dir_new", "escape-dir/planted-by-put", 403,
           "a new file in a symlinked folder leading out"),
      Both("symlinked_dir_itself", "escape-dir", 403, "the symlinked folder itself"),
      Both("symlink_chain", "chain", 403, "symlink to a symlink leading out"),
      Both("fifo", "fifo", 403, "a FIFO: never opened in a way that blocks"),
      Both("socket", "socket", 403, "a unix socket"),
      Both("device", "device", 403, "a character device (/dev/null's numbers)"),
      // HTTP targets.
      HttpOnly("http_raw_dotdot", "/files/../../etc/passwd", Refused(400),
               "raw '..' (curl would remove it)"),
      HttpOnly("http_enc_dotdot_dotdot", "/files/%2e%2e%2f..", Refused(400),
               "'../..' half encoded"),
      HttpOnly("http_enc_slash", "/files/a%2fb", Missing(),
               "%2f is decoded once like any byte: the name a/b", "a/b"),
      HttpOnly("http_enc_slash_dotdot", "/files/a%2f..%2f..%2fx", Refused(400), "'..' behind %2f"),
      HttpOnly("http_dot_first", "/files/./planted.txt", Refused(400), "'./'"),
      HttpOnly("http_double_slash", "/files//etc/passwd", Refused(400), "'//' after /files/"),
      HttpOnly("http_query_dotdot", "/files/x?/../../etc/passwd", Missing(),
               "the query is dropped: the name is x", "x"),
      HttpOnly("http_dotdot_query", "/files/..?x=1", Refused(400), "'..' before a query"),
      HttpOnly("http_enc_query", "/files/%3f/../x", Refused(400), "an encoded '?' is a name byte"),
      HttpOnly("http_fragment_dotdot", "/files/x#/../../etc/passwd", Refused(400),
               "a raw '#' is part of the name: '..' segments follow"),
      HttpOnly("http_fragment_name", "/files/..#x", Missing(),
               "a raw '#' is part of the name: '..#x' is one segment", "..#x"),
      HttpOnly("http_path_param", "/files/..;/x", Missing(), "'..;' is a name, not '..'", "..;/x"),
      HttpOnly("http_trailing_slash", "/files/a/", {404, 405, 405},
               "a folder target: its listing (none: 404); PUT and DELETE of a folder: 405"),
      HttpOnly("http_folder_dotdot", "/files/../", Refused(400), "a folder target with '..'"),
      HttpOnly("http_folder_private", "/files/.ferry/", Refused(403),
               "the private folder's listing"),
      HttpOnly("http_folder_private_sub", "/files/.ferry/tmp/", Refused(403),
               "a private subfolder"),
      HttpOnly("http_files_enc_slash", "/files%2f..%2fetc%2fpasswd", Refused(404), "not a route"),
      HttpOnly("http_absolute_form", "http://127.0.0.1/files/../etc/passwd", Refused(404),
               "absolute-form: not a route"),
      HttpOnly("http_upper_files", "/FILES/../x", Refused(404), "routes are case-sensitive"),
  };
}

// A unix socket file at `path` (the socket is closed; the file stays).
bool MakeSocketFile(const fs::path& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (fd < 0 || path.string().size() >= sizeof(address.sun_path)) return false;
  std::strcpy(address.sun_path, path.c_str());
  bool made = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  ::close(fd);
  return made;
}

// Every entry under `root` (not following symlinks; without the store's private folder when
// `skip_private`): relative path -> type and content (file bytes, symlink target).
std::map<std::string, std::string> Tree(const fs::path& root, bool skip_private = false) {
  std::map<std::string, std::string> entries;
  std::error_code error;
  for (auto it = fs::recursive_directory_iterator(root, error); it != fs::end(it); ++it) {
    std::string relative = fs::relative(it->path(), root).string();
    if (skip_private && (relative == ".ferry" || relative.starts_with(".ferry/"))) {
      if (it->is_directory()) it.disable_recursion_pending();
      continue;
    }
    fs::file_status status = it->symlink_status();
    if (fs::is_symlink(status)) {
      entries[relative] = "symlink " + fs::read_symlink(it->path()).string();
    } else if (fs::is_regular_file(status)) {
      entries[relative] = "file " + ReadFile(it->path());
    } else if (fs::is_directory(status)) {
      entries[relative] = "folder";
    } else {
      entries[relative] = "special " + std::to_string(static_cast<int>(status.type()));
    }
  }
  return entries;
}

// One request, its whole reply, and how long it took.
struct Exchange {
  int status = 0;  // native: the ERR code, or 200 for OK; HTTP: the status line's
  std::string reply;
  Clock::duration took{};
};

class HostileNames : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_GT(server_.http_port(), 0);
    outside_ = server_.data().parent_path() / "outside";
    secret_ = "SECRET-" + std::to_string(::getpid()) + "-sentinel";
    WriteFile(outside_ / "secret.txt", secret_);
    WriteFile(outside_ / "x", "outside x");
    const fs::path data = server_.data();
    WriteFile(data / "planted.txt", "planted");
    fs::create_symlink("/etc/passwd", data / "escape-passwd");
    fs::create_directory_symlink("/etc", data / "etc");
    fs::create_symlink(outside_ / "secret.txt", data / "escape-abs");
    fs::create_symlink("../outside/secret.txt", data / "escape-rel");
    fs::create_directory_symlink("../outside", data / "escape-dir");
    fs::create_symlink("escape-abs", data / "chain");
    ASSERT_EQ(::mkfifo((data / "fifo").c_str(), 0644), 0);
    ASSERT_TRUE(MakeSocketFile(data / "socket"));
    has_device_ = ::mknod((data / "device").c_str(), S_IFCHR | 0644, ::makedev(1, 3)) == 0;
    std::string passwd = ReadFile("/etc/passwd");
    passwd_line_ = passwd.substr(0, passwd.find('\n'));
    planted_data_ = Tree(data, /*skip_private=*/true);
    planted_outside_ = Tree(outside_);
    planted_next_to_data_ = Names(data.parent_path());
  }

  static std::vector<std::string> Names(const fs::path& folder) {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(folder)) {
      names.push_back(entry.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  // A native request (`line` without its LF, then `body`), on its own connection.
  Exchange Native(const std::string& line, const std::string& body = "") {
    Exchange exchange;
    auto start = Clock::now();
    RawConnection connection(server_.port());
    connection.Send(line + "\n" + body);
    connection.HalfClose();
    exchange.reply = connection.ReadToEnd();
    exchange.took = Clock::now() - start;
    if (exchange.reply.starts_with("OK")) {
      exchange.status = 200;
    } else if (exchange.reply.starts_with("ERR ") && exchange.reply.size() >= 7) {
      exchange.status = std::atoi(exchange.reply.substr(4, 3).c_str());
    }
    return exchange;
  }

  // An HTTP request with `target` as is, on its own connection.
  Exchange Http(const std::string& method, const std::string& target, const std::string& body = "",
                const std::string& headers = "") {
    Exchange exchange;
    auto start = Clock::now();
    RawConnection connection(server_.http_port());
    std::string request = method + " " + target +
                          " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" + headers;
    if (method == "PUT") request += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    connection.Send(request + "\r\n" + body);
    connection.HalfClose();
    exchange.reply = connection.ReadToEnd();
    exchange.took = Clock::now() - start;
    if (exchange.reply.starts_with("HTTP/1.1 ") && exchange.reply.size() >= 12) {
      exchange.status = std::atoi(exchange.reply.substr(9, 3).c_str());
    }
    return exchange;
  }

  // Checks one reply: its status, promptness, and that no secret is in it.
  void Check(const Exchange& exchange, int expected, const std::string& what) {
    EXPECT_EQ(exchange.status, expected) << what << " -> " << Printable(exchange.reply);
    EXPECT_LT(exchange.took, std::chrono::seconds(5)) << what << ": not answered promptly";
    EXPECT_EQ(exchange.reply.find(secret_), std::string::npos) << what << ": the secret leaked";
    EXPECT_EQ(exchange.reply.find(passwd_line_), std::string::npos)
        << what << ": /etc/passwd leaked";
  }

  static std::string Printable(const std::string& bytes) {
    std::string out;
    for (unsigned char c : bytes.substr(0, 300)) {
      if (c >= 0x20 && c < 0x7f) {
        out += static_cast<char>(c);
      } else {
        char hex[8];
        std::snprintf(hex, sizeof(hex), "\\x%02x", c);
        out += hex;
      }
    }
    return out;
  }

  // Every method of `door` on the row's name.
  void RunRow(const Row& row, Door door) {
    const Expect& expect = door == Door::kNative ? row.native_expect : row.http_expect;
    const std::string what = (door == Door::kNative ? "native " : "HTTP ") + row.id;
    const std::string body = "body";
    auto read = [&](const std::string& method) {
      return door == Door::kNative ? Native(method + " " + row.native)
                                   : Http(method, row.target);
    };
    auto put = [&] {
      return door == Door::kNative ? Native("PUT " + row.native + " 4", body)
                                   : Http("PUT", row.target, body);
    };
    auto del = [&] {
      return door == Door::kNative ? Native("DEL " + row.native) : Http("DELETE", row.target);
    };
    if (expect.read != 0) {
      Check(read("GET"), expect.read, what + " GET");
      Check(read(door == Door::kNative ? "STAT" : "HEAD"), expect.read, what + " STAT/HEAD");
    }
    if (expect.del != 0) Check(del(), expect.del, what + " DEL");
    if (expect.put == kStored) {
      Exchange stored = put();
      Check(stored, door == Door::kNative ? 200 : 201, what + " PUT");
      ASSERT_FALSE(row.lands.empty()) << what;
      fs::path landed = server_.data() / row.lands;
      EXPECT_EQ(ReadFile(landed), body) << what << ": not stored at " << row.lands;
      Check(del(), door == Door::kNative ? 200 : 204, what + " DEL after PUT");
      // Folders made by the PUT stay (docs/protocol.md): remove them, up to the data folder.
      for (fs::path folder = landed.parent_path(); folder != server_.data();
           folder = folder.parent_path()) {
        std::error_code ignored;
        fs::remove(folder, ignored);
      }
    } else if (expect.put != 0) {
      Check(put(), expect.put, what + " PUT");
    }
  }

  // Nothing was created, changed or removed outside the data folder, and the data folder
  // holds exactly what SetUp planted (the private folder: no upload left in progress).
  void CheckTreesAsPlanted() {
    EXPECT_EQ(Tree(outside_), planted_outside_) << "the folder next to the data folder changed";
    EXPECT_EQ(Names(server_.data().parent_path()), planted_next_to_data_);
    EXPECT_EQ(Tree(server_.data(), /*skip_private=*/true), planted_data_);
    EXPECT_TRUE(Eventually([&] { return server_.TmpFiles() == 0 && server_.PartialFiles() == 0; }));
  }

  Ferryd server_;
  fs::path outside_;
  std::string secret_;
  std::string passwd_line_;
  bool has_device_ = false;
  std::map<std::string, std::string> planted_data_, planted_outside_;
  std::vector<std::string> planted_next_to_data_;
};

// gtest prints a row by its id.
void PrintTo(const Row& row, std::ostream* out) { *out << row.id; }

bool HasForm(const Row& row, Door door) {
  const Expect& e = door == Door::kNative ? row.native_expect : row.http_expect;
  return e.read != 0 || e.put != 0 || e.del != 0;
}

std::vector<Row> RowsOf(Door door) {
  std::vector<Row> rows;
  for (Row& row : Rows()) {
    if (HasForm(row, door)) rows.push_back(std::move(row));
  }
  return rows;
}

// One row on one door, on a server of its own.
class HostileNameRow : public HostileNames, public ::testing::WithParamInterface<Row> {
 protected:
  void RunOn(Door door) {
    const Row& row = GetParam();
    if (!row.defect.empty()) GTEST_SKIP() << "server defect: " << row.defect;
    if (row.id == "device" && !has_device_) GTEST_SKIP() << "cannot make a device node here";
    SCOPED_TRACE(row.reason);
    RunRow(row, door);
    CheckTreesAsPlanted();
  }
};
class NativeDoor : public HostileNameRow {};
class HttpDoor : public HostileNameRow {};

TEST_P(NativeDoor, RefusesEveryMethod) { RunOn(Door::kNative); }
TEST_P(HttpDoor, RefusesEveryMethod) { RunOn(Door::kHttp); }

std::string RowId(const ::testing::TestParamInfo<Row>& row) { return row.param.id; }
INSTANTIATE_TEST_SUITE_P(Names, NativeDoor, ::testing::ValuesIn(RowsOf(Door::kNative)), RowId);
INSTANTIATE_TEST_SUITE_P(Names, HttpDoor, ::testing::ValuesIn(RowsOf(Door::kHttp)), RowId);

TEST(HostileNameTable, HasAtLeastFortyRowsWithUniqueIds) {
  std::vector<Row> rows = Rows();
  EXPECT_GE(rows.size(), 40u);
  std::vector<std::string> ids;
  for (const Row& row : rows) ids.push_back(row.id);
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(std::adjacent_find(ids.begin(), ids.end()), ids.end());
}

// All rows on one server, one after another: no row prepares the ground for another.
TEST_F(HostileNames, EveryRowOnOneServerLeavesBothTreesAsPlanted) {
  for (const Row& row : Rows()) {
    if (!row.defect.empty() || (row.id == "device" && !has_device_)) continue;
    SCOPED_TRACE(row.id + ": " + row.reason);
    for (Door door : {Door::kNative, Door::kHttp}) {
      if (HasForm(row, door)) RunRow(row, door);
    }
  }
  CheckTreesAsPlanted();
  // And the server still serves.
  Exchange get = Native("GET planted.txt");
  EXPECT_EQ(get.status, 200);
  EXPECT_TRUE(get.reply.ends_with("planted"));
}

// Listings show the planted file only: never the private folder, a symlink, a special file,
// nor anything a hostile prefix could reach.
TEST_F(HostileNames, ListingsShowOnlyWhatIsServed) {
  Exchange all = Native("LIST");
  EXPECT_EQ(all.status, 200);
  EXPECT_TRUE(all.reply.starts_with("OK 1\n")) << all.reply;
  EXPECT_TRUE(all.reply.ends_with(" planted.txt\n")) << all.reply;
  for (const char* prefix : {"..", "../", "%2e%2e/", "/", "%2f", "a//", "x%00", "%ff", "a\\"}) {
    Check(Native(std::string("LIST ") + prefix), 400, std::string("LIST ") + prefix);
  }
  // The private folder lists nothing; folders leading out are refused.
  for (auto [prefix, reply] : std::map<std::string, std::string>{
           {".ferry/", "OK 0\n"}, {".ferry/tmp/", "OK 0\n"}, {"fifo", "OK 0\n"},
           {"escape-dir/", ""}, {"etc/", ""}}) {
    Exchange listed = Native("LIST " + prefix);
    Check(listed, reply.empty() ? 403 : 200, "LIST " + prefix);
    if (!reply.empty()) {
      EXPECT_EQ(listed.reply, reply) << prefix;
    }
  }
  Exchange json = Http("GET", "/files/", "", "Accept: application/json\r\n");
  ASSERT_EQ(json.status, 200) << json.reply;
  auto document = nlohmann::json::parse(json.reply.substr(json.reply.find("\r\n\r\n") + 4));
  EXPECT_EQ(document["folders"], nlohmann::json::array()) << document;
  ASSERT_EQ(document["files"].size(), 1u) << document;
  EXPECT_EQ(document["files"][0]["name"], "planted.txt");
  Check(Http("GET", "/files/escape-dir/"), 403, "listing of a symlinked folder leading out");
  Check(Http("GET", "/files/etc/"), 403, "listing of a symlinked /etc");
  CheckTreesAsPlanted();
}

// The cache folder is never inside the served tree: ferryd refuses to start so.
TEST(CacheFolder, CannotBeInsideTheDataFolder) {
  TempDir dir;
  RunResult run = RunProgram({FerrydPath(), "--listen", "127.0.0.1:0", "--http-listen", "off",
                              "--data", (dir / "data").string(), "--cache",
                              (dir / "data" / "cache").string()},
                             std::chrono::seconds(30));
  EXPECT_EQ(run.exit_code, 2) << run.err;
  EXPECT_NE(run.err.find("must not contain each other"), std::string::npos) << run.err;
  EXPECT_FALSE(fs::exists(dir / "data" / "cache"));
}

}  // namespace
}  // namespace ferry::testing
