// The trash (SPEC §10): what an unlink, an rmdir, a rename over a name, a
// truncate or a content commit dropped, kept `trash_days` before its space
// is reclaimed, with the facts `acidfs log` shows and `acidfs undelete`
// restores from.
//
// Records live in the `trash` column (format.h), under two kinds of key, so
// that neither a drop nor a lookup ever walks paths:
//   'n' ‖ dir(8) ‖ name ‖ 0x00 ‖ ~droppedNs(8) ‖ nonce(8)   a name that went
//   'v' ‖ ino(8) ‖ ~droppedNs(8) ‖ nonce(8)                 content a file replaced
// Inverted times sort each name's (each file's) records newest first. A
// removed directory's record keeps its old inode number, and its children's
// name records are keyed by that number: a tree is found again from its top
// (inode numbers are never reused). Every record also has an expiry key,
//   'x' ‖ expiresNs(8) ‖ record key → ""
// which expire() walks in time order.
//
// Invariant (format.h's blob reference count): a record that keeps a
// file's content holds one reference to its blob, taken in the transaction
// that writes the record and dropped in the one that deletes it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/id128.h"
#include "core/records.h"
#include "core/status.h"

namespace acidfs {

class Clock;
struct Caller;
class ContentStore;
class MetaReader;
class TransactionRunner;
class Txn;

// What dropped a version (TrashRecord::cause). Values are stored.
enum class DropCause : uint8_t {
  kUnlink = 1,    // unlink(2), or a transact's delete
  kRmdir = 2,     // rmdir(2): a directory's record, no content
  kRenamedOver = 3,  // rename(2) (or a transact's move) onto the name
  kTruncate = 4,  // truncate(2) or open(O_TRUNC)
  kWrite = 5,     // a content commit (close, fsync, the interval, a CAS, a copy onto it)
};
const char* dropCauseName(DropCause cause);  // "unlink", "rmdir", "rename", "truncate", "write"

struct TrashRecord {
  DropCause cause = DropCause::kUnlink;
  uint64_t ino = 0;  // the inode the version belonged to (a directory's: its children's key)
  uint32_t mode = 0, uid = 0, gid = 0;
  uint64_t size = 0;
  int64_t atimeNs = 0, mtimeNs = 0, ctimeNs = 0;
  int64_t droppedNs = 0;   // when it was dropped
  int64_t expiresNs = 0;   // when expire() may reclaim it
  Id128 blob;              // regular files: the content kept (a reference held)
  Id128 replacedBy;        // regular files: the content that took its place, zero when none did
  std::string symlinkTarget;

  std::string encode() const;
  static std::optional<TrashRecord> decode(std::string_view in);
  // Whether `caller` could read the version when it was dropped (SPEC §10:
  // who may list or restore it), by the mode and owner it had then.
  bool wasReadableBy(const Caller& caller) const;
};

// A record and its key, for listing and restoring.
struct TrashEntry {
  std::string key;
  TrashRecord record;
};

namespace trashkeys {
std::string namePrefix(uint64_t dir, std::string_view name);
std::string namesInPrefix(uint64_t dir);  // every name's records of a (removed) directory
std::string versionPrefix(uint64_t ino);
std::string expiry(int64_t expiresNs, std::string_view recordKey);
}  // namespace trashkeys

class Trash {
 public:
  Trash(ContentStore& content, MetaReader& db, const Clock& clock) : content_(content), db_(db), clock_(clock) {}

  // How long a drop is kept; 0 keeps nothing (while the store's GC is not
  // frozen). Set once, before the store is shared between threads.
  void setKeepSeconds(int64_t seconds) { keepNs_ = seconds * 1'000'000'000; }
  int64_t keepNs() const { return keepNs_; }

  // ---- inside a transaction ------------------------------------------------
  // `name` of `dir` went, naming `ino` (its inode as it was before).
  Status keepName(Txn& txn, uint64_t dir, std::string_view name, uint64_t ino, const InodeRecord& inode,
                  DropCause cause, const Id128& replacedBy = Id128());
  // File `ino`'s content `before.blob` was replaced by `replacedBy`.
  Status keepVersion(Txn& txn, uint64_t ino, const InodeRecord& before, DropCause cause, const Id128& replacedBy);

  // ---- outside transactions ------------------------------------------------
  // The records of `name` in `dir`, and of file `ino`'s replaced contents:
  // newest first.
  Result<std::vector<TrashEntry>> namesOf(uint64_t dir, std::string_view name);
  Result<std::vector<TrashEntry>> versionsOf(uint64_t ino);
  // How many versions the trash keeps, and their files' sizes together
  // (`acidfs gc --status`): a walk of every record.
  struct Held {
    uint64_t versions = 0;
    uint64_t bytes = 0;
  };
  Result<Held> count();
  // Deletes the records that expired by `nowNs`, up to `max` of them in one
  // transaction, dropping the blob references they held. Sets `expired` to
  // how many went (fewer than `max`: none are left).
  Status expire(TransactionRunner& runner, int64_t nowNs, size_t max, size_t& expired);

 private:
  Status keep(Txn& txn, const std::string& key, TrashRecord record);
  Result<std::vector<TrashEntry>> listPrefix(const std::string& prefix);

  ContentStore& content_;
  MetaReader& db_;
  const Clock& clock_;
  int64_t keepNs_ = 0;  // constant once shared
};

}  // namespace acidfs
