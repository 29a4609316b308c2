#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "store/store.h"
#include "tests/temp_dir.h"

namespace ferry::store {
namespace {

using ferry::testing::ReadFile;
using ferry::testing::TempDir;
using ferry::testing::WriteFile;

ObjectName Name(const std::string& text) { return *ObjectName::FromDecoded(text); }

const Checksum kAnyChecksum = *Checksum::Parse("xxh128:00000000000000000000000000000001");

class LocalStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = OpenLocalStore({dir_ / "root", true});
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    store_ = std::move(*opened);
  }
  std::filesystem::path Root() const { return dir_ / "root"; }

  Status Put(const std::string& name, const std::string& bytes) {
    auto file = store_->BeginWrite(Name(name));
    if (!file.ok()) return file.status();
    if (Status s = (*file)->Append(bytes); !s.ok()) return s;
    return (*file)->Commit(kAnyChecksum).status();
  }

  std::string Get(const std::string& name) {
    auto file = store_->OpenRead(Name(name));
    if (!file.ok()) return "<" + file.status().ToString() + ">";
    std::string bytes((*file)->version().size, '\0');
    auto got = (*file)->ReadAt(0, {bytes.data(), bytes.size()});
    EXPECT_TRUE(got.ok());
    return bytes;
  }

  std::size_t TmpFiles() const {
    std::size_t n = 0;
    for (auto& e : std::filesystem::directory_iterator(Root() / ".ferry/tmp")) n += !e.is_directory();
    return n;
  }

  TempDir dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(LocalStoreTest, WriteReadStatInNestedFolders) {
  ASSERT_TRUE(Put("a/b/c.txt", "hello").ok());
  EXPECT_EQ(Get("a/b/c.txt"), "hello");
  EXPECT_EQ(ReadFile(Root() / "a/b/c.txt"), "hello");
  auto version = store_->Stat(Name("a/b/c.txt"));
  ASSERT_TRUE(version.ok());
  EXPECT_EQ(version->size, 5u);
  EXPECT_EQ(TmpFiles(), 0u);
}

TEST_F(LocalStoreTest, ReplaceIsAtomicAndOpenReadersKeepTheirVersion) {
  ASSERT_TRUE(Put("f", "old bytes").ok());
  auto reader = store_->OpenRead(Name("f"));
  ASSERT_TRUE(reader.ok());
  auto writer = store_->BeginWrite(Name("f"));
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE((*writer)->Append("new").ok());
  EXPECT_EQ(Get("f"), "old bytes");  // invisible until Commit
  ASSERT_TRUE((*writer)->Commit(kAnyChecksum).ok());
  EXPECT_EQ(Get("f"), "new");
  std::string old(9, '\0');
  ASSERT_TRUE((*reader)->ReadAt(0, {old.data(), old.size()}).ok());
  EXPECT_EQ(old, "old bytes");
}

TEST_F(LocalStoreTest, AbandonedWriteLeavesNothing) {
  ASSERT_TRUE(Put("keep", "v1").ok());
  {
    auto writer = store_->BeginWrite(Name("keep"));
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)->Append("partial").ok());
    EXPECT_EQ(TmpFiles(), 1u);
  }
  EXPECT_EQ(TmpFiles(), 0u);
  EXPECT_EQ(Get("keep"), "v1");
  {
    auto writer = store_->BeginWrite(Name("new/deeper/file"));
    ASSERT_TRUE(writer.ok());
  }
  // Nor the folders it would have made (they once stayed, empty: found by reliability_test).
  EXPECT_FALSE(std::filesystem::exists(Root() / "new"));
  // Folders are made at the commit, and a write whose folder appeared meanwhile still lands.
  auto late = store_->BeginWrite(Name("later/a/file"));
  ASSERT_TRUE(late.ok());
  ASSERT_TRUE(Put("later/a/other", "x").ok());
  ASSERT_TRUE((*late)->Append("late").ok());
  ASSERT_TRUE((*late)->Commit(kAnyChecksum).ok());
  EXPECT_EQ(Get("later/a/file"), "late");
}

TEST_F(LocalStoreTest, LeftoversOfAnEarlierRunAreRemovedAtOpen) {
  WriteFile(Root() / ".ferry/tmp/put-deadbeef", "interrupted");
  auto reopened = OpenLocalStore({Root(), true});
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ(TmpFiles(), 0u);
}

