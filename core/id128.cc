#include "core/id128.h"

#include "core/hex.h"

#include <cstring>
#include <xxhash.h>

namespace acidfs {

bool Id128::isZero() const {
  for (uint8_t b : bytes)
    if (b != 0) return false;
  return true;
}

std::string Id128::hex() const { return toHex(view()); }

std::optional<Id128> Id128::parseHex(std::string_view text) {
  if (text.size() != 32) return std::nullopt;
  std::optional<std::string> raw = fromHex(text);
  if (!raw) return std::nullopt;
  return fromBytes(*raw);
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
