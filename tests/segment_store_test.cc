// SegmentStore (core/segment_store.h) on its own, below the content store:
// the contract its header states, one test per promise — appends and reads,
// 4 KiB-aligned extents, releases that punch (adjacent extents in one call)
// and unlink a sealed empty segment but never the active one, the sweep at
// open and its opt-out, the order of syncs that keeps every committed name
// durable, and the errors of each file operation. The file operations go
// through a recording SegmentFiles over the real files, which can also make
// any of them fail; the durability promises are checked once more against
// the power-cut disk of tests/fault_injection.h.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/segment_files.h"
#include "core/segment_store.h"
#include "tests/fault_injection.h"
#include "tests/test_util.h"

namespace acidfs {
namespace {

using ::acidfs::testing::code;
using ::acidfs::testing::PowerCutDisk;
using ::acidfs::testing::randomBytes;
using ::acidfs::testing::TempDir;

constexpr uint64_t kAlign = SegmentStore::kAlign;
uint64_t aligned(uint64_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

// The real files, with every operation noted in order ("write 1 0 4096",
// "punch 1 4096 8192", "sync 1", "syncdir DIR", ...) and any kind of
// operation made to fail with an errno instead.
class RecordingFiles : public SegmentFiles {
 public:
  struct Faults {
    int createDirectory = 0, list = 0, open = 0, remove = 0, syncDirectory = 0;
    int write = 0, read = 0, syncData = 0, punchHole = 0;
  };

  std::vector<std::string> log() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return log_;
  }
  void clearLog() {
    std::lock_guard<std::mutex> lock(mutex_);
    log_.clear();
  }
  // Entries of the log that start with `prefix`.
  std::vector<std::string> logged(const std::string& prefix) const {
    std::vector<std::string> out;
    for (const std::string& line : log())
      if (line.rfind(prefix, 0) == 0) out.push_back(line);
    return out;
  }
  void setFaults(Faults faults) {
    std::lock_guard<std::mutex> lock(mutex_);
    faults_ = faults;
  }
  // Writes succeed without reaching the file (nor reading their data): a
  // segment can be filled to its target size for free.
  void setDiscardWrites(bool discard) { discardWrites_ = discard; }
  bool discardWrites() const { return discardWrites_; }

  Result<bool> createDirectory(const std::string& path) override {
    if (int err = note("mkdir " + path, &Faults::createDirectory)) return Status::Error(err, "injected mkdir");
    return real_->createDirectory(path);
  }
  Result<std::vector<std::string>> list(const std::string& dir) override {
    if (int err = note("list " + dir, &Faults::list)) return Status::Error(err, "injected list");
    return real_->list(dir);
  }
  Result<std::unique_ptr<SegmentFile>> open(const std::string& path, bool create) override;
  Status remove(const std::string& path) override {
    if (int err = note("remove " + path, &Faults::remove)) return Status::Error(err, "injected remove");
    return real_->remove(path);
  }
  Status syncDirectory(const std::string& dir) override {
    if (int err = note("syncdir " + dir, &Faults::syncDirectory)) return Status::Error(err, "injected syncdir");
    return real_->syncDirectory(dir);
  }

  // Notes `what`; returns the errno to fail it with, or 0.
  int note(const std::string& what, int Faults::*fault) {
    std::lock_guard<std::mutex> lock(mutex_);
    log_.push_back(what);
    return faults_.*fault;
  }

 private:
  const std::shared_ptr<SegmentFiles> real_ = posixSegmentFiles();
  mutable std::mutex mutex_;
  std::vector<std::string> log_;
  Faults faults_;
  std::atomic<bool> discardWrites_{false};
};

// "00000001.seg" → "1".
std::string numberOf(const std::string& path) {
  const std::string name = std::filesystem::path(path).filename().string();
  return std::to_string(std::stoul(name.substr(0, 8)));
}

class RecordingFile : public SegmentFile {
 public:
  RecordingFile(std::unique_ptr<SegmentFile> real, RecordingFiles& files, std::string number)
      : real_(std::move(real)), files_(files), number_(std::move(number)) {}
  Status write(uint64_t offset, std::string_view data) override {
    if (int err = files_.note("write " + number_ + " " + std::to_string(offset) + " " + std::to_string(data.size()),
                              &RecordingFiles::Faults::write))
      return Status::Error(err, "injected write");
    if (files_.discardWrites()) return Status::OK();
    return real_->write(offset, data);
  }
  Status read(uint64_t offset, char* out, size_t length) const override {
    if (int err = files_.note("read " + number_, &RecordingFiles::Faults::read)) return Status::Error(err, "injected read");
    return real_->read(offset, out, length);
  }
  Status syncData() override {
    if (int err = files_.note("sync " + number_, &RecordingFiles::Faults::syncData))
      return Status::Error(err, "injected fdatasync");
    return real_->syncData();
  }
  Status punchHole(uint64_t offset, uint64_t length) override {
    if (int err = files_.note("punch " + number_ + " " + std::to_string(offset) + " " + std::to_string(length),
                              &RecordingFiles::Faults::punchHole))
      return Status::Error(err, "injected punch");
    return real_->punchHole(offset, length);
  }
  Result<uint64_t> size() const override { return real_->size(); }
  uint64_t allocatedBytes() const override { return real_->allocatedBytes(); }

