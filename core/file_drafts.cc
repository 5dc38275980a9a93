#include "core/file_drafts.h"

#include "core/format.h"

#include <algorithm>
#include <cstring>

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
  ACIDFS_ASSIGN_OR_RETURN(Attr attr, ns_.getattr(ino));
  if (attr.inode.isDir()) return Status::Error(EISDIR, "is a directory");
  if (!attr.inode.isRegular()) return Status::Error(EINVAL, "not a regular file");
  auto draft = std::make_shared<Draft>();
  {
    MutexLock d(draft->mutex);
    draft->base = attr.inode.blob;
    draft->size = attr.inode.size;
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

Status FileDrafts::write(uint64_t ino, uint64_t offset, std::string_view data) {
  const uint64_t C = content_.chunkSize();
  if (offset > kMaxFileSize || data.size() > kMaxFileSize - offset)
    return Status::Error(EFBIG, "files are limited to 1 TiB");
  for (;;) {
    ACIDFS_ASSIGN_OR_RETURN(std::shared_ptr<Draft> draft, findOrCreate(ino));
    MutexLock lock(draft->mutex);
    if (draft->retired) continue;  // committed between lookup and lock
    const uint64_t end = offset + data.size();
    for (uint64_t index = offset / C; index * C < end; ++index) {
      const uint64_t start = index * C;
      const uint64_t from = std::max(offset, start), to = std::min(end, start + C);
      auto it = draft->windows.find(index);
      if (it == draft->windows.end()) {
        std::string window;
        if (!(from == start && to == start + C) && start < draft->size) {  // keep what is there
          ACIDFS_RETURN_IF_ERROR(content_.read(draft->base, start, C, window));
        }
        it = draft->windows.emplace(index, std::move(window)).first;
        draft->bytes += C;
        totalBytes_ += C;
      }
      std::string& window = it->second;
      if (window.size() < to - start) window.resize(to - start, '\0');
      std::memcpy(window.data() + (from - start), data.data() + (from - offset), to - from);
    }
    draft->size = std::max(draft->size, end);
    draft->mtimeNs = nowNs();
    if (draft->firstWriteNs == 0) draft->firstWriteNs = draft->mtimeNs;
    if (draft->bytes >= maxDraftBytes_ || totalBytes_ >= maxTotalBytes_) return commitLocked(ino, *draft);
    return Status::OK();
  }
}

Status FileDrafts::read(uint64_t ino, uint64_t offset, size_t length, std::string& out) {
  std::shared_ptr<Draft> draft = find(ino);
  if (!draft) return ns_.read(ino, offset, length, out);
  MutexLock lock(draft->mutex);
  if (draft->retired) return ns_.read(ino, offset, length, out);
  out.clear();
  if (offset >= draft->size) return Status::OK();
  length = static_cast<size_t>(std::min<uint64_t>(length, draft->size - offset));
  out.assign(length, '\0');
  const uint64_t C = content_.chunkSize();
  std::string committed;
  for (uint64_t pos = offset; pos < offset + length;) {
    const uint64_t index = pos / C, within = pos % C;
    const size_t take = static_cast<size_t>(std::min<uint64_t>(C - within, offset + length - pos));
    auto it = draft->windows.find(index);
    if (it != draft->windows.end()) {
      const std::string& window = it->second;
      if (within < window.size())
        std::memcpy(out.data() + (pos - offset), window.data() + within, std::min<size_t>(take, window.size() - within));
    } else {
      ACIDFS_RETURN_IF_ERROR(content_.read(draft->base, pos, take, committed));
      std::memcpy(out.data() + (pos - offset), committed.data(), committed.size());
    }
    pos += take;
  }
  return Status::OK();
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
  std::map<uint64_t, std::string_view> windows;
  for (const auto& [index, bytes] : draft.windows) windows.emplace(index, bytes);
  auto committed = ns_.commitWindows(ino, draft.size, windows, draft.base, draft.mtimeNs);
  if (committed.status().errnum() == ENOENT) {  // the file is gone: nothing to keep
    retire(ino, draft);
    return Status::OK();
  }
  ACIDFS_RETURN_IF_ERROR(committed.status());
  retire(ino, draft);
  return Status::OK();
}

Status FileDrafts::commit(uint64_t ino) {
  std::shared_ptr<Draft> draft = find(ino);
  if (!draft) return Status::OK();
  MutexLock lock(draft->mutex);
  if (draft->retired) return Status::OK();
  return commitLocked(ino, *draft);
}

Status FileDrafts::commitOlderThan(int64_t ageNs) {
  std::vector<uint64_t> due;
  const int64_t cutoff = nowNs() - ageNs;
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
