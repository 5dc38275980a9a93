#include "core/history.h"

#include <algorithm>

#include "core/cas_ops.h"
#include "core/format.h"
#include "core/hex.h"
#include "core/meta_engine.h"
#include "core/paths.h"

namespace acidfs {

std::string PathVersion::id() const { return toHex(std::string_view(key).substr(key.size() - 16)); }

Result<History::Place> History::locate(std::string_view path) {
  ACIDFS_RETURN_IF_ERROR(validatePath(path));
  std::vector<std::string_view> parts = pathComponents(path);
  if (parts.empty()) return Status::Error(EINVAL, "the root has no history of its own");
  Place place;
  place.dir = kRootIno;
  for (size_t i = 0; i < parts.size(); ++i) {
    std::optional<uint64_t> live;
    if (place.dirLive) {
      ACIDFS_ASSIGN_OR_RETURN(std::optional<std::string> value, db_.get(Column::kDentries, keys::dentry(place.dir, parts[i])));
      if (value) {
        auto entry = DentryRecord::decode(*value);
        if (!entry) return Status::Error(EIO, "store corrupted: undecodable entry '" + std::string(parts[i]) + "'");
        live = entry->ino;
      }
    }
    if (i + 1 == parts.size()) {
      place.name.assign(parts[i]);
      place.liveIno = live;
      return place;
    }
    if (live) {
      place.dir = *live;
      continue;
    }
    // Gone: the newest removed directory of that name.
    ACIDFS_ASSIGN_OR_RETURN(std::vector<TrashEntry> gone, trash_.namesOf(place.dir, parts[i]));
    auto dir = std::find_if(gone.begin(), gone.end(), [](const TrashEntry& e) { return S_ISDIR(e.record.mode); });
    if (dir == gone.end())
      return Status::Error(ENOENT, "'" + std::string(parts[i]) + "' in '" + std::string(path) +
                                       "' is neither there nor in the trash");
    place.dir = dir->record.ino;
    place.dirLive = false;
  }
  return place;
}

Result<std::vector<PathVersion>> History::log(const Caller& caller, std::string_view path) {
  ACIDFS_ASSIGN_OR_RETURN(Place place, locate(path));
  std::vector<PathVersion> out;
  auto take = [&](std::vector<TrashEntry> entries) {
    for (TrashEntry& e : entries)
      if (e.record.wasReadableBy(caller)) out.push_back(PathVersion{std::move(e.key), std::move(e.record)});
  };
  ACIDFS_ASSIGN_OR_RETURN(std::vector<TrashEntry> names, trash_.namesOf(place.dir, place.name));
  // The contents each file of that name replaced while it had the name
  // (its versions), and those of the file there now.
  std::vector<uint64_t> files;
  for (const TrashEntry& e : names)
    if (S_ISREG(e.record.mode)) files.push_back(e.record.ino);
  if (place.liveIno) files.push_back(*place.liveIno);
  std::sort(files.begin(), files.end());
  files.erase(std::unique(files.begin(), files.end()), files.end());
  take(std::move(names));
  for (uint64_t ino : files) {
    ACIDFS_ASSIGN_OR_RETURN(std::vector<TrashEntry> versions, trash_.versionsOf(ino));
    take(std::move(versions));
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const PathVersion& a, const PathVersion& b) { return a.record.droppedNs > b.record.droppedNs; });
  return out;
}

}  // namespace acidfs
