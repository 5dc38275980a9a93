#include "core/rados_chunk_store.h"

#include <cstdlib>
#include <cstring>
#include <iterator>

#include "core/encoding.h"
#include "core/hex.h"
#include "core/log.h"
#include "core/random_bytes.h"

namespace acidfs {

namespace {

// How long a RADOS call may wait for an unreachable monitor or OSD before
// it fails (EIO) instead of hanging the caller, unless the configuration
// says otherwise (Ceph's own defaults: forever, and 300 s to connect).
constexpr char kOpTimeoutSeconds[] = "30";
constexpr const char* kTimeoutOptions[] = {"rados_osd_op_timeout", "rados_mon_op_timeout", "client_mount_timeout"};

// The value of a Ceph option as the client has it now ("" if unknown).
std::string confValue(rados_t cluster, const char* option) {
  char value[128] = "";
  return rados_conf_get(cluster, option, value, sizeof value) == 0 ? value : "";
}

Status radosError(int ret, const std::string& what) {
  const int err = ret < 0 ? -ret : EIO;
  return Status::Error(err == ENOENT || err == EEXIST || err == ENOSPC || err == EDQUOT ? err : EIO,
                       what + ": " + strerror(err));
}

// "<32 hex digits>.<16 hex digits>" → id and nonce; false for other names.
bool parseObjectName(std::string_view name, Id128& id, uint64_t& nonce) {
  if (name.size() != 32 + 1 + 16 || name[32] != '.') return false;
  std::optional<std::string> idBytes = fromHex(name.substr(0, 32)), nonceBytes = fromHex(name.substr(33));
  if (!idBytes || !nonceBytes) return false;
  id = Id128::fromBytes(*idBytes);
  nonce = readBigEndian64(*nonceBytes);
  return true;
}

}  // namespace

Result<RadosChunkStoreOptions> parseRadosChunks(const std::string& spec) {
  if (!spec.starts_with("rados:")) return Status::Error(EINVAL, "chunks=" + spec + ": not rados:POOL");
  RadosChunkStoreOptions options;
  std::string rest = spec.substr(6);
  size_t comma = rest.find(',');
  options.pool = rest.substr(0, comma);
  if (options.pool.empty()) return Status::Error(EINVAL, "chunks=rados: needs a pool name (rados:POOL)");
  while (comma != std::string::npos) {
    rest = rest.substr(comma + 1);
    comma = rest.find(',');
    const std::string item = rest.substr(0, comma);
    if (item.starts_with("conf=") && item.size() > 5)
      options.confFile = item.substr(5);
    else if (item.starts_with("id=") && item.size() > 3)
      options.clientId = item.substr(3);
    else
      return Status::Error(EINVAL, "chunks=" + spec + ": unknown part '" + item + "' (conf=FILE and id=NAME are known)");
  }
  return options;
}

std::string RadosChunkStore::objectName(const Id128& id, uint64_t nonce) {
  std::string nonceBytes;
  appendBigEndian64(nonceBytes, nonce);
  return id.hex() + "." + toHex(nonceBytes);
}

Result<std::unique_ptr<RadosChunkStore>> RadosChunkStore::open(const RadosChunkStoreOptions& options) {
  rados_t cluster = nullptr;
  int ret = rados_create(&cluster, options.clientId.empty() ? nullptr : options.clientId.c_str());
  if (ret < 0) return radosError(ret, "creating a RADOS client");
  auto fail = [&](int r, const std::string& what) {
    rados_shutdown(cluster);
    return radosError(r, what);
  };
  std::vector<std::string> cephDefaults;
  for (const char* option : kTimeoutOptions) cephDefaults.push_back(confValue(cluster, option));
  if ((ret = rados_conf_read_file(cluster, options.confFile.empty() ? nullptr : options.confFile.c_str())) < 0)
    return fail(ret, "reading the Ceph configuration " + (options.confFile.empty() ? std::string("(default)") : options.confFile));
  if ((ret = rados_conf_parse_env(cluster, nullptr)) < 0) return fail(ret, "reading CEPH_ARGS");
  // Ours replace Ceph's defaults, never what ceph.conf or CEPH_ARGS set.
  for (size_t i = 0; i < std::size(kTimeoutOptions); ++i)
    if (confValue(cluster, kTimeoutOptions[i]) == cephDefaults[i])
      (void)rados_conf_set(cluster, kTimeoutOptions[i], kOpTimeoutSeconds);
  // librados asks the monitors for a newer OSD map (how it finds an OSD
  // that came back at another address) only at its ticks, for operations
  // older than objecter_timeout: with an op timeout shorter than those, no
  // operation lives long enough, and an OSD restarted is never found again
  // (every read EIO, for good). Both are kept within a third of it.
  const double opTimeout = atof(confValue(cluster, "rados_osd_op_timeout").c_str());
  for (const char* option : {"objecter_timeout", "objecter_tick_interval"})
    if (opTimeout > 0 && atof(confValue(cluster, option).c_str()) > opTimeout / 3)
      (void)rados_conf_set(cluster, option, std::to_string(opTimeout / 3).c_str());
  if ((ret = rados_connect(cluster)) < 0) return fail(ret, "connecting to the Ceph cluster");
  rados_ioctx_t io = nullptr;
  if ((ret = rados_ioctx_create(cluster, options.pool.c_str(), &io)) < 0)
    return fail(ret, "opening the RADOS pool " + options.pool);
  rados_ioctx_set_namespace(io, options.nspace.c_str());  // listings too see only this namespace
  return std::unique_ptr<RadosChunkStore>(new RadosChunkStore(options, cluster, io));
}

RadosChunkStore::RadosChunkStore(RadosChunkStoreOptions options, rados_t cluster, rados_ioctx_t io)
    : options_(std::move(options)), cluster_(cluster), io_(io), deleter_([this] { deleterLoop(); }) {}

RadosChunkStore::~RadosChunkStore() {
  for (;;) {  // puts of transactions that never reached makeDurable or release
    uint64_t nonce = 0;
    {
      MutexLock lock(mutex_);
      if (inFlight_.empty()) break;
      nonce = inFlight_.begin()->first;
    }
    (void)settlePut(nonce);
  }
  {
    MutexLock lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  deleter_.join();  // deletes what is left first (deleterLoop)
  rados_ioctx_destroy(io_);
  rados_shutdown(cluster_);
}

Result<Extent> RadosChunkStore::put(const Id128& id, std::string_view bytes) {
  const uint64_t nonce = readBigEndian64(randomBytes(8));
  const std::string name = objectName(id, nonce);
  // Room first: past kMaxPutsInFlight the oldest is waited for.
  for (;;) {
    uint64_t oldest = 0;
    {
      MutexLock lock(mutex_);
      while (!putOrder_.empty() && !inFlight_.contains(putOrder_.front())) putOrder_.pop_front();
      if (inFlight_.size() < kMaxPutsInFlight) break;
      oldest = putOrder_.front();
    }
    (void)settlePut(oldest);  // a failure is kept for makeDurable
  }
  rados_completion_t done = nullptr;
  int ret = rados_aio_create_completion2(nullptr, nullptr, &done);
  if (ret < 0) return radosError(ret, "writing RADOS object " + name);
  ret = rados_aio_write_full(io_, name.c_str(), done, bytes.data(), bytes.size());
  if (ret < 0) {
    rados_aio_release(done);
    return radosError(ret, "writing RADOS object " + name);
  }
  MutexLock lock(mutex_);
  inFlight_.emplace(nonce, done);
  putOrder_.push_back(nonce);
  liveBytes_ += bytes.size();
  return Extent{kRadosPlace, nonce, static_cast<uint32_t>(bytes.size())};
}

Status RadosChunkStore::settlePut(uint64_t nonce) const {
  rados_completion_t done = nullptr;
  {
    MutexLock lock(mutex_);
    auto it = inFlight_.find(nonce);
    if (it == inFlight_.end()) return Status::OK();
    done = it->second;
    inFlight_.erase(it);
  }
  rados_aio_wait_for_complete(done);
  const int ret = rados_aio_get_return_value(done);
  rados_aio_release(done);
  if (ret >= 0) return Status::OK();
  Status failed = radosError(ret, "writing a RADOS object (chunk place " + std::to_string(nonce) + ")");
  MutexLock lock(mutex_);
  failedPuts_.emplace(nonce, failed);
  return failed;
}

Status RadosChunkStore::makeDurable(const std::vector<StoredChunk>& chunks) {
  Status first;
  for (const StoredChunk& c : chunks) {
    (void)settlePut(c.place.offset);
    MutexLock lock(mutex_);
    auto failed = failedPuts_.find(c.place.offset);
    if (failed == failedPuts_.end()) continue;
    if (first.ok()) first = failed->second;
    failedPuts_.erase(failed);
  }
  return first;
}

namespace {

// What reading `length` bytes of `name` answered (rados_read's or an aio
// read's return value).
Status readAnswer(int ret, const std::string& name, uint32_t length) {
  if (ret == -ENOENT) return Status::Error(ESTALE, "RADOS object " + name + " is gone (freed since it was found)");
  if (ret < 0) return radosError(ret, "reading RADOS object " + name);
  if (static_cast<uint32_t>(ret) != length)
    return Status::Error(EIO, "RADOS object " + name + " holds " + std::to_string(ret) + " bytes, its record says " +
                                  std::to_string(length));
  return Status::OK();
}

Status notOurs(const Id128& id, const Extent& place) {
  return Status::Error(EIO, "store corrupted: chunk " + id.hex() + " names segment " + std::to_string(place.segment) +
                                ", but this store keeps chunks in RADOS");
}

}  // namespace

Status RadosChunkStore::read(const Id128& id, const Extent& place, char* out) const {
  return readMany({Read{id, place, out}}).front();
}

std::vector<Status> RadosChunkStore::readMany(const std::vector<Read>& reads) const {
  std::vector<Status> results(reads.size());
  std::vector<rados_completion_t> sent(reads.size(), nullptr);
  std::vector<std::string> names(reads.size());
  for (size_t i = 0; i < reads.size(); ++i) {
    const Read& r = reads[i];
    if (r.place.segment != kRadosPlace) {
      results[i] = notOurs(r.id, r.place);
      continue;
    }
    // A put of this transaction's may still be on its way.
    if (Status s = settlePut(r.place.offset); !s.ok()) {
      results[i] = s;
      continue;
    }
    names[i] = objectName(r.id, r.place.offset);
    int ret = rados_aio_create_completion2(nullptr, nullptr, &sent[i]);
    if (ret >= 0) ret = rados_aio_read(io_, names[i].c_str(), sent[i], r.out, r.place.length, 0);
    if (ret < 0) {
      results[i] = radosError(ret, "reading RADOS object " + names[i]);
      if (sent[i]) rados_aio_release(sent[i]);
      sent[i] = nullptr;
    }
  }
  for (size_t i = 0; i < reads.size(); ++i) {
    if (!sent[i]) continue;
    rados_aio_wait_for_complete(sent[i]);
    results[i] = readAnswer(rados_aio_get_return_value(sent[i]), names[i], reads[i].place.length);
    rados_aio_release(sent[i]);
  }
  return results;
}

void RadosChunkStore::release(const std::vector<StoredChunk>& chunks) {
  if (chunks.empty()) return;
  // A put still in flight lands first: deleting before it would leave the object.
  for (const StoredChunk& c : chunks) {
    (void)settlePut(c.place.offset);
    MutexLock lock(mutex_);
    failedPuts_.erase(c.place.offset);
  }
  const auto due = std::chrono::steady_clock::now() + options_.grace;
  {
    MutexLock lock(mutex_);
    for (const StoredChunk& c : chunks) {
      doomed_.push_back(Doomed{objectName(c.id, c.place.offset), c.place.length, due});
      liveBytes_ -= std::min<uint64_t>(liveBytes_, c.place.length);
      doomedBytes_ += c.place.length;
    }
  }
  changed_.notify_all();
}

void RadosChunkStore::remove(const std::string& name) const {
  const int ret = rados_remove(io_, name.c_str());
  // Gone already is what we wanted; anything else only wastes space until a sweep.
  if (ret < 0 && ret != -ENOENT)
    ACIDFS_LOG(kWarning, "deleting RADOS object %s: %s (a sweep will retry)", name.c_str(), strerror(-ret));
}

void RadosChunkStore::deleterLoop() {
  MutexLock lock(mutex_);
  for (;;) {
    if (doomed_.empty()) {
      forceDue_ = false;
      changed_.notify_all();  // drainReleases() waits for this
      if (stopping_) return;
      changed_.wait(mutex_);
      continue;
    }
    Doomed next = doomed_.front();
    if (!stopping_ && !forceDue_ && std::chrono::steady_clock::now() < next.due) {
      changed_.wait_until(mutex_, next.due);
      continue;
    }
    doomed_.pop_front();
    ++deleting_;
    mutex_.unlock();
    remove(next.name);
    mutex_.lock();
    --deleting_;
    doomedBytes_ -= std::min<uint64_t>(doomedBytes_, next.length);
  }
}

void RadosChunkStore::drainReleases() {
  MutexLock lock(mutex_);
  forceDue_ = true;
  changed_.notify_all();
  changed_.wait(mutex_, [this]() REQUIRES(mutex_) { return doomed_.empty() && deleting_ == 0; });
}

uint64_t RadosChunkStore::bytesOnDisk() const {
  MutexLock lock(mutex_);
  return liveBytes_ + doomedBytes_;
}

uint64_t RadosChunkStore::liveBytes() const {
  MutexLock lock(mutex_);
  return liveBytes_;
}

Result<std::optional<RadosChunkStore::Object>> RadosChunkStore::stat(const std::string& name) const {
  Object object;
  object.name = name;
  object.ours = parseObjectName(name, object.id, object.nonce);
  if (!object.ours) return std::optional<Object>(std::move(object));
  const int ret = rados_stat(io_, name.c_str(), &object.size, &object.mtime);
  if (ret == -ENOENT) return std::optional<Object>();
  if (ret < 0) return radosError(ret, "stat of RADOS object " + name);
  return std::optional<Object>(std::move(object));
}

Status RadosChunkStore::listObjects(const std::function<void(const Object&)>& each) const {
  rados_list_ctx_t listing = nullptr;
  int ret = rados_nobjects_list_open(io_, &listing);
  if (ret < 0) return radosError(ret, "listing RADOS pool " + options_.pool);
  Status failed;
  for (;;) {
    const char* entry = nullptr;
    ret = rados_nobjects_list_next(listing, &entry, nullptr, nullptr);
    if (ret == -ENOENT) break;
    if (ret < 0) {
      failed = radosError(ret, "listing RADOS pool " + options_.pool);
      break;
    }
    auto object = stat(entry);
    if (!object.ok()) {
      failed = object.status();
      break;
    }
    if (*object) each(**object);  // else deleted meanwhile
  }
  rados_nobjects_list_close(listing);
  return failed;
}

bool RadosChunkStore::pastSweepAge(time_t mtime) const {
  return mtime <= time(nullptr) - std::chrono::duration_cast<std::chrono::seconds>(options_.sweepAge).count();
}

Status RadosChunkStore::removeNow(const std::string& name) const {
  const int ret = rados_remove(io_, name.c_str());
  if (ret < 0 && ret != -ENOENT) return radosError(ret, "deleting RADOS object " + name);
  return Status::OK();
}

Result<uint64_t> RadosChunkStore::sweep(const std::function<bool(const Id128& id, const Extent& place)>& named) {
  uint64_t deleted = 0;
  // The rule fsck reports objects by (core/fsck_objects.h): young ones may
  // be puts whose commits are still coming.
  ACIDFS_RETURN_IF_ERROR(listObjects([&](const Object& object) {
    if (!object.ours || !pastSweepAge(object.mtime)) return;
    if (named(object.id, Extent{kRadosPlace, object.nonce, static_cast<uint32_t>(object.size)})) return;
    remove(object.name);
    ++deleted;
  }));
  return deleted;
}

}  // namespace acidfs
