#include "tests/fault_injection.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>

namespace acidfs::testing {

namespace {

std::string dirOf(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
}

bool exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

// ---- RocksDB's files ---------------------------------------------------------------

using rocksdb::DataVerificationInfo;
using rocksdb::FileOptions;
using rocksdb::IODebugContext;
using rocksdb::IOOptions;
using rocksdb::IOStatus;
using rocksdb::Slice;

class PowerCutWritableFile final : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  PowerCutWritableFile(std::unique_ptr<rocksdb::FSWritableFile> target, std::shared_ptr<PowerCutDisk> disk,
                       PowerCutDisk::FileRef file)
      : FSWritableFileOwnerWrapper(std::move(target)), disk_(std::move(disk)), file_(std::move(file)) {}

  IOStatus Append(const Slice& data, const IOOptions& options, IODebugContext* dbg) override {
    IOStatus s;
    disk_->write(file_, PowerCutDisk::kAppend, data.size(), [&] {
      s = target()->Append(data, options, dbg);
      return s.ok();
    });
    return s;
  }
  IOStatus Append(const Slice& data, const IOOptions& options, const DataVerificationInfo&,
                  IODebugContext* dbg) override {
    return Append(data, options, dbg);
  }
  IOStatus PositionedAppend(const Slice& data, uint64_t offset, const IOOptions& options,
                            IODebugContext* dbg) override {
    IOStatus s;
    disk_->write(file_, offset, data.size(), [&] {
      s = target()->PositionedAppend(data, offset, options, dbg);
      return s.ok();
    });
    return s;
  }
  IOStatus PositionedAppend(const Slice& data, uint64_t offset, const IOOptions& options,
                            const DataVerificationInfo&, IODebugContext* dbg) override {
    return PositionedAppend(data, offset, options, dbg);
  }
  IOStatus Truncate(uint64_t size, const IOOptions& options, IODebugContext* dbg) override {
    IOStatus s;
    disk_->truncate(file_, size, [&] {
      s = target()->Truncate(size, options, dbg);
      return s.ok();
    });
    return s;
  }
  // Durability is the model's business: the real file is not synced.
  IOStatus Sync(const IOOptions&, IODebugContext*) override {
    disk_->syncFile(file_);
    return IOStatus::OK();
  }
  IOStatus Fsync(const IOOptions&, IODebugContext*) override {
    disk_->syncFile(file_);
    return IOStatus::OK();
  }
  IOStatus RangeSync(uint64_t offset, uint64_t nbytes, const IOOptions&, IODebugContext*) override {
    disk_->syncFile(file_, offset + nbytes);
    return IOStatus::OK();
  }
  bool IsSyncThreadSafe() const override { return true; }  // the disk's lock orders them
  // No preallocation: it changes nothing the disk keeps, and on tmpfs it
  // costs a write of zeros as large as a memtable per log.
  void PrepareWrite(size_t, size_t, const IOOptions&, IODebugContext*) override {}
  IOStatus Allocate(uint64_t, uint64_t, const IOOptions&, IODebugContext*) override { return IOStatus::OK(); }

 private:
  const std::shared_ptr<PowerCutDisk> disk_;
  const PowerCutDisk::FileRef file_;
};

class PowerCutDirectory final : public rocksdb::FSDirectoryWrapper {
 public:
  PowerCutDirectory(std::unique_ptr<rocksdb::FSDirectory> target, std::shared_ptr<PowerCutDisk> disk,
                    std::string path)
      : FSDirectoryWrapper(std::move(target)), disk_(std::move(disk)), path_(std::move(path)) {}

  IOStatus Fsync(const IOOptions&, IODebugContext*) override {
    disk_->syncDirectory(path_);
    return IOStatus::OK();
  }
  IOStatus FsyncWithDirOptions(const IOOptions&, IODebugContext*, const rocksdb::DirFsyncOptions&) override {
    disk_->syncDirectory(path_);
    return IOStatus::OK();
  }

 private:
  const std::shared_ptr<PowerCutDisk> disk_;
  const std::string path_;
};

class PowerCutFileSystem final : public rocksdb::FileSystemWrapper {
 public:
  explicit PowerCutFileSystem(std::shared_ptr<PowerCutDisk> disk)
      : FileSystemWrapper(rocksdb::FileSystem::Default()), disk_(std::move(disk)) {}
  const char* Name() const override { return "AcidfsPowerCutFileSystem"; }

