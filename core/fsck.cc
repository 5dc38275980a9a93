#include "core/fsck.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <unordered_map>
#include <utility>

#include "core/content_store.h"
#include "core/encoding.h"
#include "core/format.h"
#include "core/meta_db.h"
#include "core/records.h"
#include "core/store.h"
#include "core/transaction.h"

namespace acidfs {
namespace {

constexpr int kBlobs = 0, kPages = 1, kChunks = 2;  // as in content_store.cc

// ---- what the checker reads ------------------------------------------------------

// The checker reads a store through this: the open Store (--repair, tests)
// or, for a check that must change nothing, the store's files read-only.
class Source {
 public:
  virtual ~Source() = default;
  virtual std::unique_ptr<rocksdb::Iterator> iterator(Column c) = 0;
  virtual Result<std::optional<std::string>> get(Column c, std::string_view key) = 0;
  virtual const Id128& emptyBlobId() const = 0;
  virtual uint32_t chunkSize() const = 0;
  // What a record alone can be checked for (ContentStore::check).
  virtual Status check(const Id128& id, const BlobRecord& record) const = 0;
  virtual Status check(const Id128& id, const PageRecord& record) const = 0;
  virtual Status check(const Id128& id, const ChunkRecord& record) const = 0;
  // A chunk's bytes against its id (ContentStore::verifyChunk).
  virtual Status verifyChunk(const Id128& id, const ChunkRecord& record) = 0;
  // Every block of the metadata's table files against its checksum.
  virtual Status verifyChecksums() = 0;
};

class OpenStore final : public Source {
 public:
  explicit OpenStore(Store& store) : store_(store) {}
  std::unique_ptr<rocksdb::Iterator> iterator(Column c) override { return store_.db().iterator(c); }
  Result<std::optional<std::string>> get(Column c, std::string_view key) override { return store_.db().get(c, key); }
  const Id128& emptyBlobId() const override { return store_.content().emptyBlobId(); }
  uint32_t chunkSize() const override { return store_.content().chunkSize(); }
  Status check(const Id128& id, const BlobRecord& r) const override { return store_.content().check(id, r); }
  Status check(const Id128& id, const PageRecord& r) const override { return store_.content().check(id, r); }
  Status check(const Id128& id, const ChunkRecord& r) const override { return store_.content().check(id, r); }
  Status verifyChunk(const Id128& id, const ChunkRecord& r) override { return store_.content().verifyChunk(id, r); }
  Status verifyChecksums() override {
    return fromRocks(store_.db().db()->VerifyChecksum(), "verifying table file checksums");
  }

 private:
  Store& store_;
};

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    std::swap(fd_, other.fd_);
    return *this;
  }
  ~UniqueFd() {
    if (fd_ >= 0) close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_ = -1;
};

// The store's files, read-only: the metadata through MetaDbReader, chunk
// bytes by pread of segment files opened O_RDONLY. There is no ContentStore
// here, because there is no SegmentStore: opening one sweeps and starts a new
// segment. The record rules are ContentStore's own (checkRecord).
class StoreFiles final : public Source {
 public:
  StoreFiles(std::unique_ptr<MetaDbReader> db, std::string segmentDir, uint32_t chunkSize, HashFunction hash)
      : db_(std::move(db)), segmentDir_(std::move(segmentDir)), chunkSize_(chunkSize), hash_(std::move(hash)),
        emptyBlobId_(ContentStore::computeEmptyBlobId(hash_)) {}

  std::unique_ptr<rocksdb::Iterator> iterator(Column c) override { return db_->iterator(c); }
  Result<std::optional<std::string>> get(Column c, std::string_view key) override { return db_->get(c, key); }
  const Id128& emptyBlobId() const override { return emptyBlobId_; }
  uint32_t chunkSize() const override { return chunkSize_; }

  Status check(const Id128& id, const BlobRecord& r) const override { return ContentStore::checkRecord(chunkSize_, id, r); }
  Status check(const Id128& id, const PageRecord& r) const override { return ContentStore::checkRecord(chunkSize_, id, r); }
  Status check(const Id128& id, const ChunkRecord& r) const override { return ContentStore::checkRecord(chunkSize_, id, r); }

