// Bytes as lowercase hex text and back: blobIds (id128.h), PostgreSQL's
// bytea literals and output (pg_connection.h), notification payloads
// (pg_listener.h), session ids in the log.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace acidfs {

inline void appendHex(std::string& out, std::string_view bytes) {
  static const char kDigits[] = "0123456789abcdef";
  const size_t start = out.size();
  out.resize(start + 2 * bytes.size());
  char* p = out.data() + start;
  for (unsigned char b : bytes) {
    *p++ = kDigits[b >> 4];
    *p++ = kDigits[b & 15];
  }
}

inline std::string toHex(std::string_view bytes) {
  std::string out;
  appendHex(out, bytes);
  return out;
}

// 0-15 for a hex digit of either case, else -1.
inline int hexDigitValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The bytes `text` spells, or nullopt when it is not an even number of hex digits.
inline std::optional<std::string> fromHex(std::string_view text) {
  if (text.size() % 2) return std::nullopt;
  std::string out(text.size() / 2, '\0');
  for (size_t i = 0; i < out.size(); ++i) {
    const int hi = hexDigitValue(text[2 * i]), lo = hexDigitValue(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[i] = static_cast<char>(hi << 4 | lo);
  }
  return out;
}

}  // namespace acidfs
