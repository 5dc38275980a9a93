// Power cuts (SPEC §3), after LevelDB's db/fault_injection_test.cc: the
// store runs on a disk that remembers what was synced (fault_injection.h);
// at a random moment the power goes off, the store is destroyed, everything
// not durable is dropped, and the store is opened again: on the next life's
// disk (which has power, unless that life's cut lands in the open), and every
// kRealReopenEvery cuts and at each seed's end on the real files. Then:
//   - the store opens, and fsck (offline, as `acidfs fsck` runs after a
//     crash, and again on the opened store) finds nothing wrong;
//   - every file as it was at the last Store::sync() that returned before
//     the cut, and not changed after it, is there byte for byte;
//   - the tree (names → contents) is the state after some prefix of the
//     operations that returned: at or after that sync, never one in which a
//     later operation took effect and an earlier one did not.
//
// The workload: random sequences of operations through the core API —
// whole-file commits (CAS put + commit), creates and writes, writes through
// FileDrafts, overwrites, truncates, unlinks, renames (replacing too),
// multi-operation transacts, syncs, garbage collection, clean reopens —
// on files of several 4 KiB chunks, so that their bytes live in segment
// files and every overwrite, truncate and unlink frees segment space.
//
// Where the power goes off: after a random number of operations, or inside
// one, when a random budget of bytes written (the write crossing it is
// torn) or of syncs runs out — in a commit, a sync, a flush, an open's
// recovery or a close. What survives of unsynced writes: nothing, or a
// random prefix (fault_injection.h). Each seed runs one store through many
// cuts in a row, each recovery the base of the next life. Stores live on
// /dev/shm where there is one (ACIDFS_POWER_CUT_DIR=<dir> to choose).
//
// Reproducing a failure: the message names the seed; run
//   ACIDFS_POWER_CUT_SEED=<seed> tests/power_cut_test
// (ACIDFS_POWER_CUT_CUTS=<n> sets the cuts per seed, default 25). The
// workload is deterministic; where a byte budget lands can vary with the
// timing of RocksDB's background flushes, so a rare failure may need a few runs.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <cstdlib>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "core/file_drafts.h"
#include "core/fsck.h"
#include "core/store.h"
#include "tests/fault_injection.h"
#include "tests/test_util.h"

