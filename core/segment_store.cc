#include "core/segment_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <mutex>

#include "core/log.h"

namespace acidfs {

namespace {
uint64_t alignUp(uint64_t v) { return (v + SegmentStore::kAlign - 1) / SegmentStore::kAlign * SegmentStore::kAlign; }

void punch(int fd, uint64_t offset, uint64_t length) {
  if (length == 0) return;
  if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset),
                static_cast<off_t>(length)) != 0)
    ACIDFS_LOG(kWarning, "punching %llu bytes at %llu failed: %s",
               static_cast<unsigned long long>(length), static_cast<unsigned long long>(offset),
               strerror(errno));
}
}  // namespace

Status syncDirectory(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno("opening " + dir);
  Status s = fsync(fd) == 0 ? Status::OK() : Status::FromErrno("fsync " + dir);
  close(fd);
  return s;
}

std::string SegmentStore::pathOf(uint32_t number) const {
  char name[32];
  snprintf(name, sizeof name, "/%08u.seg", number);
  return dir_ + name;
}

Result<std::unique_ptr<SegmentStore>> SegmentStore::open(const std::string& dir,
                                                         const std::vector<Extent>& liveExtents, bool sweep) {
  if (mkdir(dir.c_str(), 0700) == 0) {
    // A new segments/ must not vanish in a power cut once records name its files.
    const size_t slash = dir.find_last_of('/');
    ACIDFS_RETURN_IF_ERROR(syncDirectory(slash == std::string::npos ? "." : slash == 0 ? "/" : dir.substr(0, slash)));
  } else if (errno != EEXIST) {
    return Status::FromErrno("mkdir " + dir);
  }
  std::unique_ptr<SegmentStore> store(new SegmentStore(dir));
  MutexLock lock(store->mutex_);

  std::vector<uint32_t> numbers;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      unsigned n;
      char tail[8];
      if (sscanf(e->d_name, "%8u.%4s", &n, tail) == 2 && strcmp(tail, "seg") == 0) numbers.push_back(n);
    }
    closedir(d);
  }
  std::sort(numbers.begin(), numbers.end());

  // Live extents per segment, sorted, to sweep what lies between them.
  std::map<uint32_t, std::vector<Extent>> live;
  for (const Extent& e : liveExtents) live[e.segment].push_back(e);

  for (uint32_t n : numbers) {
    auto it = live.find(n);
    if (!sweep) {
      ACIDFS_RETURN_IF_ERROR(store->openSegment(n, false));
      Segment& seg = *store->segments_[n];
      seg.keep = true;
      if (it != live.end())
        for (const Extent& e : it->second) seg.liveBytes += static_cast<int64_t>(alignUp(e.length));
      continue;
    }
    if (it == live.end()) {  // nothing committed names it: a crash orphan
      ACIDFS_LOG(kDebug, "removing unreferenced segment %s", store->pathOf(n).c_str());
      unlink(store->pathOf(n).c_str());
      continue;
    }
    ACIDFS_RETURN_IF_ERROR(store->openSegment(n, false));
    Segment& seg = *store->segments_[n];
    auto& extents = it->second;
    std::sort(extents.begin(), extents.end(),
              [](const Extent& a, const Extent& b) { return a.offset < b.offset; });
    uint64_t cursor = 0;
    for (const Extent& e : extents) {
      if (e.offset > cursor) punch(seg.fd, cursor, e.offset - cursor);
      cursor = std::max(cursor, e.offset + alignUp(e.length));
      seg.liveBytes += static_cast<int64_t>(alignUp(e.length));
    }
    struct stat st;
    if (fstat(seg.fd, &st) == 0 && static_cast<uint64_t>(st.st_size) > cursor)
      punch(seg.fd, cursor, static_cast<uint64_t>(st.st_size) - cursor);
  }
  for (const auto& [n, extents] : live)
    if (!store->segments_.count(n))
      return Status::Error(EIO, "segment " + store->pathOf(n) + " is missing but referenced");

  // Always start a fresh active segment: appends never land in a swept one.
  store->active_ = numbers.empty() ? 0 : numbers.back();
  ACIDFS_RETURN_IF_ERROR(store->rollActiveSegment());
  store->reclaimer_ = std::thread([s = store.get()] { s->reclaimLoop(); });
  return store;
}

