// What a shared engine (core/pg_engine.h) may answer from memory to reads
// that SPEC §9 lets be slightly behind: stat, lookup and readdir see other
// hosts' commits "within coherence_ms". Only inodes and directory entries
// are kept (the records other engines' notifications name); open(),
// blobIds, the ioctl door and every transaction read the database itself.
//
// An entry is a value the database held, or an absence, and when it was
// taken. The cache keeps these promises:
//   1. No entry is served more than maxAge after it was taken, whatever
//      notifications were lost: staleness has a bound without them.
//   2. A change this process commits replaces or removes the entries of the
//      keys it wrote before its commit returns (afterCommit).
//   3. A change another process commits removes them when its notification
//      arrives (invalidate / invalidateAll), typically within milliseconds.
//   4. An answer that was read before a change was heard is never stored
//      after it: every change moves the generation, and store() and
//      afterCommit() keep nothing when it moved since they looked.
// The engine serves from the cache only while it can hear the others
// (its listener is connected): otherwise promise 3 would not hold.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/format.h"
#include "core/thread_annotations.h"

namespace acidfs {

class RecentCache {
 public:
  // At most `capacity` entries: past it the cache starts over (empty).
  RecentCache(std::chrono::milliseconds maxAge, size_t capacity);

  // Whether `c` is a column this cache keeps.
  static bool keeps(Column c) { return c == Column::kInodes || c == Column::kDentries; }

  // The entry of (c, key) if there is one younger than maxAge: its value,
  // or nullopt for "absent". nullopt outside: ask the database.
  std::optional<std::optional<std::string>> find(Column c, std::string_view key) EXCLUDES(mutex_);

  // Read the generation, then the database, then store() what it said:
  // kept only when nothing changed in between.
  uint64_t generation() const EXCLUDES(mutex_);
  void store(Column c, std::string_view key, std::optional<std::string> value, uint64_t generationBeforeRead)
      EXCLUDES(mutex_);

  // A commit of this process wrote `writes` (nullopt: deleted).
  // `committed`: it took effect; then its values are stored if nothing
  // changed since `generationBeforeCommit`, else (or when its outcome is
  // not known) the keys are removed.
  struct Write {
    Column column;
    std::string_view key;
    const std::optional<std::string>* value;
  };
  void afterCommit(const std::vector<Write>& writes, bool committed, uint64_t generationBeforeCommit) EXCLUDES(mutex_);

  // Another process changed (c, key), or anything.
  void invalidate(Column c, std::string_view key) EXCLUDES(mutex_);
  void invalidateAll() EXCLUDES(mutex_);

 private:
  struct Entry {
    std::optional<std::string> value;
    std::chrono::steady_clock::time_point taken;
  };
  static std::string keyOf(Column c, std::string_view key);
  void put(std::string key, std::optional<std::string> value) REQUIRES(mutex_);

  const std::chrono::milliseconds maxAge_;
  const size_t capacity_;
  mutable Mutex mutex_;
  uint64_t generation_ GUARDED_BY(mutex_) = 0;
  std::unordered_map<std::string, Entry> entries_ GUARDED_BY(mutex_);  // column byte + key
};

}  // namespace acidfs