  Status verifyChunk(const Id128& id, const ChunkRecord& record) override {
    ACIDFS_RETURN_IF_ERROR(check(id, record));
    std::string bytes = record.inlineData;
    if (!record.isInline) {
      ACIDFS_ASSIGN_OR_RETURN(bytes, readExtent(record.segment, record.offset, record.length));
    }
    if (hash_(bytes.data(), bytes.size(), record.head.seed) != id)
      return Status::Error(EIO, "chunk " + id.hex() + " does not match its hash (corrupted on disk)");
    return Status::OK();
  }

  Status verifyChecksums() override { return db_->verifyChecksums(); }

 private:
  // segments/NNNNNNNN.seg (format.h), opened once, read-only; O_NOATIME
  // where the filesystem lets us, so that not even an access time changes.
  Result<std::string> readExtent(uint32_t segment, uint64_t offset, uint32_t length) {
    char name[32];
    snprintf(name, sizeof name, "/%08u.seg", segment);
    const std::string path = segmentDir_ + name;
    auto it = segments_.find(segment);
    if (it == segments_.end()) {
      int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOATIME);
      if (fd < 0 && errno == EPERM) fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0 && errno == ENOENT) return Status::Error(EIO, "segment " + path + " is missing");
      if (fd < 0) return Status::FromErrno("opening " + path);
      it = segments_.emplace(segment, UniqueFd(fd)).first;
    }
    std::string bytes(length, '\0');
    for (size_t done = 0; done < length;) {
      ssize_t n = pread(it->second.get(), bytes.data() + done, length - done, static_cast<off_t>(offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Status::FromErrno("reading segment " + path);
      if (n == 0) return Status::Error(EIO, "segment " + path + " is truncated");
      done += static_cast<size_t>(n);
    }
    return bytes;
  }

  std::unique_ptr<MetaDbReader> db_;
  const std::string segmentDir_;
  const uint32_t chunkSize_;
  const HashFunction hash_;
  const Id128 emptyBlobId_;
  std::map<uint32_t, UniqueFd> segments_;
};

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
  Source& source;
  Store* store;  // for repairs; null when reading the files read-only
  bool repair;
  FsckReport report;
  std::map<uint64_t, InodeState> inodes;
  std::unordered_map<Id128, uint64_t, Id128Hash> expected[3];  // kBlobs, kPages, kChunks: references found
  // Chunks each page must list for its place in the blobs naming it
  // (kConflicting when two blobs disagree: one of them is wrong).
  std::unordered_map<Id128, uint64_t, Id128Hash> pageLength;
  static constexpr uint64_t kConflicting = UINT64_MAX;
  std::vector<std::function<Status(Txn&)>> fixes;               // applied together when repairing
  // Some metadata could not be read: the references found are incomplete,
  // so no count may be set from them.
  bool unreadable = false;

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
    auto it = source.iterator(column);
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      if (!keyFits(column, it->key().size())) {
        find(std::string(columnName(column)) + ": a key of " + std::to_string(it->key().size()) + " bytes, malformed");
        continue;
      }
      each(std::string_view(it->key().data(), it->key().size()), std::string_view(it->value().data(), it->value().size()));
    }
    if (!it->status().ok()) {
      find(std::string(columnName(column)) + ": not readable to the end: " + it->status().ToString());
      unreadable = true;
    }
    return Status::OK();
  }

  Status checkTables() {
    Status verified = source.verifyChecksums();
    if (!verified.ok()) {
      find("metadata table files: " + verified.message());
      unreadable = true;
    }
    return Status::OK();
  }

  Status checkInodes() {
    return scan(Column::kInodes, [&](std::string_view key, std::string_view value) {
      const uint64_t ino = readBigEndian64(key);
      auto inode = InodeRecord::decode(value);
      if (!inode) return find("inode " + std::to_string(ino) + ": undecodable record");
      report.inodes++;
      inodes[ino].inode = std::move(*inode);
    });
  }

  Status checkEntries() {
    ACIDFS_RETURN_IF_ERROR(scan(Column::kDentries, [&](std::string_view key, std::string_view value) {
      const uint64_t dir = readBigEndian64(key);
      const std::string name(key.substr(8));
      const std::string where = "entry '" + name + "' of directory " + std::to_string(dir);
      const std::string dentryKey(key);
      auto entry = DentryRecord::decode(value);
      report.entries++;
      if (!entry) return find(where + ": undecodable record");
      auto parent = inodes.find(dir);
      auto target = inodes.find(entry->ino);
      if (parent == inodes.end() || !parent->second.inode.isDir() || target == inodes.end()) {
        find(where + ": names " + (target == inodes.end() ? "missing inode " + std::to_string(entry->ino) : "inode " + std::to_string(entry->ino)) +
             (parent == inodes.end() || !parent->second.inode.isDir() ? " from a missing directory" : ""));
        const uint64_t cookie = entry->cookie;
        fix("removed " + where, [=](Txn& txn) -> Status {
          ACIDFS_RETURN_IF_ERROR(txn.del(Column::kDentries, dentryKey));
          return txn.del(Column::kCookies, keys::cookie(dir, cookie));
        });
        return;
      }
      target->second.links++;
      if (target->second.inode.isDir()) parent->second.subdirs++;
      if ((target->second.inode.mode & S_IFMT) != entry->type) find(where + ": type differs from its inode's");
    }));
    // The readdir index: every cookie names an entry that carries it back.
    return scan(Column::kCookies, [&](std::string_view key, std::string_view value) {
      const uint64_t dir = readBigEndian64(key);
      const std::string cookieKey(key), name(value);
      auto entryValue = source.get(Column::kDentries, keys::dentry(dir, name));
      std::optional<DentryRecord> entry;
      if (entryValue.ok() && *entryValue) entry = DentryRecord::decode(**entryValue);
      if (!entry || keys::cookie(dir, entry->cookie) != cookieKey) {
        find("readdir cookie of directory " + std::to_string(dir) + " names '" + name + "', which does not carry it");
        fix("removed a stale readdir cookie of directory " + std::to_string(dir),
            [=](Txn& txn) { return txn.del(Column::kCookies, cookieKey); });
      }
    });
  }

  Status checkLinksAndReferences() {
    ACIDFS_ASSIGN_OR_RETURN(std::vector<uint64_t> orphanList, orphans());
    for (auto& [ino, state] : inodes) {
      const InodeRecord& inode = state.inode;
      const bool orphan = std::find(orphanList.begin(), orphanList.end(), ino) != orphanList.end();
      uint32_t want = inode.isDir() ? 2 + state.subdirs : state.links;
      if (ino == kRootIno) want = 2 + state.subdirs;
      if (!orphan && inode.nlink != want) {
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
      if (!orphan && state.links == 0 && ino != kRootIno) find("inode " + std::to_string(ino) + ": no entry names it");
      if (inode.isRegular() && inode.blob != source.emptyBlobId()) expected[kBlobs][inode.blob]++;
    }
    return scan(Column::kLeases, [&](std::string_view key, std::string_view) {
      expected[kBlobs][Id128::fromBytes(key.substr(0, 16))]++;
    });
  }

  Result<std::vector<uint64_t>> orphans() {
    std::vector<uint64_t> list;
    ACIDFS_RETURN_IF_ERROR(scan(Column::kOrphans, [&](std::string_view key, std::string_view) { list.push_back(readBigEndian64(key)); }));
    return list;
  }

  // One level of the content tree: each live record's count against the
  // references found, and the references it makes to the next level.
  template <typename Record, typename Children>
  Status checkLevel(int kind, Column column, const char* noun, uint64_t& counter, Children&& children) {
    std::unordered_map<Id128, bool, Id128Hash> seen;
    ACIDFS_RETURN_IF_ERROR(scan(column, [&](std::string_view key, std::string_view value) {
      const Id128 id = Id128::fromBytes(key);
      auto record = Record::decode(value);
      if (!record) return find(std::string(noun) + " " + id.hex() + ": undecodable record");
      if (record->head.tombstone) return;
      // Inconsistent, but what it names is still counted as named: a repair
      // must not free pages or chunks that a corrupt record still lists.
      if (Status valid = source.check(id, *record); !valid.ok()) find(valid.message());
      counter++;
      seen[id] = true;
      const uint64_t found = expected[kind].count(id) ? expected[kind][id] : 0;
      // A live record nothing references is garbage even when its count
      // says 0 too (the store frees a record when its count reaches 0).
      if (record->head.refcount != found || found == 0) {
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
    }));
    for (const auto& [id, count] : expected[kind])
      if (!seen.count(id)) find(std::to_string(count) + " reference(s) to missing " + noun + " " + id.hex());
    return Status::OK();
  }

  Status checkContent() {
    const uint64_t C = source.chunkSize();
    ACIDFS_RETURN_IF_ERROR(checkLevel<BlobRecord>(kBlobs, Column::kBlobs, "blob", report.blobs, [&](const Id128&, const BlobRecord& b) {
      const uint64_t chunks = b.size / C + (b.size % C != 0);
      for (uint64_t p = 0; p < b.pages.size(); ++p) {
        expected[kPages][b.pages[p]]++;
        const uint64_t want = p * kChunksPerPage < chunks ? std::min<uint64_t>(kChunksPerPage, chunks - p * kChunksPerPage) : 0;
        auto [it, fresh] = pageLength.try_emplace(b.pages[p], want);
        if (!fresh && it->second != want) it->second = kConflicting;
      }
    }));
    ACIDFS_RETURN_IF_ERROR(checkLevel<PageRecord>(kPages, Column::kPages, "page", report.pages, [&](const Id128& id, const PageRecord& p) {
      const uint64_t want = pageLength[id];
      if (p.chunks.size() != want)
        find("page " + id.hex() + ": lists " + std::to_string(p.chunks.size()) + " chunks, but " +
             (want == kConflicting ? std::string("the blobs naming it disagree on how many") : "its place in a blob needs " + std::to_string(want)));
      for (const Id128& c : p.chunks)
        if (!c.isZero()) expected[kChunks][c]++;
    }));
    return checkLevel<ChunkRecord>(kChunks, Column::kChunks, "chunk", report.chunks, [&](const Id128& id, const ChunkRecord& c) {
      report.chunkBytes += c.isInline ? c.inlineData.size() : c.length;
      if (!source.check(id, c).ok()) return;  // found already; its bytes are not read
      Status s = source.verifyChunk(id, c);
      if (!s.ok()) find("chunk " + id.hex() + ": " + s.message());
    });
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
    ACIDFS_RETURN_IF_ERROR(checkContent());
    if (repair && !fixes.empty()) ACIDFS_RETURN_IF_ERROR(applyFixes());
    return Status::OK();
  }
};

Result<FsckReport> check(Source& source, Store* store, bool repair) {
  Checker c{source, store, repair && store != nullptr, {}, {}, {}, {}, {}, {}};
  ACIDFS_RETURN_IF_ERROR(c.run());
  return std::move(c.report);
}

// ---- the store's directory --------------------------------------------------------

// The marker (format.h: "acidfs store\nformat N\nchunk_size N\n"), read as
// Store::open reads it: a directory without one is not a store.
Result<StoreMarker> readMarker(const std::string& path) {
  std::optional<StoreMarker> marker = readStoreMarker(path);
  if (!marker) return Status::Error(EINVAL, "not an acidfs store");
  const StoreMarker& m = *marker;
  if (m.format != kFormatVersion)
    return Status::Error(EPROTO, "store format " + std::to_string(m.format) + ", this acidfs knows format " +
                                     std::to_string(kFormatVersion));
  if (m.chunkSize < 4096 || m.chunkSize > (16u << 20) || (m.chunkSize & (m.chunkSize - 1)))
    return Status::Error(EPROTO, "an invalid chunk size");
  return m;
}

// The store's LOCK, flocked shared while its files are read: a daemon holds
// it exclusively (Store::open), so one running makes this EBUSY and none
// can start meanwhile. Opened read-only: the pid in it stays as it is. A
// store without a LOCK was never opened since it lost it: nothing to hold.
Result<UniqueFd> lockShared(const std::string& path) {
  const std::string lockPath = path + "/LOCK";
  UniqueFd fd(::open(lockPath.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return errno == ENOENT ? Result<UniqueFd>(UniqueFd()) : Status::FromErrno("opening " + lockPath);
  if (flock(fd.get(), LOCK_SH | LOCK_NB) != 0) {
    char owner[32] = {0};
    ssize_t n = pread(fd.get(), owner, sizeof owner - 1, 0);
    std::string who = n > 0 ? std::string(owner, static_cast<size_t>(n)) : std::string("?");
    while (!who.empty() && (who.back() == '\n' || who.back() == ' ')) who.pop_back();
    return Status::Error(EBUSY, "in use by another process (pid " + who + ")");
  }
  return fd;
}

// What the read-only open finds that only the store's own (read-write)
// open resolves: a log that does not replay whole (replayed up to the
// damage, the rest dropped) or a format cut short (finished).
struct OpenFindings {
  std::vector<std::string> findings;
  std::vector<std::string> resolvedByOpening;  // what the store's open does about each
  bool logDamaged = false;
};

// Opens the metadata read-only. RocksDB tells whether the write-ahead log
// replays whole only by refusing it under a stricter recovery mode: a log
// refused only for its last record was cut short by a crash mid-write (that
// transaction never returned); one refused before that lost transactions
// that did. Either way the store's own open replays up to the damage, and
// so does this one then; the damage is a finding.
Result<std::unique_ptr<MetaDbReader>> openMetadata(const std::string& path, OpenFindings& found) {
  using WalRecovery = MetaDbReader::WalRecovery;
  const std::string dir = path + "/db";
  auto db = MetaDbReader::open(dir, WalRecovery::kStrict);
  if (!db.ok()) {
    const Status strict = db.status();
    db = MetaDbReader::open(dir, WalRecovery::kTornTail);
    if (db.ok()) {
      found.findings.push_back("write-ahead log: its last record is cut short (" + strict.message() +
                               "), as a crash in the middle of a write leaves it; opening the store drops that unfinished transaction");
    } else {
      const Status beforeTheEnd = db.status();
      db = MetaDbReader::open(dir, WalRecovery::kPointInTime);
      if (!db.ok()) return db.status();  // damaged beyond the log: the caller reports it
      found.findings.push_back("write-ahead log: damaged before its end (" + beforeTheEnd.message() +
                               "); opening the store keeps the transactions before the damage and drops the rest, committed ones too");
    }
    found.logDamaged = true;
    found.resolvedByOpening.push_back("replayed the write-ahead log up to its damage and dropped the rest");
  }
  ACIDFS_ASSIGN_OR_RETURN(std::optional<std::string> version, (*db)->get(Column::kDefault, "format_version"));
  if (version && *version != std::to_string(kFormatVersion))
    return Status::Error(EPROTO, "metadata of format " + *version + ", this acidfs knows format " + std::to_string(kFormatVersion));
  if (!version) {
    found.findings.push_back("metadata: no format_version, the store's formatting was cut short");
    found.resolvedByOpening.push_back("finished the store's formatting");
  }
  return db;
}

// Opening the store replayed a damaged log up to the damage; but RocksDB
// (under TransactionDB's two-phase commit) deletes a log only once a flush
// has recorded that nothing needs it, which the flush of replayed data does
// not, so the damaged log would stay and be replayed — and its damage
// reported — at every open. A write and a flush of every column family
// record it (MetaDb's destructor flushes for the same reason).
Status retireLogs(Store& store) {
  ACIDFS_RETURN_IF_ERROR(store.db().put(Column::kDefault, "format_version", std::to_string(kFormatVersion), /*sync=*/true));
  std::vector<rocksdb::ColumnFamilyHandle*> all;
  for (int i = 0; i < kColumnCount; ++i) all.push_back(store.db().cf(static_cast<Column>(i)));
  return fromRocks(store.db().db()->Flush(rocksdb::FlushOptions(), all), "flushing metadata");
}

}  // namespace

Result<FsckReport> fsckStore(Store& store, bool repair) {
  OpenStore source(store);
  return check(source, &store, repair);
}

Result<FsckReport> fsckStore(const std::string& path, const FsckOptions& options) {
  ACIDFS_ASSIGN_OR_RETURN(StoreMarker marker, readMarker(path));
  OpenFindings opening;
  {
    ACIDFS_ASSIGN_OR_RETURN(UniqueFd lock, lockShared(path));
    auto opened = openMetadata(path, opening);
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
      StoreFiles files(std::move(db), path + "/segments", marker.chunkSize, options.hash);
      ACIDFS_ASSIGN_OR_RETURN(FsckReport report, check(files, nullptr, false));
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
  if (opening.logDamaged) ACIDFS_RETURN_IF_ERROR(retireLogs(*store));
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