  IOStatus NewWritableFile(const std::string& path, const FileOptions& options,
                           std::unique_ptr<rocksdb::FSWritableFile>* result, IODebugContext* dbg) override {
    IOStatus s;
    std::unique_ptr<rocksdb::FSWritableFile> file;
    PowerCutDisk::FileRef ref = disk_->createFile(path, [&] {
      s = target()->NewWritableFile(path, options, &file, dbg);
      return s.ok();
    });
    if (s.ok()) result->reset(new PowerCutWritableFile(std::move(file), disk_, std::move(ref)));
    return s;
  }
  IOStatus ReopenWritableFile(const std::string& path, const FileOptions& options,
                              std::unique_ptr<rocksdb::FSWritableFile>* result, IODebugContext* dbg) override {
    uint64_t size = 0;
    IOStatus s = target()->GetFileSize(path, IOOptions(), &size, dbg);
    if (s.IsNotFound() || s.IsPathNotFound()) return NewWritableFile(path, options, result, dbg);
    std::unique_ptr<rocksdb::FSWritableFile> file;
    if (s.ok()) s = target()->ReopenWritableFile(path, options, &file, dbg);
    if (s.ok()) result->reset(new PowerCutWritableFile(std::move(file), disk_, disk_->openFile(path, size)));
    return s;
  }
  // Not used by our options (no recycled logs, no external files): refused
  // rather than left outside the model.
  IOStatus ReuseWritableFile(const std::string&, const std::string&, const FileOptions&,
                             std::unique_ptr<rocksdb::FSWritableFile>*, IODebugContext*) override {
    return IOStatus::NotSupported("ReuseWritableFile under a power-cut disk");
  }
  IOStatus NewRandomRWFile(const std::string&, const FileOptions&, std::unique_ptr<rocksdb::FSRandomRWFile>*,
                           IODebugContext*) override {
    return IOStatus::NotSupported("NewRandomRWFile under a power-cut disk");
  }
  IOStatus LinkFile(const std::string&, const std::string&, const IOOptions&, IODebugContext*) override {
    return IOStatus::NotSupported("LinkFile under a power-cut disk");
  }

  IOStatus NewDirectory(const std::string& path, const IOOptions& options,
                        std::unique_ptr<rocksdb::FSDirectory>* result, IODebugContext* dbg) override {
    std::unique_ptr<rocksdb::FSDirectory> dir;
    IOStatus s = target()->NewDirectory(path, options, &dir, dbg);
    if (s.ok()) result->reset(new PowerCutDirectory(std::move(dir), disk_, path));
    return s;
  }
  IOStatus CreateDir(const std::string& path, const IOOptions& options, IODebugContext* dbg) override {
    IOStatus s;
    disk_->createDirectory(path, [&]() -> std::optional<bool> {
      s = target()->CreateDir(path, options, dbg);
      return s.ok() ? std::optional<bool>(true) : std::nullopt;
    });
    return s;
  }
  IOStatus CreateDirIfMissing(const std::string& path, const IOOptions& options, IODebugContext* dbg) override {
    IOStatus s;
    disk_->createDirectory(path, [&]() -> std::optional<bool> {
      const bool existed = exists(path);
      s = target()->CreateDirIfMissing(path, options, dbg);
      return s.ok() ? std::optional<bool>(!existed) : std::nullopt;
    });
    return s;
  }
  IOStatus DeleteFile(const std::string& path, const IOOptions& options, IODebugContext* dbg) override {
    IOStatus s;
    disk_->remove(path, [&] {
      s = target()->DeleteFile(path, options, dbg);
      return s.ok();
    });
    return s;
  }
  IOStatus DeleteDir(const std::string& path, const IOOptions& options, IODebugContext* dbg) override {
    IOStatus s;
    disk_->remove(path, [&] {
      s = target()->DeleteDir(path, options, dbg);
      return s.ok();
    });
    return s;
  }
  IOStatus Truncate(const std::string& path, size_t size, const IOOptions& options, IODebugContext* dbg) override {
    uint64_t before = 0;
    IOStatus s = target()->GetFileSize(path, options, &before, dbg);
    if (!s.ok()) return s;
    disk_->truncate(disk_->openFile(path, before), size, [&] {
      s = target()->Truncate(path, size, options, dbg);
      return s.ok();
    });
    return s;
  }
  IOStatus RenameFile(const std::string& from, const std::string& to, const IOOptions& options,
                      IODebugContext* dbg) override {
    IOStatus s;
    disk_->rename(from, to, [&] {
      s = target()->RenameFile(from, to, options, dbg);
      return s.ok();
    });
    return s;
  }