SegmentStore::~SegmentStore() {
  if (reclaimer_.joinable()) {
    {
      MutexLock lock(queueMutex_);
      stopping_ = true;
    }
    queueChanged_.notify_all();
    reclaimer_.join();  // drains the queue first
  }
  MutexLock lock(mutex_);
  for (auto& [n, seg] : segments_)
    if (seg->fd >= 0) close(seg->fd);
}

Status SegmentStore::openSegment(uint32_t number, bool create) {
  int fd = ::open(pathOf(number).c_str(), O_RDWR | O_CLOEXEC | (create ? O_CREAT | O_EXCL : 0), 0600);
  if (fd < 0) return Status::FromErrno("open " + pathOf(number));
  auto seg = std::make_unique<Segment>();
  seg->fd = fd;
  seg->nameDurable = !create;
  segments_[number] = std::move(seg);
  return Status::OK();
}

Status SegmentStore::rollActiveSegment() {
  uint32_t next = active_ + 1;
  ACIDFS_RETURN_IF_ERROR(openSegment(next, true));
  uint32_t previous = active_;
  active_ = next;
  activeEnd_ = 0;
  // The previous segment is now sealed: if everything in it was released
  // already, it can go.
  auto it = segments_.find(previous);
  if (it != segments_.end() && it->second->liveBytes.load() == 0 && !it->second->keep) {
    close(it->second->fd);
    unlink(pathOf(previous).c_str());
    segments_.erase(it);
  }
  return Status::OK();
}

SegmentStore::Segment* SegmentStore::find(uint32_t number) const {
  MutexLock lock(mutex_);
  auto it = segments_.find(number);
  return it == segments_.end() ? nullptr : it->second.get();
}

Result<Extent> SegmentStore::append(std::string_view data) {
  Extent extent;
  Segment* seg;
  {
    MutexLock lock(mutex_);
    if (activeEnd_ >= kSegmentTarget) ACIDFS_RETURN_IF_ERROR(rollActiveSegment());
    extent.segment = active_;
    extent.offset = activeEnd_;
    extent.length = static_cast<uint32_t>(data.size());
    activeEnd_ += alignUp(data.size());
    seg = segments_[active_].get();
    seg->liveBytes += static_cast<int64_t>(alignUp(data.size()));
  }
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = pwrite(seg->fd, data.data() + done, data.size() - done,
                       static_cast<off_t>(extent.offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      Status failed = Status::FromErrno("writing segment " + pathOf(extent.segment));
      release(extent);
      return failed;
    }
    done += static_cast<size_t>(n);
  }
  return extent;
}

