#include "core/meta_engine.h"

#if defined(__SANITIZE_THREAD__)
// ThreadSanitizer's dynamic annotations (its runtime defines them).
extern "C" void AnnotateIgnoreReadsBegin(const char* file, int line);
extern "C" void AnnotateIgnoreReadsEnd(const char* file, int line);
#endif

namespace acidfs {

std::string MetaCursor::copyOut(std::string_view bytes) {
#if defined(__SANITIZE_THREAD__)
  AnnotateIgnoreReadsBegin(__FILE__, __LINE__);
  std::string copy(bytes);
  AnnotateIgnoreReadsEnd(__FILE__, __LINE__);
  return copy;
#else
  return std::string(bytes);
#endif
}

Result<std::vector<std::optional<std::string>>> MetaReader::getMany(Column c, const std::vector<std::string>& keys) {
  std::vector<std::optional<std::string>> values;
  values.reserve(keys.size());
  for (const std::string& key : keys) {
    ACIDFS_ASSIGN_OR_RETURN(std::optional<std::string> value, get(c, key));
    values.push_back(std::move(value));
  }
  return values;
}

}  // namespace acidfs
