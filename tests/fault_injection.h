// A disk that can lose its power, for the store's files: a model of what
// stable storage holds, after LevelDB's db/fault_injection_test.cc (whose
// FaultInjectionTestEnv remembers what was synced and drops the rest).
//
// A store opened with this disk's metadataFileSystem() (RocksDB's files)
// and segmentFiles() (segment files, the store's directory syncs) writes
// through to the real files, while the disk notes, per file, what a sync
// made durable, and which names were created or renamed since their
// directory was last synced. A power cut is then:
//   1. cutPower() (or a budget of bytes or syncs running out, so that the
//      cut lands inside a write or before a sync): from then on nothing
//      reaches stable storage. Writes still succeed and land in the real
//      files (readers see them, as a page cache would), but are dropped at
//      step 3; syncs succeed and make nothing durable; removals and punched
//      holes succeed and do nothing.
//   2. The store is destroyed: its threads stop; whatever it writes while
//      closing is lost like any write after the cut.
//   3. settle(): every file is cut back to what was durable, and every name
//      change not made durable by a sync of its directory is undone. Then
//      the store is opened again on the real files.
//
// What the model keeps, and why (worst case for the store where there is a
// choice, and as POSIX promises otherwise):
//   - a file's bytes up to its size at its last sync (fdatasync, Sync,
//     Fsync; RangeSync up to its range): durable. Bytes written since are
//     dropped (kAllUnsynced), or a random prefix of those written before the
//     cut is kept, the last write perhaps torn (kRandomTail), as writeback
//     may have carried some of them to the disk. A dropped write inside the
//     durable size reads as zeros afterwards (segment files write only at
//     fresh offsets, which read as zeros before; overwritten bytes are not
//     brought back).
//   - a created file or directory whose directory was not synced since: gone,
//     data synced or not.
//   - a rename whose directory was not synced since: undone, the file under
//     its old name again and what it replaced (as much of it as was durable)
//     back under the new one.
//   - removals of files and punched holes made before the cut: kept (they
//     may reach the disk at any moment, synced or not; keeping them is the
//     worst case for the store, whose metadata may roll back to name them).
//   - the store's marker and LOCK, written outside these interfaces, and
//     RocksDB's info LOG: as the real files are (the format's own crash
//     tests cover the marker).
// Syncs are not passed on to the real disk: the model decides what
// survives, and skipping them makes thousands of cuts affordable.
#pragma once

#include <rocksdb/file_system.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "core/segment_files.h"
#include "core/status.h"
#include "core/thread_annotations.h"

namespace acidfs::testing {

class PowerCutDisk : public std::enable_shared_from_this<PowerCutDisk> {
 public:
  static std::shared_ptr<PowerCutDisk> make() { return std::shared_ptr<PowerCutDisk>(new PowerCutDisk()); }

  // For StoreOptions::metadataFileSystem and ::segmentFiles.
  std::shared_ptr<rocksdb::FileSystem> metadataFileSystem();
  std::shared_ptr<SegmentFiles> segmentFiles();

  // The power goes off by itself once `bytes` more bytes were written (the
  // write that crosses the budget is torn there) or when a sync would be the
  // `syncs`+1-th from now (it then makes nothing durable). Syncs of files
  // and of directories both count.
  void cutAfter(uint64_t bytes, uint64_t syncs) EXCLUDES(mutex_);
  void cutPower() EXCLUDES(mutex_);
  bool powered() const EXCLUDES(mutex_);

  enum class Loss { kAllUnsynced, kRandomTail };
  // Step 3, once nothing uses the files any more: leaves on the real disk
  // what stable storage held when the power went off. `rng` draws what
  // kRandomTail keeps. Returns a one-line account of what was lost.
  Result<std::string> settle(Loss loss, std::mt19937_64& rng) EXCLUDES(mutex_);

  // What the store did to the disk while it was powered.
  struct Counters {
    uint64_t bytesWritten = 0, fileSyncs = 0, directorySyncs = 0;
  };
  Counters counters() const EXCLUDES(mutex_);
  // Called at the start of every file sync, outside the disk's lock, before
  // the sync takes effect: a test can hold a sync there. Set it before the
  // store shares the disk between threads.
  void setBeforeFileSync(std::function<void()> hook) { beforeFileSync_ = std::move(hook); }

  // ---- for the wrappers (fault_injection.cc) -------------------------------
  // Each runs the real operation `io` (true when it succeeded) under the
  // disk's lock and notes what it did, so that the power cannot go off
  // between the two.
  static constexpr uint64_t kAppend = UINT64_MAX;
  struct Write {
    uint64_t offset = 0, length = 0;
    bool powered = true;  // false: written after the cut, always lost
  };
  struct FileState {
    uint64_t syncedSize = 0;      // durable: [0, syncedSize)
    uint64_t size = 0;            // as written
    std::vector<Write> unsynced;  // since the last sync, in order
  };
  using FileRef = std::shared_ptr<FileState>;
  // Makes (or truncates) a file: its name is durable once its directory is
  // synced, its bytes once it is.
  FileRef createFile(const std::string& path, const std::function<bool()>& io) EXCLUDES(mutex_);
  // Opens a file that exists for writing: what it holds now is durable.
  FileRef openFile(const std::string& path, uint64_t size) EXCLUDES(mutex_);
  bool createDirectory(const std::string& path, const std::function<std::optional<bool>()>& io) EXCLUDES(mutex_);
  // `length` bytes at `offset` (kAppend: at the end).
  bool write(const FileRef& file, uint64_t offset, uint64_t length, const std::function<bool()>& io) EXCLUDES(mutex_);
  void syncFile(const FileRef& file, uint64_t upTo = UINT64_MAX) EXCLUDES(mutex_);
  void syncDirectory(const std::string& dir) EXCLUDES(mutex_);
  bool truncate(const FileRef& file, uint64_t size, const std::function<bool()>& io) EXCLUDES(mutex_);
  bool rename(const std::string& from, const std::string& to, const std::function<bool()>& io) EXCLUDES(mutex_);
  // Removals and punched holes: `io` runs only while the power is on.
  bool remove(const std::string& path, const std::function<bool()>& io) EXCLUDES(mutex_);
  bool punch(const std::function<bool()>& io) EXCLUDES(mutex_);

 private:
  PowerCutDisk() = default;
  std::function<void()> beforeFileSync_;  // constant while the disk is shared

  // A change to a directory's names, undone by settle() unless a sync of
  // `dir` came after it.
  struct NameChange {
    enum Kind { kCreatedFile, kCreatedDirectory, kRenamed } kind;
    std::string dir, path;
    std::string from;                       // kRenamed: the old name
    std::optional<std::string> replaced;    // kRenamed: what `path` durably held before
  };

  void powerOff() REQUIRES(mutex_);
  // A sync: false when it makes nothing durable (the power is off, or goes
  // off now).
  bool takeSync() REQUIRES(mutex_);
  // What `path` durably holds, when it exists.
  std::optional<std::string> durableContent(const std::string& path) REQUIRES(mutex_);

  mutable Mutex mutex_;
  bool powered_ GUARDED_BY(mutex_) = true;
  uint64_t bytesLeft_ GUARDED_BY(mutex_) = UINT64_MAX;
  uint64_t syncsLeft_ GUARDED_BY(mutex_) = UINT64_MAX;
  Counters counters_ GUARDED_BY(mutex_);
  std::map<std::string, FileRef> files_ GUARDED_BY(mutex_);  // by current name
  std::vector<NameChange> unsyncedNames_ GUARDED_BY(mutex_);
};

}  // namespace acidfs::testing