namespace acidfs {
namespace {

using testing::PowerCutDisk;
using testing::randomBytes;
using testing::TempDir;

constexpr uint32_t kChunk = 4096;
constexpr uint64_t kRoot = kRootIno;

#if defined(__SANITIZE_ADDRESS__)
constexpr int kSeedGroups = 4, kSeedsPerGroup = 4;  // 400 cuts, ~2 min under ctest -j2: ASan is ~10× slower
#else
constexpr int kSeedGroups = 8, kSeedsPerGroup = 10;  // 2,000 cuts
#endif
constexpr int kDefaultCutsPerSeed = 25;

// ---- the model: what the tree holds after each operation ---------------------------------

using Content = std::shared_ptr<const std::string>;  // shared by the states that did not change it

struct Tree {
  std::set<std::string> dirs;            // absolute paths, the root left out
  std::map<std::string, Content> files;  // absolute path → content
};

bool sameTree(const Tree& a, const Tree& b) {
  if (a.dirs != b.dirs || a.files.size() != b.files.size()) return false;
  for (auto i = a.files.begin(), j = b.files.begin(); i != a.files.end(); ++i, ++j)
    if (i->first != j->first || (i->second != j->second && *i->second != *j->second)) return false;
  return true;
}

std::string describe(const Tree& actual, const Tree& expected) {
  std::ostringstream out;
  int shown = 0;
  for (const auto& [path, content] : expected.files) {
    auto it = actual.files.find(path);
    if (it == actual.files.end())
      out << "    missing " << path << " (" << content->size() << " bytes)\n";
    else if (*it->second != *content)
      out << "    differs " << path << " (" << it->second->size() << " bytes, expected " << content->size() << ")\n";
    else
      continue;
    if (++shown == 8) break;
  }
  for (const auto& [path, content] : actual.files)
    if (!expected.files.count(path) && shown++ < 12) out << "    unexpected " << path << "\n";
  if (actual.dirs != expected.dirs) out << "    directories differ\n";
  return out.str();
}

// The store's tree read through the namespace; a file that cannot be read
// whole holds "<error: ...>" instead.
Tree readTree(Namespace& ns) {
  Tree tree;
  std::vector<std::pair<uint64_t, std::string>> pending{{kRoot, ""}};
  while (!pending.empty()) {
    auto [dir, path] = pending.back();
    pending.pop_back();
    std::vector<DirEntry> entries;
    Status listed = ns.readdir(dir, 0, [&](const DirEntry& e) {
      if (e.name != "." && e.name != "..") entries.push_back(e);
      return true;
    });
    if (!listed.ok()) tree.files[path + "/<readdir>"] = std::make_shared<std::string>(listed.toString());
    for (const DirEntry& e : entries) {
      const std::string child = path + "/" + e.name;
      auto attr = ns.getattr(e.ino);
      if (!attr.ok()) {
        tree.files[child] = std::make_shared<std::string>("<error: " + attr.status().toString() + ">");
      } else if (attr->inode.isDir()) {
        tree.dirs.insert(child);
        pending.emplace_back(e.ino, child);
      } else {
        std::string content;
        Status read = ns.read(e.ino, 0, attr->inode.size + 1, content);
        if (!read.ok()) content = "<error: " + read.toString() + ">";
        tree.files[child] = std::make_shared<std::string>(std::move(content));
      }
    }
  }
  return tree;
}

// ---- one store through many power cuts ---------------------------------------------------

struct Totals {
  int cuts = 0, cutsInAnOpen = 0, cutsInsideAnOperation = 0, cutsWithRandomTail = 0, realReopens = 0, operations = 0;
  int recoveredLatest = 0;  // the recovered tree was the state after the last operation that returned
};

// Every how many cuts the store is opened on the real files (the other
// cuts are checked by the next life's open, on a disk that has power).
constexpr int kRealReopenEvery = 5;

class PowerCutRun {
 public:
  PowerCutRun(uint64_t seed, Totals& totals) : seed_(seed), rng_(seed), totals_(totals), dir_(scratchBase()) {}

  // One life: open on a fresh disk (which checks what the last cut left),
  // work until the power goes, drop what was not durable. `last`: then
  // check on the real files too.
  void life(int cut, bool last) {
    cut_ = cut;
    disk_ = PowerCutDisk::make();
    const unsigned plan = static_cast<unsigned>(rng_() % 4);
    if (plan == 0) disk_->cutAfter(rng_() % 600000, rng_() % 2 ? UINT64_MAX : rng_() % 40);  // in the open, often
    const auto loss = rng_() % 3 == 0 ? PowerCutDisk::Loss::kRandomTail : PowerCutDisk::Loss::kAllUnsynced;

    ASSERT_NO_FATAL_FAILURE(openFaulty());
    const bool cutInTheOpen = !disk_->powered();
    if (pendingCheck_) {
      ASSERT_NO_FATAL_FAILURE(checkRecovered(*store_, "reopened on the faulty disk"));
    }
    if (!cutInTheOpen) {  // the open synced what it recovered (or formatted): a new base
      states_.assign(1, recovered_);
      lastSync_ = 0;
      pendingCheck_ = false;
      tornTails_ = false;
      formatDurable_ = true;
    }
    if (plan == 1) disk_->cutAfter(rng_() % 400000, UINT64_MAX);
    if (plan == 2) disk_->cutAfter(UINT64_MAX, rng_() % 60);

    const int operations = 1 + static_cast<int>(rng_() % 40);
    for (int i = 0; i < operations && disk_->powered(); ++i) ASSERT_NO_FATAL_FAILURE(operate());
    const bool insideAnOperation = !cutInTheOpen && !disk_->powered();
    // The reclaimer may or may not have caught up when the power goes: both happen.
    if (rng_() % 2 && disk_->powered()) (void)store_->diskUsage();
    disk_->cutPower();
    drafts_.reset();
    store_.reset();  // nothing it writes while closing survives
    auto lost = disk_->settle(loss, rng_);
    ASSERT_TRUE(lost.ok()) << where() << lost.status().toString();
    what_ = (pendingCheck_ ? what_ + "; then " : "") + "the cut " + (cutInTheOpen ? "in the open " : "") + *lost;
    disk_.reset();
    pendingCheck_ = true;
    tornTails_ |= loss == PowerCutDisk::Loss::kRandomTail;

    totals_.cuts++;
    totals_.cutsInAnOpen += cutInTheOpen;
    totals_.cutsInsideAnOperation += insideAnOperation;
    totals_.cutsWithRandomTail += loss == PowerCutDisk::Loss::kRandomTail;
    ASSERT_NO_FATAL_FAILURE(fsckAsTheCutLeftIt());
    if (last || cut % kRealReopenEvery == kRealReopenEvery - 1) {
      ASSERT_NO_FATAL_FAILURE(reopenOnTheRealFiles());
    }
  }

