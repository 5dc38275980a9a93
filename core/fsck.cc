// The check of core/fsck.h, over a store as a Source gives it (core/fsck_sources.h).
#include "core/fsck.h"

#include "core/pg_engine.h"
#include "core/store_location.h"

#include <sys/stat.h>

#include <algorithm>
#include <functional>
#include <map>
#include <set>
#include <type_traits>
#include <unordered_map>
#include <utility>

#include "core/encoding.h"
#include "core/format.h"
#include "core/fsck_objects.h"
#include "core/fsck_sources.h"
#include "core/hex.h"
#include "core/meta_db.h"
#include "core/records.h"
#include "core/store.h"
#include "core/transaction.h"
#include "core/trash.h"

namespace acidfs {
namespace {

using fsck::Source;

using enum RecordKind;

// ---- the check -----------------------------------------------------------------

// What the running store leaves of a freed record that a probe chain passes
// through (ContentStore::applyRefDeltas): no count, no content, a tombstone
// that keeps `collided`, so that probing for the contents behind it goes on.
BlobRecord emptied(BlobRecord r) {
  r.pages.clear();
  r.size = 0;
  r.dataChunks = 0;
  return r;
}
PageRecord emptied(PageRecord r) {
  r.chunks.clear();
  return r;
}
ChunkRecord emptied(ChunkRecord r) {
  r.isInline = true;
  r.inlineData.clear();
  r.segment = 0, r.offset = 0, r.length = 0;
  return r;
}
template <typename Record>
Record tombstoneOf(const Record& record) {
  Record t = emptied(record);
  t.head.refcount = 0;
  t.head.tombstone = true;
  return t;
}

struct InodeState {
  InodeRecord inode;
  uint32_t links = 0;    // entries naming it
  uint32_t subdirs = 0;  // for directories: entries naming a directory
};

struct Checker {
  Checker(Source& source, Store* store, bool repair) : source(source), store(store), repair(repair) {}

  Source& source;
  Store* store;  // for repairs; null when reading the files read-only
  bool repair;
  FsckReport report;
  std::map<uint64_t, InodeState> inodes;
  PerRecordKind<std::unordered_map<Id128, uint64_t, Id128Hash>> expected;  // references found
  // Chunks each page must list for its place in the blobs naming it
  // (kConflicting when two blobs disagree: one of them is wrong).
  std::unordered_map<Id128, uint64_t, Id128Hash> pageLength;
  static constexpr uint64_t kConflicting = UINT64_MAX;
  std::vector<std::function<Status(Txn&)>> fixes;               // applied together when repairing
  // Some metadata could not be read: the references found are incomplete,
  // so no count may be set from them.
  bool unreadable = false;
  // A store whose chunks are RADOS objects: the pool's (listed before the
  // chunk records are read), and the chunks whose objects are lost.
  std::optional<fsck::RadosObjects> objects;
  std::unordered_map<Id128, bool, Id128Hash> objectLost;

  // How far each column's scan got. One stopped by damage (a table block
  // failing its checksum) did not reach the keys after the last it read:
  // a record named there may still be present (lookup()).
  struct ScanEnd {
    bool whole = true;
    std::string lastKey;
  };
  ScanEnd scanned[kColumnCount];

  // What references name but cannot be read (damaged metadata), and who
  // names what, to tell the files it makes unreadable (reportUnreadableFiles).
  std::set<uint64_t> lostInodes;
  std::vector<std::pair<uint64_t, std::string>> lostEntries;  // directory, name: from the readdir index
  PerRecordKind<std::vector<Id128>> lost;
  PerRecordKind<std::unordered_map<Id128, std::vector<Id128>, Id128Hash>> namedBy;  // kPage: blobs naming it; kChunk: pages
  std::vector<Id128> leased;                                    // blobs that leases hold
  std::vector<Id128> trashed;                                   // blobs that trash records hold
  std::map<uint64_t, std::pair<uint64_t, std::string>> nameOf;  // inode → one entry naming it: directory, name
  // Counts that may be short of references sitting in what cannot be read:
  // one lower than its record says is then no finding (uncheckedCounts).
  bool linksMayBeShort = false;
  PerRecordKind<bool> countsMayBeShort;
  uint64_t uncheckedCounts = 0;

