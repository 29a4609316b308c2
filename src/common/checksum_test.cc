#include "common/checksum.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <string>

namespace ferry {
namespace {

// Vectors from the reference tools: `xxhsum -H2` and `sha256sum`.
constexpr const char* kXxhEmpty = "99aa06d3014798d86001c324468d497f";
constexpr const char* kXxhAbc = "06b05ab6733a618578af5f94892f3950";
constexpr const char* kXxhMiB = "1b208d2839093774d36c0e13a3df139e";  // bytes 0..255 x 4096
constexpr const char* kShaAbc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

std::string OneMiBPattern() {
  std::string bytes;
  for (int i = 0; i < 4096; ++i) {
    for (int b = 0; b < 256; ++b) bytes.push_back(static_cast<char>(b));
  }
  return bytes;
}

TEST(Checksum, KnownVectors) {
  Hasher empty(ChecksumAlgo::kXxh128);
  EXPECT_EQ(empty.Finish().hex, kXxhEmpty);
  Hasher abc(ChecksumAlgo::kXxh128);
  abc.Update("abc");
  EXPECT_EQ(abc.Finish().ToString(), std::string("xxh128:") + kXxhAbc);
  Hasher sha(ChecksumAlgo::kSha256);
  sha.Update("abc");
  EXPECT_EQ(sha.Finish().ToString(), std::string("sha256:") + kShaAbc);
}

TEST(Checksum, AnySplitGivesTheSameResult) {
  std::string bytes = OneMiBPattern();
  for (std::size_t piece : {1u, 7u, 4096u, 65537u, 1u << 20}) {
    Hasher hasher(ChecksumAlgo::kXxh128);
    for (std::size_t i = 0; i < bytes.size(); i += piece) {
      hasher.Update(std::string_view(bytes).substr(i, piece));
    }
    EXPECT_EQ(hasher.Finish().hex, kXxhMiB) << "piece " << piece;
  }
}

TEST(Checksum, OfAFileRange) {
  char path[] = "/tmp/ferry-checksum-XXXXXX";
  int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  std::string bytes = "xxabcyy";
  ASSERT_EQ(::write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  Result<Checksum> middle = ChecksumFd(fd, ChecksumAlgo::kXxh128, 2, 3);
  ASSERT_TRUE(middle.ok());
  EXPECT_EQ(middle->hex, kXxhAbc);
  Result<Checksum> past_end = ChecksumFd(fd, ChecksumAlgo::kXxh128, 5, 10);
  EXPECT_EQ(past_end.status().code(), Code::kConflict);
  ::close(fd);
  ::unlink(path);
}

TEST(Checksum, ParseAcceptsBothAlgorithmsAndNormalisesCase) {
  auto x = Checksum::Parse("xxh128:99AA06D3014798D86001C324468D497F");
  ASSERT_TRUE(x);
  EXPECT_EQ(x->algo, ChecksumAlgo::kXxh128);
  EXPECT_EQ(x->hex, kXxhEmpty);
  auto s = Checksum::Parse(std::string("sha256:") + kShaAbc);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->algo, ChecksumAlgo::kSha256);
}

TEST(Checksum, ParseRefusesMalformed) {
  for (const char* bad : {"", "xxh128", "xxh128:", "md5:d41d8cd98f00b204e9800998ecf8427e",
                          "xxh128:99aa06d3014798d86001c324468d497", "xxh128:99aa06d3014798d86001c324468d497fa",
                          "xxh128:99aa06d3014798d86001c324468d497g", "sha256:abc",
                          "XXH128:99aa06d3014798d86001c324468d497f"}) {
    EXPECT_FALSE(Checksum::Parse(bad)) << bad;
  }
}

}  // namespace
}  // namespace ferry