 private:
  const std::shared_ptr<PowerCutDisk> disk_;
};

// ---- segment files -------------------------------------------------------------------

class PowerCutSegmentFile final : public SegmentFile {
 public:
  PowerCutSegmentFile(std::unique_ptr<SegmentFile> real, std::shared_ptr<PowerCutDisk> disk,
                      PowerCutDisk::FileRef file)
      : real_(std::move(real)), disk_(std::move(disk)), file_(std::move(file)) {}

  Status write(uint64_t offset, std::string_view data) override {
    Status s;
    disk_->write(file_, offset, data.size(), [&] {
      s = real_->write(offset, data);
      return s.ok();
    });
    return s;
  }
  Status read(uint64_t offset, char* out, size_t length) const override { return real_->read(offset, out, length); }
  Status syncData() override {
    disk_->syncFile(file_);
    return Status::OK();
  }
  Status punchHole(uint64_t offset, uint64_t length) override {
    Status s;
    disk_->punch([&] {
      s = real_->punchHole(offset, length);
      return s.ok();
    });
    return s;
  }
  Result<uint64_t> size() const override { return real_->size(); }
  uint64_t allocatedBytes() const override { return real_->allocatedBytes(); }

 private:
  const std::unique_ptr<SegmentFile> real_;
  const std::shared_ptr<PowerCutDisk> disk_;
  const PowerCutDisk::FileRef file_;
};

class PowerCutSegmentFiles final : public SegmentFiles {
 public:
  explicit PowerCutSegmentFiles(std::shared_ptr<PowerCutDisk> disk)
      : real_(posixSegmentFiles()), disk_(std::move(disk)) {}

  Result<bool> createDirectory(const std::string& path) override {
    Result<bool> made = Status::Error(EIO, "not run");
    disk_->createDirectory(path, [&]() -> std::optional<bool> {
      made = real_->createDirectory(path);
      return made.ok() ? std::optional<bool>(*made) : std::nullopt;
    });
    return made;
  }
  Result<std::vector<std::string>> list(const std::string& dir) override { return real_->list(dir); }
  Result<std::unique_ptr<SegmentFile>> open(const std::string& path, bool create) override {
    Result<std::unique_ptr<SegmentFile>> opened = Status::Error(EIO, "not run");
    PowerCutDisk::FileRef ref;
    if (create) {
      ref = disk_->createFile(path, [&] {
        opened = real_->open(path, true);
        return opened.ok();
      });
    } else {
      opened = real_->open(path, false);
      if (opened.ok()) {
        ACIDFS_ASSIGN_OR_RETURN(uint64_t size, (*opened)->size());
        ref = disk_->openFile(path, size);
      }
    }
    if (!opened.ok()) return opened.status();
    return std::unique_ptr<SegmentFile>(new PowerCutSegmentFile(std::move(*opened), disk_, std::move(ref)));
  }
  Status remove(const std::string& path) override {
    Status s;
    disk_->remove(path, [&] {
      s = real_->remove(path);
      return s.ok();
    });
    return s;
  }
  Status syncDirectory(const std::string& dir) override {
    disk_->syncDirectory(dir);
    return Status::OK();
  }

 private:
  const std::shared_ptr<SegmentFiles> real_;
  const std::shared_ptr<PowerCutDisk> disk_;
};

// Zeros [offset, offset+length) of an open file (a dropped write reads as
// the zeros it replaced).
void zero(int fd, uint64_t offset, uint64_t length) {
  if (length == 0) return;
  if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset),
                static_cast<off_t>(length)) == 0)
    return;
  const std::string zeros(length, '\0');
  (void)!pwrite(fd, zeros.data(), zeros.size(), static_cast<off_t>(offset));
}

}  // namespace

// ---- the disk ------------------------------------------------------------------------

std::shared_ptr<rocksdb::FileSystem> PowerCutDisk::metadataFileSystem() {
  return std::make_shared<PowerCutFileSystem>(shared_from_this());
}

std::shared_ptr<SegmentFiles> PowerCutDisk::segmentFiles() {
  return std::make_shared<PowerCutSegmentFiles>(shared_from_this());
}

