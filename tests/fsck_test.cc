// acidfs fsck (core/fsck.h): a clean store is clean; a corrupted chunk, a
// wrong reference count, a wrong link count and an entry naming a missing
// inode are each found; --repair fixes all but the corrupted chunk.
#include "core/fsck.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>

#include "core/format.h"
#include "core/rados_chunk_store.h"
#include "core/meta_db.h"
#include "core/records.h"
#include "core/transaction.h"
#include "tests/test_util.h"

namespace acidfs {
namespace {

using testing::StoreFixture;

class Fsck : public StoreFixture {
 protected:
  FsckReport check(bool repair = false) {
    auto report = fsckStore(*store_, repair);
    EXPECT_TRUE(report.ok()) << report.status().toString();
    return report.ok() ? *report : FsckReport{};
  }
  static bool mentions(const std::vector<std::string>& lines, const std::string& text) {
    return std::any_of(lines.begin(), lines.end(), [&](const std::string& l) { return l.find(text) != std::string::npos; });
  }
  // Rewrites a record behind the core's back, as a bug or a bad disk would.
  void overwrite(Column column, const std::string& key, const std::string& value) {
    ASSERT_TRUE(store_->runner().run([&](Txn& txn) { return txn.put(column, key, value); }).ok());
  }
  void erase(Column column, const std::string& key) {
    ASSERT_TRUE(store_->runner().run([&](Txn& txn) { return txn.del(column, key); }).ok());
  }
  void populate() {
    const uint64_t d = makeDir(kRootIno, "d");
    makeFile(d, "small", "a small file");
    makeFile(d, "big", ::acidfs::testing::randomBytes(300000, 7));
    makeFile(kRootIno, "same", "a small file");  // shares its blob
    ASSERT_TRUE(ns().link(ns().lookup(d, "small")->ino, kRootIno, "hardlink").ok());
    ASSERT_TRUE(cas().put(Caller::root(), "leased, not committed").ok());
  }
};

TEST_F(Fsck, APopulatedStoreIsClean) {
  populate();
  FsckReport r = check();
  EXPECT_TRUE(r.clean()) << r.findings.front();
  EXPECT_EQ(5u, r.inodes);  // root, d, small, big, same; hardlink shares small's inode
  EXPECT_EQ(5u, r.entries);
  EXPECT_GE(r.chunks, 6u);  // the big file's 5 chunks, the small content, the leased bytes
}

TEST_F(Fsck, AWrongReferenceCountIsFoundAndRepaired) {
  populate();
  const Id128 blob = ns().getattr(ns().lookup(kRootIno, "same")->ino)->inode.blob;
  auto record = BlobRecord::decode(**store_->engine().get(Column::kBlobs, keys::id(blob)));
  ASSERT_TRUE(record);
  EXPECT_EQ(2u, record->head.refcount);  // "small" (with its hard link, one inode) and "same"
  record->head.refcount = 7;
  overwrite(Column::kBlobs, keys::id(blob), record->encode());
  FsckReport found = check();
  ASSERT_EQ(1u, found.findings.size());
  EXPECT_TRUE(mentions(found.findings, "blob " + blob.hex() + ": reference count 7, but 2")) << found.findings[0];
  FsckReport repaired = check(/*repair=*/true);
  EXPECT_TRUE(mentions(repaired.repairs, "to 2"));
  EXPECT_TRUE(check().clean());
  // And the store still works: deleting both holders frees the blob.
  ASSERT_TRUE(ns().unlink(kRootIno, "same").ok());
  EXPECT_TRUE(check().clean());
}

TEST_F(Fsck, ACorruptedChunkIsFoundAndNotRepairable) {
  populate();
  const std::string big = ::acidfs::testing::randomBytes(300000, 7);
  ASSERT_TRUE(store_->sync().ok());
  ASSERT_EQ(1, ::acidfs::testing::flipSegmentByte(store_->path(), big.substr(70000, 64), 3));  // in chunk 1
  FsckReport r = check(/*repair=*/true);
  ASSERT_EQ(1u, r.findings.size());
  EXPECT_TRUE(mentions(r.findings, "does not match its hash")) << r.findings[0];
  EXPECT_TRUE(r.repairs.empty());
  EXPECT_FALSE(check().clean());
}

TEST_F(Fsck, WrongLinkCountsAndDanglingEntriesAreFoundAndRepaired) {
  populate();
  const uint64_t small = ns().lookup(kRootIno, "hardlink")->ino;
  InodeRecord inode = ns().getattr(small)->inode;
  inode.nlink = 5;
  overwrite(Column::kInodes, keys::ino(small), inode.encode());
  const uint64_t same = ns().lookup(kRootIno, "same")->ino;
  erase(Column::kInodes, keys::ino(same));  // "same" now names nothing
  FsckReport r = check();
  EXPECT_TRUE(mentions(r.findings, "inode " + std::to_string(small) + ": link count 5, but 2 found"));
  EXPECT_TRUE(mentions(r.findings, "entry 'same' of directory 1: names missing inode " + std::to_string(same)));
  EXPECT_TRUE(mentions(r.findings, "reference count 2, but 1 references found")) << "the blob lost a holder";
  check(/*repair=*/true);
  FsckReport after = check();
  EXPECT_TRUE(after.clean()) << after.findings.front();
  EXPECT_EQ(2u, ns().getattr(small)->inode.nlink);
  EXPECT_EQ(ENOENT, ns().lookup(kRootIno, "same").status().errnum());
  std::vector<std::string> names;
  ASSERT_TRUE(ns().readdir(kRootIno, 0, [&](const DirEntry& e) { names.push_back(e.name); return true; }).ok());
  EXPECT_EQ(std::count(names.begin(), names.end(), "same"), 0) << "the readdir index still lists it";
}

// The store frees a record when its count reaches 0; one still there with
// count 0 and nothing naming it is a leak, not a match.
TEST_F(Fsck, AnUnreferencedRecordWithCountZeroIsFoundAndFreed) {
  const uint64_t f = makeFile(kRootIno, "f", "leaked content");
  const Id128 blob = ns().getattr(f)->inode.blob;
  auto record = BlobRecord::decode(**store_->engine().get(Column::kBlobs, keys::id(blob)));
  record->head.refcount = 0;
  overwrite(Column::kBlobs, keys::id(blob), record->encode());
  erase(Column::kDentries, keys::dentry(kRootIno, "f"));
  erase(Column::kCookies, keys::cookie(kRootIno, InodeRecord::kFirstCookie));
  erase(Column::kInodes, keys::ino(f));
  FsckReport found = check();
  EXPECT_TRUE(mentions(found.findings, "blob " + blob.hex() + ": reference count 0 and no references, but not freed"))
      << (found.findings.empty() ? "no finding" : found.findings.front());
  EXPECT_TRUE(mentions(check(/*repair=*/true).repairs, "freed unreferenced blob " + blob.hex()));
  FsckReport after = check();
  EXPECT_TRUE(after.clean()) << after.findings.front();
  EXPECT_EQ(0u, store_->stats()->chunkCount);
}

// ---- probe chains (content_store.h: a confirmed hash collision moves the
// later content to the next seed; the record it probed past is marked
// collided, and is never deleted, only emptied to a tombstone) ------------------

// Collides every two inputs of equal length: the seed alone separates ids.
Id128 onlyTheLength(const void*, size_t size, uint64_t seed) {
  Id128 id;
  for (int i = 0; i < 8; ++i) id.bytes[i] = static_cast<uint8_t>(size >> (8 * i));
  for (int i = 0; i < 8; ++i) id.bytes[8 + i] = static_cast<uint8_t>(seed >> (8 * i));
  return id;
}

class FsckWithCollisions : public Fsck {
 protected:
  void SetUp() override {
    options_.hash = onlyTheLength;
    Fsck::SetUp();
  }
};

TEST_F(FsckWithCollisions, RepairKeepsTheProbeChainThroughAnUnreferencedRecord) {
  // Equal lengths: the chunks, pages and blobs of the two contents collide,
  // so the second's records sit at seed 1 behind the first's, at seed 0.
  const std::string first = "the first content", second = "other bytes, same";
  ASSERT_EQ(first.size(), second.size());
  const uint64_t firstIno = makeFile(kRootIno, "first", first);
  const uint64_t secondIno = makeFile(kRootIno, "second", second);
  const Id128 firstBlob = blobOf("/first"), secondBlob = blobOf("/second");
  ASSERT_NE(firstBlob, secondBlob);
  auto seeded = BlobRecord::decode(**store_->engine().get(Column::kBlobs, keys::id(secondBlob)));
  ASSERT_TRUE(seeded);
  ASSERT_EQ(1u, seeded->head.seed) << "no collision: the test proves nothing";
  const uint64_t chunks = store_->stats()->chunkCount;

  // "first" goes behind the core's back (a lost inode): its records keep a
  // count that no file backs, and --repair frees them.
  erase(Column::kInodes, keys::ino(firstIno));
  FsckReport found = check();
  EXPECT_TRUE(mentions(found.findings, "blob " + firstBlob.hex() + ": reference count 1, but 0")) << found.findings.size();
  FsckReport repaired = check(/*repair=*/true);
  EXPECT_TRUE(mentions(repaired.repairs, firstBlob.hex()));

  EXPECT_EQ(second, readAll(secondIno));
  FsckReport after = check();
  EXPECT_TRUE(after.clean()) << after.findings.front();
  // Writing the second content again finds it behind the first's slot:
  // same blob, no second copy of its chunk.
  const uint64_t again = makeFile(kRootIno, "again", second);
  EXPECT_EQ(secondBlob.hex(), ns().getattr(again)->inode.blob.hex()) << "the content was stored twice";
  EXPECT_EQ(chunks - 1, store_->stats()->chunkCount);  // the first content's chunk is gone, no new one
  // That slot is a tombstone, as the running store leaves it, not a gap.
  auto slot = store_->engine().get(Column::kBlobs, keys::id(firstBlob));
  std::optional<BlobRecord> tombstone;
  if (slot.ok() && *slot) tombstone = BlobRecord::decode(**slot);
  EXPECT_TRUE(tombstone && tombstone->head.tombstone && tombstone->head.collided) << "the probe chain was cut";
  reopen();
  EXPECT_EQ(second, readAll(secondIno));
  EXPECT_EQ(second, readAll(again));
  EXPECT_TRUE(check().clean());
}

// ---- offline, on the store's directory: what `acidfs fsck` runs ---------------

// Every regular file under `dir`: relative path → size and content hash.
std::map<std::string, std::string> filesUnder(const std::string& dir) {
  std::map<std::string, std::string> files;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    std::ifstream in(e.path(), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    files[std::filesystem::relative(e.path(), dir).string()] =
        std::to_string(bytes.size()) + " bytes, " + xxh3Hash(bytes.data(), bytes.size(), 0).hex();
  }
  return files;
}

// The newest file under `dir` whose name ends in `suffix` (the write-ahead
// log, a segment), or "" when there is none.
std::string newestFile(const std::string& dir, const std::string& suffix) {
  std::string newest;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.ends_with(suffix) && e.file_size() > 0 && (newest.empty() || name > std::filesystem::path(newest).filename().string()))
      newest = e.path().string();
  }
  return newest;
}

