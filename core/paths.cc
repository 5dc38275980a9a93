#include "core/paths.h"

namespace acidfs {

std::vector<std::string_view> pathComponents(std::string_view path) {
  std::vector<std::string_view> parts;
  size_t pos = 1;
  while (pos <= path.size() && path.size() > 1) {
    size_t next = path.find('/', pos);
    if (next == std::string_view::npos) next = path.size();
    parts.push_back(path.substr(pos, next - pos));
    pos = next + 1;
  }
  return parts;
}

}  // namespace acidfs