TEST_F(LocalStoreTest, SymlinksOutOfTheRootAreRefused) {
  WriteFile(dir_ / "secret", "top secret");
  std::filesystem::create_directories(Root());
  std::filesystem::create_symlink(dir_ / "secret", Root() / "abs-link");
  std::filesystem::create_symlink("../secret", Root() / "rel-link");
  std::filesystem::create_directory_symlink(dir_.path(), Root() / "dir-link");
  for (const char* name : {"abs-link", "rel-link", "dir-link/secret"}) {
    auto file = store_->OpenRead(Name(name));
    EXPECT_EQ(file.status().code(), Code::kForbidden) << name;
    EXPECT_FALSE(store_->Stat(Name(name)).ok()) << name;
  }
  EXPECT_EQ(Put("dir-link/planted", "x").code(), Code::kForbidden);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "planted"));
  // A symlink that stays inside the root is followed.
  ASSERT_TRUE(Put("real.txt", "inside").ok());
  std::filesystem::create_symlink("real.txt", Root() / "inner-link");
  EXPECT_EQ(Get("inner-link"), "inside");
}

TEST_F(LocalStoreTest, SymlinksOutOfTheRootAreNeitherReplacedNorRemoved) {
  WriteFile(dir_ / "secret", "top secret");
  std::filesystem::create_symlink(dir_ / "secret", Root() / "abs-link");
  std::filesystem::create_symlink("../secret", Root() / "rel-link");
  std::filesystem::create_symlink("/nonexistent", Root() / "dangling-out");
  std::filesystem::create_directory_symlink(dir_.path(), Root() / "dir-link");
  for (const char* name : {"abs-link", "rel-link", "dangling-out", "dir-link"}) {
    EXPECT_EQ(Put(name, "x").code(), Code::kForbidden) << name;
    EXPECT_EQ(store_->BeginWrite(Name(name), "resumekey").status().code(), Code::kForbidden)
        << name;
    EXPECT_EQ(store_->Remove(Name(name)).code(), Code::kForbidden) << name;
    EXPECT_TRUE(std::filesystem::is_symlink(Root() / name)) << name;
  }
  EXPECT_EQ(ReadFile(dir_ / "secret"), "top secret");
  // A symlink that stays inside is replaced, or removed, itself; its target is untouched.
  ASSERT_TRUE(Put("real.txt", "inside").ok());
  std::filesystem::create_symlink("real.txt", Root() / "inner-link");
  std::filesystem::create_symlink("missing.txt", Root() / "dangling-in");
  EXPECT_TRUE(Put("inner-link", "replaced").ok());
  EXPECT_FALSE(std::filesystem::is_symlink(Root() / "inner-link"));
  EXPECT_EQ(Get("real.txt"), "inside");
  EXPECT_TRUE(store_->Remove(Name("dangling-in")).ok());
  EXPECT_FALSE(std::filesystem::exists(std::filesystem::symlink_status(Root() / "dangling-in")));
}