void flipByte(const std::string& path, off_t at) {
  int fd = ::open(path.c_str(), O_RDWR);
  ASSERT_GE(fd, 0) << path;
  char byte = 0;
  ASSERT_EQ(1, pread(fd, &byte, 1, at));
  byte ^= 0x5a;
  ASSERT_EQ(1, pwrite(fd, &byte, 1, at));
  close(fd);
}

class FsckOffline : public Fsck {
 protected:
  std::string storePath() const { return dir_.path() + "/store"; }
  // `acidfs fsck STORE [--repair]`: on the directory of a store no process has open.
  FsckReport offline(bool repair) {
    store_.reset();
    auto report = fsckStore(storePath(), FsckOptions{repair, options_.hash, {}});
    EXPECT_TRUE(report.ok()) << report.status().toString();
    return report.ok() ? *report : FsckReport{};
  }
  // Leaves the store as a daemon killed mid-work does: commits only in the
  // write-ahead log (no memtable flushed), and bytes at the end of a segment
  // that no record names (a transaction that never committed appended them),
  // which a read-write open would replay, flush and punch out. A child
  // process (this binary again, FsckCrashChild) commits `files` files and
  // exits without closing anything.
  void crash(int files) {
    store_.reset();
    std::vector<std::string> envStrings;
    for (char** e = environ; *e; ++e)
      if (strncmp(*e, "GTEST_", 6) != 0) envStrings.push_back(*e);
    envStrings.push_back("ACIDFS_FSCK_CRASH_STORE=" + storePath());
    envStrings.push_back("ACIDFS_FSCK_CRASH_FILES=" + std::to_string(files));
    std::vector<char*> envp;
    for (auto& e : envStrings) envp.push_back(e.data());
    envp.push_back(nullptr);
    std::string exe = "/proc/self/exe", filter = "--gtest_filter=FsckCrashChild.DISABLED_Run",
                disabled = "--gtest_also_run_disabled_tests";
    char* argv[] = {exe.data(), filter.data(), disabled.data(), nullptr};
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      const int devnull = ::open("/dev/null", O_WRONLY);
      dup2(devnull, 1);
      dup2(devnull, 2);
      execve(exe.c_str(), argv, envp.data());
      _exit(127);
    }
    int status = 0;
    ASSERT_EQ(child, waitpid(child, &status, 0));
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the crashing child failed: " << status;
    const std::string segment = newestFile(storePath() + "/segments", ".seg");
    ASSERT_FALSE(segment.empty());
    std::ofstream(segment, std::ios::binary | std::ios::app) << ::acidfs::testing::randomBytes(8192, 99);
  }
};