  void find(std::string what) { report.findings.push_back(std::move(what)); }
  void fix(std::string what, std::function<Status(Txn&)> change) {
    if (!repair) return;
    report.repairs.push_back(std::move(what));
    fixes.push_back(std::move(change));
  }

  // Keys come from disk too: one of a length its column never has (format.h)
  // is a finding and is skipped, so that `each` may read the parts it names.
  static bool keyFits(Column column, size_t size) {
    switch (column) {
      case Column::kInodes:
      case Column::kOrphans: return size == 8;
      case Column::kDentries: return size > 8;
      case Column::kCookies: return size == 16;
      case Column::kLeases: return size == 28;
      case Column::kBlobs:
      case Column::kPages:
      case Column::kChunks: return size == 16;
      default: return true;
    }
  }

  // A column that cannot be read to its end (a damaged table block) is a
  // finding; the check goes on with what was read.
  template <typename F>
  Status scan(Column column, F&& each) {
    auto it = source.scan(column);
    ScanEnd& end = scanned[static_cast<int>(column)];
    for (it->seekToFirst(); it->valid(); it->next()) {
      end.lastKey.assign(it->key());
      if (!keyFits(column, it->key().size())) {
        find(std::string(columnName(column)) + ": a key of " + std::to_string(it->key().size()) + " bytes, malformed");
        continue;
      }
      each(it->key(), it->value());
    }
    if (!it->status().ok()) {
      find(std::string(columnName(column)) + ": not readable to the end: " + it->status().message());
      unreadable = true;
      end.whole = false;
    }
    return Status::OK();
  }

  // Whether the scan of `column` read `key`, had it been there.
  bool scanReached(Column column, std::string_view key) const {
    const ScanEnd& end = scanned[static_cast<int>(column)];
    return end.whole || key <= end.lastKey;
  }

  // A record that a reference names and the scan did not return: absent
  // when the scan got past its key; else a point lookup decides (RocksDB
  // reads only the block that holds the key), and fails when that block is
  // damaged too.
  Result<std::optional<std::string>> lookup(Column column, const std::string& key) {
    if (scanReached(column, key)) return std::optional<std::string>();
    return source.get(column, key);
  }

  void loseInode(uint64_t ino) {
    lostInodes.insert(ino);
    unreadable = linksMayBeShort = true;
    countsMayBeShort[kBlob] = countsMayBeShort[kPage] = countsMayBeShort[kChunk] = true;
  }

  // The inode `ino`, from the scan or by lookup(); null when there is none,
  // or it cannot be read (then in lostInodes).
  InodeState* inodeAt(uint64_t ino) {
    if (auto it = inodes.find(ino); it != inodes.end()) return &it->second;
    if (lostInodes.count(ino)) return nullptr;
    const std::string key = keys::ino(ino);
    auto value = lookup(Column::kInodes, key);
    if (!value.ok()) {
      loseInode(ino);
      return nullptr;
    }
    if (*value) visitInode(key, **value);
    auto it = inodes.find(ino);
    return it == inodes.end() ? nullptr : &it->second;
  }

  Status checkTables() {
    Status verified = source.verifyChecksums();
    if (!verified.ok()) {
      find("metadata table files: " + verified.message());
      unreadable = true;
    }
    return Status::OK();
  }

  void visitInode(std::string_view key, std::string_view value) {
    const uint64_t ino = readBigEndian64(key);
    auto inode = InodeRecord::decode(value);
    if (!inode) return find("inode " + std::to_string(ino) + ": undecodable record");
    report.inodes++;
    inodes[ino].inode = std::move(*inode);
  }

  Status checkInodes() {
    return scan(Column::kInodes, [&](std::string_view key, std::string_view value) { visitInode(key, value); });
  }

