#include "core/meta_engine.h"

#include "core/encoding.h"

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

Result<std::vector<std::string>> dueKeys(MetaCursor& cursor, std::string_view prefix, int64_t nowNs, size_t max,
                                         const char* what) {
  std::vector<std::string> due;
  for (cursor.seek(prefix); cursor.valid() && due.size() < max; cursor.next()) {
    std::string key = MetaCursor::copyOut(cursor.key());
    if (!key.starts_with(prefix) || key.size() < prefix.size() + 8) break;
    if (static_cast<int64_t>(readBigEndian64(std::string_view(key).substr(prefix.size(), 8))) > nowNs) break;
    due.push_back(std::move(key));
  }
  ACIDFS_RETURN_IF_ERROR(cursor.status().withContext(std::string("listing due ") + what));
  return due;
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