TEST_F(LocalStoreTest, SpecialFilesAreRefusedWithoutHanging) {
  ASSERT_EQ(::mkfifo((Root() / "fifo").c_str(), 0644), 0);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::string socket_path = (Root() / "socket").string();
  ASSERT_LT(socket_path.size(), sizeof(address.sun_path));
  std::memcpy(address.sun_path, socket_path.c_str(), socket_path.size() + 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ::close(fd);  // the socket's file stays
  auto start = std::chrono::steady_clock::now();
  for (const char* name : {"fifo", "socket"}) {
    EXPECT_EQ(store_->OpenRead(Name(name)).status().code(), Code::kForbidden) << name;
    EXPECT_EQ(store_->Stat(Name(name)).status().code(), Code::kForbidden) << name;
    // Neither replaced by a PUT nor removed by a DEL.
    EXPECT_EQ(Put(name, "x").code(), Code::kForbidden) << name;
    EXPECT_EQ(store_->Remove(Name(name)).code(), Code::kForbidden) << name;
  }
  EXPECT_TRUE(std::filesystem::is_fifo(Root() / "fifo"));
  EXPECT_TRUE(std::filesystem::is_socket(Root() / "socket"));
  EXPECT_EQ(TmpFiles(), 0u);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST_F(LocalStoreTest, FoldersAreNotFiles) {
  ASSERT_TRUE(Put("dir/f", "x").ok());
  EXPECT_EQ(store_->OpenRead(Name("dir")).status().code(), Code::kNotFound);
  EXPECT_EQ(Put("dir", "x").code(), Code::kConflict);
  EXPECT_EQ(store_->Remove(Name("dir")).code(), Code::kConflict);
  EXPECT_EQ(Put("dir/f/g", "x").code(), Code::kNotFound);  // a file on the way
  EXPECT_EQ(store_->Remove(Name("missing")).code(), Code::kNotFound);
}

TEST_F(LocalStoreTest, ListFiltersByPrefixHidesPrivateStateAndRepeats) {
  for (const char* name : {"b.txt", "a/1", "a/2", "ab/3", "logs/2024/x.gz", "logs/2025/y.gz"}) {
    ASSERT_TRUE(Put(name, name).ok());
  }
  WriteFile(Root() / ".ferry/tmp/put-x", "hidden");
  auto names = [&](std::string_view prefix) {
    std::vector<std::string> out;
    auto files = store_->List(prefix);
    EXPECT_TRUE(files.ok());
    for (auto& f : *files) out.push_back(f.name);
    return out;
  };
  std::vector<std::string> all = {"a/1", "a/2", "ab/3", "b.txt", "logs/2024/x.gz", "logs/2025/y.gz"};
  EXPECT_EQ(names(""), all);
  EXPECT_EQ(names(""), all);  // a second listing sees the same (no shared directory offset)
  EXPECT_EQ(names("a"), (std::vector<std::string>{"a/1", "a/2", "ab/3"}));
  EXPECT_EQ(names("a/"), (std::vector<std::string>{"a/1", "a/2"}));
  EXPECT_EQ(names("logs/2024"), (std::vector<std::string>{"logs/2024/x.gz"}));
  EXPECT_TRUE(names("nothing/").empty());
}

TEST_F(LocalStoreTest, ChecksumIsRememberedUntilTheFileChanges) {
  ASSERT_TRUE(Put("f", "abc").ok());
  auto file = store_->OpenRead(Name("f"));
  ASSERT_TRUE(file.ok());
  EXPECT_EQ(store_->RememberedChecksum(**file), kAnyChecksum);
  // Rewritten in place by another program: size and mtime change, the checksum is forgotten.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  WriteFile(Root() / "f", "abcd");
  auto changed = store_->OpenRead(Name("f"));
  ASSERT_TRUE(changed.ok());
  EXPECT_FALSE(store_->RememberedChecksum(**changed));
}

TEST_F(LocalStoreTest, ResumableWritesContinueAndHaveOneWriterAtATime) {
  {
    auto first = store_->BeginWrite(Name("r.bin"), "key1");
    ASSERT_TRUE(first.ok()) << first.status().ToString();
    EXPECT_EQ((*first)->resumed(), 0u);
    ASSERT_TRUE((*first)->Append("hello ").ok());
    auto second = store_->BeginWrite(Name("r.bin"), "key1");
    EXPECT_EQ(second.status().code(), Code::kConflict) << "one writer per partial";
  }  // interrupted: the bytes stay
  EXPECT_EQ(Get("r.bin").substr(0, 1), "<") << "nothing visible before a commit";
  {
    auto again = store_->BeginWrite(Name("r.bin"), "key1");
    ASSERT_TRUE(again.ok());
    EXPECT_EQ((*again)->resumed(), 6u);
    ASSERT_TRUE((*again)->Append("world").ok());
    ASSERT_TRUE((*again)->Commit(kAnyChecksum).ok());
  }
  EXPECT_EQ(Get("r.bin"), "hello world");
  EXPECT_TRUE(std::filesystem::is_empty(Root() / ".ferry/partial")) << "the partial became the file";

  {
    auto discarded = store_->BeginWrite(Name("d.bin"), "key2");
    ASSERT_TRUE((*discarded)->Append("wrong").ok());
    (*discarded)->Discard();
  }
  auto fresh = store_->BeginWrite(Name("d.bin"), "key2");
  EXPECT_EQ((*fresh)->resumed(), 0u) << "a discarded partial is gone";
  EXPECT_EQ(store_->BeginWrite(Name("d.bin"), "../x").status().code(), Code::kInternal);
}

TEST_F(LocalStoreTest, OldPartialsExpireButNotOnesInUse) {
  {
    auto old = store_->BeginWrite(Name("old.bin"), "old");
    ASSERT_TRUE((*old)->Append("x").ok());
  }
  auto busy = store_->BeginWrite(Name("busy.bin"), "busy");
  ASSERT_TRUE((*busy)->Append("y").ok());
  // Age both by 2 hours.
  for (std::string leaf : {"old", "busy"}) {
    timespec times[2] = {{0, UTIME_OMIT}, {::time(nullptr) - 7200, 0}};
    ASSERT_EQ(::utimensat(AT_FDCWD, (Root() / ".ferry/partial" / leaf).c_str(), times, 0), 0);
  }
  store_->ExpirePartials(std::chrono::hours(1));
  EXPECT_FALSE(std::filesystem::exists(Root() / ".ferry/partial/old"));
  EXPECT_TRUE(std::filesystem::exists(Root() / ".ferry/partial/busy")) << "its writer holds it";
}

}  // namespace
}  // namespace ferry::store