// The crashing child of FsckOffline::crash; runs only when asked to.
TEST(FsckCrashChild, DISABLED_Run) {
  const char* path = getenv("ACIDFS_FSCK_CRASH_STORE");
  if (!path) GTEST_SKIP() << "runs only as FsckOffline's child";
  auto opened = Store::open(path);
  if (!opened.ok()) _exit(2);
  Store* store = opened.value().release();  // never closed
  for (int i = 0; i < std::atoi(getenv("ACIDFS_FSCK_CRASH_FILES")); ++i) {
    auto made = store->ns().mknod(Caller::root(), kRootIno, "crash" + std::to_string(i), S_IFREG | 0644, 0);
    if (!made.ok()) _exit(3);
    const std::string content = ::acidfs::testing::randomBytes(100000 + i, 500 + i);
    if (!::acidfs::testing::writeFile(store->ns(), made->ino, 0, content).ok()) _exit(3);
  }
  _exit(0);
}

TEST_F(FsckOffline, WithoutRepairNoFileOfTheStoreChanges) {
  populate();
  const Id128 blob = ns().getattr(ns().lookup(kRootIno, "same")->ino)->inode.blob;
  auto record = BlobRecord::decode(**store_->engine().get(Column::kBlobs, keys::id(blob)));
  record->head.refcount = 7;
  overwrite(Column::kBlobs, keys::id(blob), record->encode());
  crash(/*files=*/3);

  const auto before = filesUnder(storePath());
  FsckReport found = offline(/*repair=*/false);
  EXPECT_TRUE(mentions(found.findings, "blob " + blob.hex() + ": reference count 7, but 2")) << found.findings.size();
  EXPECT_FALSE(mentions(found.findings, "write-ahead log")) << "a crash that tore nothing is no finding";
  EXPECT_TRUE(found.repairs.empty());
  const auto after = filesUnder(storePath());
  for (const auto& [name, was] : before) {
    auto now = after.find(name);
    EXPECT_TRUE(now != after.end() && now->second == was) << name << ": " << was << ", now "
                                                           << (now == after.end() ? "gone" : now->second);
  }
  for (const auto& [name, is] : after) EXPECT_TRUE(before.count(name)) << name << " (" << is << ") was created";

  // With --repair, repairs happen; a second check finds nothing left.
  FsckReport repaired = offline(/*repair=*/true);
  EXPECT_TRUE(mentions(repaired.repairs, "set the reference count of blob " + blob.hex() + " to 2"));
  ASSERT_TRUE(repaired.afterRepair);
  EXPECT_TRUE(repaired.afterRepair->empty()) << repaired.afterRepair->front();
  EXPECT_TRUE(repaired.cleanAfterRepair());
  EXPECT_TRUE(offline(/*repair=*/false).clean());
  open();
  EXPECT_EQ(::acidfs::testing::randomBytes(100002, 502), readAll(ns().lookup(kRootIno, "crash2")->ino)) << "the crashed commits were lost";
}