void PowerCutDisk::cutAfter(uint64_t bytes, uint64_t syncs) {
  MutexLock lock(mutex_);
  bytesLeft_ = bytes;
  syncsLeft_ = syncs;
}

void PowerCutDisk::cutPower() {
  MutexLock lock(mutex_);
  powerOff();
}

bool PowerCutDisk::powered() const {
  MutexLock lock(mutex_);
  return powered_;
}

PowerCutDisk::Counters PowerCutDisk::counters() const {
  MutexLock lock(mutex_);
  return counters_;
}

void PowerCutDisk::powerOff() { powered_ = false; }

bool PowerCutDisk::takeSync() {
  if (!powered_) return false;
  if (syncsLeft_ == 0) {
    powerOff();
    return false;
  }
  if (syncsLeft_ != UINT64_MAX) --syncsLeft_;
  return true;
}

PowerCutDisk::FileRef PowerCutDisk::createFile(const std::string& path, const std::function<bool()>& io) {
  MutexLock lock(mutex_);
  const bool existed = exists(path);
  if (!io()) return nullptr;
  // A file that was there is truncated: like a removal, that is kept.
  auto file = std::make_shared<FileState>();
  files_[path] = file;
  if (!existed) unsyncedNames_.push_back({NameChange::kCreatedFile, dirOf(path), path, "", std::nullopt});
  return file;
}

PowerCutDisk::FileRef PowerCutDisk::openFile(const std::string& path, uint64_t size) {
  MutexLock lock(mutex_);
  FileRef& file = files_[path];
  if (!file) {
    file = std::make_shared<FileState>();
    file->syncedSize = file->size = size;
  }
  return file;
}

bool PowerCutDisk::createDirectory(const std::string& path, const std::function<std::optional<bool>()>& io) {
  MutexLock lock(mutex_);
  const std::optional<bool> made = io();
  if (!made) return false;
  if (*made) unsyncedNames_.push_back({NameChange::kCreatedDirectory, dirOf(path), path, "", std::nullopt});
  return true;
}

bool PowerCutDisk::write(const FileRef& file, uint64_t offset, uint64_t length, const std::function<bool()>& io) {
  MutexLock lock(mutex_);
  if (offset == kAppend) offset = file->size;
  if (!io()) return false;
  const uint64_t reached = powered_ ? std::min(length, bytesLeft_) : 0;
  if (powered_) {
    if (bytesLeft_ != UINT64_MAX) bytesLeft_ -= reached;
    counters_.bytesWritten += reached;
    if (reached < length) powerOff();  // torn here
  }
  if (reached > 0) file->unsynced.push_back({offset, reached, true});
  if (reached < length) file->unsynced.push_back({offset + reached, length - reached, false});
  file->size = std::max(file->size, offset + length);
  return true;
}

void PowerCutDisk::syncFile(const FileRef& file, uint64_t upTo) {
  if (beforeFileSync_) beforeFileSync_();
  MutexLock lock(mutex_);
  if (!takeSync()) return;
  counters_.fileSyncs++;
  const uint64_t to = std::min(upTo, file->size);
  file->syncedSize = std::max(file->syncedSize, to);
  // What lies below `to` is durable now; a write across it keeps its rest.
  std::vector<Write> left;
  for (const Write& w : file->unsynced) {
    if (w.offset + w.length <= to) continue;
    if (w.offset < to)
      left.push_back({to, w.offset + w.length - to, w.powered});
    else
      left.push_back(w);
  }
  file->unsynced = std::move(left);
}

void PowerCutDisk::syncDirectory(const std::string& dir) {
  MutexLock lock(mutex_);
  if (!takeSync()) return;
  counters_.directorySyncs++;
  std::erase_if(unsyncedNames_, [&](const NameChange& c) { return c.dir == dir; });
}

bool PowerCutDisk::truncate(const FileRef& file, uint64_t size, const std::function<bool()>& io) {
  MutexLock lock(mutex_);
  if (!powered_) return true;  // like a removal: reaches the disk only while it has power
  if (!io()) return false;
  file->size = size;
  file->syncedSize = std::min(file->syncedSize, size);
  std::vector<Write> left;
  for (Write w : file->unsynced) {
    if (w.offset >= size) continue;
    w.length = std::min(w.length, size - w.offset);
    left.push_back(w);
  }
  file->unsynced = std::move(left);
  return true;
}