  void visitEntry(std::string_view key, std::string_view value) {
    const uint64_t dir = readBigEndian64(key);
    const std::string name(key.substr(8));
    const std::string where = "entry '" + name + "' of directory " + std::to_string(dir);
    const std::string dentryKey(key);
    auto entry = DentryRecord::decode(value);
    report.entries++;
    if (!entry) return find(where + ": undecodable record");
    nameOf.try_emplace(entry->ino, dir, name);
    InodeState* parent = inodeAt(dir);
    InodeState* target = inodeAt(entry->ino);
    // An inode that cannot be read is not missing: reportUnreadableFiles names it.
    if (lostInodes.count(dir) || lostInodes.count(entry->ino)) return;
    if (!parent || !parent->inode.isDir() || !target) {
      find(where + ": names " + (!target ? "missing inode " + std::to_string(entry->ino) : "inode " + std::to_string(entry->ino)) +
           (!parent || !parent->inode.isDir() ? " from a missing directory" : ""));
      const uint64_t cookie = entry->cookie;
      fix("removed " + where, [=](Txn& txn) -> Status {
        ACIDFS_RETURN_IF_ERROR(txn.del(Column::kDentries, dentryKey));
        return txn.del(Column::kCookies, keys::cookie(dir, cookie));
      });
      return;
    }
    target->links++;
    if (target->inode.isDir()) parent->subdirs++;
    if ((target->inode.mode & S_IFMT) != entry->type) find(where + ": type differs from its inode's");
  }

  Status checkEntries() {
    ACIDFS_RETURN_IF_ERROR(scan(Column::kDentries, [&](std::string_view key, std::string_view value) { visitEntry(key, value); }));
    // The readdir index: every cookie names an entry that carries it back.
    // Where the entries' scan stopped early, it also names those it did not reach.
    ACIDFS_RETURN_IF_ERROR(scan(Column::kCookies, [&](std::string_view key, std::string_view value) {
      const uint64_t dir = readBigEndian64(key);
      const std::string cookieKey(key), name(value), dentryKey = keys::dentry(dir, name);
      auto entryValue = source.get(Column::kDentries, dentryKey);
      if (!entryValue.ok()) {
        lostEntries.emplace_back(dir, name);
        unreadable = linksMayBeShort = true;
        return;
      }
      if (*entryValue && !scanReached(Column::kDentries, dentryKey)) visitEntry(dentryKey, **entryValue);
      std::optional<DentryRecord> entry;
      if (entryValue.ok() && *entryValue) entry = DentryRecord::decode(**entryValue);
      if (!entry || keys::cookie(dir, entry->cookie) != cookieKey) {
        find("readdir cookie of directory " + std::to_string(dir) + " names '" + name + "', which does not carry it");
        fix("removed a stale readdir cookie of directory " + std::to_string(dir),
            [=](Txn& txn) { return txn.del(Column::kCookies, cookieKey); });
      }
    }));
    // Entries neither scan reached may name inodes: their links are not all found.
    if (!scanned[static_cast<int>(Column::kDentries)].whole && !scanned[static_cast<int>(Column::kCookies)].whole) linksMayBeShort = true;
    return Status::OK();
  }

