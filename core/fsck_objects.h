// fsck of a store whose chunks are RADOS objects (SPEC §9, -o
// chunks=rados:POOL): every object of the pool is accounted for.
//
// The pool is listed before the chunk records are read, and each live
// record that names an object is matched against the listing (an object
// put since is looked up by name). A record whose object is missing, or of
// another size than the record says, is a finding: that chunk's bytes are
// lost. An object no record names is, by the sweep's own rule
// (RadosChunkStore::pastSweepAge):
//  - pending, when younger than the sweep age: a put whose transaction may
//    still commit, on any host;
//  - an orphan, when older: a put whose transaction never committed (a
//    daemon killed mid-write), or a freed object waiting out its grace
//    period; a mount's next sweep deletes it, and so does --repair;
//  - foreign, when put() never makes its name: another program's, left
//    alone.
// None of the three is a finding, orphans included: like a freed chunk's
// segment bytes, which the next open sweeps and fsck does not report, an
// orphan holds nothing any record names, and the store reclaims it itself.
// Each is a note, with its count.
#pragma once

#include <cstdint>
#include <ctime>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/fsck.h"
#include "core/id128.h"
#include "core/records.h"
#include "core/status.h"

namespace acidfs {

class RadosChunkStore;

namespace fsck {

class RadosObjects {
 public:
  // Lists the pool of `rados` (which outlives this). EIO when it cannot be
  // listed.
  static Result<RadosObjects> list(const RadosChunkStore& rados);

  // A live chunk record: OK when it names no object, or when its object is
  // there with the length the record says; else EIO with the finding (the
  // chunk's bytes are lost: not worth reading). EIO too when RADOS fails.
  Status match(const Id128& id, const ChunkRecord& record);

  // Once every record is matched: the counts and notes into `report`; with
  // `repair`, deletes the orphans (each deletion a repair).
  void finish(FsckReport& report, bool repair);

 private:
  explicit RadosObjects(const RadosChunkStore& rados) : rados_(&rados) {}

  struct Seen {
    uint64_t size = 0;
    time_t mtime = 0;
    bool named = false;
  };
  const RadosChunkStore* rados_;
  std::unordered_map<std::string, Seen> ours_;  // by object name
  uint64_t foreign_ = 0;
  std::vector<std::string> foreignExamples_;  // the first few names
};

}  // namespace fsck
}  // namespace acidfs