TEST_F(FsckOffline, ADamagedWriteAheadLogIsAFinding) {
  crash(/*files=*/20);
  const std::string wal = newestFile(storePath() + "/db", ".log");
  ASSERT_FALSE(wal.empty());
  flipByte(wal, static_cast<off_t>(std::filesystem::file_size(wal) / 2));
  const auto before = filesUnder(storePath());
  FsckReport found = offline(/*repair=*/false);
  EXPECT_TRUE(mentions(found.findings, "write-ahead log: damaged before its end"))
      << (found.findings.empty() ? "no finding" : found.findings.front());
  EXPECT_EQ(before, filesUnder(storePath()));
  // The daemon refuses it rather than drop the records after the damage
  // without a word (issue 11 item 4), and changes nothing either.
  {
    auto opened = Store::open(storePath());
    EXPECT_EQ("EUCLEAN", ::acidfs::testing::code(opened));
    if (!opened.ok()) {
      EXPECT_NE(std::string::npos, opened.status().message().find("fsck --repair"));
    }
  }
  auto afterRefusal = filesUnder(storePath());
  afterRefusal["LOCK"] = before.at("LOCK");  // the open recorded its pid there, as every open does
  EXPECT_EQ(before, afterRefusal);
  // --repair lets the store's own recovery drop what follows the damage:
  // the rest is a consistent earlier state.
  FsckReport repaired = offline(/*repair=*/true);
  EXPECT_TRUE(mentions(repaired.findings, "write-ahead log"));
  EXPECT_TRUE(repaired.cleanAfterRepair()) << (repaired.afterRepair && !repaired.afterRepair->empty() ? repaired.afterRepair->front() : "");
  FsckReport again = offline(/*repair=*/false);
  EXPECT_TRUE(again.clean()) << again.findings.front();
}

TEST_F(FsckOffline, ALogRecordCutShortIsAFindingThatRepairClears) {
  crash(/*files=*/5);
  const std::string wal = newestFile(storePath() + "/db", ".log");
  ASSERT_FALSE(wal.empty());
  std::filesystem::resize_file(wal, std::filesystem::file_size(wal) - 10);  // a write the crash cut off
  const auto before = filesUnder(storePath());
  FsckReport found = offline(/*repair=*/false);
  EXPECT_TRUE(mentions(found.findings, "write-ahead log: its last record is cut short"))
      << (found.findings.empty() ? "no finding" : found.findings.front());
  EXPECT_EQ(before, filesUnder(storePath()));
  EXPECT_TRUE(offline(/*repair=*/true).cleanAfterRepair());
  FsckReport again = offline(/*repair=*/false);
  EXPECT_TRUE(again.clean()) << again.findings.front();
}

