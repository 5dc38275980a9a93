// The file operations the segment store makes (segment_store.h), and the
// directory syncs of the store around it, behind an interface: production
// uses POSIX, one system call per operation (posixSegmentFiles()); a test
// puts a model of a disk under them that knows what a power cut keeps
// (tests/fault_injection.h). The metadata's files are RocksDB's, behind
// rocksdb::FileSystem (StoreOptions::metadataFileSystem).
//
// Durability is what POSIX promises, and nothing more: bytes written are
// durable once syncData() returns; a name created (a file, a directory) is
// durable once its directory is synced; a punched hole or a removed file may
// be on disk at once, synced or not.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace acidfs {

// One open segment file; the destructor closes it.
class SegmentFile {
 public:
  virtual ~SegmentFile() = default;
  // pwrite of all of `data` at `offset` (short writes and EINTR retried).
  virtual Status write(uint64_t offset, std::string_view data) = 0;
  // pread of exactly `length` bytes at `offset`: EIO when the file ends first.
  virtual Status read(uint64_t offset, char* out, size_t length) const = 0;
  // fdatasync: every byte written so far is durable.
  virtual Status syncData() = 0;
  // Gives [offset, offset+length) back to the filesystem (FALLOC_FL_PUNCH_HOLE,
  // the size kept): the range then reads as zeros.
  virtual Status punchHole(uint64_t offset, uint64_t length) = 0;
  virtual Result<uint64_t> size() const = 0;
  virtual uint64_t allocatedBytes() const = 0;  // st_blocks × 512; 0 when unknown
};

class SegmentFiles {
 public:
  virtual ~SegmentFiles() = default;
  // mkdir(2), mode 0700: true when it made the directory, false when one was there.
  virtual Result<bool> createDirectory(const std::string& path) = 0;
  // The names in `dir` (no "." and ".."), in no particular order.
  virtual Result<std::vector<std::string>> list(const std::string& dir) = 0;
  // Opens a file read-write; with `create` it must not exist yet (O_EXCL).
  virtual Result<std::unique_ptr<SegmentFile>> open(const std::string& path, bool create) = 0;
  virtual Status remove(const std::string& path) = 0;  // unlink(2)
  // fsync of a directory: the names created in it are durable.
  virtual Status syncDirectory(const std::string& dir) = 0;
};

// The real files. Shared: it holds no state.
std::shared_ptr<SegmentFiles> posixSegmentFiles();

// fsync of a directory, POSIX (what posixSegmentFiles() does).
Status syncDirectory(const std::string& dir);

}  // namespace acidfs
