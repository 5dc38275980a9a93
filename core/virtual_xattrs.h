// The virtual extended attributes of SPEC §4.2, the shell's door to
// compare-and-swap:
//   user.acidfs.blob_id     read: the file's blobId (directories: ENODATA)
//   user.acidfs.version     read: the file's content version (SPEC §11), a
//                           decimal number that grows at every content
//                           commit and is never reused ("0": none yet)
//   user.acidfs.expires_at  read/write: seconds since the epoch at which the
//                           daemon deletes the file (core/expiry.h); empty
//                           or removed: no expiry
//   user.acidfs.dest_basis  write on a source file: "<blobId>" or "absent";
//                           the next rename of that file checks its
//                           destination against it, in the rename's own
//                           transaction, and consumes it on success.
// None is ever listed. Setting blob_id, version, or any other user.acidfs.* name,
// or a malformed value, is EINVAL.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/caller.h"
#include "core/id128.h"
#include "core/records.h"
#include "core/status.h"

namespace acidfs {

inline constexpr std::string_view kVirtualXattrPrefix = "user.acidfs.";
inline constexpr std::string_view kBlobIdXattr = "user.acidfs.blob_id";
inline constexpr std::string_view kVersionXattr = "user.acidfs.version";
inline constexpr std::string_view kDestBasisXattr = "user.acidfs.dest_basis";
inline constexpr std::string_view kExpiresAtXattr = "user.acidfs.expires_at";
inline constexpr std::string_view kAbsentBasis = "absent";

inline bool isVirtualXattr(std::string_view name) { return name.substr(0, kVirtualXattrPrefix.size()) == kVirtualXattrPrefix; }
// The attributes that say what the file's committed content is: read from
// the database's current state, after the caller's pending writes commit.
inline bool isCommittedContentXattr(std::string_view name) { return name == kBlobIdXattr || name == kVersionXattr; }

// A dest_basis value in its stored form: "absent", or the blobId in lowercase
// hex. EINVAL for anything else (a trailing newline from `echo` included).
Result<std::string> parseDestBasis(std::string_view value);

// Whether `caller`'s rename onto `dest` (nullptr: nothing there) may go
// ahead under `basis` (stored form). A conflict carries the SPEC §4 report:
// DEST_EXISTS (EEXIST), DEST_NOT_FOUND (ENOENT) or DEST_CHANGED (ECANCELED).
// Comparing a blobId with a file the caller may not read is EACCES, as in
// a TRANSACT: a guess must not be confirmed (the basis would be a content
// oracle); its `found` is withheld likewise.
Status checkDestBasis(const Caller& caller, std::string_view basis, const InodeRecord* dest, std::string_view destPath);

}  // namespace acidfs
