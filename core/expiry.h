// Expiry (SPEC §11): user.acidfs.expires_at deletes a file at a time, in a
// transaction that checks the file still holds the blobId it held when the
// expiry was set. Locks and leases that die with their holder follow
// (README, "Locks and leases from the shell").
//
// Records (format.h):
//   xattrs   ino(8) "user.acidfs.expires_at"  → ExpiryRecord {expiresNs, blob}
//   default  "expiry/" ‖ expiresNs(8) ‖ ino(8) → ""   (the index, in time order)
// and InodeRecord::kExpires on the file while it has one, so that a rename
// (which clears it: "a move clears it") knows without a read. The file is
// found again by its directory (InodeRecord::parent, kept for files too)
// and a search of that directory's entries for its inode.
//
// Invariants: kExpires ⇔ the xattr record exists. Every record has its
// index key; an index key may outlive its record (a rename or a new
// expiry leaves the old key, which fire() drops when it finds it stale).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "core/id128.h"
#include "core/status.h"

namespace acidfs {

class MetaReader;
class Namespace;
class TransactionRunner;
class Tree;

// The latest expiry one may set, in seconds since the epoch (year 2255):
// its nanoseconds still fit an int64.
inline constexpr uint64_t kMaxExpirySeconds = 9'000'000'000;

struct ExpiryRecord {
  int64_t expiresNs = 0;
  Id128 blob;  // the content the file held when the expiry was set

  std::string encode() const;
  static std::optional<ExpiryRecord> decode(std::string_view in);
};

namespace expirykeys {
std::string index(int64_t expiresNs, uint64_t ino);
inline constexpr std::string_view kIndexPrefix = "expiry/";
}  // namespace expirykeys

// The background half: deletes the files whose time has come.
class Expiries {
 public:
  // Called after each deletion committed: the name that went (for the
  // kernel's caches).
  using Deleted = std::function<void(uint64_t parent, const std::string& name, uint64_t ino)>;

  Expiries(TransactionRunner& runner, MetaReader& db, Tree& tree, Namespace& ns)
      : runner_(runner), db_(db), tree_(tree), ns_(ns) {}

  // Every expiry due by `nowNs`, each in a transaction of its own: the file
  // is unlinked if it still has the expiry and the content it had when the
  // expiry was set; otherwise the expiry is only dropped. Returns how many
  // files it deleted.
  Result<uint64_t> fire(int64_t nowNs, const Deleted& deleted);

 private:
  // One index key's transaction; sets `gone` to the name deleted, if any.
  Status fireOne(const std::string& indexKey, std::optional<std::pair<uint64_t, std::string>>& gone, uint64_t& ino);

  TransactionRunner& runner_;
  MetaReader& db_;
  Tree& tree_;
  Namespace& ns_;
};

}  // namespace acidfs