  Status checkLinksAndReferences() {
    ACIDFS_ASSIGN_OR_RETURN(std::vector<uint64_t> orphanList, orphans());
    for (uint64_t ino : orphanList) inodeAt(ino);  // the inodes' scan may not have reached it
    for (Column c : {Column::kInodes, Column::kLeases, Column::kOrphans, Column::kTrash})
      if (!scanned[static_cast<int>(c)].whole) countsMayBeShort[kBlob] = countsMayBeShort[kPage] = countsMayBeShort[kChunk] = true;
    for (auto& [ino, state] : inodes) {
      const InodeRecord& inode = state.inode;
      const bool orphan = std::find(orphanList.begin(), orphanList.end(), ino) != orphanList.end();
      uint32_t want = inode.isDir() ? 2 + state.subdirs : state.links;
      if (ino == kRootIno) want = 2 + state.subdirs;
      if (!orphan && linksMayBeShort && want < inode.nlink) {
        uncheckedCounts++;
      } else if (!orphan && inode.nlink != want) {
        find("inode " + std::to_string(ino) + ": link count " + std::to_string(inode.nlink) + ", but " +
             std::to_string(want) + " found");
        if (want > 0) {
          InodeRecord fixed = inode;
          fixed.nlink = want;
          const std::string key = keys::ino(ino);  // (a lambda may not capture a structured binding)
          fix("set the link count of inode " + std::to_string(ino) + " to " + std::to_string(want),
              [=](Txn& txn) { return txn.put(Column::kInodes, key, fixed.encode()); });
        }
      }
      if (!orphan && state.links == 0 && ino != kRootIno && !linksMayBeShort) find("inode " + std::to_string(ino) + ": no entry names it");
      if (inode.isRegular() && inode.blob != source.emptyBlobId()) expected[kBlob][inode.blob]++;
    }
    ACIDFS_RETURN_IF_ERROR(scan(Column::kLeases, [&](std::string_view key, std::string_view) {
      leased.push_back(Id128::fromBytes(key.substr(0, 16)));
      expected[kBlob][leased.back()]++;
    }));
    return checkTrash();
  }

  // The trash (core/trash.h): each record holds a reference to the content
  // it keeps, and has its expiry key; each expiry key has its record.
  Status checkTrash() {
    std::set<std::string> records, expiries;
    ACIDFS_RETURN_IF_ERROR(scan(Column::kTrash, [&](std::string_view key, std::string_view value) {
      if (key.starts_with("x")) {
        if (key.size() > 9) expiries.insert(std::string(key.substr(9)));
        else find("trash expiry key " + toHex(key) + ": too short");
        return;
      }
      records.insert(std::string(key));
      auto record = TrashRecord::decode(value);
      if (!record) return find("trash record " + toHex(key) + ": undecodable");
      if (record->blob != Id128()) {
        trashed.push_back(record->blob);
        expected[kBlob][record->blob]++;
      }
    }));
    for (const std::string& key : records)
      if (!expiries.count(key)) find("trash record " + toHex(key) + ": no expiry key, so it would be kept forever");
    for (const std::string& key : expiries)
      if (!records.count(key)) find("trash expiry key for " + toHex(key) + ": no such record");
    return Status::OK();
  }

  // fallocate's reservations (core/reservations.h): the store's total is
  // the sum of the files' reserved windows.
  Status checkReservations() {
    if (!scanned[static_cast<int>(Column::kInodes)].whole) return Status::OK();
    uint64_t sum = 0;
    for (const auto& [ino, state] : inodes) sum += state.inode.reservedWindowCount();
    auto value = source.get(Column::kDefault, kReservedWindowsKey);
    if (!value.ok()) return Status::OK();  // unreadable: the metadata findings say so
    uint64_t recorded = 0;
    bool decodable = true;
    if (*value) {
      Decoder d(**value);
      decodable = d.u64(recorded) && d.done();
    }
    if (decodable && recorded == sum) return Status::OK();
    find(decodable ? "reserved_windows: " + std::to_string(recorded) + " recorded, but the files reserve " + std::to_string(sum)
                   : std::string("reserved_windows: undecodable"));
    fix("set reserved_windows to " + std::to_string(sum),
        [=](Txn& txn) { return txn.put(Column::kDefault, kReservedWindowsKey, Encoder().u64(sum).take()); });
    return Status::OK();
  }

  Result<std::vector<uint64_t>> orphans() {
    std::vector<uint64_t> list;
    ACIDFS_RETURN_IF_ERROR(scan(Column::kOrphans, [&](std::string_view key, std::string_view) { list.push_back(readBigEndian64(key)); }));
    return list;
  }

