// `acidfs log PATH` (SPEC §10): the versions a path has had, from the trash
// (core/trash.h) — the files that had its name and went, and the contents
// each of them replaced — for a path that exists now or no longer does.
// A path whose directories went too is followed through the trash: each
// component is the live entry, else the newest removed directory of that
// name (its old inode number keys its children's records).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/caller.h"
#include "core/status.h"
#include "core/trash.h"

namespace acidfs {

class MetaReader;

// One line of the log: a version of the path and the trash record keeping
// it (its key names exactly this version, for undelete).
struct PathVersion {
  std::string key;
  TrashRecord record;
  // Its id in `acidfs log` and `undelete --id`: 32 hex digits, the key's
  // inverted time and nonce (trash.h), unique among one path's versions.
  std::string id() const;
};

class History {
 public:
  History(Trash& trash, MetaReader& db) : trash_(trash), db_(db) {}

  // Newest first, only the versions `caller` could read when they were
  // dropped (read permission by the mode, owner and group they had then;
  // root reads all). ENOENT when a directory on the way never existed.
  Result<std::vector<PathVersion>> log(const Caller& caller, std::string_view path);

  // Where `path` leads now, following removed directories through the
  // trash: the directory that held (or holds) its last component, and that
  // component. ENOENT when a directory on the way is neither live nor in
  // the trash.
  struct Place {
    uint64_t dir = 0;
    std::string name;
    bool dirLive = true;            // `dir` exists now
    std::optional<uint64_t> liveIno;  // what the name is now, when it is
  };
  Result<Place> locate(std::string_view path);

 private:
  Trash& trash_;
  MetaReader& db_;
};

}  // namespace acidfs
