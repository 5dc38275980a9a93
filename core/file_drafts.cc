#include "core/file_drafts.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <vector>

#include "core/clock.h"
#include "core/content_store.h"
#include "core/format.h"
#include "core/log.h"

namespace acidfs {

FileDrafts::FileDrafts(Namespace& ns, ContentStore& content, size_t maxDraftBytes, size_t maxTotalBytes)
    : ns_(ns), content_(content), maxDraftBytes_(maxDraftBytes), maxTotalBytes_(maxTotalBytes) {}

std::shared_ptr<FileDrafts::Draft> FileDrafts::find(uint64_t ino) {
  MutexLock lock(mutex_);
  auto it = drafts_.find(ino);
  return it == drafts_.end() ? nullptr : it->second;
}

Result<std::shared_ptr<FileDrafts::Draft>> FileDrafts::findOrCreate(uint64_t ino) {
  if (auto existing = find(ino)) return existing;
  // An open file (its open() made the cache current); a base that moved
  // anyway is rebased at the commit.
  ACIDFS_ASSIGN_OR_RETURN(Attr attr, ns_.getattr(ino, Freshness::kRecent));
  if (attr.inode.isDir()) return Status::Error(EISDIR, "is a directory");
  if (!attr.inode.isRegular()) return Status::Error(EINVAL, "not a regular file");
  auto draft = std::make_shared<Draft>();
  {
    MutexLock d(draft->mutex);
    draft->base = attr.inode.blob;
    draft->size = draft->baseSize = attr.inode.size;
    draft->mtimeNs = attr.inode.mtimeNs;
  }
  MutexLock lock(mutex_);
  return drafts_.try_emplace(ino, draft).first->second;  // another writer may have won
}

void FileDrafts::retire(uint64_t ino, Draft& draft) {
  draft.retired = true;
  totalBytes_ -= draft.bytes;
  draft.bytes = 0;
  MutexLock lock(mutex_);
  auto it = drafts_.find(ino);
  if (it != drafts_.end() && it->second.get() == &draft) drafts_.erase(it);
}

namespace {

// Adds [begin, end) to sorted, disjoint ranges, merging what touches it.
void addRange(std::vector<std::pair<uint32_t, uint32_t>>& ranges, uint32_t begin, uint32_t end) {
  if (!ranges.empty() && ranges.back().second >= begin && ranges.back().first <= begin) {  // appending: the usual case
    ranges.back().second = std::max(ranges.back().second, end);
    return;
  }
  ranges.emplace_back(begin, end);
  std::sort(ranges.begin(), ranges.end());
  std::vector<std::pair<uint32_t, uint32_t>> merged;
  for (const auto& r : ranges) {
    if (!merged.empty() && r.first <= merged.back().second) merged.back().second = std::max(merged.back().second, r.second);
    else merged.push_back(r);
  }
  ranges.swap(merged);
}

// Whether a read of the draft's base failed because the base moved on (a
// blob freed once the file no longer names it).
bool baseGone(const Status& s) { return s.errnum() == ESTALE; }

}  // namespace

Status FileDrafts::write(uint64_t ino, uint64_t offset, std::string_view data) {
  const uint64_t C = content_.chunkSize();
  if (offset > kMaxFileSize || data.size() > kMaxFileSize - offset)
    return Status::Error(EFBIG, "files are limited to 1 TiB");
  for (int rebased = 0;;) {
    ACIDFS_ASSIGN_OR_RETURN(std::shared_ptr<Draft> draft, findOrCreate(ino));
    MutexLock lock(draft->mutex);
    if (draft->retired) continue;  // committed between lookup and lock
    const uint64_t end = offset + data.size();
    // Windows the write only partly covers keep what the base holds: read
    // them all before changing anything, so a base that moved is rebased
    // first and the write lands whole or not at all.
    std::map<uint64_t, std::string> fresh;
    Status read;
    for (uint64_t index = offset / C; index * C < end && read.ok(); ++index) {
      const uint64_t start = index * C;
      const bool whole = offset <= start && start + C <= end;
      if (draft->windows.count(index) || whole || start >= draft->size) continue;
      read = content_.read(draft->base, start, C, fresh[index]);
    }
    if (baseGone(read) && rebased++ < 8) {
      ACIDFS_RETURN_IF_ERROR(rebaseLocked(ino, *draft));
      continue;
    }
    ACIDFS_RETURN_IF_ERROR(read);
    for (uint64_t index = offset / C; index * C < end; ++index) {
      const uint64_t start = index * C;
      const uint64_t from = std::max(offset, start), to = std::min(end, start + C);
      auto it = draft->windows.find(index);
      if (it == draft->windows.end()) {
        it = draft->windows.emplace(index, Draft::Window{std::move(fresh[index]), {}}).first;
        draft->bytes += C;
        totalBytes_ += C;
      }
      Draft::Window& window = it->second;
      if (window.bytes.size() < to - start) window.bytes.resize(to - start, '\0');
      std::memcpy(window.bytes.data() + (from - start), data.data() + (from - offset), to - from);
      addRange(window.written, static_cast<uint32_t>(from - start), static_cast<uint32_t>(to - start));
    }
    draft->size = std::max(draft->size, end);
    draft->writtenEnd = std::max(draft->writtenEnd, end);
    draft->mtimeNs = ns_.clock().nowNs();
    if (draft->firstWriteNs == 0) draft->firstWriteNs = draft->mtimeNs;
    if (draft->bytes >= maxDraftBytes_ || totalBytes_ >= maxTotalBytes_) return commitLocked(ino, *draft);
    return Status::OK();
  }
}

Status FileDrafts::read(uint64_t ino, uint64_t offset, size_t length, std::string& out) {
  for (int rebased = 0;; ++rebased) {
    std::shared_ptr<Draft> draft = find(ino);
    if (!draft) return ns_.read(ino, offset, length, out);
    MutexLock lock(draft->mutex);
    if (draft->retired) return ns_.read(ino, offset, length, out);
    out.clear();
    if (offset >= draft->size) return Status::OK();
    const size_t want = static_cast<size_t>(std::min<uint64_t>(length, draft->size - offset));
    out.assign(want, '\0');
    const uint64_t C = content_.chunkSize();
    std::string committed;
    Status s;
    for (uint64_t pos = offset; pos < offset + want && s.ok();) {
      const uint64_t index = pos / C, within = pos % C;
      const size_t take = static_cast<size_t>(std::min<uint64_t>(C - within, offset + want - pos));
      auto it = draft->windows.find(index);
      if (it != draft->windows.end()) {
        const std::string& window = it->second.bytes;
        if (within < window.size())
          std::memcpy(out.data() + (pos - offset), window.data() + within, std::min<size_t>(take, window.size() - within));
      } else {
        s = content_.read(draft->base, pos, take, committed);
        if (s.ok()) std::memcpy(out.data() + (pos - offset), committed.data(), committed.size());
      }
      pos += take;
    }
    if (baseGone(s) && rebased < 8) {
      ACIDFS_RETURN_IF_ERROR(rebaseLocked(ino, *draft));
      continue;
    }
    return s;
  }
}

void FileDrafts::overlay(uint64_t ino, InodeRecord& inode) {
  std::shared_ptr<Draft> draft = find(ino);
  if (!draft) return;
  MutexLock lock(draft->mutex);
  if (draft->retired) return;
  inode.size = draft->size;
  inode.mtimeNs = inode.ctimeNs = draft->mtimeNs;
  // Pending windows will take at most a chunk each once committed.
  const uint64_t rounded = (draft->size + 4095) / 4096 * 4096;
  inode.allocatedBytes = std::min(rounded, inode.allocatedBytes + draft->windows.size() * content_.chunkSize());
}

Status FileDrafts::commitLocked(uint64_t ino, Draft& draft) {
  ACIDFS_RETURN_IF_ERROR(commitWindowsLocked(ino, draft));
  if (!draft.retired) retire(ino, draft);
  return Status::OK();
}

Status FileDrafts::commitWindowsLocked(uint64_t ino, Draft& draft) {
  for (int rebased = 0;; ++rebased) {
    if (draft.windows.empty() && draft.size == draft.baseSize) return Status::OK();  // nothing written
    std::map<uint64_t, std::string_view> windows;
    for (const auto& [index, window] : draft.windows) windows.emplace(index, window.bytes);
    auto committed = ns_.commitWindows(ino, draft.size, windows, draft.base, draft.mtimeNs);
    if (committed.status().errnum() == ENOENT) {  // the file is gone: nothing to keep
      retire(ino, draft);
      return Status::OK();
    }
    // The content changed under the draft (ECANCELED: its base moved on):
    // lay the writes over the new content and commit that.
    if (committed.status().errnum() == ECANCELED && rebased < 8) {
      ACIDFS_RETURN_IF_ERROR(rebaseLocked(ino, draft));
      if (draft.retired) return Status::OK();
      continue;
    }
    if (!committed.ok()) return dropIfLost(ino, draft, committed.status());
    // Committed: the draft now holds nothing beyond its (new) base.
    totalBytes_ -= draft.bytes;
    draft.bytes = 0;
    draft.windows.clear();
    draft.base = committed->inode.blob;
    draft.size = draft.baseSize = committed->inode.size;
    draft.writtenEnd = 0;
    return Status::OK();
  }
}

Status FileDrafts::dropIfLost(uint64_t ino, Draft& draft, Status failed) {
  if (!dropsDraft(failed)) return failed;  // kept: a later commit may succeed
  ACIDFS_LOG(kError, "dropping uncommitted writes to inode %llu: %s", static_cast<unsigned long long>(ino),
             failed.toString().c_str());
  retire(ino, draft);
  if (droppedHandler_) droppedHandler_(ino);
  MutexLock lock(mutex_);
  lostWrites_.insert_or_assign(ino, Status::Error(failed.errnum(), "writes to this file were dropped, their commit failed: " +
                                                         failed.message()));
  return failed;
}

Status FileDrafts::takeLostWrites(uint64_t ino) {
  MutexLock lock(mutex_);
  auto it = lostWrites_.find(ino);
  if (it == lostWrites_.end()) return Status::OK();
  Status lost = std::move(it->second);
  lostWrites_.erase(it);
  return lost;
}

Status FileDrafts::rebaseLocked(uint64_t ino, Draft& draft) {
  auto attr = ns_.getattr(ino);
  if (attr.status().errnum() == ENOENT) {  // gone: nothing to keep
    retire(ino, draft);
    return Status::OK();
  }
  ACIDFS_RETURN_IF_ERROR(attr.status());
  if (attr->inode.blob == draft.base) return Status::OK();
  const uint64_t C = content_.chunkSize();
  // Build every window first: a failed read leaves the draft as it was.
  std::map<uint64_t, std::string> rebuilt;
  for (const auto& [index, window] : draft.windows) {
    std::string bytes;
    if (index * C < attr->inode.size) ACIDFS_RETURN_IF_ERROR(content_.read(attr->inode.blob, index * C, C, bytes));
    for (const auto& [begin, end] : window.written) {
      if (bytes.size() < end) bytes.resize(end, '\0');
      std::memcpy(bytes.data() + begin, window.bytes.data() + begin, end - begin);
    }
    rebuilt.emplace(index, std::move(bytes));
  }
  for (auto& [index, bytes] : rebuilt) draft.windows[index].bytes = std::move(bytes);
  draft.base = attr->inode.blob;
  draft.baseSize = attr->inode.size;
  draft.size = std::max(attr->inode.size, draft.writtenEnd);
  return Status::OK();
}

Status FileDrafts::rebase(uint64_t ino) {
  std::shared_ptr<Draft> draft = find(ino);
  if (!draft) return Status::OK();
  MutexLock lock(draft->mutex);
  if (draft->retired) return Status::OK();
  return rebaseLocked(ino, *draft);
}

Status FileDrafts::changeContent(uint64_t ino, const std::function<Status()>& change) {
  for (;;) {
    auto draft = findOrCreate(ino);
    // Not a regular file (a directory's attributes), or gone: no draft to mind.
    if (!draft.ok()) return change();
    MutexLock lock((*draft)->mutex);
    if ((*draft)->retired) continue;  // committed between lookup and lock
    // Writers and readers of the file wait on this draft's lock until the
    // change is done, then find it retired and see the new content.
    ACIDFS_RETURN_IF_ERROR(commitWindowsLocked(ino, **draft));
    Status changed = change();
    if (!(*draft)->retired) retire(ino, **draft);
    return changed;
  }
}

Status FileDrafts::commit(uint64_t ino) {
  Status committed;
  if (std::shared_ptr<Draft> draft = find(ino)) {
    MutexLock lock(draft->mutex);
    if (!draft->retired) committed = commitLocked(ino, *draft);
  }
  Status lost = takeLostWrites(ino);  // this commit's own failure, or an earlier one's
  return committed.ok() ? lost : committed;
}

Status FileDrafts::commitOlderThan(int64_t ageNs) {
  std::vector<uint64_t> due;
  const int64_t cutoff = ns_.clock().nowNs() - ageNs;
  {
    MutexLock lock(mutex_);
    for (auto& [ino, draft] : drafts_) due.push_back(ino);
  }
  Status first;
  for (uint64_t ino : due) {
    std::shared_ptr<Draft> draft = find(ino);
    if (!draft) continue;
    MutexLock lock(draft->mutex);
    if (draft->retired || draft->firstWriteNs > cutoff) continue;
    Status s = commitLocked(ino, *draft);
    if (!s.ok() && first.ok()) first = s;
  }
  return first;
}

Status FileDrafts::commitAll() { return commitOlderThan(INT64_MIN / 2); }

void FileDrafts::discard(uint64_t ino) {
  (void)takeLostWrites(ino);  // the file is gone: no one left to tell
  std::shared_ptr<Draft> draft = find(ino);
  if (!draft) return;
  MutexLock lock(draft->mutex);
  if (!draft->retired) retire(ino, *draft);
}

bool FileDrafts::hasDraft(uint64_t ino) { return find(ino) != nullptr; }

size_t FileDrafts::draftCount() {
  MutexLock lock(mutex_);
  return drafts_.size();
}

}  // namespace acidfs