  // One level of the content tree: each live record's count against the
  // references found, and the references it makes to the next level.
  template <typename Record, typename Children>
  Status checkLevel(RecordKind kind, uint64_t& counter, Children&& children) {
    const char* noun = recordNoun(kind);
    const Column column = columnOf(kind);
    std::unordered_map<Id128, bool, Id128Hash> seen;
    auto visit = [&](std::string_view key, std::string_view value) {
      const Id128 id = Id128::fromBytes(key);
      auto record = Record::decode(value);
      if (!record) return find(std::string(noun) + " " + id.hex() + ": undecodable record");
      if (record->head.tombstone) return;
      // Inconsistent, but what it names is still counted as named: a repair
      // must not free pages or chunks that a corrupt record still lists.
      if (Status valid = source.check(id, *record); !valid.ok()) find(valid.message());
      counter++;
      seen[id] = true;
      if constexpr (std::is_same_v<Record, ChunkRecord>) {
        if (objects) {
          if (Status s = objects->match(id, *record); !s.ok()) {
            find(s.message());
            objectLost[id] = true;
          }
        }
      }
      const uint64_t found = expected[kind].count(id) ? expected[kind][id] : 0;
      // A live record nothing references is garbage even when its count
      // says 0 too (the store frees a record when its count reaches 0).
      if (countsMayBeShort[kind] && found < record->head.refcount) {
        uncheckedCounts++;
      } else if (record->head.refcount != found || found == 0) {
        find(std::string(noun) + " " + id.hex() + ": reference count " + std::to_string(record->head.refcount) +
             (record->head.refcount == found ? " and no references, but not freed" : ", but " + std::to_string(found) + " references found"));
        const std::string k(key);
        if (found == 0 && record->head.collided) {
          // Another content's probe chain runs through this slot: deleting
          // it would end that chain here, hiding the content behind it
          // from deduplication. Empty it instead, as the store does.
          const Record tombstone = tombstoneOf(*record);
          fix(std::string("freed unreferenced ") + noun + " " + id.hex() + ", kept as a tombstone (a probe chain passes through it)",
              [=](Txn& txn) { return txn.put(column, k, tombstone.encode()); });
        } else if (found == 0) {
          fix(std::string("freed unreferenced ") + noun + " " + id.hex(), [=](Txn& txn) { return txn.del(column, k); });
        } else {
          Record fixed = *record;
          fixed.head.refcount = found;
          fix(std::string("set the reference count of ") + noun + " " + id.hex() + " to " + std::to_string(found),
              [=](Txn& txn) { return txn.put(column, k, fixed.encode()); });
        }
      }
      if (found > 0) children(id, *record);
    };
    ACIDFS_RETURN_IF_ERROR(scan(column, visit));
    for (const auto& [id, count] : expected[kind]) {
      if (seen.count(id)) continue;
      const std::string key = keys::id(id);
      auto value = lookup(column, key);
      if (!value.ok()) {
        lost[kind].push_back(id);
        continue;
      }
      if (*value) visit(key, **value);
      if (!seen.count(id)) find(std::to_string(count) + " reference(s) to missing " + noun + " " + id.hex());
    }
    // What the lost records reference is not counted: every level below may be short.
    if (!lost[kind].empty())
      for (RecordKind below : kRecordKinds)
        if (below > kind) countsMayBeShort[below] = true;
    return Status::OK();
  }

