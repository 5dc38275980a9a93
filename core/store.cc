#include "core/store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/content_store.h"
#include "core/format.h"
#include "core/hex.h"
#include "core/leases.h"
#include "core/log.h"
#include "core/meta_db.h"
#include "core/pg_engine.h"
#include "core/sessions.h"
#include "core/store_location.h"
#include "core/encoding.h"
#include "core/rados_chunk_store.h"
#include "core/random_bytes.h"
#include "core/segment_store.h"
#include "core/reservations.h"
#include "core/space_guard.h"
#include "core/transaction.h"
#include "core/history.h"
#include "core/trash.h"
#include "core/tree.h"

namespace acidfs {

namespace {
// Formatting a store, in this order, each step durable before the next:
//   1. LOCK is created and flocked (its content: our pid);
//   2. the marker is written as ACIDFS.tmp, fsynced, renamed to ACIDFS, and
//      the store directory fsynced;
//   3. db/ and segments/ are created and the store directory fsynced again;
//   4. the root directory and "format_version" commit, and the log is synced.
// A crash before step 2 is complete leaves only LOCK and perhaps a partial
// ACIDFS.tmp: such a directory counts as empty and is formatted afresh. A
// crash after it leaves a marker and metadata without "format_version":
// open() finishes the format. Anything else in a directory without a marker
// is not ours, and is refused (SPEC §1).
const char kMarkerName[] = "ACIDFS";
const char kMarkerTempName[] = "ACIDFS.tmp";
const char kMarkerHeader[] = "acidfs store\n";

std::string contentOf(const std::string& path, size_t limit) {
  std::ifstream in(path, std::ios::binary);
  std::string out(limit, '\0');
  in.read(out.data(), static_cast<std::streamsize>(limit));
  out.resize(static_cast<size_t>(in.gcount()));
  return out;
}

// What a crash in steps 1–2 of a format can leave behind: LOCK holding
// nothing or a pid, and ACIDFS.tmp holding a prefix of a marker.
bool isFormatLeftover(const std::string& dir, const std::string& name) {
  if (name == "LOCK") {
    const std::string pid = contentOf(dir + "/" + name, 32);
    const size_t digits = pid.find_first_not_of("0123456789");
    return digits == std::string::npos || (digits > 0 && pid.substr(digits) == "\n");
  }
  if (name == kMarkerTempName) {
    const std::string header(kMarkerHeader);
    const std::string start = contentOf(dir + "/" + name, header.size());
    return header.compare(0, start.size(), start) == 0;
  }
  return false;
}

// Whether `dir` holds nothing but what a crash early in a format leaves.
Result<bool> isEmptyStore(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (!d) return Status::FromErrno("reading store " + dir);
  bool empty = true;
  while (dirent* e = readdir(d))
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 && !isFormatLeftover(dir, e->d_name))
      empty = false;
  closedir(d);
  return empty;
}



// Step 2 of a format: the marker appears whole, under its name, durably.
Status writeMarker(SegmentFiles& files, const std::string& dir, const StoreMarker& m) {
  std::string tmp = dir + "/" + kMarkerTempName;
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << kMarkerHeader << "format " << m.format << "\nchunk_size " << m.chunkSize << "\n";
    out.flush();
    if (!out) return Status::Error(EIO, "writing " + tmp);
  }
  int fd = ::open(tmp.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno("opening " + tmp);
  const bool synced = fsync(fd) == 0;
  Status notSynced = synced ? Status::OK() : Status::FromErrno("fsync " + tmp);
  close(fd);
  ACIDFS_RETURN_IF_ERROR(notSynced);
  if (rename(tmp.c_str(), (dir + "/" + kMarkerName).c_str()) != 0) return Status::FromErrno("renaming " + tmp);
  return files.syncDirectory(dir);
}

// What STORE is: a store (its marker), empty (nullopt), or refused.
Result<std::optional<StoreMarker>> inspect(const std::string& path) {
  std::optional<StoreMarker> marker = readStoreMarker(path);
  if (!marker) {
    ACIDFS_ASSIGN_OR_RETURN(bool empty, isEmptyStore(path));
    if (!empty) return Status::Error(EINVAL, path + " is not empty and not an acidfs store; refusing to touch it");
    return marker;
  }
  if (marker->format != kFormatVersion)
    return Status::Error(EPROTO, path + " has store format " + std::to_string(marker->format) +
                                     ", this acidfs knows format " + std::to_string(kFormatVersion));
  return marker;
}

uint64_t diskUsageOf(const std::string& path) {
  uint64_t total = 0;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(path, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    struct stat st;
    if (lstat(it->path().c_str(), &st) == 0 && S_ISREG(st.st_mode)) total += static_cast<uint64_t>(st.st_blocks) * 512;
  }
  return total;
}
}  // namespace

