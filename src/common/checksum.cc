#include "common/checksum.h"

#include <openssl/evp.h>
#include <unistd.h>
#include <xxhash.h>

#include <cerrno>
#include <vector>

#include <fmt/format.h>

namespace ferry {
namespace {

std::string ToHex(const unsigned char* bytes, std::size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex(size * 2, '0');
  for (std::size_t i = 0; i < size; ++i) {
    hex[2 * i] = kDigits[bytes[i] >> 4];
    hex[2 * i + 1] = kDigits[bytes[i] & 0xf];
  }
  return hex;
}

std::size_t HexLength(ChecksumAlgo algo) { return algo == ChecksumAlgo::kXxh128 ? 32 : 64; }

}  // namespace

std::string_view AlgoName(ChecksumAlgo algo) {
  return algo == ChecksumAlgo::kXxh128 ? "xxh128" : "sha256";
}

std::string Checksum::ToString() const { return fmt::format("{}:{}", AlgoName(algo), hex); }

std::optional<Checksum> Checksum::Parse(std::string_view text) {
  auto colon = text.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  std::string_view name = text.substr(0, colon);
  Checksum result;
  if (name == "xxh128") {
    result.algo = ChecksumAlgo::kXxh128;
  } else if (name == "sha256") {
    result.algo = ChecksumAlgo::kSha256;
  } else {
    return std::nullopt;
  }
  std::string_view hex = text.substr(colon + 1);
  if (hex.size() != HexLength(result.algo)) return std::nullopt;
  result.hex.reserve(hex.size());
  for (char c : hex) {
    if (c >= '0' && c <= '9') {
      result.hex.push_back(c);
    } else if (c >= 'a' && c <= 'f') {
      result.hex.push_back(c);
    } else if (c >= 'A' && c <= 'F') {
      result.hex.push_back(static_cast<char>(c - 'A' + 'a'));
    } else {
      return std::nullopt;
    }
  }
  return result;
}

struct Hasher::State {
  XXH3_state_t* xxh = nullptr;
  EVP_MD_CTX* sha = nullptr;
  ~State() {
    if (xxh != nullptr) XXH3_freeState(xxh);
    if (sha != nullptr) EVP_MD_CTX_free(sha);
  }
};

Hasher::Hasher(ChecksumAlgo algo) : algo_(algo), state_(std::make_unique<State>()) {
  if (algo == ChecksumAlgo::kXxh128) {
    state_->xxh = XXH3_createState();
    if (state_->xxh == nullptr || XXH3_128bits_reset(state_->xxh) != XXH_OK) throw std::bad_alloc();
  } else {
    state_->sha = EVP_MD_CTX_new();
    if (state_->sha == nullptr || EVP_DigestInit_ex(state_->sha, EVP_sha256(), nullptr) != 1) {
      throw std::bad_alloc();
    }
  }
}

Hasher::~Hasher() = default;
Hasher::Hasher(Hasher&&) noexcept = default;
Hasher& Hasher::operator=(Hasher&&) noexcept = default;

void Hasher::Update(const void* data, std::size_t size) {
  if (size == 0) return;
  if (algo_ == ChecksumAlgo::kXxh128) {
    XXH3_128bits_update(state_->xxh, data, size);
  } else {
    EVP_DigestUpdate(state_->sha, data, size);
  }
}

Checksum Hasher::Finish() {
  Checksum result{algo_, {}};
  if (algo_ == ChecksumAlgo::kXxh128) {
    XXH128_canonical_t canonical;
    XXH128_canonicalFromHash(&canonical, XXH3_128bits_digest(state_->xxh));
    result.hex = ToHex(canonical.digest, sizeof(canonical.digest));
  } else {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    EVP_DigestFinal_ex(state_->sha, digest, &size);
    result.hex = ToHex(digest, size);
  }
  return result;
}

Result<Checksum> ChecksumFd(int fd, ChecksumAlgo algo, std::uint64_t offset,
                            std::uint64_t length) {
  constexpr std::size_t kChunk = 1 << 20;
  std::vector<char> buffer(kChunk);
  Hasher hasher(algo);
  while (length > 0) {
    std::size_t want = length < kChunk ? static_cast<std::size_t>(length) : kChunk;
    ssize_t got = ::pread(fd, buffer.data(), want, static_cast<off_t>(offset));
    if (got < 0) {
      if (errno == EINTR) continue;
      return PosixError(errno, "read for checksum");
    }
    if (got == 0) return Status::Conflict("file shrank while its checksum was computed");
    hasher.Update(buffer.data(), static_cast<std::size_t>(got));
    offset += static_cast<std::uint64_t>(got);
    length -= static_cast<std::uint64_t>(got);
  }
  return hasher.Finish();
}

}  // namespace ferry
