// acidfs fsck: an offline check of a whole store (SPEC §5), for a store no
// daemon has open. It checks every directory entry against its inode and the
// readdir index, every link count, every reference count against the
// references actually found (inodes and leases → blobs → pages → chunks),
// and every chunk's bytes against its hash. With `repair` it fixes what can
// be fixed without guessing content: reference counts and link counts are
// set to what was found, entries naming a missing inode and stale readdir
// cookies are removed, unreferenced records are freed. A chunk whose bytes
// no longer match its hash cannot be repaired: it stays a finding.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace acidfs {

class Store;

struct FsckReport {
  std::vector<std::string> findings;  // one line each, what is wrong and where
  std::vector<std::string> repairs;   // one line each, what --repair changed
  uint64_t inodes = 0, entries = 0, blobs = 0, pages = 0, chunks = 0, chunkBytes = 0;
  bool clean() const { return findings.empty(); }
};

Result<FsckReport> fsckStore(Store& store, bool repair);

}  // namespace acidfs
