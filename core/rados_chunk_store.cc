#include "core/rados_chunk_store.h"

#include <cstring>

#include "core/hex.h"
#include "core/log.h"
#include "core/random_bytes.h"

namespace acidfs {

namespace {

// How long a RADOS call may wait for an unreachable monitor or OSD before
// it fails (EIO) instead of hanging the caller.
constexpr char kOpTimeoutSeconds[] = "30";

Status radosError(int ret, const std::string& what) {
  const int err = ret < 0 ? -ret : EIO;
  return Status::Error(err == ENOENT || err == EEXIST || err == ENOSPC || err == EDQUOT ? err : EIO,
                       what + ": " + strerror(err));
}

bool startsWith(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

// "<32 hex digits>.<16 hex digits>" → id and nonce; false for other names.
bool parseObjectName(std::string_view name, Id128& id, uint64_t& nonce) {
  if (name.size() != 32 + 1 + 16 || name[32] != '.') return false;
  std::optional<std::string> idBytes = fromHex(name.substr(0, 32)), nonceBytes = fromHex(name.substr(33));
  if (!idBytes || !nonceBytes) return false;
  id = Id128::fromBytes(*idBytes);
  nonce = 0;
  for (unsigned char c : *nonceBytes) nonce = nonce << 8 | c;
  return true;
}

}  // namespace

Result<RadosChunkStoreOptions> parseRadosChunks(const std::string& spec) {
  if (!startsWith(spec, "rados:")) return Status::Error(EINVAL, "chunks=" + spec + ": not rados:POOL");
  RadosChunkStoreOptions options;
  std::string rest = spec.substr(6);
  size_t comma = rest.find(',');
  options.pool = rest.substr(0, comma);
  if (options.pool.empty()) return Status::Error(EINVAL, "chunks=rados: needs a pool name (rados:POOL)");
  while (comma != std::string::npos) {
    rest = rest.substr(comma + 1);
    comma = rest.find(',');
    const std::string item = rest.substr(0, comma);
    if (startsWith(item, "conf=") && item.size() > 5)
      options.confFile = item.substr(5);
    else if (startsWith(item, "id=") && item.size() > 3)
      options.clientId = item.substr(3);
    else
      return Status::Error(EINVAL, "chunks=" + spec + ": unknown part '" + item + "' (conf=FILE and id=NAME are known)");
  }
  return options;
}

std::string RadosChunkStore::objectName(const Id128& id, uint64_t nonce) {
  std::string nonceBytes(8, '\0');
  for (int i = 0; i < 8; ++i) nonceBytes[static_cast<size_t>(i)] = static_cast<char>(nonce >> (56 - 8 * i));
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
  if ((ret = rados_conf_read_file(cluster, options.confFile.empty() ? nullptr : options.confFile.c_str())) < 0)
    return fail(ret, "reading the Ceph configuration " + (options.confFile.empty() ? std::string("(default)") : options.confFile));
  if ((ret = rados_conf_parse_env(cluster, nullptr)) < 0) return fail(ret, "reading CEPH_ARGS");
  for (const char* option : {"rados_osd_op_timeout", "rados_mon_op_timeout", "client_mount_timeout"})
    (void)rados_conf_set(cluster, option, kOpTimeoutSeconds);
  if ((ret = rados_connect(cluster)) < 0) return fail(ret, "connecting to the Ceph cluster");
  rados_ioctx_t io = nullptr;
  if ((ret = rados_ioctx_create(cluster, options.pool.c_str(), &io)) < 0)
    return fail(ret, "opening the RADOS pool " + options.pool);
  return std::unique_ptr<RadosChunkStore>(new RadosChunkStore(options, cluster, io));
}

RadosChunkStore::RadosChunkStore(RadosChunkStoreOptions options, rados_t cluster, rados_ioctx_t io)
    : options_(std::move(options)), cluster_(cluster), io_(io), deleter_([this] { deleterLoop(); }) {}

RadosChunkStore::~RadosChunkStore() {
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
  const std::string nonceBytes = randomBytes(8);
  uint64_t nonce = 0;
  for (unsigned char c : nonceBytes) nonce = nonce << 8 | c;
  const std::string name = objectName(id, nonce);
  const int ret = rados_write_full(io_, name.c_str(), bytes.data(), bytes.size());
  if (ret < 0) return radosError(ret, "writing RADOS object " + name);
  MutexLock lock(mutex_);
  liveBytes_ += bytes.size();
  return Extent{kRadosPlace, nonce, static_cast<uint32_t>(bytes.size())};
}

Status RadosChunkStore::read(const Id128& id, const Extent& place, char* out) const {
  if (place.segment != kRadosPlace)
    return Status::Error(EIO, "store corrupted: chunk " + id.hex() + " names segment " + std::to_string(place.segment) +
                                  ", but this store keeps chunks in RADOS");
  const std::string name = objectName(id, place.offset);
  const int ret = rados_read(io_, name.c_str(), out, place.length, 0);
  if (ret == -ENOENT) return Status::Error(ESTALE, "RADOS object " + name + " is gone (freed since it was found)");
  if (ret < 0) return radosError(ret, "reading RADOS object " + name);
  if (static_cast<uint32_t>(ret) != place.length)
    return Status::Error(EIO, "RADOS object " + name + " holds " + std::to_string(ret) + " bytes, its record says " +
                                  std::to_string(place.length));
  return Status::OK();
}

void RadosChunkStore::release(const std::vector<StoredChunk>& chunks) {
  if (chunks.empty()) return;
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

Result<uint64_t> RadosChunkStore::sweep(const std::function<bool(const Id128& id, const Extent& place)>& named) {
  rados_list_ctx_t listing = nullptr;
  int ret = rados_nobjects_list_open(io_, &listing);
  if (ret < 0) return radosError(ret, "listing RADOS pool " + options_.pool);
  uint64_t deleted = 0;
  const time_t oldest = time(nullptr) - std::chrono::duration_cast<std::chrono::seconds>(options_.sweepAge).count();
  Status failed;
  for (;;) {
    const char* entry = nullptr;
    ret = rados_nobjects_list_next(listing, &entry, nullptr, nullptr);
    if (ret == -ENOENT) break;
    if (ret < 0) {
      failed = radosError(ret, "listing RADOS pool " + options_.pool);
      break;
    }
    const std::string name = entry;
    Id128 id;
    uint64_t nonce = 0;
    if (!parseObjectName(name, id, nonce)) continue;  // not ours
    uint64_t size = 0;
    time_t mtime = 0;
    if (rados_stat(io_, name.c_str(), &size, &mtime) < 0) continue;  // deleted meanwhile
    if (mtime > oldest) continue;  // perhaps a put whose commit is still coming
    if (named(id, Extent{kRadosPlace, nonce, static_cast<uint32_t>(size)})) continue;
    remove(name);
    ++deleted;
  }
  rados_nobjects_list_close(listing);
  if (!failed.ok()) return failed;
  return deleted;
}

}  // namespace acidfs
