// Fresh random bytes for ids that must not repeat across processes and
// hosts sharing one database store: commit ids, session ids, notification
// origins. A generator per thread, seeded from the OS.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>

namespace acidfs {

inline std::string randomBytes(size_t n) {
  thread_local std::mt19937_64 rng(std::random_device{}());
  std::string out(n, '\0');
  for (size_t i = 0; i < n; i += 8) {
    const uint64_t r = rng();
    memcpy(out.data() + i, &r, std::min<size_t>(8, n - i));
  }
  return out;
}

}  // namespace acidfs