 private:
  // Stores on tmpfs where there is one: the real syncs of the checks cost
  // nothing there, and the disk model decides what survives anyway.
  static std::string scratchBase() {
    if (const char* dir = getenv("ACIDFS_POWER_CUT_DIR")) return dir;
    return access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "";
  }
  std::string storePath() const { return dir_.path() + "/store"; }
  std::string where() const {
    return "seed " + std::to_string(seed_) + ", cut " + std::to_string(cut_) +
           " (reproduce: ACIDFS_POWER_CUT_SEED=" + std::to_string(seed_) + "): ";
  }

  StoreOptions baseOptions() const {
    StoreOptions options;
    options.chunkSize = kChunk;
    options.inlineMax = 256;  // a chunk's last few hundred bytes inline, the rest in segment files
    options.commitIntervalSeconds = 0;  // the test decides when the log is synced
    options.gcIntervalSeconds = 0;
    options.leaseTtlSeconds = 0;  // collectGarbage() frees every blob only a lease holds
    return options;
  }

  void openFaulty() {
    StoreOptions options = baseOptions();
    options.metadataFileSystem = disk_->metadataFileSystem();
    options.segmentFiles = disk_->segmentFiles();
    auto opened = Store::open(storePath(), options);
    ASSERT_TRUE(opened.ok()) << where() << "the store does not open on the faulty disk: "
                             << opened.status().toString() << "\n  " << what_;
    store_ = std::move(*opened);
    drafts_ = std::make_unique<FileDrafts>(store_->ns(), store_->content(), 1 << 20);
  }

  // ---- operations -------------------------------------------------------------------

  const Tree& now() const { return states_.back(); }
  void committed(Tree next) {
    states_.push_back(std::move(next));
    totals_.operations++;
  }
  // The tree after an operation that left `path` holding `content`.
  void committedFile(const std::string& path, std::string content) {
    Tree next = now();
    next.files[path] = std::make_shared<std::string>(std::move(content));
    committed(std::move(next));
  }
  void check(const Status& s, const std::string& what) {
    ASSERT_TRUE(s.ok()) << where() << what << ": " << s.toString();
  }