std::optional<std::string> PowerCutDisk::durableContent(const std::string& path) {
  if (!exists(path)) return std::nullopt;
  std::ifstream in(path, std::ios::binary);
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto it = files_.find(path);
  if (it != files_.end() && content.size() > it->second->syncedSize) content.resize(it->second->syncedSize);
  return content;
}

bool PowerCutDisk::rename(const std::string& from, const std::string& to, const std::function<bool()>& io) {
  MutexLock lock(mutex_);
  std::optional<std::string> replaced = durableContent(to);
  if (!io()) return false;
  auto it = files_.find(from);
  if (it != files_.end()) {
    FileRef file = it->second;
    files_.erase(it);
    files_[to] = std::move(file);
  } else {
    files_.erase(to);
  }
  unsyncedNames_.push_back({NameChange::kRenamed, dirOf(to), to, from, std::move(replaced)});
  return true;
}

bool PowerCutDisk::remove(const std::string& path, const std::function<bool()>& io) {
  MutexLock lock(mutex_);
  if (!powered_) return true;
  if (!io()) return false;
  files_.erase(path);
  return true;
}

bool PowerCutDisk::punch(const std::function<bool()>& io) {
  MutexLock lock(mutex_);
  if (!powered_) return true;
  return io();
}

Result<std::string> PowerCutDisk::settle(Loss loss, std::mt19937_64& rng) {
  MutexLock lock(mutex_);
  powerOff();
  uint64_t bytesDropped = 0, filesCut = 0, namesUndone = 0;
  // Bytes first, under the names the files have now.
  for (const auto& [path, file] : files_) {
    if (file->unsynced.empty() && file->size <= file->syncedSize) continue;
    std::vector<Write> kept, dropped = file->unsynced;
    if (loss == Loss::kRandomTail) {
      // Powered writes come first (the power never comes back): keep a
      // random prefix of them, the last perhaps torn.
      const size_t powered = static_cast<size_t>(
          std::count_if(dropped.begin(), dropped.end(), [](const Write& w) { return w.powered; }));
      const size_t keep = static_cast<size_t>(rng() % (powered + 1));
      kept.assign(dropped.begin(), dropped.begin() + static_cast<ptrdiff_t>(keep));
      dropped.erase(dropped.begin(), dropped.begin() + static_cast<ptrdiff_t>(keep));
      if (keep < powered && dropped.front().length > 1 && rng() % 2) {
        const uint64_t torn = 1 + rng() % (dropped.front().length - 1);
        kept.push_back({dropped.front().offset, torn, true});
        dropped.front().offset += torn;
        dropped.front().length -= torn;
      }
    }
    uint64_t size = file->syncedSize;
    for (const Write& w : kept) size = std::max(size, w.offset + w.length);
    const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return Status::FromErrno("settling " + path);
    for (const Write& w : dropped)
      if (w.offset < size) zero(fd, w.offset, std::min(w.offset + w.length, size) - w.offset);
    struct stat st;
    const bool cut = fstat(fd, &st) == 0 && static_cast<uint64_t>(st.st_size) > size;
    if (cut) bytesDropped += static_cast<uint64_t>(st.st_size) - size;
    const bool truncated = ftruncate(fd, static_cast<off_t>(size)) == 0;
    close(fd);
    if (!truncated) return Status::FromErrno("truncating " + path);
    if (cut) ++filesCut;
  }
  // Then the names, newest first.
  for (auto it = unsyncedNames_.rbegin(); it != unsyncedNames_.rend(); ++it) {
    std::error_code ec;
    ++namesUndone;
    switch (it->kind) {
      case NameChange::kCreatedFile:
        std::filesystem::remove(it->path, ec);
        break;
      case NameChange::kCreatedDirectory:
        std::filesystem::remove_all(it->path, ec);
        break;
      case NameChange::kRenamed:
        if (exists(it->path)) std::filesystem::rename(it->path, it->from, ec);
        if (it->replaced) {
          std::ofstream out(it->path, std::ios::binary | std::ios::trunc);
          out << *it->replaced;
        }
        break;
    }
  }
  files_.clear();
  unsyncedNames_.clear();
  return "lost " + std::to_string(bytesDropped) + " unsynced bytes of " + std::to_string(filesCut) +
         " files and undid " + std::to_string(namesUndone) + " name changes";
}

}  // namespace acidfs::testing