  Status checkContent() {
    const uint64_t C = source.chunkSize();
    ACIDFS_RETURN_IF_ERROR(checkLevel<BlobRecord>(kBlob, report.blobs, [&](const Id128& id, const BlobRecord& b) {
      const uint64_t chunks = b.size / C + (b.size % C != 0);
      for (uint64_t p = 0; p < b.pages.size(); ++p) {
        expected[kPage][b.pages[p]]++;
        namedBy[kPage][b.pages[p]].push_back(id);
        const uint64_t want = p * kChunksPerPage < chunks ? std::min<uint64_t>(kChunksPerPage, chunks - p * kChunksPerPage) : 0;
        auto [it, fresh] = pageLength.try_emplace(b.pages[p], want);
        if (!fresh && it->second != want) it->second = kConflicting;
      }
    }));
    ACIDFS_RETURN_IF_ERROR(checkLevel<PageRecord>(kPage, report.pages, [&](const Id128& id, const PageRecord& p) {
      const uint64_t want = pageLength[id];
      if (p.chunks.size() != want)
        find("page " + id.hex() + ": lists " + std::to_string(p.chunks.size()) + " chunks, but " +
             (want == kConflicting ? std::string("the blobs naming it disagree on how many") : "its place in a blob needs " + std::to_string(want)));
      for (const Id128& c : p.chunks) {
        if (c.isZero()) continue;
        expected[kChunk][c]++;
        namedBy[kChunk][c].push_back(id);
      }
    }));
    return checkLevel<ChunkRecord>(kChunk, report.chunks, [&](const Id128& id, const ChunkRecord& c) {
      report.chunkBytes += c.isInline ? c.inlineData.size() : c.length;
      if (!source.check(id, c).ok() || objectLost.count(id)) return;  // found already; its bytes are not read
      Status s = source.verifyChunk(id, c);
      if (!s.ok()) find("chunk " + id.hex() + ": " + s.message());
    });
  }

  // "/a/b" for an inode an entry names ("" for the root), as far as the
  // entries found lead ("<directory N>/b" where they stop).
  std::string pathOf(uint64_t ino) const {
    std::string path;
    for (int depth = 0; ino != kRootIno; ++depth) {
      auto it = nameOf.find(ino);
      if (it == nameOf.end() || depth > 4096) return "<directory " + std::to_string(ino) + ">" + path;
      path = "/" + it->second.second + path;
      ino = it->second.first;
    }
    return path;
  }
  std::string fileNamed(uint64_t ino) const {
    const std::string number = "inode " + std::to_string(ino);
    return nameOf.count(ino) ? "file " + pathOf(ino) + " (" + number + ")" : "unnamed file (" + number + ")";
  }

  // One finding a file (or lease) that lost records leave unreadable,
  // naming them: each lost record is followed back along the references
  // to it (chunk → pages → blobs → inodes and leases).
  void reportUnreadableFiles() {
    std::map<std::string, std::map<std::string, std::set<std::string>>> damage;  // whose → kind of record → which
    PerRecordKind<std::unordered_map<Id128, std::map<std::string, std::set<std::string>>, Id128Hash>> under;
    for (RecordKind kind : {kChunk, kPage, kBlob}) {
      for (const Id128& id : lost[kind]) under[kind][id][recordNoun(kind)].insert(recordNoun(kind) + (" " + id.hex()));
      if (kind == kBlob) break;
      for (const auto& [id, lostBelow] : under[kind]) {
        auto namers = namedBy[kind].find(id);
        if (namers == namedBy[kind].end()) continue;
        for (const Id128& namer : namers->second)
          for (const auto& [noun, which] : lostBelow) under[namingKind(kind)][namer][noun].insert(which.begin(), which.end());
      }
    }
    auto add = [&](const std::string& whose, const std::map<std::string, std::set<std::string>>& lostHere) {
      for (const auto& [noun, which] : lostHere) damage[whose][noun].insert(which.begin(), which.end());
    };
    for (const auto& [ino, state] : inodes)
      if (auto it = under[kBlob].find(state.inode.blob); state.inode.isRegular() && it != under[kBlob].end()) add(fileNamed(ino), it->second);
    for (const Id128& blob : leased)
      if (auto it = under[kBlob].find(blob); it != under[kBlob].end()) add("leased content (blob " + blob.hex() + ")", it->second);
    for (const Id128& blob : trashed)
      if (auto it = under[kBlob].find(blob); it != under[kBlob].end()) add("content in the trash (blob " + blob.hex() + ")", it->second);
    for (uint64_t ino : lostInodes) damage[fileNamed(ino)]["inode"].insert("inode " + std::to_string(ino));
    for (const auto& [dir, name] : lostEntries)
      damage["file " + pathOf(dir) + "/" + name]["directory entry"].insert("entry '" + name + "' of directory " + std::to_string(dir));

    for (const auto& [whose, lostRecords] : damage) {
      std::string kinds, which;
      size_t count = 0;
      for (const auto& [noun, ids] : lostRecords) {
        kinds += (kinds.empty() ? "" : " and ") + noun;
        for (const std::string& id : ids)
          if (++count <= 4) which += (which.empty() ? "" : ", ") + id;
      }
      if (count > 4) which += ", and " + std::to_string(count - 4) + " more";
      find(whose + ": unreadable, its " + kinds + (count > 1 ? " records are" : " record is") + " in damaged metadata (" + which + ")");
    }
    if (uncheckedCounts > 0)
      find(std::to_string(uncheckedCounts) + " counts of links or references higher than found, left unchecked: "
           "what was not found may be in the metadata that cannot be read");
  }

