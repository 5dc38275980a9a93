#include "core/segment_store.h"

#include <algorithm>
#include <cstring>
#include <mutex>

#include "core/log.h"

namespace acidfs {

namespace {
uint64_t alignUp(uint64_t v) { return (v + SegmentStore::kAlign - 1) / SegmentStore::kAlign * SegmentStore::kAlign; }

// A segment's name is exactly eight decimal digits and ".seg" (pathOf):
// sscanf's "%8u" also took "1.seg", "+2.seg" or "-5.seg" (as 4294967291),
// names under which pathOf() finds no file.
bool parseSegmentName(const std::string& name, uint32_t& number) {
  if (name.size() != 12 || name.compare(8, 4, ".seg") != 0) return false;
  number = 0;
  for (size_t i = 0; i < 8; ++i) {
    if (name[i] < '0' || name[i] > '9') return false;
    number = number * 10 + static_cast<uint32_t>(name[i] - '0');
  }
  return true;
}

std::string parentOf(const std::string& dir) {
  const size_t slash = dir.find_last_of('/');
  return slash == std::string::npos ? "." : slash == 0 ? "/" : dir.substr(0, slash);
}
}  // namespace

// A failed punch only wastes space (the next sweep retries it): logged.
void SegmentStore::punch(uint32_t number, Segment& seg, uint64_t offset, uint64_t length) {
  if (length == 0) return;
  Status s = seg.file->punchHole(offset, length);
  if (!s.ok()) ACIDFS_LOG(kWarning, "segment %u: %s", number, s.toString().c_str());
}

std::string SegmentStore::pathOf(uint32_t number) const {
  char name[32];
  snprintf(name, sizeof name, "/%08u.seg", number);
  return dir_ + name;
}

Result<std::unique_ptr<SegmentStore>> SegmentStore::open(const std::string& dir,
                                                         const std::vector<Extent>& liveExtents, bool sweep,
                                                         std::shared_ptr<SegmentFiles> files) {
  if (!files) files = posixSegmentFiles();
  ACIDFS_ASSIGN_OR_RETURN(bool created, files->createDirectory(dir));
  // A new segments/ must not vanish in a power cut once records name its files.
  if (created) ACIDFS_RETURN_IF_ERROR(files->syncDirectory(parentOf(dir)));
  std::unique_ptr<SegmentStore> store(new SegmentStore(dir, std::move(files)));
  MutexLock lock(store->mutex_);

  std::vector<uint32_t> numbers;
  ACIDFS_ASSIGN_OR_RETURN(std::vector<std::string> names, store->files_->list(dir));
  for (const std::string& name : names) {
    uint32_t n;
    if (parseSegmentName(name, n)) numbers.push_back(n);
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
      Status removed = store->files_->remove(store->pathOf(n));
      if (!removed.ok()) ACIDFS_LOG(kWarning, "%s", removed.toString().c_str());
      continue;
    }
    ACIDFS_RETURN_IF_ERROR(store->openSegment(n, false));
    Segment& seg = *store->segments_[n];
    auto& extents = it->second;
    std::sort(extents.begin(), extents.end(),
              [](const Extent& a, const Extent& b) { return a.offset < b.offset; });
    uint64_t cursor = 0;
    for (const Extent& e : extents) {
      if (e.offset > cursor) store->punch(n, seg, cursor, e.offset - cursor);
      cursor = std::max(cursor, e.offset + alignUp(e.length));
      seg.liveBytes += static_cast<int64_t>(alignUp(e.length));
    }
    Result<uint64_t> size = seg.file->size();
    if (size.ok() && *size > cursor) store->punch(n, seg, cursor, *size - cursor);
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
}

Status SegmentStore::openSegment(uint32_t number, bool create) {
  auto seg = std::make_unique<Segment>();
  ACIDFS_ASSIGN_OR_RETURN(seg->file, files_->open(pathOf(number), create));
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
    segments_.erase(it);  // closes it
    Status removed = files_->remove(pathOf(previous));
    if (!removed.ok()) ACIDFS_LOG(kWarning, "%s", removed.toString().c_str());
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
  Status written = seg->file->write(extent.offset, data);
  if (!written.ok()) {
    release(extent);
    return written;
  }
  return extent;
}

Result<Extent> SegmentStore::put(const Id128&, std::string_view bytes) { return append(bytes); }

Status SegmentStore::read(const Id128&, const Extent& place, char* out) const { return read(place, out); }

Status SegmentStore::makeDurable(const std::vector<StoredChunk>& chunks) {
  std::set<uint32_t> numbers;
  for (const StoredChunk& c : chunks) numbers.insert(c.place.segment);
  return sync(numbers);
}

void SegmentStore::release(const std::vector<StoredChunk>& chunks) {
  if (chunks.empty()) return;
  {
    MutexLock lock(queueMutex_);
    for (const StoredChunk& c : chunks) queue_.push_back(c.place);
  }
  queueChanged_.notify_all();
}

Status SegmentStore::read(const Extent& extent, char* out) const {
  Segment* seg = find(extent.segment);
  if (!seg) return Status::Error(EIO, "segment " + pathOf(extent.segment) + " is missing");
  return seg->file->read(extent.offset, out, extent.length);
}

Status SegmentStore::sync(const std::set<uint32_t>& numbers) {
  std::vector<Segment*> unnamed;  // created since their last sync
  for (uint32_t n : numbers) {
    Segment* seg = find(n);
    if (!seg) continue;  // released meanwhile: nothing of it is referenced
    ACIDFS_RETURN_IF_ERROR(seg->file->syncData());
    if (!seg->nameDurable.load()) unnamed.push_back(seg);
  }
  // fdatasync makes a file's bytes durable, not its name: a new file's
  // directory entry is durable only once the directory is synced.
  if (!unnamed.empty()) {
    ACIDFS_RETURN_IF_ERROR(files_->syncDirectory(dir_));
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
      punch(number, seg, start, end - start);
      seg.liveBytes -= static_cast<int64_t>(released);
      if (seg.liveBytes.load() == 0 && number != active_ && !seg.keep) {
        segments_.erase(it);  // closes it
        Status removed = files_->remove(pathOf(number));
        if (!removed.ok()) ACIDFS_LOG(kWarning, "%s", removed.toString().c_str());
      }
    }
  }
}

uint64_t SegmentStore::bytesOnDisk() const {
  MutexLock lock(mutex_);
  uint64_t total = 0;
  for (const auto& [n, seg] : segments_) total += seg->file->allocatedBytes();
  return total;
}

uint64_t SegmentStore::liveBytes() const {
  MutexLock lock(mutex_);
  int64_t total = 0;
  for (const auto& [n, seg] : segments_) total += seg->liveBytes.load();
  return static_cast<uint64_t>(total);
}

}  // namespace acidfs
