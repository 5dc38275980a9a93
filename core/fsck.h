// acidfs fsck: an offline check of a whole store (SPEC §5), for a store no
// daemon has open. It checks every directory entry against its inode and the
// readdir index, every link count, every reference count against the
// references actually found (inodes and leases → blobs → pages → chunks),
// every chunk's bytes against its hash, every block of the metadata's table
// files against its checksum, (from the store's directory) whether the
// write-ahead log replays whole, and (chunks in RADOS) every object of the
// pool against the records (core/fsck_objects.h).
//
// Damaged metadata (a table block that fails its checksum) stops the scan of
// its column there, but not the check: a record that references name and
// the scan did not reach is looked up by key, so that only what the damaged
// block holds is lost. Each file that loses a record to it is a finding of
// its own, by path ("file /a/b (inode 12): unreadable, its chunk record is
// in damaged metadata (chunk …)"), and nothing is called missing or
// miscounted that is only out of the scan's reach (counts that may be short
// of references in the damage are left unchecked, and said so).
//
// Without `repair` it changes nothing in the store: not a byte of any file,
// no file created, renamed or removed. The metadata is opened read-only
// (RocksDB replays the write-ahead log into memory and writes no table,
// MANIFEST or log file), segment files are only read (no sweep of
// unreferenced bytes, no new segment), and the store's LOCK is only flocked.
//
// With `repair` it opens the store as the daemon does (which replays and
// flushes the log, and sweeps the segments) and fixes what can be fixed
// without guessing content: reference counts and link counts are set to
// what was found, entries naming a missing inode and stale readdir cookies
// are removed, unreferenced records are freed — deleted, or, where another
// content's probe chain passes through them (`collided`), emptied to a
// tombstone as the running store does (content_store.h); the segment bytes
// of a freed chunk go at the next open's sweep. A chunk whose bytes no
// longer match its hash cannot be repaired: it stays a finding. Nothing is
// repaired while the metadata cannot be read whole (a table file fails its
// checksum): counts found then would be wrong.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/id128.h"
#include "core/status.h"

namespace acidfs {

class Store;

struct FsckReport {
  std::vector<std::string> findings;  // one line each, what is wrong and where
  std::vector<std::string> repairs;   // one line each, what --repair changed
  // One line each, worth knowing but nothing wrong: what the running store
  // reclaims by itself, or leaves alone (core/fsck_objects.h).
  std::vector<std::string> notes;
  uint64_t inodes = 0, entries = 0, blobs = 0, pages = 0, chunks = 0, chunkBytes = 0;
  // A store whose chunks are RADOS objects: its pool's objects, each named
  // by a chunk record, pending, an orphan or foreign (core/fsck_objects.h).
  struct Objects {
    uint64_t named = 0, pending = 0, orphans = 0, foreign = 0;
  };
  std::optional<Objects> objects;
  // With repair, when repairs were made: the findings of a second check
  // (what could not be repaired); the counts above are that check's.
  std::optional<std::vector<std::string>> afterRepair;
  bool clean() const { return findings.empty(); }
  // What the exit status goes by: nothing left to find, after repairs.
  bool cleanAfterRepair() const { return afterRepair ? afterRepair->empty() : findings.empty(); }
};

struct FsckOptions {
  bool repair = false;
  HashFunction hash = xxh3Hash;  // the store's (StoreOptions::hash): tests inject degenerate ones
  // A database store's chunks as acidfsd's -o chunks= (rados:POOL,conf=FILE,
  // id=NAME); empty: where the store says they are, with librados's default
  // configuration.
  std::string chunks;
};

// `acidfs fsck STORE [--repair]`: checks the store in directory `path`.
// Errors (the tool's exit status 2): EINVAL when `path` is not an acidfs
// store, EPROTO when its format is unknown, EBUSY when a process has it
// open, EIO when its metadata cannot be opened for another reason than
// damage (missing, unreadable). Damage RocksDB reports (a log that does not
// replay whole, a MANIFEST or table file it cannot open, a table block that
// fails its checksum or cannot be read) is a finding, not an error.
// Messages do not name `path`: the caller does.
Result<FsckReport> fsckStore(const std::string& path, const FsckOptions& options);

// The same check on a store this process has open (tests; and what
// --repair runs after opening it). Its log was replayed when it opened, so
// damage there is not seen.
Result<FsckReport> fsckStore(Store& store, bool repair);

}  // namespace acidfs