  std::string anyPath() {
    static const char* const kDirs[] = {"", "/d0", "/d1"};
    return std::string(kDirs[rng_() % 3]) + "/f" + std::to_string(rng_() % 8);
  }
  std::string existingFile() {
    auto it = now().files.begin();
    std::advance(it, static_cast<long>(rng_() % now().files.size()));
    return it->first;
  }
  std::string someBytes(uint64_t maxChunks) {
    const size_t size = rng_() % 8 == 0 ? rng_() % 300 : static_cast<size_t>(rng_() % (maxChunks * kChunk + 1));
    return randomBytes(size, rng_());
  }
  Result<std::pair<uint64_t, std::string>> parentOf(const std::string& path) {
    const size_t slash = path.find_last_of('/');
    uint64_t parent = kRoot;
    if (slash > 0) {
      ACIDFS_ASSIGN_OR_RETURN(Attr dir, store_->ns().lookup(kRoot, path.substr(1, slash - 1)));
      parent = dir.ino;
    }
    return std::make_pair(parent, path.substr(slash + 1));
  }
  Result<uint64_t> inoOf(const std::string& path) {
    ACIDFS_ASSIGN_OR_RETURN(auto where, parentOf(path));
    ACIDFS_ASSIGN_OR_RETURN(Attr attr, store_->ns().lookup(where.first, where.second));
    return attr.ino;
  }

  static void writeInto(std::string& content, uint64_t offset, const std::string& data) {
    if (content.size() < offset + data.size()) content.resize(offset + data.size(), '\0');
    content.replace(offset, data.size(), data);
  }

  void operate() {
    Namespace& ns = store_->ns();
    for (const char* dir : {"/d0", "/d1"}) {
      if (now().dirs.count(dir)) continue;
      check(ns.mkdir(Caller::root(), kRoot, dir + 1, 0755).status(), std::string("mkdir ") + dir);
      Tree next = now();
      next.dirs.insert(dir);
      committed(std::move(next));
      return;
    }
    const bool haveFiles = !now().files.empty();
    const unsigned pick = static_cast<unsigned>(rng_() % 100);
    if (pick < 14) return putAndCommit();
    if (pick < 24) return createAndWrite();
    if (pick < 34) return writeThroughDrafts();
    if (pick < 46 && haveFiles) return overwrite();
    if (pick < 52 && haveFiles) return truncate();
    if (pick < 61 && haveFiles) return unlink();
    if (pick < 70 && haveFiles) return rename();
    if (pick < 78 && haveFiles) return transact();
    if (pick < 88) return sync();
    if (pick < 91) return putWithoutCommit();
    if (pick < 94) return collectGarbage();
    if (pick < 96) return reopen();
    (void)store_->diskUsage();  // `acidfs status`: waits for the reclaimer
  }

  // A whole new content for a path, in one transaction (ConvexFS commit).
  void putAndCommit() {
    const std::string path = anyPath();
    const std::string bytes = someBytes(6);
    auto blob = store_->cas().put(Caller::root(), bytes);
    ASSERT_NO_FATAL_FAILURE(check(blob.status(), "put"));
    ASSERT_NO_FATAL_FAILURE(check(store_->cas().commit(Caller::root(), path, *blob, Basis::any()).status(), "commit " + path));
    committedFile(path, bytes);
    // SPEC §11: a content version is never handed out twice, whatever the
    // cuts dropped (MetaDb's mark is synced ahead of the count). Only what
    // was seen with the power on counts: after the cut the disk takes
    // writes and loses them, and nobody lives to see their answers.
    auto st = store_->cas().stat(Caller::root(), path);
    ASSERT_NO_FATAL_FAILURE(check(st.status(), "stat " + path));
    if (!disk_->powered()) return;
    EXPECT_GT(st->inode.contentVersion, highestVersion_)
        << where() << path << ": a content version no larger than one handed out before\n  " << what_;
    highestVersion_ = st->inode.contentVersion;
  }

