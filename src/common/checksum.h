// Checksums of whole files, in the wire's text form "xxh128:<32 hex>" or "sha256:<64 hex>".
//
// xxh128 (XXH3, 128 bits) is the default: fast enough to checksum every transfer end to end,
// as rsync does. sha256 is there for users who want a cryptographic digest. Hasher is
// incremental (feed any split of the bytes, get the same result); not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace ferry {

enum class ChecksumAlgo { kXxh128, kSha256 };

std::string_view AlgoName(ChecksumAlgo algo);

struct Checksum {
  ChecksumAlgo algo = ChecksumAlgo::kXxh128;
  std::string hex;  // lower-case, 32 (xxh128) or 64 (sha256) digits

  // "xxh128:99aa06d3014798d86001c324468d497f"
  std::string ToString() const;
  // Parses the text form; the hex may be in either case (kept lower-case). nullopt if malformed.
  static std::optional<Checksum> Parse(std::string_view text);

  friend bool operator==(const Checksum&, const Checksum&) = default;
};

class Hasher {
 public:
  explicit Hasher(ChecksumAlgo algo);
  ~Hasher();
  Hasher(Hasher&&) noexcept;
  Hasher& operator=(Hasher&&) noexcept;

  ChecksumAlgo algo() const { return algo_; }
  void Update(const void* data, std::size_t size);
  void Update(std::string_view bytes) { Update(bytes.data(), bytes.size()); }
  // The checksum of everything fed so far. The Hasher must not be used afterwards.
  Checksum Finish();

 private:
  struct State;
  ChecksumAlgo algo_;
  std::unique_ptr<State> state_;
};

// Checksum of `length` bytes of an open file from `offset` (pread, so the file position is
// untouched); reads in bounded chunks, never the whole file at once.
Result<Checksum> ChecksumFd(int fd, ChecksumAlgo algo, std::uint64_t offset, std::uint64_t length);

}  // namespace ferry