Status SegmentStore::read(const Extent& extent, char* out) const {
  Segment* seg = find(extent.segment);
  if (!seg) return Status::Error(EIO, "segment " + pathOf(extent.segment) + " is missing");
  size_t done = 0;
  while (done < extent.length) {
    ssize_t n = pread(seg->fd, out + done, extent.length - done, static_cast<off_t>(extent.offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::FromErrno("reading segment " + pathOf(extent.segment));
    if (n == 0) return Status::Error(EIO, "segment " + pathOf(extent.segment) + " is truncated");
    done += static_cast<size_t>(n);
  }
  return Status::OK();
}

Status SegmentStore::sync(const std::set<uint32_t>& numbers) {
  std::vector<Segment*> unnamed;  // created since their last sync
  for (uint32_t n : numbers) {
    Segment* seg = find(n);
    if (!seg) continue;  // released meanwhile: nothing of it is referenced
    if (fdatasync(seg->fd) != 0) return Status::FromErrno("fdatasync " + pathOf(n));
    if (!seg->nameDurable.load()) unnamed.push_back(seg);
  }
  // fdatasync makes a file's bytes durable, not its name: a new file's
  // directory entry is durable only once the directory is synced.
  if (!unnamed.empty()) {
    ACIDFS_RETURN_IF_ERROR(syncDirectory(dir_));
    for (Segment* seg : unnamed) seg->nameDurable = true;
  }
  return Status::OK();
}

void SegmentStore::release(const std::vector<Extent>& extents) {
  if (extents.empty()) return;
  {
    MutexLock lock(queueMutex_);
    queue_.insert(queue_.end(), extents.begin(), extents.end());
  }
  queueChanged_.notify_all();
}

void SegmentStore::drainReleases() {
  MutexLock lock(queueMutex_);
  queueChanged_.wait(queueMutex_, [this]() REQUIRES(queueMutex_) { return queue_.empty() && !punching_; });
}

void SegmentStore::reclaimLoop() {
  MutexLock lock(queueMutex_);
  for (;;) {
    queueChanged_.wait(queueMutex_, [this]() REQUIRES(queueMutex_) { return !queue_.empty() || stopping_; });
    if (queue_.empty()) return;  // stopping, and nothing left to punch
    std::vector<Extent> batch;
    batch.swap(queue_);
    punching_ = true;
    queueMutex_.unlock();
    punchBatch(std::move(batch));
    queueMutex_.lock();
    punching_ = false;
    queueChanged_.notify_all();
  }
}

void SegmentStore::punchBatch(std::vector<Extent> batch) {
  std::sort(batch.begin(), batch.end(), [](const Extent& a, const Extent& b) {
    return a.segment != b.segment ? a.segment < b.segment : a.offset < b.offset;
  });
  // A few runs per hold of the locks: readers wait for releaseLock_ and
  // appends for mutex_, and one sync can hand over seconds' worth of releases.
  constexpr int kRunsPerHold = 32;
  for (size_t i = 0; i < batch.size();) {
    // Readers that found a chunk record finish reading its bytes first.
    std::unique_lock<std::shared_mutex> readers(releaseLock_);
    MutexLock lock(mutex_);
    for (int runs = 0; runs < kRunsPerHold && i < batch.size(); ++runs) {
      const uint32_t number = batch[i].segment;
      const uint64_t start = batch[i].offset;
      uint64_t end = start + alignUp(batch[i].length);
      uint64_t released = alignUp(batch[i].length);
      // Sequentially written files free long runs of adjacent extents.
      for (++i; i < batch.size() && batch[i].segment == number && batch[i].offset == end; ++i) {
        end += alignUp(batch[i].length);
        released += alignUp(batch[i].length);
      }
      auto it = segments_.find(number);
      if (it == segments_.end()) continue;
      Segment& seg = *it->second;
      punch(seg.fd, start, end - start);
      seg.liveBytes -= static_cast<int64_t>(released);
      if (seg.liveBytes.load() == 0 && number != active_ && !seg.keep) {
        close(seg.fd);
        unlink(pathOf(number).c_str());
        segments_.erase(it);
      }
    }
  }
}

uint64_t SegmentStore::bytesOnDisk() const {
  MutexLock lock(mutex_);
  uint64_t total = 0;
  for (const auto& [n, seg] : segments_) {
    struct stat st;
    if (fstat(seg->fd, &st) == 0) total += static_cast<uint64_t>(st.st_blocks) * 512;
  }
  return total;
}

uint64_t SegmentStore::liveBytes() const {
  MutexLock lock(mutex_);
  int64_t total = 0;
  for (const auto& [n, seg] : segments_) total += seg->liveBytes.load();
  return static_cast<uint64_t>(total);
}

}  // namespace acidfs
