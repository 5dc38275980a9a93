#include "core/virtual_xattrs.h"

#include <unistd.h>

namespace acidfs {

Result<std::string> parseDestBasis(std::string_view value) {
  if (value == kAbsentBasis) return std::string(kAbsentBasis);
  std::optional<Id128> id = Id128::parseHex(value);
  if (!id) {
    return Status::Error(EINVAL, "user.acidfs.dest_basis must be a blobId (32 hex digits) or 'absent', not '" +
                                     std::string(value.substr(0, 64)) + "'");
  }
  return id->hex();
}

Status checkDestBasis(const Caller& caller, std::string_view basis, const InodeRecord* dest, std::string_view destPath) {
  auto conflict = [&](ConflictCode code, std::optional<Id128> expected) {
    ConflictReport report{code, std::string(destPath), expected, std::nullopt, 1};
    reportFound(report, caller, dest);
    return Status::Conflict(std::move(report));
  };
  if (basis == kAbsentBasis) return dest ? conflict(ConflictCode::kDestExists, std::nullopt) : Status::OK();
  const std::optional<Id128> expected = Id128::parseHex(basis);
  if (!dest) return conflict(ConflictCode::kDestNotFound, expected);
  if (dest->isRegular() && !mayAccess(caller, *dest, R_OK))
    return Status::Error(EACCES, "comparing '" + std::string(destPath) + "' with user.acidfs.dest_basis: permission denied");
  // Directories, symlinks and special files have no blobId: "found" is null.
  if (!dest->isRegular() || dest->blob != expected) return conflict(ConflictCode::kDestChanged, expected);
  return Status::OK();
}

}  // namespace acidfs