TEST_F(FsckOffline, ADamagedTableFileIsAFinding) {
  for (int i = 0; i < 200; ++i) makeFile(kRootIno, "f" + std::to_string(i), ::acidfs::testing::randomBytes(3000, 600 + i));
  store_.reset();  // the close flushes: the records are in table files now
  std::string largest;
  for (const auto& e : std::filesystem::directory_iterator(storePath() + "/db"))
    if (e.path().extension() == ".sst" && (largest.empty() || e.file_size() > std::filesystem::file_size(largest)))
      largest = e.path().string();
  ASSERT_FALSE(largest.empty());
  flipByte(largest, static_cast<off_t>(std::filesystem::file_size(largest) / 3));
  const auto before = filesUnder(storePath());
  FsckReport found = offline(/*repair=*/false);
  EXPECT_TRUE(mentions(found.findings, "checksum")) << (found.findings.empty() ? "no finding" : found.findings.front());
  EXPECT_EQ(before, filesUnder(storePath()));
  FsckReport repaired = offline(/*repair=*/true);
  EXPECT_TRUE(repaired.repairs.empty()) << "repaired from a damaged table: " << repaired.repairs.front();
  EXPECT_FALSE(repaired.cleanAfterRepair());
}

// One damaged block of one column's table file (issue 11 item 4): the scan
// of that column stops there, though the records after it are fine. fsck
// names, by path, the files whose records are in that block and no others,
// and calls nothing missing or miscounted that its scan only did not reach.
// The store still opens, and serves every other file.
class FsckDamagedBlock : public FsckOffline, public ::testing::WithParamInterface<Column> {
 protected:
  struct File {
    uint64_t dir, ino;
    std::string name, content;
  };
  // 300 files of one inline chunk of 3000 bytes in three directories (about
  // one chunk record to a 4 KiB table block), and a few with their chunks in
  // a segment; then one byte flipped in the middle of the table file that
  // holds the records of `column`.
  std::map<std::string, File> damageOneBlock(Column column) {
    std::map<std::string, File> files;
    for (int d = 0; d < 3; ++d) {
      const std::string dir = "d" + std::to_string(d);
      const uint64_t dirIno = makeDir(kRootIno, dir);
      for (int i = 0; i < 100; ++i) {
        const std::string name = "f" + std::to_string(i), content = ::acidfs::testing::randomBytes(3000, 1000 + 100 * d + i);
        files["/" + dir + "/" + name] = {dirIno, makeFile(dirIno, name, content), name, content};
      }
    }
    for (int i = 0; i < 3; ++i) {
      const std::string name = "big" + std::to_string(i), content = ::acidfs::testing::randomBytes(200000, 2000 + i);
      files["/" + name] = {kRootIno, makeFile(kRootIno, name, content), name, content};
    }
    EXPECT_TRUE(store_->db().flush().ok());
    std::vector<rocksdb::LiveFileMetaData> tables;
    store_->db().db()->GetLiveFilesMetaData(&tables);
    std::string table;
    for (const auto& t : tables)
      if (t.column_family_name == columnName(column)) table = t.db_path + t.name;
    store_.reset();
    EXPECT_FALSE(table.empty());
    EXPECT_TRUE(std::filesystem::exists(table)) << table << " was compacted away";
    if (table.empty() || !std::filesystem::exists(table)) return {};
    EXPECT_GT(std::filesystem::file_size(table), 4096u) << "one block: damaging it damages all";
    flipByte(table, static_cast<off_t>(std::filesystem::file_size(table) / 2));  // a data block
    return files;
  }
};