  // mknod (when absent), then one write: two transactions.
  void createAndWrite() {
    const std::string path = anyPath();
    Namespace& ns = store_->ns();
    if (!now().files.count(path)) {
      auto where = parentOf(path);
      ASSERT_NO_FATAL_FAILURE(check(where.status(), "parent of " + path));
      ASSERT_NO_FATAL_FAILURE(
          check(ns.mknod(Caller::root(), where->first, where->second, S_IFREG | 0644, 0).status(), "mknod " + path));
      committedFile(path, "");
    }
    auto ino = inoOf(path);
    ASSERT_NO_FATAL_FAILURE(check(ino.status(), "lookup " + path));
    const std::string bytes = someBytes(5);
    const uint64_t offset = rng_() % 2 ? 0 : rng_() % (now().files.at(path)->size() + 1);
    ASSERT_NO_FATAL_FAILURE(check(::acidfs::testing::writeFile(ns, *ino, offset, bytes).status(), "write " + path));
    std::string content = *now().files.at(path);
    writeInto(content, offset, bytes);
    committedFile(path, std::move(content));
  }

  // Several write() calls into a file's draft, then one commit (fsync).
  void writeThroughDrafts() {
    if (now().files.empty()) return createAndWrite();
    const std::string path = existingFile();
    auto ino = inoOf(path);
    ASSERT_NO_FATAL_FAILURE(check(ino.status(), "lookup " + path));
    std::string content = *now().files.at(path);
    const int writes = 1 + static_cast<int>(rng_() % 4);
    for (int i = 0; i < writes; ++i) {
      const uint64_t offset = rng_() % (content.size() + kChunk);
      const std::string bytes = randomBytes(1 + rng_() % (2 * kChunk), rng_());
      ASSERT_NO_FATAL_FAILURE(check(drafts_->write(*ino, offset, bytes), "draft write " + path));
      writeInto(content, offset, bytes);
    }
    ASSERT_NO_FATAL_FAILURE(check(drafts_->commit(*ino), "draft commit " + path));
    committedFile(path, std::move(content));
  }

  void overwrite() {
    const std::string path = existingFile();
    auto ino = inoOf(path);
    ASSERT_NO_FATAL_FAILURE(check(ino.status(), "lookup " + path));
    std::string content = *now().files.at(path);
    const uint64_t offset = rng_() % (content.size() + kChunk);
    const std::string bytes = randomBytes(1 + rng_() % (3 * kChunk), rng_());
    ASSERT_NO_FATAL_FAILURE(check(::acidfs::testing::writeFile(store_->ns(), *ino, offset, bytes).status(), "overwrite " + path));
    writeInto(content, offset, bytes);
    committedFile(path, std::move(content));
  }

  void truncate() {
    const std::string path = existingFile();
    auto ino = inoOf(path);
    ASSERT_NO_FATAL_FAILURE(check(ino.status(), "lookup " + path));
    std::string content = *now().files.at(path);
    SetAttrRequest request;
    request.size = rng_() % (content.size() + 2 * kChunk);
    ASSERT_NO_FATAL_FAILURE(check(store_->ns().setattr(*ino, request).status(), "truncate " + path));
    content.resize(*request.size, '\0');
    committedFile(path, std::move(content));
  }

  void unlink() {
    const std::string path = existingFile();
    auto where = parentOf(path);
    ASSERT_NO_FATAL_FAILURE(check(where.status(), "parent of " + path));
    ASSERT_NO_FATAL_FAILURE(check(store_->ns().unlink(where->first, where->second).status(), "unlink " + path));
    Tree next = now();
    next.files.erase(path);
    committed(std::move(next));
  }

  // rename(2), over an existing file half of the time.
  void rename() {
    const std::string from = existingFile();
    const std::string to = rng_() % 2 ? existingFile() : anyPath();
    if (from == to) return;
    auto source = parentOf(from);
    auto target = parentOf(to);
    ASSERT_NO_FATAL_FAILURE(check(source.status(), "parent of " + from));
    ASSERT_NO_FATAL_FAILURE(check(target.status(), "parent of " + to));
    ASSERT_NO_FATAL_FAILURE(check(store_->ns()
                                      .rename(Caller::root(), source->first, source->second, target->first,
                                              target->second, 0)
                                      .status(),
                                  "rename " + from + " " + to));
    Tree next = now();
    next.files[to] = next.files.at(from);
    next.files.erase(from);
    committed(std::move(next));
  }