  Status applyFixes() {
    if (unreadable) {
      find("nothing repaired: the metadata could not be read whole, so the references found are not all there are");
      report.repairs.clear();
      return Status::OK();
    }
    constexpr size_t kBatch = 512;
    for (size_t i = 0; i < fixes.size(); i += kBatch) {
      ACIDFS_RETURN_IF_ERROR(store->runner().run([&](Txn& txn) -> Status {
        for (size_t j = i; j < std::min(fixes.size(), i + kBatch); ++j) ACIDFS_RETURN_IF_ERROR(fixes[j](txn));
        return Status::OK();
      }));
    }
    return store->sync();
  }

  Status run() {
    ACIDFS_RETURN_IF_ERROR(checkTables());
    ACIDFS_RETURN_IF_ERROR(checkInodes());
    ACIDFS_RETURN_IF_ERROR(checkEntries());
    ACIDFS_RETURN_IF_ERROR(checkLinksAndReferences());
    ACIDFS_RETURN_IF_ERROR(checkReservations());
    if (RadosChunkStore* rados = source.radosChunks()) {
      ACIDFS_ASSIGN_OR_RETURN(objects, fsck::RadosObjects::list(*rados));
    }
    ACIDFS_RETURN_IF_ERROR(checkContent());
    reportUnreadableFiles();
    if (repair && !fixes.empty()) ACIDFS_RETURN_IF_ERROR(applyFixes());
    // Orphans are deleted on certainty only: every record was read.
    if (objects) objects->finish(report, repair && !unreadable);
    return Status::OK();
  }
};

Result<FsckReport> check(Source& source, Store* store, bool repair) {
  Checker c(source, store, repair && store != nullptr);
  ACIDFS_RETURN_IF_ERROR(c.run());
  return std::move(c.report);
}

}  // namespace

Result<FsckReport> fsckStore(Store& store, bool repair) {
  std::unique_ptr<Source> source = fsck::openStoreSource(store);
  return check(*source, &store, repair);
}

// A database store (SPEC §9): the database is checked as it is, through a
// Store of its own (a session among the daemons'). Its files are the
// server's, whose own checks cover them. Daemons may be serving it: what
// they change during the check can show as findings, so it is meant for
// idle mounts, and --repair for a store no daemon serves.
Result<FsckReport> fsckDatabaseStore(const std::string& uri, const FsckOptions& options) {
  std::string chunks = options.chunks;
  {
    ACIDFS_ASSIGN_OR_RETURN(std::unique_ptr<PgEngine> engine, PgEngine::open({uri, std::chrono::seconds(30)}));
    ACIDFS_ASSIGN_OR_RETURN(std::optional<std::string> version, engine->get(Column::kDefault, "format_version"));
    if (!version) return Status::Error(EINVAL, shownStore(uri) + " holds no acidfs store");
    ACIDFS_ASSIGN_OR_RETURN(std::optional<std::string> chunksAt, engine->get(Column::kDefault, Store::kChunksKey));
    if (options.chunks.empty()) chunks = chunksAt.value_or("db");
  }
  StoreOptions storeOptions;
  storeOptions.chunks = chunks;
  storeOptions.hash = options.hash;
  storeOptions.gcIntervalSeconds = 0;
  storeOptions.commitIntervalSeconds = 0;
  ACIDFS_ASSIGN_OR_RETURN(std::unique_ptr<Store> store, Store::open(uri, storeOptions));
  ACIDFS_ASSIGN_OR_RETURN(FsckReport report, fsckStore(*store, options.repair));
  if (!report.repairs.empty()) {
    ACIDFS_ASSIGN_OR_RETURN(FsckReport again, fsckStore(*store, /*repair=*/false));
    report.afterRepair = std::move(again.findings);
  }
  return report;
}

Result<FsckReport> fsckStore(const std::string& path, const FsckOptions& options) {
  if (isDatabaseStore(path)) return fsckDatabaseStore(path, options);
  ACIDFS_ASSIGN_OR_RETURN(StoreMarker marker, fsck::readMarker(path));
  fsck::OpenFindings opening;
  {
    ACIDFS_ASSIGN_OR_RETURN(fsck::UniqueFd lock, fsck::lockShared(path));
    auto opened = fsck::openMetadata(path, opening);
    if (!opened.ok() && opened.status().errnum() == EUCLEAN) {
      // RocksDB will not open the metadata at all (a damaged MANIFEST or
      // table file): a finding, though it is the only one there can be.
      FsckReport report;
      report.findings.push_back("metadata: cannot be opened, so nothing else was checked (" + opened.status().message() + ")");
      if (options.repair) report.findings.push_back("nothing repaired: the metadata is damaged");
      return report;
    }
    ACIDFS_ASSIGN_OR_RETURN(std::unique_ptr<MetaDbReader> db, std::move(opened));
    // Without --repair, that is all the opening there is. With it, a table
    // file that fails its checksum leaves the store as it is: opening it
    // read-write would build on what cannot be read.
    const bool damaged = options.repair && !db->verifyChecksums().ok();
    if (!options.repair || damaged) {
      std::unique_ptr<Source> files = fsck::storeFilesSource(std::move(db), path + "/segments", marker.chunkSize, options.hash);
      ACIDFS_ASSIGN_OR_RETURN(FsckReport report, check(*files, nullptr, false));
      if (damaged) report.findings.push_back("nothing repaired: a metadata table file is damaged");
      report.findings.insert(report.findings.begin(), opening.findings.begin(), opening.findings.end());
      return report;
    }
  }  // the lock and the read-only database go before Store::open takes them

  StoreOptions storeOptions;
  storeOptions.hash = options.hash;
  storeOptions.gcIntervalSeconds = 0;  // no lease expiry changing counts under the check
  storeOptions.commitIntervalSeconds = 0;
  storeOptions.dropLogAfterDamage = opening.logDamaged;  // reported above
  ACIDFS_ASSIGN_OR_RETURN(std::unique_ptr<Store> store, Store::open(path, storeOptions));
  if (opening.logDamaged) ACIDFS_RETURN_IF_ERROR(fsck::retireLogs(*store));
  ACIDFS_ASSIGN_OR_RETURN(FsckReport report, fsckStore(*store, /*repair=*/true));
  report.findings.insert(report.findings.begin(), opening.findings.begin(), opening.findings.end());
  report.repairs.insert(report.repairs.begin(), opening.resolvedByOpening.begin(), opening.resolvedByOpening.end());
  if (!report.repairs.empty()) {
    ACIDFS_ASSIGN_OR_RETURN(FsckReport again, fsckStore(*store, /*repair=*/false));
    report.afterRepair = std::move(again.findings);
    report.inodes = again.inodes, report.entries = again.entries, report.blobs = again.blobs;
    report.pages = again.pages, report.chunks = again.chunks, report.chunkBytes = again.chunkBytes;
  }
  return report;
}

}  // namespace acidfs
