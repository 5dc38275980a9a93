#include "core/status.h"

#include <cstring>
#include <nlohmann/json.hpp>

namespace acidfs {

const char* conflictCodeName(ConflictCode code) {
  switch (code) {
    case ConflictCode::kSourceNotFound: return "SOURCE_NOT_FOUND";
    case ConflictCode::kSourceChanged: return "SOURCE_CHANGED";
    case ConflictCode::kDestExists: return "DEST_EXISTS";
    case ConflictCode::kDestNotFound: return "DEST_NOT_FOUND";
    case ConflictCode::kDestChanged: return "DEST_CHANGED";
    case ConflictCode::kCasConflict: return "CAS_CONFLICT";
  }
  return "UNKNOWN";
}

int conflictErrno(ConflictCode code) {
  switch (code) {
    case ConflictCode::kSourceNotFound:
    case ConflictCode::kDestNotFound: return ENOENT;
    case ConflictCode::kDestExists: return EEXIST;
    case ConflictCode::kSourceChanged:
    case ConflictCode::kDestChanged:
    case ConflictCode::kCasConflict: return ECANCELED;
  }
  return EIO;
}

std::string ConflictReport::toJson() const {
  auto idOrNull = [](const std::optional<Id128>& id) -> nlohmann::json {
    if (!id) return nullptr;
    return id->hex();
  };
  nlohmann::ordered_json j;
  j["code"] = conflictCodeName(code);
  j["path"] = path;
  j["expected"] = idOrNull(expected);
  j["found"] = foundWithheld ? nlohmann::json(kFoundWithheld) : idOrNull(found);
  j["operationIndex"] = operationIndex;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Status Status::FromErrno(const std::string& what) {
  const int err = errno;
  return Error(err, what + ": " + strerror(err));
}

Status Status::Conflict(ConflictReport report) {
  Status s;
  s.errno_ = conflictErrno(report.code);
  s.message_ = std::string(conflictCodeName(report.code)) + " at " + report.path;
  s.conflict_ = std::move(report);
  return s;
}

std::string errnoName(int err) {
  const char* name = strerrorname_np(err);
  return name ? name : "errno " + std::to_string(err);
}

Status Status::withContext(std::string_view what) const {
  if (ok()) return *this;
  Status s = *this;
  s.message_ = std::string(what) + ": " + message_;
  return s;
}

std::string Status::toString() const {
  if (ok()) return "OK";
  return errnoName(errno_) + ": " + message_;
}

}  // namespace acidfs