  // Up to three moves, copies and deletes, all or nothing.
  void transact() {
    Tree next = now();
    std::vector<TransactOp> ops;
    const int count = 1 + static_cast<int>(rng_() % 3);
    for (int i = 0; i < count && !next.files.empty(); ++i) {
      auto it = next.files.begin();
      std::advance(it, static_cast<long>(rng_() % next.files.size()));
      TransactOp op;
      op.sourcePath = it->first;
      op.kind = static_cast<TransactOp::Kind>(rng_() % 3);
      if (op.kind != TransactOp::Kind::kDelete) {
        op.destPath = anyPath();
        if (op.destPath == op.sourcePath) continue;
      }
      const Content source = it->second;
      if (op.kind != TransactOp::Kind::kCopy) next.files.erase(it);
      if (op.kind != TransactOp::Kind::kDelete) next.files[op.destPath] = source;
      ops.push_back(std::move(op));
    }
    if (ops.empty()) return;
    ASSERT_NO_FATAL_FAILURE(check(store_->cas().transact(Caller::root(), ops).status(), "transact"));
    committed(std::move(next));
  }

  // fsync: only a sync that returned before the power went promises anything.
  void sync() {
    ASSERT_NO_FATAL_FAILURE(check(store_->sync(), "sync"));
    if (disk_->powered()) lastSync_ = static_cast<int>(states_.size()) - 1;
  }

  void putWithoutCommit() {
    ASSERT_NO_FATAL_FAILURE(check(store_->cas().put(Caller::root(), someBytes(4)).status(), "put"));
  }

  void collectGarbage() {
    ASSERT_NO_FATAL_FAILURE(check(store_->collectGarbage().status(), "collectGarbage"));
  }

  // A clean close (which syncs) and an open (which sweeps), on the same disk.
  void reopen() {
    drafts_.reset();
    store_.reset();
    ASSERT_NO_FATAL_FAILURE(openFaulty());
    if (disk_->powered()) lastSync_ = static_cast<int>(states_.size()) - 1;
  }

  // ---- after the cut ----------------------------------------------------------------

  // What `acidfs fsck` says of the store the power cut left, before anything
  // opens it: nothing, but for a log whose unsynced tail was partly written
  // (the store's open drops it) and, before the format was durable, a
  // format cut short.
  void fsckAsTheCutLeftIt() {
    auto offline = fsckStore(storePath(), FsckOptions{});
    if (!offline.ok()) {
      ASSERT_FALSE(formatDurable_) << where() << "offline fsck failed: " << offline.status().toString() << "\n  "
                                   << what_;
      return;
    }
    for (const std::string& finding : offline->findings) {
      const bool tornLog = tornTails_ && finding.rfind("write-ahead log:", 0) == 0;
      const bool unformatted = !formatDurable_ && finding.rfind("metadata: no format_version", 0) == 0;
      EXPECT_TRUE(tornLog || unformatted) << where() << "offline fsck: " << finding << "\n  " << what_;
    }
  }

  // The brief's last step, as LevelDB's test does it: open on the real files.
  void reopenOnTheRealFiles() {
    auto opened = Store::open(storePath(), baseOptions());
    ASSERT_TRUE(opened.ok()) << where() << "the store does not open on the real files after the cut: "
                             << opened.status().toString() << "\n  " << what_;
    ASSERT_NO_FATAL_FAILURE(checkRecovered(**opened, "reopened on the real files"));
    opened->reset();  // a clean close: what it holds is durable
    states_.assign(1, recovered_);
    lastSync_ = 0;
    pendingCheck_ = false;
    tornTails_ = false;
    formatDurable_ = true;
    totals_.realReopens++;
  }