TEST_P(FsckDamagedBlock, NamesTheFilesItMakesUnreadableAndNoOthers) {
  const auto files = damageOneBlock(GetParam());
  ASSERT_FALSE(files.empty());
  FsckReport found = offline(/*repair=*/false);
  std::string all;
  for (const auto& f : found.findings) all += "\n  " + f;
  EXPECT_TRUE(mentions(found.findings, std::string(columnName(GetParam())) + ": not readable to the end")) << all;
  for (const char* artefact : {"missing", "reference count ", "link count ", "no entry names it", "does not carry it"})
    EXPECT_FALSE(mentions(found.findings, artefact)) << all;
  std::vector<std::string> listed;
  for (const auto& [path, file] : files)
    if (mentions(found.findings, "file " + path + " (inode " + std::to_string(file.ino) + "): unreadable") ||
        mentions(found.findings, "file " + path + ": unreadable"))
      listed.push_back(path);
  const auto fileFindings = std::count_if(found.findings.begin(), found.findings.end(),
                                          [](const std::string& f) { return f.starts_with("file "); });
  EXPECT_EQ(static_cast<long>(listed.size()), fileFindings) << "a finding names no file of the store:" << all;
  EXPECT_GE(listed.size(), 1u) << all;
  // A block holds one chunk record of these files, but dozens of their
  // smaller records: what one block of those holds is lost, not more.
  EXPECT_LE(listed.size(), GetParam() == Column::kChunks ? 3 : files.size() / 2) << "one damaged block, many files blamed:" << all;

  // The store opens; a listed file does not read back (EIO), every other one
  // reads back whole, by its path.
  open();
  for (const auto& [path, file] : files) {
    const bool isListed = std::find(listed.begin(), listed.end(), path) != listed.end();
    auto entry = ns().lookup(file.dir, file.name);
    const std::string read = entry.ok() ? readAll(entry->ino) : "<" + entry.status().toString() + ">";
    if (isListed) {
      EXPECT_NE(std::string::npos, read.find("<EIO")) << path << " is listed, but reads " << read.substr(0, 80);
    } else {
      EXPECT_TRUE(read == file.content) << path << " is not listed, but reads " << read.substr(0, 80);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Columns, FsckDamagedBlock,
                         ::testing::Values(Column::kChunks, Column::kPages, Column::kBlobs, Column::kInodes, Column::kDentries),
                         [](const ::testing::TestParamInfo<Column>& c) { return std::string(columnName(c.param)); });

// The read-only check restates ContentStore::check's rules (there is no
// ContentStore without opening the store): both must find the same.
TEST_F(FsckOffline, MetadataThatCannotBeOpenedIsAFinding) {
  makeFile(kRootIno, "f", "content");
  store_.reset();
  std::string table;
  for (const auto& e : std::filesystem::directory_iterator(storePath() + "/db"))
    if (e.path().extension() == ".sst") table = e.path().string();
  ASSERT_FALSE(table.empty());
  flipByte(table, static_cast<off_t>(std::filesystem::file_size(table) - 4));  // the footer's magic number
  const auto before = filesUnder(storePath());
  for (bool repair : {false, true}) {
    FsckReport found = offline(repair);
    EXPECT_TRUE(mentions(found.findings, "metadata: cannot be opened")) << (found.findings.empty() ? "no finding" : found.findings.front());
    EXPECT_FALSE(found.cleanAfterRepair());
    EXPECT_EQ(before, filesUnder(storePath()));
  }
}

TEST_F(FsckOffline, ReadOnlyAndOpenChecksFindTheSame) {
  populate();
  const std::string big = ::acidfs::testing::randomBytes(300000, 7);
  const Id128 bigBlob = ns().getattr(ns().lookup(ns().lookup(kRootIno, "d")->ino, "big")->ino)->inode.blob;
  BlobRecord blob = *BlobRecord::decode(**store_->engine().get(Column::kBlobs, keys::id(bigBlob)));
  PageRecord page = *PageRecord::decode(**store_->engine().get(Column::kPages, keys::id(blob.pages[0])));
  ChunkRecord chunk = *ChunkRecord::decode(**store_->engine().get(Column::kChunks, keys::id(page.chunks[2])));
  chunk.length = 1u << 30;  // more than a chunk holds
  overwrite(Column::kChunks, keys::id(page.chunks[2]), chunk.encode());
  page.chunks.resize(2 * kChunksPerPage);  // more than a page holds
  overwrite(Column::kPages, keys::id(blob.pages[0]), page.encode());
  blob.size += 1ull << 40;  // beyond the largest file
  overwrite(Column::kBlobs, keys::id(bigBlob), blob.encode());
  ASSERT_TRUE(store_->sync().ok());
  ASSERT_EQ(1, ::acidfs::testing::flipSegmentByte(store_->path(), big.substr(70000, 64), 3));  // chunk 1: bad hash
  std::vector<std::string> open = check().findings;
  std::vector<std::string> readOnly = offline(/*repair=*/false).findings;
  std::sort(open.begin(), open.end());
  std::sort(readOnly.begin(), readOnly.end());
  EXPECT_GE(open.size(), 4u);
  EXPECT_EQ(open, readOnly);
}

TEST_F(FsckOffline, AStoreInUseIsRefusedAndUntouched) {
  auto report = fsckStore(storePath(), FsckOptions{false, options_.hash, {}});
  EXPECT_EQ("EBUSY", ::acidfs::testing::code(report));
  report = fsckStore(storePath(), FsckOptions{true, options_.hash, {}});
  EXPECT_EQ("EBUSY", ::acidfs::testing::code(report));
}

TEST_F(FsckOffline, ADirectoryThatIsNotAStoreIsRefusedAndUntouched) {
  const std::string empty = dir_.path() + "/empty";
  ASSERT_EQ(0, mkdir(empty.c_str(), 0700));
  EXPECT_EQ("EINVAL", ::acidfs::testing::code(fsckStore(empty, FsckOptions{true, options_.hash, {}})));
  EXPECT_TRUE(std::filesystem::is_empty(empty));
}

// ---- a store whose chunks are RADOS objects (core/fsck_objects.h): always a
// database store with chunks=rados, on the binary's one Ceph cluster --------------

class FsckRadosObjects : public Fsck {
 protected:
  void SetUp() override {
    ASSERT_TRUE(::acidfs::testing::sharedPostgres().ok()) << ::acidfs::testing::sharedPostgres().why();
    ASSERT_TRUE(ceph().ok()) << ceph().why();
    location_ = ::acidfs::testing::freshDatabaseUri();
    options_.chunks = chunks();
    options_.gcIntervalSeconds = 0;  // no sweep of the objects this test plants
    open();
    ASSERT_EQ(0, rados_create(&cluster_, nullptr));
    ASSERT_EQ(0, rados_conf_read_file(cluster_, ceph().confPath().c_str()));
    ASSERT_EQ(0, rados_connect(cluster_));
    ASSERT_EQ(0, rados_ioctx_create(cluster_, ceph().pool().c_str(), &io_));
    rados_ioctx_set_namespace(io_, nspaceOf(*store_).c_str());  // where the store's objects are
  }
  void TearDown() override {
    if (io_) rados_ioctx_destroy(io_);
    if (cluster_) rados_shutdown(cluster_);
  }
  static ::acidfs::testing::CephInstance& ceph() { return ::acidfs::testing::sharedCeph(); }
  // The RADOS namespace of the store's objects, as its settings keep it.
  static std::string nspaceOf(Store& store) {
    auto value = store.engine().get(Column::kDefault, Store::kRadosNamespaceKey);
    EXPECT_TRUE(value.ok() && value->has_value()) << "a chunks=rados store without its namespace";
    return value.ok() ? value->value_or("") : "";
  }
  static std::string chunks() { return "rados:" + ceph().pool() + ",conf=" + ceph().confPath(); }

  // Writes the object `name` as if `age` ago (RADOS takes the mtime to set).
  void plant(const std::string& name, const std::string& bytes, std::chrono::seconds age = {}) {
    rados_write_op_t op = rados_create_write_op();
    rados_write_op_write_full(op, bytes.data(), bytes.size());
    time_t mtime = time(nullptr) - age.count();
    EXPECT_EQ(0, rados_write_op_operate(op, io_, name.c_str(), &mtime, 0)) << name;
    rados_release_write_op(op);
  }
  bool exists(const std::string& name) {
    uint64_t size = 0;
    time_t mtime = 0;
    return rados_stat(io_, name.c_str(), &size, &mtime) == 0;
  }
  // The objects the store's chunk records name, by chunk id.
  std::map<Id128, std::string> namedObjects() {
    std::map<Id128, std::string> named;
    auto it = store_->engine().scan(Column::kChunks);
    for (it->seekToFirst(); it->valid(); it->next()) {
      auto record = ChunkRecord::decode(it->value());
      if (record && !record->isInline && !record->head.tombstone)
        named[Id128::fromBytes(it->key())] = RadosChunkStore::objectName(Id128::fromBytes(it->key()), record->offset);
    }
    return named;
  }
  static std::string ourName(uint64_t seed) {
    const std::string id = ::acidfs::testing::randomBytes(16, seed);
    return RadosChunkStore::objectName(Id128::fromBytes(id), seed);
  }

  rados_t cluster_ = nullptr;
  rados_ioctx_t io_ = nullptr;
};

// Objects no record names are pending while young (a commit may still come,
// from any host), orphans once past the sweep age (notes, not findings:
// the sweep's; --repair deletes them), and objects of other names are left
// alone; every object a record names is counted as named.
TEST_F(FsckRadosObjects, EveryObjectIsNamedPendingAnOrphanOrForeign) {
  makeFile(kRootIno, "big", ::acidfs::testing::randomBytes(5 * 65536 + 100, 31));
  makeFile(kRootIno, "small", "inline, no object");
  const size_t records = namedObjects().size();
  ASSERT_EQ(5u, records) << "a chunk record per full 64 KiB chunk";
  FsckReport before = check();
  ASSERT_TRUE(before.clean()) << before.findings.front();
  ASSERT_TRUE(before.objects.has_value());
  EXPECT_EQ(records, before.objects->named);

  const std::string pending = ourName(1), orphan = ourName(2), foreign = "not-an-acidfs-object";
  plant(pending, "a put whose commit may still come");
  plant(orphan, "a put whose commit never came", std::chrono::hours(2));
  plant(foreign, "another program's");
  FsckReport found = check();
  EXPECT_TRUE(found.clean()) << found.findings.front();
  ASSERT_TRUE(found.objects.has_value());
  EXPECT_EQ(records, found.objects->named);
  EXPECT_EQ(before.objects->pending + 1, found.objects->pending);
  EXPECT_EQ(before.objects->orphans + 1, found.objects->orphans);
  EXPECT_EQ(before.objects->foreign + 1, found.objects->foreign);
  EXPECT_TRUE(mentions(found.notes, "younger than 1 h")) << ::testing::PrintToString(found.notes);
  EXPECT_TRUE(mentions(found.notes, "orphan object(s) no chunk record names, older than 1 h (e.g. " + orphan))
      << ::testing::PrintToString(found.notes);
  EXPECT_TRUE(mentions(found.notes, foreign)) << ::testing::PrintToString(found.notes);
  EXPECT_TRUE(found.repairs.empty());
  EXPECT_TRUE(exists(orphan)) << "fsck without --repair deleted an object";

  FsckReport repaired = check(/*repair=*/true);
  EXPECT_TRUE(mentions(repaired.repairs, "deleted " + std::to_string(found.objects->orphans) + " orphan object(s)"))
      << ::testing::PrintToString(repaired.repairs);
  EXPECT_FALSE(exists(orphan)) << "--repair left the orphan";
  EXPECT_TRUE(exists(pending)) << "--repair deleted a young object: its commit may still come";
  EXPECT_TRUE(exists(foreign)) << "--repair deleted an object that is not acidfs's";
  for (const auto& [id, name] : namedObjects()) EXPECT_TRUE(exists(name)) << "--repair deleted a named object";
  EXPECT_EQ(5 * 65536 + 100, static_cast<long>(contentAt("/big").size()));
  FsckReport after = check();
  EXPECT_TRUE(after.clean()) << after.findings.front();
  EXPECT_EQ(0u, after.objects->orphans);
  rados_remove(io_, pending.c_str());
  rados_remove(io_, foreign.c_str());
}

// Two stores on one pool: each keeps its objects in a RADOS namespace of its
// own, so one's sweep and --repair never see the other's, however old.
TEST_F(FsckRadosObjects, TwoStoresSharingAPoolNeverTouchEachOthersObjects) {
  makeFile(kRootIno, "a-file", ::acidfs::testing::randomBytes(2 * 65536, 33));
  std::unique_ptr<Store> first = std::move(store_);
  const std::string firstLocation = location_;
  location_ = ::acidfs::testing::freshDatabaseUri();
  open();
  const std::string content = ::acidfs::testing::randomBytes(2 * 65536, 34);
  makeFile(kRootIno, "b-file", content);
  ASSERT_NE(nspaceOf(*first), nspaceOf(*store_));
  // Each of the second store's objects made to look two hours old, as if
  // committed long ago: to a store that saw them, orphans.
  const std::map<Id128, std::string> seconds = namedObjects();
  ASSERT_EQ(2u, seconds.size());
  rados_ioctx_set_namespace(io_, nspaceOf(*store_).c_str());
  for (const auto& [id, name] : seconds) {
    std::string bytes(65536, '\0');
    ASSERT_EQ(65536, rados_read(io_, name.c_str(), bytes.data(), bytes.size(), 0));
    plant(name, bytes, std::chrono::hours(2));
  }
  std::swap(store_, first);
  FsckReport firstRepaired = check(/*repair=*/true);
  EXPECT_TRUE(firstRepaired.clean()) << firstRepaired.findings.front();
  EXPECT_EQ(0u, firstRepaired.objects->orphans) << "the first store saw the second's objects";
  for (const auto& [id, name] : seconds) EXPECT_TRUE(exists(name)) << "the first store deleted the second's object";
  std::swap(store_, first);
  FsckReport second = check();
  EXPECT_TRUE(second.clean()) << second.findings.front();
  EXPECT_EQ(content, contentAt("/b-file"));
  first.reset();
  location_ = firstLocation;
}

// A record whose object is gone or shorter than the record says has lost
// its chunk's bytes: a finding each (once: the bytes are not read too), which
// --repair cannot clear; `acidfs fsck URI --chunks ...` finds the same.
TEST_F(FsckRadosObjects, ARecordWhoseObjectIsMissingOrShortIsAFinding) {
  makeFile(kRootIno, "big", ::acidfs::testing::randomBytes(3 * 65536, 32));
  const std::map<Id128, std::string> named = namedObjects();
  ASSERT_EQ(3u, named.size());
  auto it = named.begin();
  const auto [gone, goneName] = *it++;
  const auto [cut, cutName] = *it;
  ASSERT_EQ(0, rados_remove(io_, goneName.c_str()));
  ASSERT_EQ(0, rados_trunc(io_, cutName.c_str(), 1000));
  FsckReport found = check();
  ASSERT_EQ(2u, found.findings.size()) << ::testing::PrintToString(found.findings);
  EXPECT_TRUE(mentions(found.findings, "chunk " + gone.hex() + ": its RADOS object " + goneName + " is missing"))
      << ::testing::PrintToString(found.findings);
  EXPECT_TRUE(mentions(found.findings,
                       "chunk " + cut.hex() + ": its RADOS object " + cutName + " holds 1000 bytes, its record says 65536"))
      << ::testing::PrintToString(found.findings);
  EXPECT_EQ(2u, found.objects->named) << "the short object and the third";
  EXPECT_EQ(2u, check(/*repair=*/true).findings.size());

  store_.reset();
  auto offline = fsckStore(location_, FsckOptions{.chunks = chunks()});
  ASSERT_TRUE(offline.ok()) << offline.status().toString();
  EXPECT_EQ(found.findings, offline->findings);
}

}  // namespace
}  // namespace acidfs