std::optional<StoreMarker> readStoreMarker(const std::string& storePath) {
  std::ifstream in(storePath + "/" + kMarkerName);
  if (!in) return std::nullopt;
  std::string line, key;
  std::getline(in, line);
  if (line != "acidfs store") return std::nullopt;
  StoreMarker m;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    uint64_t value = 0;
    if (!(fields >> key >> value)) continue;
    // A value too wide for its field reads as 0, which open() refuses,
    // rather than as its low bits.
    const uint32_t field = value <= UINT32_MAX ? static_cast<uint32_t>(value) : 0;
    if (key == "format") m.format = field;
    if (key == "chunk_size") m.chunkSize = field;
  }
  return m;
}

Result<std::unique_ptr<Store>> Store::open(const std::string& path, StoreOptions options) {
  if (!isValidChunkSize(options.chunkSize))
    return Status::Error(EINVAL, "chunk size must be a power of two between 4 KiB and 16 MiB");
  if (isDatabaseStore(path)) return openDatabase(path, std::move(options));
  if (mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) return Status::FromErrno("creating store " + path);
  // Refuse before touching anything (no LOCK is created in a foreign directory).
  ACIDFS_ASSIGN_OR_RETURN(std::optional<StoreMarker> marker, inspect(path));

  std::unique_ptr<Store> store(new Store());
  store->path_ = path;
  if (!options.segmentFiles) options.segmentFiles = posixSegmentFiles();
  if (!options.clock) options.clock = std::shared_ptr<const Clock>(&Clock::real(), [](const Clock*) {});
  store->options_ = options;
  // One process per store: an exclusive flock held while open, released by
  // the kernel however the process ends.
  store->lockFd_ = ::open((path + "/LOCK").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (store->lockFd_ < 0) return Status::FromErrno("opening " + path + "/LOCK");
  if (flock(store->lockFd_, LOCK_EX | LOCK_NB) != 0)
    return Status::Error(EBUSY, "store " + path + " is in use by another process (" +
                                    readLockHolder(store->lockFd_).describe() + ")");
  store->writeLock("");

  // Again under the lock: another process may have formatted it meanwhile.
  ACIDFS_ASSIGN_OR_RETURN(marker, inspect(path));
  if (!marker) {  // a new store: the marker comes first, so a half-formatted store is still recognised
    marker = StoreMarker{kFormatVersion, options.chunkSize};
    ACIDFS_RETURN_IF_ERROR(writeMarker(*options.segmentFiles, path, *marker));
  }
  if (!isValidChunkSize(marker->chunkSize))
    return Status::Error(EPROTO, path + " has an invalid chunk size");

  ACIDFS_ASSIGN_OR_RETURN(std::unique_ptr<MetaDb> rocks,
                          MetaDb::open(path + "/db", options.metadataFileSystem, options.dropLogAfterDamage));
  store->rocks_ = rocks.get();
  store->db_ = std::move(rocks);
  ACIDFS_ASSIGN_OR_RETURN(std::optional<std::string> version, store->db_->get(Column::kDefault, "format_version"));
  if (version && *version != std::to_string(kFormatVersion))
    return Status::Error(EPROTO, "metadata of " + path + " has format " + *version);

  // The sweep in SegmentStore::open frees the bytes the metadata does not
  // name. After a kill -9, the log replay may have brought back commits
  // whose log records were never synced: make them durable first, or a power
  // cut now could bring back records naming swept bytes.
  ACIDFS_RETURN_IF_ERROR(store->db_->flush());
  ACIDFS_ASSIGN_OR_RETURN(ContentStore::LiveExtents live, ContentStore::liveExtents(*store->db_));
  ACIDFS_ASSIGN_OR_RETURN(store->segments_,
                          SegmentStore::open(path + "/segments", live.extents, live.complete, options.segmentFiles));
  MetaDb* db = store->rocks_;
  store->space_ = std::make_unique<SpaceGuard>(
      path, [db] { return db->unflushedBytes(); }, [s = store.get()] { return s->makeRoom(); },
      [s = store.get()] { return s->reservations_ ? s->reservations_->totalBytes() : 0; });
  ACIDFS_RETURN_IF_ERROR(store->assemble(marker->chunkSize, std::min(options.inlineMax, marker->chunkSize)));

  if (!version) {  // format: the root directory, then the version that says it is done
    // db/ and segments/ may be new: their names are durable before any record is.
    ACIDFS_RETURN_IF_ERROR(options.segmentFiles->syncDirectory(path));
    ACIDFS_RETURN_IF_ERROR(store->format({}).status());
    ACIDFS_LOG(kInfo, "formatted a new store at %s (chunk size %u)", path.c_str(), marker->chunkSize);
  }
  // Files unlinked while open when the last process stopped are garbage now.
  ACIDFS_RETURN_IF_ERROR(store->ns_->releaseAllOrphans());
  store->background_ = std::thread([s = store.get()] { s->backgroundLoop(); });
  return store;
}

// A database store (SPEC §9): PostgreSQL holds the metadata and, with
// chunks=db, every chunk inline in its record. No LOCK (any number of
// daemons share it), no segments, no space guard (the server's disk is not
// ours to see); a session per daemon for its orphans (core/sessions.h).
Result<std::unique_ptr<Store>> Store::openDatabase(const std::string& uri, StoreOptions options) {
  std::optional<RadosChunkStoreOptions> rados;
  if (options.chunks.starts_with("rados:")) {
    ACIDFS_ASSIGN_OR_RETURN(rados, parseRadosChunks(options.chunks));
  } else if (options.chunks != "db") {
    return Status::Error(EINVAL, "chunks must be db or rados:POOL[,conf=FILE][,id=NAME]");
  }
  const std::string chunksAt = rados ? "rados:" + rados->pool : "db";
  std::unique_ptr<Store> store(new Store());
  store->path_ = shownStore(uri);
  if (!options.clock) options.clock = std::shared_ptr<const Clock>(&Clock::real(), [](const Clock*) {});
  store->options_ = options;
  ACIDFS_ASSIGN_OR_RETURN(store->db_, PgEngine::open({uri, options.dbTimeout, options.coherence / 2}));
  ACIDFS_ASSIGN_OR_RETURN(std::optional<std::string> version, store->db_->get(Column::kDefault, "format_version"));
  if (version && *version != std::to_string(kFormatVersion))
    return Status::Error(EPROTO, "the database store " + store->path_ + " has format " + *version +
                                     ", this acidfs knows format " + std::to_string(kFormatVersion));
  ACIDFS_ASSIGN_OR_RETURN(std::optional<std::string> chunkText, store->db_->get(Column::kDefault, kChunkSizeKey));
  uint32_t chunkSize = options.chunkSize;
  if (chunkText) {
    const unsigned long stored = strtoul(chunkText->c_str(), nullptr, 10);
    if (!isValidChunkSize(stored))
      return Status::Error(EPROTO, "the database store " + store->path_ + " has an invalid chunk size");
    chunkSize = static_cast<uint32_t>(stored);
  }
  ACIDFS_ASSIGN_OR_RETURN(std::optional<std::string> storedChunksAt, store->db_->get(Column::kDefault, kChunksKey));
  const std::string kept = storedChunksAt.value_or("db");
  if (version && kept != chunksAt)
    return Status::Error(EINVAL, "the database store " + store->path_ + " keeps its chunks in " + kept +
                                     ": mount it with chunks=" + kept + " (asked for " + chunksAt + ")");
  if (rados) {
    ACIDFS_ASSIGN_OR_RETURN(std::optional<std::string> storedNamespace,
                            store->db_->get(Column::kDefault, kRadosNamespaceKey));
    // A new store's own; a store formatted before namespaces keeps the
    // pool's default one.
    rados->nspace = version ? storedNamespace.value_or("") : "acidfs-" + toHex(randomBytes(8));
    ACIDFS_ASSIGN_OR_RETURN(store->rados_, RadosChunkStore::open(*rados));
  }
  // With RADOS, small chunks stay inline in their records as in a directory
  // store; without a chunk store, all do.
  ACIDFS_RETURN_IF_ERROR(store->assemble(chunkSize, rados ? std::min(options.inlineMax, chunkSize) : chunkSize));
  if (!version) {
    std::vector<std::pair<std::string, std::string>> settings = {{kChunkSizeKey, std::to_string(chunkSize)},
                                                                 {kChunksKey, chunksAt}};
    if (rados) settings.emplace_back(kRadosNamespaceKey, rados->nspace);
    ACIDFS_ASSIGN_OR_RETURN(bool formatted, store->format(settings));
    if (formatted) {
      ACIDFS_LOG(kInfo, "formatted a new store in %s (chunk size %u)", store->path_.c_str(), chunkSize);
    } else {
      // Another daemon formatted it first, perhaps with another chunk size.
      store.reset();
      return openDatabase(uri, std::move(options));
    }
  }
  store->sessions_ = std::make_unique<Sessions>(*store->db_, *store->runner_, *store->ns_,
                                                std::chrono::seconds(options.sessionTimeoutSeconds));
  ACIDFS_ASSIGN_OR_RETURN(std::string tag, store->sessions_->start());
  store->tree_->setOrphanTag(tag);
  store->background_ = std::thread([s = store.get()] { s->backgroundLoop(); });
  return store;
}

ChunkStore* Store::chunkStore() const {
  if (segments_) return segments_.get();
  return rados_.get();
}

Status Store::assemble(uint32_t chunkSize, uint32_t inlineMax) {
  ContentOptions contentOptions{chunkSize, inlineMax, options_.hash};
  content_ = std::make_unique<ContentStore>(*db_, chunkStore(), contentOptions);
  ContentStore* content = content_.get();
  ACIDFS_ASSIGN_OR_RETURN(reservations_, Reservations::open(*db_, *content_, space_.get()));
  runner_ = std::make_unique<TransactionRunner>(
      *db_, chunkStore(), space_.get(), [content](Txn& txn) { return content->applyRefDeltas(txn); },
      options_.durability == Durability::kSync);
  const Clock& clock = *options_.clock;
  trash_ = std::make_unique<Trash>(*content_, *db_, clock);
  trash_->setKeepSeconds(options_.trashSeconds);
  history_ = std::make_unique<History>(*trash_, *db_);
  tree_ = std::make_unique<Tree>(*content_, *reservations_, *db_, clock);
  tree_->setTrash(trash_.get());
  feed_ = std::make_unique<Feed>(*db_, clock, options_.feedSeconds * 1'000'000'000);
  tree_->setFeed(options_.feedSeconds > 0, [feed = feed_.get()] { feed->committed(); });
  ns_ = std::make_unique<Namespace>(*runner_, *tree_, *content_, *db_);
  leases_ = std::make_unique<Leases>(*runner_, *content_, clock, options_.leaseTtlSeconds * 1000000000);
  txnIds_ = std::make_unique<TxnIds>(clock);
  cas_ = std::make_unique<CasOps>(*runner_, *ns_, *tree_, *content_, *leases_, *txnIds_);
  expiries_ = std::make_unique<Expiries>(*runner_, *db_, *tree_, *ns_);
  return Status::OK();
}

Result<bool> Store::format(const std::vector<std::pair<std::string, std::string>>& settings) {
  bool formatted = false;
  ACIDFS_RETURN_IF_ERROR(runner_->run([&](Txn& txn) -> Status {
    // Another daemon of a database store may be formatting it too: the
    // first commit wins, the other finds the version and leaves it.
    ACIDFS_ASSIGN_OR_RETURN(std::optional<std::string> version,
                            txn.read(Column::kDefault, "format_version", Txn::Lock::kExclusive));
    formatted = !version;
    if (version) return Status::OK();
    InodeRecord root;
    root.mode = S_IFDIR | 0755;
    root.nlink = 2;
    root.parent = kRootIno;
    root.atimeNs = root.mtimeNs = root.ctimeNs = options_.clock->nowNs();
    ACIDFS_RETURN_IF_ERROR(tree_->storeInode(txn, kRootIno, root));
    for (const auto& [key, value] : settings) ACIDFS_RETURN_IF_ERROR(txn.put(Column::kDefault, key, value));
    return txn.put(Column::kDefault, "format_version", std::to_string(kFormatVersion));
  }));
  ACIDFS_RETURN_IF_ERROR(runner_->syncCommitted());
  return formatted;
}

Store::~Store() {
  if (background_.joinable()) {
    {
      MutexLock lock(backgroundMutex_);
      stopping_ = true;
    }
    backgroundWake_.notify_all();
    background_.join();
  }
  if (sessions_) {
    Status s = sessions_->end();
    if (!s.ok()) ACIDFS_LOG(kError, "ending this daemon's session: %s", s.toString().c_str());
  }
  if (db_ && runner_) {  // an open that failed part-way has no runner yet: nothing was committed
    Status s = sync();
    if (!s.ok()) ACIDFS_LOG(kError, "final sync failed: %s", s.toString().c_str());
  }
  if (db_) db_->watchOthers(nullptr);
  sessions_.reset();
  cas_.reset();
  leases_.reset();
  ns_.reset();
  tree_.reset();
  runner_.reset();
  reservations_.reset();
  content_.reset();
  segments_.reset();
  rados_.reset();
  db_.reset();
  if (lockFd_ >= 0) close(lockFd_);
}

void Store::watchOthers(std::function<void(const OthersChange&)> changed) {
  if (!changed) return db_->watchOthers(nullptr);
  db_->watchOthers([changed = std::move(changed)](const acidfs::OthersChange& change) {
    OthersChange ours;
    ours.everything = change.everything;
    if (change.everything) return changed(ours);
    if (change.key.size() < 8) return;
    ours.ino = readBigEndian64(change.key);
    if (change.column == Column::kDentries) ours.name = change.key.substr(8);
    changed(ours);
  });
}

Status Store::makeRoom() {
  // The trash may hold what the user deleted to make room: the background
  // thread evicts it (not here, inside the transaction that asked).
  if (!spacePressure_.exchange(true)) backgroundWake_.notify_one();
  // Space freed by commits returns once they are durable (TransactionRunner).
  Status synced = runner_->syncCommitted();
  if (ChunkStore* chunks = chunkStore()) chunks->drainReleases();
  // The log holds records uncompressed, and goes once they are in tables.
  if (db_->unflushedBytes() >= kMinFlushBytes) ACIDFS_RETURN_IF_ERROR(db_->flush());
  return synced;
}

void Store::sweepRados() {
  // Kept unless its record is found and names another place: an object is
  // deleted on certainty only.
  auto named = [this](const Id128& id, const Extent& place) {
    auto value = db_->get(Column::kChunks, keys::id(id));
    if (!value.ok()) return true;
    if (!*value) return false;
    auto record = ChunkRecord::decode(**value);
    if (!record) return true;
    return !record->head.tombstone && !record->isInline && record->segment == place.segment &&
           record->offset == place.offset;
  };
  auto deleted = rados_->sweep(named);
  if (!deleted.ok())
    ACIDFS_LOG(kWarning, "sweeping RADOS objects no chunk names: %s", deleted.status().toString().c_str());
  else if (*deleted)
    ACIDFS_LOG(kInfo, "deleted %llu RADOS objects no chunk names", static_cast<unsigned long long>(*deleted));
}

void Store::backgroundLoop() {
  using SteadyClock = std::chrono::steady_clock;
  auto nextSync = SteadyClock::now() + std::chrono::seconds(options_.commitIntervalSeconds);
  auto nextGc = SteadyClock::now() + std::chrono::seconds(options_.gcIntervalSeconds);
  // Objects of puts that never committed (a daemon killed mid-write, here
  // or on another host) are found a minute after mounting, then hourly.
  auto nextSweep = SteadyClock::now() + std::chrono::minutes(1);
  MutexLock lock(backgroundMutex_);
  while (!stopping_) {
    auto wake = SteadyClock::now() + std::chrono::seconds(1);
    if (options_.commitIntervalSeconds > 0) wake = std::min(wake, nextSync);
    backgroundWake_.wait_until(backgroundMutex_, wake);
    if (stopping_) break;
    backgroundMutex_.unlock();
    if (options_.durability == Durability::kDefault && options_.commitIntervalSeconds > 0 && SteadyClock::now() >= nextSync) {
      Status s = sync();
      if (!s.ok()) ACIDFS_LOG(kError, "periodic sync failed: %s", s.toString().c_str());
      nextSync = SteadyClock::now() + std::chrono::seconds(options_.commitIntervalSeconds);
    }
    if (space_ && options_.gcIntervalSeconds > 0) {
      spacePressure_ = false;
      evictTrashForSpace();
    }
    // Every tick: an expiry is kept within a second (SPEC §11). Not with
    // gcIntervalSeconds 0 (a test's store: only on demand, so that a test's
    // own fireExpiries() is the one that fires).
    if (options_.gcIntervalSeconds > 0) {
      auto fired = fireExpiries();
      if (!fired.ok()) ACIDFS_LOG(kError, "expiry: %s", fired.status().toString().c_str());
    }
    if (sessions_) {
      Status s = sessions_->tick();
      if (!s.ok()) ACIDFS_LOG(kError, "sessions: %s", s.toString().c_str());
    }
    if (rados_ && options_.gcIntervalSeconds > 0 && SteadyClock::now() >= nextSweep) {
      sweepRados();
      nextSweep = SteadyClock::now() + std::chrono::hours(1);
    }
    if (options_.gcIntervalSeconds > 0 && SteadyClock::now() >= nextGc) {
      auto freed = leases_->expire();
      if (!freed.ok()) ACIDFS_LOG(kError, "lease expiry failed: %s", freed.status().toString().c_str());
      Status expired = expireTrash();
      if (!expired.ok()) ACIDFS_LOG(kError, "trash expiry failed: %s", expired.toString().c_str());
      Status forgotten = expireTxnIds();
      if (!forgotten.ok()) ACIDFS_LOG(kError, "txnId expiry failed: %s", forgotten.toString().c_str());
      Status trimmed = options_.feedSeconds > 0 ? feed_->expire() : Status::OK();
      if (!trimmed.ok()) ACIDFS_LOG(kError, "change feed expiry failed: %s", trimmed.toString().c_str());
      nextGc = SteadyClock::now() + std::chrono::seconds(options_.gcIntervalSeconds);
    }
    backgroundMutex_.lock();
  }
}

Status Store::sync() {
  // Segment bytes were synced before each commit that references them; the
  // WAL holds every commit in order, so syncing it makes all of them durable
  // (and lets the space they freed go back to the filesystem).
  return runner_->syncCommitted();
}

Status Store::expireTrash() {
  for (;;) {
    size_t expired = 0;
    ACIDFS_RETURN_IF_ERROR(trash_->expire(*runner_, options_.clock->nowNs(), kTrashExpiryBatch, expired));
    if (expired < kTrashExpiryBatch) return Status::OK();
  }
}

Result<uint64_t> Store::fireExpiries() {
  Expiries::Deleted tell;
  {
    MutexLock lock(expiredMutex_);
    tell = onExpired_;
  }
  return expiries_->fire(options_.clock->nowNs(), tell);
}

void Store::onExpired(Expiries::Deleted deleted) {
  MutexLock lock(expiredMutex_);
  onExpired_ = std::move(deleted);
}

Status Store::expireTxnIds() {
  for (;;) {
    size_t expired = 0;
    ACIDFS_RETURN_IF_ERROR(txnIds_->expire(*runner_, options_.clock->nowNs(), kTrashExpiryBatch, expired));
    if (expired < kTrashExpiryBatch) return Status::OK();
  }
}

void Store::evictTrashForSpace() {
  // At most a second of it per tick: the loop's other work (the interval's
  // sync) waits meanwhile.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  while (std::chrono::steady_clock::now() < deadline) {
    const SpaceGuard::Floors floors = space_->floors();
    const uint64_t lowWater = floors.growth + (floors.growth - floors.hard);
    if (space_->freeBytes() >= lowWater) return;
    size_t evicted = 0;
    Status s = trash_->expire(*runner_, INT64_MAX, kTrashEvictionBatch, evicted);
    if (!s.ok()) {
      ACIDFS_LOG(kWarning, "reclaiming trash for space: %s", s.toString().c_str());
      return;
    }
    if (evicted == 0) return;  // the trash is empty, or GC is frozen
    ACIDFS_LOG(kInfo, "the store's filesystem is nearly full: the %zu oldest trash records were reclaimed early", evicted);
    Status made = makeRoom();
    if (!made.ok()) ACIDFS_LOG(kWarning, "making room after reclaiming trash: %s", made.toString().c_str());
  }
}

Status Store::setGcFrozen(bool frozen) {
  return runner_->run([&](Txn& txn) -> Status {
    return frozen ? txn.put(Column::kDefault, kGcFrozenKey, "1") : txn.del(Column::kDefault, kGcFrozenKey);
  });
}

Result<bool> Store::gcFrozen() {
  ACIDFS_ASSIGN_OR_RETURN(std::optional<std::string> value, db_->get(Column::kDefault, kGcFrozenKey));
  return value.has_value();
}

Result<uint64_t> Store::collectGarbage() {
  ACIDFS_RETURN_IF_ERROR(expireTrash());
  ACIDFS_ASSIGN_OR_RETURN(uint64_t freed, leases_->expire());
  // Let RocksDB drop deleted records now rather than at its next compaction.
  if (rocks_) ACIDFS_RETURN_IF_ERROR(rocks_->compact());
  return freed;
}

Result<StoreStats> Store::stats() {
  StoreStats s;
  const auto& counters = runner_->counters();
  s.commits = counters.commits;
  s.conflicts = counters.conflicts;
  s.retries = counters.retries;
  // bytesStored is the content the chunk store holds: the stored bytes of
  // every live chunk, inline or in a segment, each counted once however many
  // pages name it (holes and a chunk's trailing zeros are not stored). Exact,
  // and 0 once the last file and lease are gone. Not the disk usage, which
  // adds RocksDB's files and memtables and segment blocks queued for release:
  // memtable arenas grow with deletes too, TransactionDB keeps flushed
  // memtables as history, table files shrink only at compaction, so a count
  // built on them stayed megabytes above an empty store's. diskUsage()
  // measures the disk.
  auto count = [&](Column c, const std::function<void(std::string_view)>& each) -> Status {
    auto it = db_->scan(c);
    for (it->seekToFirst(); it->valid(); it->next()) each(it->value());
    return it->status().withContext("counting records");
  };
  ACIDFS_RETURN_IF_ERROR(count(Column::kChunks, [&](std::string_view v) {
    auto r = ChunkRecord::decode(v);
    if (!r || r->head.tombstone) return;
    s.chunkCount++;
    s.bytesStored += r->isInline ? r->inlineData.size() : r->length;
  }));
  ACIDFS_RETURN_IF_ERROR(count(Column::kBlobs, [&](std::string_view v) {
    auto r = BlobRecord::decode(v);
    if (r && !r->head.tombstone) s.blobCount++;
  }));
  ACIDFS_RETURN_IF_ERROR(count(Column::kLeases, [&](std::string_view) { s.leaseCount++; }));
  ACIDFS_RETURN_IF_ERROR(count(Column::kInodes, [&](std::string_view v) {
    auto r = InodeRecord::decode(v);
    if (!r) return;
    s.inodeCount++;
    if (r->isRegular()) s.bytesReferenced += r->size;
  }));
  return s;
}

std::string LockHolder::describe() const { return "pid " + pid + (use.empty() ? "" : ", " + use); }

std::string LockHolder::encode() const { return pid + "\n" + (use.empty() ? "" : use + "\n"); }

LockHolder LockHolder::decode(std::string_view content) {
  LockHolder h;
  const size_t end = content.find('\n');
  h.pid = std::string(content.substr(0, end));
  while (!h.pid.empty() && h.pid.back() == ' ') h.pid.pop_back();
  if (h.pid.empty()) h.pid = "?";
  if (end != std::string_view::npos) {
    const std::string_view use = content.substr(end + 1);
    h.use = std::string(use.substr(0, use.find('\n')));
  }
  return h;
}

LockHolder readLockHolder(int lockFd) {
  std::string content(PATH_MAX + 64, '\0');  // a pid and a use naming a path
  const ssize_t n = pread(lockFd, content.data(), content.size(), 0);
  content.resize(n > 0 ? static_cast<size_t>(n) : 0);
  return LockHolder::decode(content);
}

LockHolder readLockHolder(const std::string& storePath) {
  const int fd = ::open((storePath + "/LOCK").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return LockHolder::decode("");
  LockHolder h = readLockHolder(fd);
  ::close(fd);
  return h;
}

void Store::writeLock(const std::string& use) {
  if (lockFd_ < 0) return;  // a database store has no LOCK
  const std::string content = LockHolder{std::to_string(getpid()), use}.encode();
  if (ftruncate(lockFd_, 0) != 0 || pwrite(lockFd_, content.data(), content.size(), 0) < 0)
    ACIDFS_LOG(kWarning, "could not record our pid in %s/LOCK", path_.c_str());
}

uint64_t Store::reservedBytes() const { return reservations_->totalBytes(); }

uint32_t Store::chunkSize() const { return content_->chunkSize(); }

Result<Store::Space> Store::space() {
  if (!segments_) {
    // A database store: the server's disk is not ours to see. Shown as a
    // large filesystem, less what fallocate reserved.
    Space s;
    s.total = kDatabaseShownBytes;
    s.free = s.available = kDatabaseShownBytes - std::min(kDatabaseShownBytes / 2, reservedBytes());
    return s;
  }
  struct statvfs host;
  if (statvfs(path_.c_str(), &host) != 0) return Status::FromErrno("statvfs " + path_);
  auto less = [](uint64_t bytes, uint64_t taken) { return bytes > taken ? bytes - taken : 0; };
  const uint64_t reserved = reservedBytes();
  Space s;
  s.total = static_cast<uint64_t>(host.f_blocks) * host.f_frsize;
  s.free = less(static_cast<uint64_t>(host.f_bfree) * host.f_frsize, reserved);
  s.available = less(static_cast<uint64_t>(host.f_bavail) * host.f_frsize, reserved + space_->floors().growth);
  return s;
}

uint64_t Store::diskUsage() {
  if (!segments_) return 0;  // a database store: the server's disk
  segments_->drainReleases();
  return diskUsageOf(path_);
}

}  // namespace acidfs