  // The store just opened after a cut holds a state at or after the last
  // sync, every file synced and not changed since byte for byte, and fsck
  // finds nothing. Sets recovered_.
  void checkRecovered(Store& store, const char* how) {
    recovered_ = readTree(store.ns());
    const Tree& synced = states_[static_cast<size_t>(lastSync_)];
    for (const auto& [path, content] : synced.files) {
      bool changedSince = false;
      for (size_t i = static_cast<size_t>(lastSync_) + 1; i < states_.size() && !changedSince; ++i) {
        auto it = states_[i].files.find(path);
        changedSince = it == states_[i].files.end() || it->second != content;
      }
      if (changedSince) continue;
      auto it = recovered_.files.find(path);
      ASSERT_TRUE(it != recovered_.files.end())
          << where() << how << ": " << path << " was synced and is gone\n  " << what_;
      ASSERT_TRUE(*it->second == *content) << where() << how << ": " << path << " was synced and differs: "
                                           << it->second->substr(0, 80) << "\n  " << what_;
    }
    int matched = -1;
    for (int i = static_cast<int>(states_.size()) - 1; i >= lastSync_ && matched < 0; --i)
      if (sameTree(recovered_, states_[static_cast<size_t>(i)])) matched = i;
    ASSERT_GE(matched, 0) << where() << how << ": the tree is no state after operation " << lastSync_ << ".."
                          << states_.size() - 1 << " (the last sync, the last to return); against the synced state:\n"
                          << describe(recovered_, synced) << "  " << what_;
    totals_.recoveredLatest += matched == static_cast<int>(states_.size()) - 1;

    auto online = fsckStore(store, /*repair=*/false);
    ASSERT_TRUE(online.ok()) << where() << how << ": fsck: " << online.status().toString();
    for (const std::string& finding : online->findings) ADD_FAILURE() << where() << how << ": fsck: " << finding;
  }

  const uint64_t seed_;
  std::mt19937_64 rng_;
  Totals& totals_;
  TempDir dir_;
  int cut_ = 0;
  std::string what_;  // what the cuts since the last check dropped