 private:
  const std::unique_ptr<SegmentFile> real_;
  RecordingFiles& files_;
  const std::string number_;
};

Result<std::unique_ptr<SegmentFile>> RecordingFiles::open(const std::string& path, bool create) {
  if (int err = note(std::string(create ? "create " : "open ") + path, &Faults::open))
    return Status::Error(err, "injected open");
  ACIDFS_ASSIGN_OR_RETURN(std::unique_ptr<SegmentFile> file, real_->open(path, create));
  return std::unique_ptr<SegmentFile>(new RecordingFile(std::move(file), *this, numberOf(path)));
}

class SegmentStoreTest : public ::testing::Test {
 protected:
  std::string segmentsDir() const { return dir_.path() + "/segments"; }
  std::string segmentPath(uint32_t n) const {
    char name[32];
    snprintf(name, sizeof name, "/%08u.seg", n);
    return segmentsDir() + name;
  }
  bool exists(uint32_t n) const { return std::filesystem::exists(segmentPath(n)); }

  // Opens (or reopens: the old store is closed first) the store.
  void open(const std::vector<Extent>& live = {}, bool sweep = true) {
    store_.reset();
    auto opened = SegmentStore::open(segmentsDir(), live, sweep, files_);
    ASSERT_TRUE(opened.ok()) << opened.status().toString();
    store_ = std::move(*opened);
  }
  Extent append(std::string_view data) {
    auto extent = store_->append(data);
    EXPECT_TRUE(extent.ok()) << extent.status().toString();
    return extent.ok() ? *extent : Extent{};
  }
  // The extent's bytes, or "<error>".
  std::string read(const Extent& e) {
    std::string out(e.length, '\0');
    Status s = store_->read(e, out.data());
    return s.ok() ? out : "<" + code(s) + ">";
  }

