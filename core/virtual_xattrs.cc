#include "core/virtual_xattrs.h"

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

Status checkDestBasis(std::string_view basis, const InodeRecord* dest, std::string_view destPath) {
  // Directories, symlinks and special files have no blobId: "found" is null.
  std::optional<Id128> found;
  if (dest && dest->isRegular()) found = dest->blob;
  if (basis == kAbsentBasis) {
    if (!dest) return Status::OK();
    return Status::Conflict(ConflictReport{ConflictCode::kDestExists, std::string(destPath), std::nullopt, found, 1});
  }
  const std::optional<Id128> expected = Id128::parseHex(basis);
  if (!dest) return Status::Conflict(ConflictReport{ConflictCode::kDestNotFound, std::string(destPath), expected, std::nullopt, 1});
  if (found != expected)
    return Status::Conflict(ConflictReport{ConflictCode::kDestChanged, std::string(destPath), expected, found, 1});
  return Status::OK();
}

}  // namespace acidfs