  std::shared_ptr<PowerCutDisk> disk_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<FileDrafts> drafts_;
  // The states the store may hold after a cut: states_[0] the durable base,
  // states_[i] after the i-th change since; lastSync_ indexes the last one a
  // sync made durable.
  std::vector<Tree> states_ = std::vector<Tree>(1);
  int lastSync_ = 0;
  Tree recovered_;              // what the last check found
  bool pendingCheck_ = false;   // a cut happened since the last check
  bool tornTails_ = false;      // ... and kept a random tail of some unsynced writes
  bool formatDurable_ = false;  // an open returned with the power on: the format is durable
  uint64_t highestVersion_ = 0;  // the largest content version seen, in any life
};

int cutsPerSeed() {
  const char* n = getenv("ACIDFS_POWER_CUT_CUTS");
  return n ? std::atoi(n) : kDefaultCutsPerSeed;
}

void runSeed(uint64_t seed, Totals& totals) {
  PowerCutRun run(seed, totals);
  for (int cut = 0; cut < cutsPerSeed(); ++cut) {
    run.life(cut, cut == cutsPerSeed() - 1);
    if (::testing::Test::HasFailure()) return;
  }
}

void report(const Totals& t, std::chrono::steady_clock::duration took) {
  printf("%d power cuts (%d in an open, most of them recovering from the cut before; %d inside another operation; "
         "%d keeping a random tail of unsynced writes), %d opens on the real files, %d operations, %d recoveries "
         "found the last operation, in %.1f s\n",
         t.cuts, t.cutsInAnOpen, t.cutsInsideAnOperation, t.cutsWithRandomTail, t.realReopens, t.operations,
         t.recoveredLatest, std::chrono::duration<double>(took).count());
}

// Group commit (TransactionRunner::syncCommitted): callers that sync while
// another sync is under way wait for it and then share one sync, which
// still makes every one of their commits durable. The first log sync is held
// until every thread has committed and asked for its sync: without grouping
// each of them syncs the log once more.
TEST(GroupCommit, ConcurrentSyncsShareLogSyncsAndEachCommitIsDurableWhenItsSyncReturns) {
  constexpr int kThreads = 8;
  TempDir dir;
  const std::string path = dir.path() + "/store";
  auto disk = PowerCutDisk::make();
  std::mutex gateMutex;
  std::condition_variable gateChanged;
  bool holding = false, released = true;  // opening and the first sync are not held
  disk->setBeforeFileSync([&] {
    std::unique_lock<std::mutex> lock(gateMutex);
    if (released || holding) return;
    holding = true;  // the first sync waits until the test lets it go
    gateChanged.notify_all();
    gateChanged.wait(lock, [&] { return released; });
  });
  StoreOptions options;
  options.commitIntervalSeconds = 0;
  options.gcIntervalSeconds = 0;
  options.metadataFileSystem = disk->metadataFileSystem();
  options.segmentFiles = disk->segmentFiles();
  {
    auto store = Store::open(path, options);
    ASSERT_TRUE(store.ok()) << store.status().toString();
    ASSERT_TRUE((*store)->sync().ok());
    {
      std::unique_lock<std::mutex> lock(gateMutex);
      released = false;
    }
    const uint64_t syncsBefore = disk->counters().fileSyncs;
    std::atomic<int> asked{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
      threads.emplace_back([&, t] {
        auto made = (*store)->ns().mknod(Caller::root(), kRootIno, "f" + std::to_string(t), S_IFREG | 0644, 0);
        ASSERT_TRUE(made.ok()) << made.status().toString();
        asked++;
        Status synced = (*store)->sync();
        EXPECT_TRUE(synced.ok()) << synced.toString();
      });
    {
      std::unique_lock<std::mutex> lock(gateMutex);
      gateChanged.wait(lock, [&] { return holding; });
    }
    while (asked.load() < kThreads) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // into sync(): any lag costs the assertion nothing but a sync
    {
      std::unique_lock<std::mutex> lock(gateMutex);
      released = true;
    }
    gateChanged.notify_all();
    for (auto& t : threads) t.join();
    const uint64_t syncs = disk->counters().fileSyncs - syncsBefore;
    EXPECT_LT(syncs, static_cast<uint64_t>(kThreads)) << "each of " << kThreads << " syncs synced the log itself";
    RecordProperty("log_syncs", static_cast<int>(syncs));
    disk->cutPower();  // every sync returned: every commit must survive
  }
  std::mt19937_64 rng(1);
  auto lost = disk->settle(PowerCutDisk::Loss::kAllUnsynced, rng);
  ASSERT_TRUE(lost.ok()) << lost.status().toString();
  StoreOptions plain;
  plain.commitIntervalSeconds = 0;
  auto reopened = Store::open(path, plain);
  ASSERT_TRUE(reopened.ok()) << reopened.status().toString();
  for (int t = 0; t < kThreads; ++t)
    EXPECT_TRUE((*reopened)->ns().lookup(kRootIno, "f" + std::to_string(t)).ok())
        << "f" << t << " was committed and synced before the power cut: " << *lost;
}

class PowerCut : public ::testing::TestWithParam<int> {};

TEST_P(PowerCut, EveryCutLeavesASyncedPrefixOfTheCommittedOperations) {
  if (const char* only = getenv("ACIDFS_POWER_CUT_SEED")) {
    if (GetParam() != 0) GTEST_SKIP() << "ACIDFS_POWER_CUT_SEED runs one seed, in group 0";
    Totals totals;
    const auto start = std::chrono::steady_clock::now();
    runSeed(std::strtoull(only, nullptr, 10), totals);
    report(totals, std::chrono::steady_clock::now() - start);
    return;
  }
  Totals totals;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kSeedsPerGroup && !HasFailure(); ++i)
    runSeed(static_cast<uint64_t>(1000 + GetParam() * kSeedsPerGroup + i), totals);
  report(totals, std::chrono::steady_clock::now() - start);
}

INSTANTIATE_TEST_SUITE_P(Seeds, PowerCut, ::testing::Range(0, kSeedGroups));

}  // namespace
}  // namespace acidfs