  TempDir dir_;
  std::shared_ptr<RecordingFiles> files_ = std::make_shared<RecordingFiles>();
  std::unique_ptr<SegmentStore> store_;
};

// ---- appends and reads -------------------------------------------------------------

TEST_F(SegmentStoreTest, AppendedBytesReadBackExactly) {
  open();
  std::vector<std::pair<Extent, std::string>> written;
  uint64_t seed = 1;
  for (size_t size : {1ul, 100ul, 4095ul, 4096ul, 4097ul, 65536ul, 200001ul}) {
    std::string data = randomBytes(size, seed++);
    written.emplace_back(append(data), data);
  }
  for (const auto& [extent, data] : written) {
    EXPECT_EQ(extent.length, data.size());
    EXPECT_EQ(read(extent), data) << "at " << extent.offset;
  }
}

TEST_F(SegmentStoreTest, ExtentsAre4KiBAlignedAndFollowEachOtherWithoutOverlap) {
  open();
  Extent previous = append(std::string(1, 'a'));
  EXPECT_EQ(previous.offset, 0u) << "a fresh segment starts at 0";
  for (size_t size : {4095ul, 4096ul, 4097ul, 1ul, 12288ul}) {
    const Extent e = append(std::string(size, 'b'));
    EXPECT_EQ(e.segment, previous.segment) << "one segment until ~256 MiB";
    EXPECT_EQ(e.offset % kAlign, 0u);
    EXPECT_EQ(e.offset, previous.offset + aligned(previous.length)) << "the next aligned offset, nothing skipped";
    previous = e;
  }
}

// 256 MiB of data that costs nothing: an untouched read-only anonymous
// mapping (the discarding files never read it).
class UntouchedBytes {
 public:
  explicit UntouchedBytes(size_t n) : size_(n) {
    at_ = mmap(nullptr, n, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  }
  ~UntouchedBytes() {
    if (at_ != MAP_FAILED) munmap(at_, size_);
  }
  bool ok() const { return at_ != MAP_FAILED; }
  std::string_view view() const { return {static_cast<const char*>(at_), size_}; }

 private:
  size_t size_;
  void* at_;
};

TEST_F(SegmentStoreTest, ASegmentFilledToItsTargetIsSealedAndTheNextAppendStartsANewOne) {
  open();
  UntouchedBytes full(SegmentStore::kSegmentTarget - kAlign);
  ASSERT_TRUE(full.ok());
  files_->setDiscardWrites(true);
  const Extent big = append(full.view());
  const Extent last = append(std::string(1, 'l'));  // the last 4 KiB: still this segment
  files_->setDiscardWrites(false);
  EXPECT_EQ(last.segment, big.segment);
  EXPECT_EQ(last.offset, SegmentStore::kSegmentTarget - kAlign);
  const Extent next = append("next");
  EXPECT_EQ(next.segment, big.segment + 1) << "the segment reached its target";
  EXPECT_EQ(next.offset, 0u);
  EXPECT_EQ(read(next), "next");
  // The sealed segment goes once nothing in it is live.
  store_->release({big, last});
  store_->drainReleases();
  EXPECT_FALSE(exists(big.segment));
  EXPECT_TRUE(exists(next.segment));
  EXPECT_EQ(store_->liveBytes(), kAlign);
}

TEST_F(SegmentStoreTest, ASegmentReleasedWhileActiveIsUnlinkedWhenSealed) {
  open();
  UntouchedBytes full(SegmentStore::kSegmentTarget);
  ASSERT_TRUE(full.ok());
  files_->setDiscardWrites(true);
  const Extent big = append(full.view());
  files_->setDiscardWrites(false);
  store_->release(big);
  store_->drainReleases();
  EXPECT_TRUE(exists(big.segment)) << "still the active segment";
  const Extent next = append("next");
  EXPECT_EQ(next.segment, big.segment + 1);
  EXPECT_FALSE(exists(big.segment)) << "sealed with nothing live: unlinked as the next one starts";
  EXPECT_EQ(read(next), "next");
}

TEST_F(SegmentStoreTest, LiveBytesCountAlignedLengthsOfAppends) {
  open();
  EXPECT_EQ(store_->liveBytes(), 0u);
  append(std::string(1, 'a'));
  append(std::string(4096, 'b'));
  append(std::string(5000, 'c'));
  EXPECT_EQ(store_->liveBytes(), 4096u + 4096u + 8192u);
}

TEST_F(SegmentStoreTest, ReadsOfAMissingSegmentOrPastTheEndAreEio) {
  open();
  const Extent e = append("some bytes");
  std::string out(10, '\0');
  EXPECT_EQ(code(store_->read(Extent{e.segment + 7, 0, 10}, out.data())), "EIO") << "no such segment";
  EXPECT_EQ(code(store_->read(Extent{e.segment, 0, 4096}, out.data())), "EIO") << "the file ends first";
  EXPECT_EQ(code(store_->read(Extent{e.segment, 1 << 20, 1}, out.data())), "EIO") << "beyond the end";
  EXPECT_EQ(read(e), "some bytes") << "failed reads change nothing";
}

// ---- releases ------------------------------------------------------------------------

TEST_F(SegmentStoreTest, ReleasedExtentReadsAsZerosAndItsNeighboursAreUntouched) {
  open();
  const std::string a = randomBytes(65536, 1), b = randomBytes(65536, 2), c = randomBytes(65536, 3);
  const Extent ea = append(a), eb = append(b), ec = append(c);
  const uint64_t onDiskBefore = store_->bytesOnDisk();
  store_->release(eb);
  store_->drainReleases();
  EXPECT_EQ(read(eb), std::string(b.size(), '\0'));
  EXPECT_EQ(read(ea), a);
  EXPECT_EQ(read(ec), c);
  EXPECT_EQ(store_->liveBytes(), 2 * 65536u);
  EXPECT_LE(store_->bytesOnDisk() + 65536, onDiskBefore) << "the blocks went back to the filesystem";
}

TEST_F(SegmentStoreTest, AdjacentReleasesArePunchedInOneCallAndGapsSplitThem) {
  open();
  std::vector<Extent> e;
  for (int i = 0; i < 6; ++i) e.push_back(append(std::string(5000, static_cast<char>('a' + i))));  // 8 KiB each
  files_->clearLog();
  // Out of order, in one batch: 0,1,2 are adjacent, 4,5 too; 3 stays.
  store_->release({e[2], e[0], e[5], e[1], e[4]});
  store_->drainReleases();
  const std::string seg = std::to_string(e[0].segment);
  std::vector<std::string> punches = files_->logged("punch ");
  std::sort(punches.begin(), punches.end());
  EXPECT_EQ(punches, (std::vector<std::string>{"punch " + seg + " 0 24576", "punch " + seg + " 32768 16384"}));
  EXPECT_EQ(read(e[3]), std::string(5000, 'd'));
  EXPECT_EQ(store_->liveBytes(), 8192u);
}

TEST_F(SegmentStoreTest, TheActiveSegmentStaysWhenEmptyAndTakesTheNextAppend) {
  open();
  const Extent e = append("x");
  store_->release(e);
  store_->drainReleases();
  EXPECT_TRUE(exists(e.segment)) << "the active segment is never unlinked";
  EXPECT_TRUE(files_->logged("remove ").empty());
  const Extent next = append("y");
  EXPECT_EQ(next.segment, e.segment);
  EXPECT_EQ(read(next), "y");
}

TEST_F(SegmentStoreTest, ASealedSegmentIsUnlinkedOnceItsLastLiveExtentIsReleased) {
  open();
  const Extent a = append(std::string(5000, 'a')), b = append(std::string(100, 'b'));
  ASSERT_TRUE(store_->sync({a.segment}).ok());
  open({a, b});  // reopening seals the segment: appends go to a new one
  const Extent fresh = append("fresh");
  ASSERT_NE(fresh.segment, a.segment);
  store_->release(a);
  store_->drainReleases();
  EXPECT_TRUE(exists(a.segment)) << "b is still live in it";
  EXPECT_EQ(read(b), std::string(100, 'b'));
  store_->release(b);
  store_->drainReleases();
  EXPECT_FALSE(exists(a.segment)) << "sealed and empty: unlinked";
  EXPECT_EQ(files_->logged("remove "), std::vector<std::string>{"remove " + segmentPath(a.segment)});
  EXPECT_EQ(read(b), "<EIO>") << "its extents are gone with it";
  EXPECT_EQ(read(fresh), "fresh");
  EXPECT_EQ(store_->liveBytes(), aligned(5));
}

// releaseLock(): a reader holding it shared reads the bytes of the extent
// it found, however a release races it; the punch waits for it.
TEST_F(SegmentStoreTest, AReaderHoldingTheReleaseLockReadsBytesAReleaseWouldPunch) {
  open();
  const std::string data = randomBytes(8192, 5);
  const Extent e = append(data);
  {
    std::shared_lock<std::shared_mutex> reading(store_->releaseLock());
    store_->release(e);
    EXPECT_EQ(read(e), data);
  }
  store_->drainReleases();
  EXPECT_EQ(read(e), std::string(data.size(), '\0'));
}

TEST_F(SegmentStoreTest, ClosingTheStorePunchesWhatWasQueuedFirst) {
  open();
  const Extent a = append(std::string(4096, 'a'));
  append(std::string(4096, 'b'));
  store_->release(a);
  store_.reset();
  std::ifstream in(segmentPath(a.segment), std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(bytes, std::string(4096, '\0') + std::string(4096, 'b'));
  EXPECT_EQ(files_->logged("punch "), std::vector<std::string>{"punch " + std::to_string(a.segment) + " 0 4096"});
}

TEST_F(SegmentStoreTest, DrainWithNothingQueuedReturnsAndEmptyReleaseIsANoOp) {
  open();
  const Extent e = append("kept");
  store_->drainReleases();
  store_->release(std::vector<Extent>{});
  store_->drainReleases();
  EXPECT_TRUE(files_->logged("punch ").empty());
  EXPECT_EQ(read(e), "kept");
  EXPECT_EQ(store_->liveBytes(), kAlign);
}

TEST_F(SegmentStoreTest, AFailedPunchIsNotAnErrorAndStillCountsTheBytesFree) {
  open();
  const Extent a = append(std::string(4096, 'a')), b = append(std::string(4096, 'b'));
  files_->setFaults({.punchHole = EOPNOTSUPP});
  store_->release(a);
  store_->drainReleases();
  EXPECT_EQ(files_->logged("punch ").size(), 1u);
  EXPECT_EQ(store_->liveBytes(), 4096u);
  EXPECT_EQ(read(a), std::string(4096, 'a')) << "not punched: the bytes merely waste space";
  files_->setFaults({});
  EXPECT_EQ(read(b), std::string(4096, 'b'));
  EXPECT_EQ(read(append("more")), "more");
}

// ---- durability ------------------------------------------------------------------------

TEST_F(SegmentStoreTest, OpenThatCreatesTheDirectorySyncsItsParentButReopenDoesNot) {
  open();
  EXPECT_EQ(files_->log().at(0), "mkdir " + segmentsDir());
  EXPECT_EQ(files_->log().at(1), "syncdir " + dir_.path()) << "segments/ is durable before open() returns";
  files_->clearLog();
  open();
  EXPECT_TRUE(files_->logged("syncdir ").empty()) << files_->log().size();
}

TEST_F(SegmentStoreTest, SyncOfANewSegmentSyncsItsDataThenItsDirectoryOnce) {
  open();
  const Extent e = append("durable");
  files_->clearLog();
  ASSERT_TRUE(store_->sync({e.segment}).ok());
  EXPECT_EQ(files_->log(), (std::vector<std::string>{"sync " + std::to_string(e.segment), "syncdir " + segmentsDir()}));
  // The name is durable now: later syncs only flush the data.
  append("more");
  files_->clearLog();
  ASSERT_TRUE(store_->sync({e.segment}).ok());
  EXPECT_EQ(files_->log(), std::vector<std::string>{"sync " + std::to_string(e.segment)});
}

TEST_F(SegmentStoreTest, SyncOfAnUnknownSegmentSyncsNothing) {
  open();
  const Extent e = append("x");
  files_->clearLog();
  EXPECT_TRUE(store_->sync({e.segment + 100}).ok());
  EXPECT_TRUE(store_->sync({}).ok());
  EXPECT_TRUE(files_->log().empty());
}

TEST_F(SegmentStoreTest, SegmentsFoundAtOpenNeedNoDirectorySync) {
  open();
  const Extent e = append("old");
  ASSERT_TRUE(store_->sync({e.segment}).ok());
  open({e});
  files_->clearLog();
  ASSERT_TRUE(store_->sync({e.segment}).ok());
  EXPECT_EQ(files_->log(), std::vector<std::string>{"sync " + std::to_string(e.segment)});
}

TEST_F(SegmentStoreTest, AFailedDataOrDirectorySyncIsReturnedAndRetriedNextTime) {
  open();
  const Extent e = append("x");
  files_->setFaults({.syncData = EIO});
  EXPECT_EQ(code(store_->sync({e.segment})), "EIO");
  files_->setFaults({.syncDirectory = ENOSPC});
  EXPECT_EQ(code(store_->sync({e.segment})), "ENOSPC");
  files_->setFaults({});
  files_->clearLog();
  ASSERT_TRUE(store_->sync({e.segment}).ok());
  EXPECT_EQ(files_->logged("syncdir "), std::vector<std::string>{"syncdir " + segmentsDir()})
      << "the name was not made durable by the failed attempt";
}

// Against the model of a disk: what sync() promised survives a power cut —
// the bytes and the names of the segment and of segments/ itself.
TEST(SegmentStorePowerCut, SyncedExtentsSurviveAPowerCutInAFreshDirectory) {
  TempDir dir;
  const std::string segments = dir.path() + "/segments";
  std::shared_ptr<PowerCutDisk> disk = PowerCutDisk::make();
  const std::string data = randomBytes(10000, 7);
  Extent e;
  {
    auto store = SegmentStore::open(segments, {}, true, disk->segmentFiles());
    ASSERT_TRUE(store.ok()) << store.status().toString();
    auto appended = (*store)->append(data);
    ASSERT_TRUE(appended.ok());
    e = *appended;
    ASSERT_TRUE((*store)->sync({e.segment}).ok());
    ASSERT_TRUE((*store)->append("not synced, and no commit names it").ok());
    disk->cutPower();
  }
  std::mt19937_64 rng(1);
  auto settled = disk->settle(PowerCutDisk::Loss::kAllUnsynced, rng);
  ASSERT_TRUE(settled.ok()) << settled.status().toString();
  auto reopened = SegmentStore::open(segments, {e}, true, posixSegmentFiles());
  ASSERT_TRUE(reopened.ok()) << reopened.status().toString() << " (" << *settled << ")";
  std::string out(e.length, '\0');
  ASSERT_TRUE((*reopened)->read(e, out.data()).ok());
  EXPECT_EQ(out, data);
}

// ---- open: the sweep ---------------------------------------------------------------------

TEST_F(SegmentStoreTest, OpenPunchesEverythingNoLiveExtentNames) {
  open();
  const std::string a = randomBytes(5000, 1), b = randomBytes(4096, 2), c = randomBytes(3000, 3);
  const Extent ea = append(a), eb = append(b), ec = append(c);
  open({eb});
  EXPECT_EQ(read(eb), b);
  EXPECT_EQ(read(ea), std::string(a.size(), '\0')) << "before the live extent";
  EXPECT_EQ(read(ec), std::string(c.size(), '\0')) << "after the live extent, to the end of the file";
  EXPECT_EQ(store_->liveBytes(), 4096u);
}

TEST_F(SegmentStoreTest, OpenRemovesSegmentsNoLiveExtentNamesAndNeverReusesANumber) {
  open();
  const Extent first = append("first");
  open({first});
  const Extent orphan = append("orphan");  // in the second segment
  ASSERT_GT(orphan.segment, first.segment);
  open({first});
  EXPECT_FALSE(exists(orphan.segment)) << "a crash orphan";
  EXPECT_TRUE(exists(first.segment));
  const Extent next = append("next");
  EXPECT_GT(next.segment, orphan.segment) << "appends never land in a swept segment or reuse its number";
  EXPECT_EQ(read(first), "first");
}

TEST_F(SegmentStoreTest, OpenIgnoresFilesThatAreNotSegments) {
  open();
  store_.reset();
  for (const char* name : {"notes.txt", "00000009.segx", "00000009.se", "lost+found"})
    std::ofstream(segmentsDir() + "/" + name) << "not a segment";
  open();
  for (const char* name : {"notes.txt", "00000009.segx", "00000009.se", "lost+found"})
    EXPECT_TRUE(std::filesystem::exists(segmentsDir() + "/" + name)) << name;
  EXPECT_LT(append("x").segment, 9u) << "a name that is not NNNNNNNN.seg is no segment number";
}

// Names that sscanf would read as a number but that are not the eight
// digits of NNNNNNNN.seg: no segment (there is no file under the name the
// number gives), so the store opens around them — also without the sweep,
// which opens every segment it finds.
TEST_F(SegmentStoreTest, OpenIgnoresNamesThatOnlyLookLikeSegmentNumbers) {
  open();
  const Extent x = append("x");
  store_.reset();
  const std::vector<std::string> strays = {"1.seg", "+2.seg", " 3.seg", "0000004.seg", "-5.seg"};
  for (const std::string& name : strays) std::ofstream(segmentsDir() + "/" + name) << "not a segment";
  for (bool sweep : {false, true}) {
    SCOPED_TRACE(sweep ? "sweep" : "no sweep");
    open({x}, sweep);
    if (!store_) continue;
    EXPECT_EQ(read(x), "x");
    for (const std::string& name : strays) EXPECT_TRUE(std::filesystem::exists(segmentsDir() + "/" + name)) << name;
  }
}

TEST_F(SegmentStoreTest, OpenWithoutSweepPunchesAndRemovesNothing) {
  open();
  const Extent a = append("a"), b = append("b");
  open({a, b});
  const Extent unlisted = append("unlisted");  // in a segment no live extent names
  files_->clearLog();
  open({a}, /*sweep=*/false);  // b is live but not listed (metadata damaged, say)
  EXPECT_TRUE(files_->logged("punch ").empty());
  EXPECT_TRUE(files_->logged("remove ").empty());
  EXPECT_EQ(read(b), "b");
  EXPECT_EQ(read(unlisted), "unlisted");
  // Releasing every listed byte does not make a kept segment empty.
  store_->release(a);
  store_->drainReleases();
  EXPECT_TRUE(exists(a.segment));
  EXPECT_TRUE(exists(unlisted.segment));
  EXPECT_EQ(read(b), "b");
}

TEST_F(SegmentStoreTest, OpenFailsWithEioWhenALiveExtentNamesAMissingSegment) {
  open();
  const Extent e = append("x");
  store_.reset();
  auto opened = SegmentStore::open(segmentsDir(), {e, Extent{e.segment + 5, 0, 10}}, true, files_);
  EXPECT_EQ(code(opened), "EIO");
  opened = SegmentStore::open(segmentsDir(), {Extent{e.segment + 5, 0, 10}}, false, files_);
  EXPECT_EQ(code(opened), "EIO") << "without the sweep too";
}

TEST_F(SegmentStoreTest, OpenReturnsTheErrorOfEachFileOperationItNeeds) {
  files_->setFaults({.createDirectory = EACCES});
  EXPECT_EQ(code(SegmentStore::open(segmentsDir(), {}, true, files_)), "EACCES");
  files_->setFaults({.syncDirectory = EIO});
  EXPECT_EQ(code(SegmentStore::open(segmentsDir(), {}, true, files_)), "EIO") << "the new directory's parent";
  files_->setFaults({.list = EMFILE});
  EXPECT_EQ(code(SegmentStore::open(segmentsDir(), {}, true, files_)), "EMFILE");
  files_->setFaults({.open = ENOSPC});
  EXPECT_EQ(code(SegmentStore::open(segmentsDir(), {}, true, files_)), "ENOSPC") << "the fresh active segment";
  files_->setFaults({});
  open();
  EXPECT_EQ(read(append("works")), "works");
}

TEST_F(SegmentStoreTest, AFailedRemoveOfAnOrphanDoesNotFailOpen) {
  open();
  const Extent orphan = append("orphan");
  files_->setFaults({.remove = EBUSY});
  open();
  EXPECT_EQ(files_->logged("remove "), std::vector<std::string>{"remove " + segmentPath(orphan.segment)});
  files_->setFaults({});
  EXPECT_EQ(read(append("x")), "x");
}

// ---- append errors ----------------------------------------------------------------------

TEST_F(SegmentStoreTest, AFailedWriteIsReturnedAndItsExtentReleased) {
  open();
  const Extent before = append(std::string(4096, 'a'));
  files_->setFaults({.write = ENOSPC});
  auto failed = store_->append(std::string(8192, 'b'));
  EXPECT_EQ(code(failed), "ENOSPC");
  files_->setFaults({});
  store_->drainReleases();
  EXPECT_EQ(store_->liveBytes(), 4096u) << "the failed append holds nothing";
  EXPECT_EQ(files_->logged("punch "),
            std::vector<std::string>{"punch " + std::to_string(before.segment) + " 4096 8192"});
  const Extent after = append("after");
  EXPECT_EQ(read(after), "after");
  EXPECT_EQ(read(before), std::string(4096, 'a'));
}

// ---- concurrency ------------------------------------------------------------------------

TEST_F(SegmentStoreTest, ConcurrentAppendsGetDisjointExtentsThatReadBack) {
  open();
  constexpr int kThreads = 4, kPerThread = 50;
  std::vector<std::vector<std::pair<Extent, std::string>>> got(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        std::string data = randomBytes(1 + (t * 977 + i * 131) % 9000, t * 1000 + i);
        auto e = store_->append(data);
        if (e.ok()) got[t].emplace_back(*e, std::move(data));
      }
    });
  for (auto& t : threads) t.join();
  std::vector<Extent> all;
  uint64_t alignedTotal = 0;
  for (const auto& list : got) {
    ASSERT_EQ(list.size(), size_t{kPerThread});
    for (const auto& [e, data] : list) {
      EXPECT_EQ(read(e), data);
      all.push_back(e);
      alignedTotal += aligned(e.length);
    }
  }
  std::sort(all.begin(), all.end(), [](const Extent& a, const Extent& b) { return a.offset < b.offset; });
  for (size_t i = 1; i < all.size(); ++i) EXPECT_GE(all[i].offset, all[i - 1].offset + aligned(all[i - 1].length));
  EXPECT_EQ(store_->liveBytes(), alignedTotal);
}

}  // namespace
}  // namespace acidfs
