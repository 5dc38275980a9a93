// Little-endian fixed-width encoding for the records kept in RocksDB values,
// and big-endian for key parts so that keys sort numerically.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace acidfs {

class Encoder {
 public:
  Encoder& u8(uint8_t v) { out_.push_back(static_cast<char>(v)); return *this; }
  Encoder& u32(uint32_t v) { return fixed(v); }
  Encoder& u64(uint64_t v) { return fixed(v); }
  Encoder& i64(int64_t v) { return fixed(static_cast<uint64_t>(v)); }
  Encoder& raw(std::string_view bytes) { out_.append(bytes); return *this; }
  // Length-prefixed (u32) bytes.
  Encoder& bytes(std::string_view b) { u32(static_cast<uint32_t>(b.size())); return raw(b); }
  std::string take() { return std::move(out_); }
  const std::string& str() const { return out_; }

 private:
  template <typename T>
  Encoder& fixed(T v) {
    char buf[sizeof(T)];
    for (size_t i = 0; i < sizeof(T); ++i) buf[i] = static_cast<char>(v >> (8 * i));
    out_.append(buf, sizeof(T));
    return *this;
  }
  std::string out_;
};

// Reads what an Encoder wrote, from bytes that may be corrupt: no getter
// reads past the input or allocates more than the input holds. Every getter
// returns false on truncated input and leaves the decoder failed; callers
// check ok() once at the end.
class Decoder {
 public:
  explicit Decoder(std::string_view in) : in_(in) {}
  bool u8(uint8_t& v) { return fixed(v); }
  bool u32(uint32_t& v) { return fixed(v); }
  bool u64(uint64_t& v) { return fixed(v); }
  bool i64(int64_t& v) { uint64_t u; if (!fixed(u)) return false; v = static_cast<int64_t>(u); return true; }
  bool raw(size_t n, std::string_view& out) {
    if (failed_ || in_.size() < n) return fail();
    out = in_.substr(0, n);
    in_.remove_prefix(n);
    return true;
  }
  bool bytes(std::string& out) {
    uint32_t n;
    std::string_view v;
    if (!u32(n) || !raw(n, v)) return false;
    out.assign(v);
    return true;
  }
  // A u32 count of `elementSize`-byte elements that follow. Fails unless the
  // input still holds them all, so that a corrupt count never sizes an
  // allocation (a page or blob record of 0xFFFFFFFF ids would be 64 GiB).
  bool count(uint32_t& n, size_t elementSize) {
    if (!u32(n)) return false;
    if (n > in_.size() / elementSize) return fail();
    return true;
  }
  std::string_view rest() const { return in_; }
  bool ok() const { return !failed_; }
  bool done() const { return !failed_ && in_.empty(); }

 private:
  bool fail() { failed_ = true; return false; }
  template <typename T>
  bool fixed(T& v) {
    if (failed_ || in_.size() < sizeof(T)) return fail();
    T r = 0;
    for (size_t i = 0; i < sizeof(T); ++i)
      r |= static_cast<T>(static_cast<uint8_t>(in_[i])) << (8 * i);
    v = r;
    in_.remove_prefix(sizeof(T));
    return true;
  }
  std::string_view in_;
  bool failed_ = false;
};

inline void appendBigEndian64(std::string& out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>(v >> (8 * i)));
}
// `in` must hold at least 8 bytes: check a key's length before calling.
inline uint64_t readBigEndian64(std::string_view in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = v << 8 | static_cast<uint8_t>(in[i]);
  return v;
}

}  // namespace acidfs
