#include "core/store_location.h"

namespace acidfs {

bool isDatabaseStore(std::string_view store) {
  return store.rfind("postgresql://", 0) == 0 || store.rfind("postgres://", 0) == 0;
}

std::string shownStore(std::string_view store) {
  std::string shown(store);
  if (!isDatabaseStore(store)) return shown;
  // userinfo: between "://" and the first '@' before any '/', '?'.
  const size_t start = shown.find("://") + 3;
  const size_t end = shown.find_first_of("/?", start);
  const size_t at = shown.rfind('@', end == std::string::npos ? shown.size() : end);
  if (at != std::string::npos && at >= start) {
    const size_t colon = shown.find(':', start);
    if (colon != std::string::npos && colon < at) shown.replace(colon + 1, at - colon - 1, "***");
  }
  // password=... among the parameters.
  for (size_t p = shown.find("password="); p != std::string::npos; p = shown.find("password=", p + 1)) {
    if (p > 0 && shown[p - 1] != '?' && shown[p - 1] != '&') continue;
    const size_t valueStart = p + 9;
    const size_t valueEnd = shown.find('&', valueStart);
    shown.replace(valueStart, (valueEnd == std::string::npos ? shown.size() : valueEnd) - valueStart, "***");
  }
  return shown;
}

}  // namespace acidfs
