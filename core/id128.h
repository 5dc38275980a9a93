// 128-bit content ids (blobIds, page ids, chunk ids) and the hash that makes
// them. Text form: 32 lowercase hex digits, the canonical (big-endian) form
// of XXH3-128, i.e. what `xxhsum -H2` prints.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace acidfs {

struct Id128 {
  std::array<uint8_t, 16> bytes{};

  static Id128 zero() { return Id128{}; }
  bool isZero() const;
  std::string hex() const;
  // Exactly 32 lowercase or uppercase hex digits; anything else is nullopt.
  static std::optional<Id128> parseHex(std::string_view text);
  std::string_view view() const {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
  }
  static Id128 fromBytes(std::string_view raw);  // raw.size() must be 16

  auto operator<=>(const Id128&) const = default;
};

struct Id128Hash {
  size_t operator()(const Id128& id) const;
};

// The hash behind every id: (data, seed) → 128 bits. Injectable so that tests
// can force collisions; the seed is how a collision gets a distinct id.
using HashFunction = std::function<Id128(const void* data, size_t size, uint64_t seed)>;

// XXH3-128 with seed, canonical byte order. The production hash.
Id128 xxh3Hash(const void* data, size_t size, uint64_t seed);

}  // namespace acidfs
