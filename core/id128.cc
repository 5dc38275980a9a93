#include "core/id128.h"

#include <cstring>
#include <xxhash.h>

namespace acidfs {

bool Id128::isZero() const {
  for (uint8_t b : bytes)
    if (b != 0) return false;
  return true;
}

std::string Id128::hex() const {
  static const char kDigits[] = "0123456789abcdef";
  std::string out(32, '0');
  for (size_t i = 0; i < 16; ++i) {
    out[2 * i] = kDigits[bytes[i] >> 4];
    out[2 * i + 1] = kDigits[bytes[i] & 0xf];
  }
  return out;
}

static int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<Id128> Id128::parseHex(std::string_view text) {
  if (text.size() != 32) return std::nullopt;
  Id128 id;
  for (size_t i = 0; i < 16; ++i) {
    int hi = hexValue(text[2 * i]), lo = hexValue(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    id.bytes[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return id;
}

Id128 Id128::fromBytes(std::string_view raw) {
  Id128 id;
  std::memcpy(id.bytes.data(), raw.data(), std::min(raw.size(), id.bytes.size()));
  return id;
}

size_t Id128Hash::operator()(const Id128& id) const {
  uint64_t h;
  std::memcpy(&h, id.bytes.data(), sizeof h);
  return static_cast<size_t>(h);
}

Id128 xxh3Hash(const void* data, size_t size, uint64_t seed) {
  XXH128_canonical_t canonical;
  XXH128_canonicalFromHash(&canonical, XXH3_128bits_withSeed(data, size, seed));
  Id128 id;
  std::memcpy(id.bytes.data(), canonical.digest, 16);
  return id;
}

}  // namespace acidfs
