// core_bench: what the core library (no FUSE, no kernel in the way) costs.
//
//   core_bench [--dir DIR] [--runs N] [--size-mib M] [--quick]
//
// Four sections, each printed as one table; every figure is the median of N
// runs (default 3) with the spread (min–max) beside it:
//   1. transactions per second — create, rename, CAS commit, a 10-op
//      transact — one thread and two, in a fresh store each run;
//   2. MB/s of writing M MiB (default 1024) through FileDrafts, the mount's
//      write path, and reading it through the Namespace, with and without
//      dedup, cold and warm;
//   3. the chunk-size choice: write, cold read and a 4 KiB overwrite for
//      chunk sizes 16 KiB … 1 MiB;
//   4. the peer every MB/s is divided by: plain sequential write + fdatasync
//      and read of the same bytes to a file in DIR, on the same disk.
// The disk's speed drifts by several times over minutes (a virtual disk), so
// each run of section 4 is made right before the same run of section 2, and
// each kSync run of section 1 probes the disk's flush rate just before it.
//
// Stores are created under DIR/acidfs-bench-PID and removed afterwards.
// "Cold" means: the store is closed, `sync; echo 3 > /proc/sys/vm/drop_caches`
// (or, without the privilege, fadvise(DONTNEED) on every file), then the
// store is reopened; a virtual disk's host may still cache the bytes.
// Tables go to stdout; progress goes to stderr.

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <rocksdb/version.h>

#include <algorithm>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/file_drafts.h"
#include "core/format.h"
#include "core/history.h"
#include "core/log.h"
#include "core/store.h"

namespace {

using acidfs::Basis;
using acidfs::Caller;
using acidfs::Durability;
using acidfs::FileDrafts;
using acidfs::Id128;
using acidfs::Result;
using acidfs::Status;
using acidfs::Store;
using acidfs::StoreOptions;
using acidfs::TransactOp;
using acidfs::kRootIno;
using Clock = std::chrono::steady_clock;

constexpr uint64_t kMiB = 1ull << 20;
constexpr size_t kPiece = kMiB;  // every write and read moves 1 MiB

// ---- plumbing ------------------------------------------------------------------

std::string gScratchRoot;  // removed on every exit path, failures included

[[noreturn]] void fail(const std::string& what) {
  fprintf(stderr, "core_bench: %s\n", what.c_str());
  std::error_code ec;
  if (!gScratchRoot.empty()) std::filesystem::remove_all(gScratchRoot, ec);
  std::_Exit(2);
}

void check(const Status& s, const char* what) {
  if (!s.ok()) fail(std::string(what) + ": " + s.toString());
}
template <typename T>
T check(Result<T> r, const char* what) {
  check(r.status(), what);
  return std::move(r.value());
}

std::string format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string format(const char* fmt, ...) {
  char buf[512];
  va_list args;
  va_start(args, fmt);
  vsnprintf(buf, sizeof buf, fmt, args);
  va_end(args);
  return buf;
}

double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double mbPerSecond(uint64_t bytes, double seconds) { return bytes / 1e6 / seconds; }

// N measurements of one figure.
struct Samples {
  std::vector<double> values;
  void add(double v) { values.push_back(v); }
  double median() const {
    if (values.empty()) return 0;
    std::vector<double> v = values;
    std::sort(v.begin(), v.end());
    size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  }
  double min() const { return values.empty() ? 0 : *std::min_element(values.begin(), values.end()); }
  double max() const { return values.empty() ? 0 : *std::max_element(values.begin(), values.end()); }
};

// "1234 (1200–1300)": the median, then the spread of the runs.
std::string withSpread(const Samples& s, int decimals = 0) {
  if (s.values.size() < 2) return format("%.*f", decimals, s.median());
  return format("%.*f (%.*f–%.*f)", decimals, s.median(), decimals, s.min(), decimals, s.max());
}

std::string ratio(double value, double peer) { return peer > 0 ? format("%.2f", value / peer) : "-"; }

// A plain-text table: left-aligned first column, the others right-aligned.
class Table {
 public:
  explicit Table(std::vector<std::string> header) { rows_.push_back(std::move(header)); }
  void row(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }
  void print() const {
    std::vector<size_t> width;
    for (const auto& r : rows_)
      for (size_t i = 0; i < r.size(); ++i) {
        if (width.size() <= i) width.push_back(0);
        width[i] = std::max(width[i], displayWidth(r[i]));
      }
    for (size_t n = 0; n < rows_.size(); ++n) {
      std::string line;
      for (size_t i = 0; i < rows_[n].size(); ++i) {
        std::string pad(width[i] - displayWidth(rows_[n][i]), ' ');
        line += i == 0 ? rows_[n][i] + pad : "  " + pad + rows_[n][i];
      }
      while (!line.empty() && line.back() == ' ') line.pop_back();
      printf("%s\n", line.c_str());
      if (n == 0) {
        size_t total = 0;
        for (size_t w : width) total += w + 2;
        printf("%s\n", std::string(total - 2, '-').c_str());
      }
    }
    printf("\n");
  }

 private:
  static size_t displayWidth(const std::string& s) {  // UTF-8: count lead bytes only
    size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
  }
  std::vector<std::vector<std::string>> rows_;
};

// Incompressible, non-repeating bytes (xoshiro256**): no two chunks equal.
std::string randomBytes(size_t size, uint64_t seed) {
  uint64_t s[4];
  for (uint64_t& word : s) {  // splitmix64 seeding
    seed += 0x9E3779B97F4A7C15ull;
    uint64_t z = seed;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    word = z ^ (z >> 31);
  }
  auto rotl = [](uint64_t x, int k) { return (x << k) | (x >> (64 - k)); };
  std::string out(size, '\0');
  for (size_t i = 0; i < size; i += 8) {
    uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0], s[3] ^= s[1], s[1] ^= s[2], s[0] ^= s[3], s[2] ^= t, s[3] = rotl(s[3], 45);
    memcpy(out.data() + i, &r, std::min<size_t>(8, size - i));
  }
  return out;
}

// Bytes this thread has handed to write(2)/pwrite(2) so far (segment data,
// the RocksDB WAL: both are written by the committing thread).
uint64_t threadBytesWritten() {
  std::ifstream io("/proc/thread-self/io");
  std::string key;
  uint64_t value = 0;
  while (io >> key >> value)
    if (key == "wchar:") return value;
  return 0;
}

// What a store holds: allocated blocks of its segment files (punched holes
// do not count) plus the length of every other file. Not Store::diskUsage
// (du), which also counts the ~74 MiB RocksDB preallocates for its WAL and
// MANIFEST and so hides the few MiB a workload adds.
uint64_t storeBytes(const std::string& path) {
  uint64_t total = 0;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(path, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    struct stat st;
    if (lstat(it->path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    const bool segment = it->path().parent_path().filename() == "segments";
    total += segment ? static_cast<uint64_t>(st.st_blocks) * 512 : static_cast<uint64_t>(st.st_size);
  }
  return total;
}

// ---- configuration and the machine ----------------------------------------------

struct Config {
  std::string dir = "/tmp";
  int runs = 3;
  bool quick = false;
  bool transactionsOnly = false;  // section 1 alone (--transactions-only): for profiling
  int64_t trashDays = 0;          // StoreOptions::trashSeconds of section 1's stores (--trash-days)
  int64_t feedDays = 1;           // StoreOptions::feedSeconds of section 1's stores (--feed-days)
  uint64_t historyVersions = 0;   // --history N: the log-of-one-path measurement alone
  uint64_t bigBytes = 1024 * kMiB;    // section 2 and 4
  uint64_t chunkBytes = 256 * kMiB;   // section 3
  // Section 1 operation counts. kSync runs do fewer: each of their commits
  // waits for the disk (~4 ms here), and a rate does not depend on the count.
  uint64_t creates = 10000, renames = 10000, unlinks = 10000, casCommits = 2000, transacts = 1000;
  uint64_t syncCreates = 2000, syncCasCommits = 500;
  int smallWrites = 16;   // 4 KiB overwrites measured per run in section 3
  int fsyncProbes = 200;  // 4 KiB write+fdatasync probes of the disk
};

Config parseArgs(int argc, char** argv) {
  Config c;
  int runs = 0;
  uint64_t sizeMiB = 0;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) fail("missing value after " + a);
      return argv[++i];
    };
    auto number = [&]() -> uint64_t {
      std::string v = value();
      char* end = nullptr;
      unsigned long long n = strtoull(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || n == 0 || n > (1ull << 20)) fail("bad number '" + v + "' after " + a);
      return n;
    };
    if (a == "--dir") c.dir = value();
    else if (a == "--runs") runs = static_cast<int>(number());
    else if (a == "--size-mib") sizeMiB = number();
    else if (a == "--quick") c.quick = true;
    else if (a == "--transactions-only") c.transactionsOnly = true;
    else if (a == "--history") c.historyVersions = number();
    else if (a == "--trash-days") {
      const std::string v = value();
      char* end = nullptr;
      c.trashDays = strtoll(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || c.trashDays < 0 || c.trashDays > 3650) fail("bad number of days '" + v + "'");
    }
    else if (a == "--feed-days") {
      const std::string v = value();
      char* end = nullptr;
      c.feedDays = strtoll(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || c.feedDays < 0 || c.feedDays > 3650) fail("bad number of days '" + v + "'");
    }
    else if (a == "-h" || a == "--help") {
      printf("usage: core_bench [--dir DIR] [--runs N] [--size-mib M] [--quick] [--transactions-only]\n"
             "  --dir DIR      where stores and the peer file are made (default /tmp)\n"
             "  --runs N       runs per figure; figures are medians (default 3, --quick 1)\n"
             "  --size-mib M   bytes written and read in sections 2 and 4 (default 1024, --quick 64)\n"
             "  --quick        small sizes and counts: a smoke run of well under a minute\n"
             "  --transactions-only  table 1 alone (to profile the transaction path)\n"
             "  --history N    only this: `acidfs log` of one path in a store whose trash holds N\n"
             "                 other versions, beside one whose trash holds none\n"
             "  --trash-days N table 1's stores keep drops N days (acidfsd's default is 1;\n"
             "                 the library's, and this bench's, 0): the trash's cost\n"
             "  --feed-days N  table 1's stores keep a change feed N days (default 1, as acidfsd\n"
             "                 and the library; 0: none): with 0 and 1, the feed's cost\n");
      exit(0);
    } else fail("unknown argument " + a + " (see --help)");
  }
  if (c.quick) {
    c.runs = 1;
    c.bigBytes = 64 * kMiB;
    c.chunkBytes = 32 * kMiB;
    c.creates = c.renames = c.unlinks = 1000;
    c.casCommits = 200, c.transacts = 100;
    c.syncCreates = 100, c.syncCasCommits = 50;
    c.smallWrites = 8, c.fsyncProbes = 50;
  }
  if (runs > 0) c.runs = runs;
  if (sizeMiB > 0) c.bigBytes = sizeMiB * kMiB;
  c.chunkBytes = std::min(c.chunkBytes, c.bigBytes);
  if (c.chunkBytes < 8 * kMiB) fail("--size-mib must be at least 8");
  return c;
}

std::string filesystemType(const std::string& dir) {
  struct statfs fs;
  if (statfs(dir.c_str(), &fs) != 0) return "unknown";
  switch (static_cast<unsigned long>(fs.f_type)) {
    case 0xEF53: return "ext2/3/4";
    case 0x58465342: return "xfs";
    case 0x9123683E: return "btrfs";
    case 0x01021994: return "tmpfs";
    case 0x794C7630: return "overlayfs";
    case 0x2FC12FC1: return "zfs";
    case 0x65735546: return "fuse";
    default: return format("f_type 0x%lx", static_cast<unsigned long>(fs.f_type));
  }
}

std::string firstLineWith(const char* path, const char* key) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key, 0) == 0) {
      auto colon = line.find(':');
      std::string v = colon == std::string::npos ? line : line.substr(colon + 1);
      return v.erase(0, v.find_first_not_of(" \t"));
    }
  return "?";
}

std::string loadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

// ---- stores, caches, the scratch directory ----------------------------------------

bool gDropCachesWorks = true;

// Empties the page cache of everything under `path` (and, as root, of the
// whole machine).
void dropCaches(const std::string& path) {
  sync();
  if (gDropCachesWorks) {
    std::ofstream drop("/proc/sys/vm/drop_caches");
    drop << "3\n";
    drop.flush();
    if (drop) return;
    gDropCachesWorks = false;
  }
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(path, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_regular_file()) continue;
    int fd = ::open(it->path().c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    close(fd);
  }
}

int gStoreNumber = 0;
int64_t gTrashSeconds = 0;  // section 1's stores (Config::trashDays)
int64_t gFeedSeconds = 86400;  // section 1's stores (Config::feedDays)

// A fresh store in the scratch directory, removed when this goes away.
class ScratchStore {
 public:
  explicit ScratchStore(StoreOptions options = {})
      : path_(gScratchRoot + format("/store%d", ++gStoreNumber)), options_(options) {
    open();
  }
  ~ScratchStore() {
    store_.reset();
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  Store& operator*() { return *store_; }
  Store* operator->() { return store_.get(); }
  const std::string& path() const { return path_; }

  void open() { store_ = check(Store::open(path_, options_), "opening a store"); }
  void close() { store_.reset(); }
  // Close, empty the page cache, reopen: returns the seconds the reopen took.
  double reopenCold() {
    close();
    dropCaches(path_);
    auto start = Clock::now();
    open();
    return secondsSince(start);
  }

 private:
  std::string path_;
  StoreOptions options_;
  std::unique_ptr<Store> store_;
};

// ---- section 4: the disk ---------------------------------------------------------

struct DiskPeer {
  Samples write, writeSyncEachMiB, coldRead, warmRead, fsyncPerSecond;
};

void writeAll(int fd, const char* data, size_t size, off_t offset) {
  for (size_t done = 0; done < size;) {
    ssize_t n = pwrite(fd, data + done, size - done, offset + static_cast<off_t>(done));
    if (n <= 0) fail(format("writing the peer file: %s", strerror(errno)));
    done += static_cast<size_t>(n);
  }
}

double rawWrite(const std::string& path, const std::string& data, uint64_t size, bool syncEachPiece) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) fail("creating " + path);
  auto start = Clock::now();
  for (uint64_t off = 0; off < size; off += kPiece) {
    writeAll(fd, data.data() + off, kPiece, static_cast<off_t>(off));
    if (syncEachPiece && fdatasync(fd) != 0) fail("fdatasync");
  }
  if (fdatasync(fd) != 0) fail("fdatasync");
  double seconds = secondsSince(start);
  close(fd);
  return mbPerSecond(size, seconds);
}

double rawRead(const std::string& path, const std::string& data, uint64_t size) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("opening " + path);
  std::string buf(kPiece, '\0');
  double seconds = 0;
  for (uint64_t off = 0; off < size; off += kPiece) {
    auto start = Clock::now();
    for (size_t done = 0; done < kPiece;) {
      ssize_t n = pread(fd, buf.data() + done, kPiece - done, static_cast<off_t>(off + done));
      if (n <= 0) fail("reading the peer file");
      done += static_cast<size_t>(n);
    }
    seconds += secondsSince(start);
    if (memcmp(buf.data(), data.data() + off, kPiece) != 0) fail("the peer file reads back wrong");
  }
  close(fd);
  return mbPerSecond(size, seconds);
}

// Flush rate, the ceiling of kSync: small appends, each made durable, to a
// file preallocated as RocksDB preallocates its WAL. Returns flushes/s.
double measureFlushRate(int probes, const std::string& data) {
  const std::string path = gScratchRoot + "/flush-probe.bin";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0 || fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 16 * kMiB) != 0 || fdatasync(fd) != 0)
    fail("preparing the flush probe");
  auto start = Clock::now();
  for (int i = 0; i < probes; ++i) {
    writeAll(fd, data.data(), 4096, static_cast<off_t>(i) * 4096);
    if (fdatasync(fd) != 0) fail("fdatasync");
  }
  double rate = probes / secondsSince(start);
  close(fd);
  unlink(path.c_str());
  return rate;
}

// One run of the peer. Run right before the store's run of the same bytes:
// this disk's speed drifts by several times over minutes.
void measureDiskRun(const Config& cfg, const std::string& data, DiskPeer& peer) {
  const std::string path = gScratchRoot + "/peer.bin";
  peer.writeSyncEachMiB.add(rawWrite(path, data, cfg.bigBytes, true));
  peer.write.add(rawWrite(path, data, cfg.bigBytes, false));
  dropCaches(path);
  peer.coldRead.add(rawRead(path, data, cfg.bigBytes));
  peer.warmRead.add(rawRead(path, data, cfg.bigBytes));
  unlink(path.c_str());
  peer.fsyncPerSecond.add(measureFlushRate(cfg.fsyncProbes, data));
}

const Caller kRoot = Caller::root();

// ---- --history: the trash's index by path -----------------------------------------

// History::log of /probe/file (3 versions) in a store whose trash also holds
// `others` versions of other paths (files made and unlinked across 1,000
// directories), in microseconds per call: the median of `calls` calls.
Samples logMicroseconds(uint64_t others, int calls) {
  StoreOptions options;
  options.trashSeconds = 86400;
  options.gcIntervalSeconds = 0;
  ScratchStore store(options);
  Store& s = *store;
  std::vector<uint64_t> dirs;
  for (int d = 0; d < 1000 && others; ++d)
    dirs.push_back(check(s.ns().mkdir(kRoot, kRootIno, format("d%d", d), 0755), "mkdir").ino);
  for (uint64_t i = 0; i < others; ++i) {
    const uint64_t dir = dirs[i % dirs.size()];
    const std::string name = format("f%llu", (unsigned long long)i);
    check(s.ns().mknod(kRoot, dir, name, S_IFREG | 0644, 0), "mknod");
    check(s.ns().unlink(dir, name).status(), "unlink");
    if (i % 100000 == 99999) fprintf(stderr, "    %llu versions in the trash\n", (unsigned long long)i + 1);
  }
  const uint64_t probeDir = check(s.ns().mkdir(kRoot, kRootIno, "probe", 0755), "mkdir").ino;
  const uint64_t file = check(s.ns().mknod(kRoot, probeDir, "file", S_IFREG | 0644, 0), "mknod").ino;
  for (int v = 0; v < 3; ++v) {
    auto blob = check(s.cas().put(kRoot, format("version %d", v)), "put");
    check(s.cas().commit(kRoot, "/probe/file", blob, Basis::any()).status(), "commit");
  }
  (void)file;
  check(s.ns().unlink(probeDir, "file").status(), "unlink");
  Samples us;
  for (int c = 0; c < calls; ++c) {
    auto start = Clock::now();
    auto versions = check(s.history().log(kRoot, "/probe/file"), "log");
    us.add(secondsSince(start) * 1e6);
    if (versions.size() != 3) fail(format("log found %zu versions of /probe/file, not 3", versions.size()));
  }
  return us;
}

void measureHistory(const Config& cfg) {
  constexpr int kCalls = 1000;
  fprintf(stderr, "--history: a store whose trash holds only the probe's versions\n");
  const Samples alone = logMicroseconds(0, kCalls);
  fprintf(stderr, "--history: a store whose trash holds %llu more\n", (unsigned long long)cfg.historyVersions);
  const Samples crowded = logMicroseconds(cfg.historyVersions, kCalls);
  printf("History::log of one path with 3 versions, median of %d calls (us):\n", kCalls);
  printf("  trash holding only them:            %8.1f (%.1f-%.1f)\n", alone.median(), alone.min(), alone.max());
  printf("  trash holding %9llu others too:  %8.1f (%.1f-%.1f)\n", (unsigned long long)cfg.historyVersions,
         crowded.median(), crowded.min(), crowded.max());
  printf("  ratio: %.2fx\n", crowded.median() / alone.median());
}


// ---- section 1: transactions per second -------------------------------------------

// One run of a workload: a fresh store, `setup` untimed, then `threads`
// threads each running `body` over its share [begin, end) of n operations.
// Returns operations per second of wall time.
using Body = std::function<void(Store&, int thread, uint64_t begin, uint64_t end)>;
double runTransactions(Durability durability, int threads, uint64_t n,
                       const std::function<void(Store&, int threads)>& setup, const Body& body) {
  StoreOptions options;
  options.durability = durability;
  options.trashSeconds = gTrashSeconds;
  options.feedSeconds = gFeedSeconds;
  ScratchStore store(options);
  if (setup) setup(*store, threads);
  auto start = Clock::now();
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t)
    workers.emplace_back([&, t] { body(*store, t, n * t / threads, n * (t + 1) / threads); });
  for (auto& w : workers) w.join();
  return n / secondsSince(start);
}


// mknod of empty files, all in the root directory (one hot directory inode).
double createRun(Durability d, int threads, uint64_t n) {
  return runTransactions(d, threads, n, nullptr, [](Store& s, int t, uint64_t begin, uint64_t end) {
    for (uint64_t i = begin; i < end; ++i)
      check(s.ns().mknod(kRoot, kRootIno, format("t%d-%llu", t, (unsigned long long)i), S_IFREG | 0644, 0), "mknod");
  });
}

// Setup of the rename and unlink runs: n empty files f<i> in the root directory.
std::function<void(Store&, int)> emptyFiles(uint64_t n) {
  return [n](Store& s, int) {
    for (uint64_t i = 0; i < n; ++i)
      check(s.ns().mknod(kRoot, kRootIno, format("f%llu", (unsigned long long)i), S_IFREG | 0644, 0), "mknod");
  };
}

// rename f<i> → r<i> within the root directory.
double renameRun(Durability d, int threads, uint64_t n) {
  return runTransactions(d, threads, n, emptyFiles(n), [](Store& s, int, uint64_t begin, uint64_t end) {
    for (uint64_t i = begin; i < end; ++i)
      check(s.ns().rename(Caller::root(), kRootIno, format("f%llu", (unsigned long long)i), kRootIno,
                          format("r%llu", (unsigned long long)i), 0),
            "rename");
  });
}

// unlink of f<i> from the root directory.
double unlinkRun(Durability d, int threads, uint64_t n) {
  return runTransactions(d, threads, n, emptyFiles(n), [](Store& s, int, uint64_t begin, uint64_t end) {
    for (uint64_t i = begin; i < end; ++i)
      check(s.ns().unlink(kRootIno, format("f%llu", (unsigned long long)i)), "unlink");
  });
}

// One CAS commit = CasOps::put of ~200 new bytes (inline chunk) + CasOps::commit
// of that blob to /c<thread> with the previous blobId as basis: two
// transactions. Each thread has its own file, so none of them conflict.
double casCommitRun(Durability d, int threads, uint64_t n) {
  std::vector<Id128> current(threads);
  auto content = [](int t, uint64_t i) {
    std::string s = format("thread %d, version %llu of this file\n", t, (unsigned long long)i);
    s.resize(200, '.');
    return s;
  };
  auto setup = [&](Store& s, int count) {
    for (int t = 0; t < count; ++t) {
      Id128 blob = check(s.cas().put(kRoot, content(t, UINT64_MAX)), "put");
      current[t] = *check(s.cas().commit(kRoot, format("/c%d", t), blob, Basis::absent()), "commit").blob;
    }
  };
  return runTransactions(d, threads, n, setup, [&](Store& s, int t, uint64_t begin, uint64_t end) {
    const std::string path = format("/c%d", t);
    for (uint64_t i = begin; i < end; ++i) {
      Id128 blob = check(s.cas().put(kRoot, content(t, i)), "put");
      check(s.cas().commit(kRoot, path, blob, Basis::of(current[t])), "commit");
      current[t] = blob;
    }
  });
}

// One transact = 10 moves /t<thread>/a<k> ⇄ /t<thread>/b<k>, each with the
// source's blobId as precondition and an absent destination. Each thread
// works in its own directory (a move writes its directory's inode).
double transactRun(Durability d, int threads, uint64_t n) {
  std::vector<std::array<Id128, 10>> blobs(threads);
  auto setup = [&](Store& s, int count) {
    for (int t = 0; t < count; ++t) {
      check(s.ns().mkdir(kRoot, kRootIno, format("t%d", t), 0755), "mkdir");
      for (int k = 0; k < 10; ++k) {
        Id128 blob = check(s.cas().put(kRoot, format("file %d of thread %d\n", k, t)), "put");
        blobs[t][k] = *check(s.cas().commit(kRoot, format("/t%d/a%d", t, k), blob, Basis::absent()), "commit").blob;
      }
    }
  };
  return runTransactions(d, threads, n, setup, [&](Store& s, int t, uint64_t begin, uint64_t end) {
    std::vector<TransactOp> forward(10), back(10);
    for (int k = 0; k < 10; ++k) {
      const std::string a = format("/t%d/a%d", t, k), b = format("/t%d/b%d", t, k);
      forward[k] = TransactOp{TransactOp::Kind::kMove, a, blobs[t][k], b, Basis::absent()};
      back[k] = TransactOp{TransactOp::Kind::kMove, b, blobs[t][k], a, Basis::absent()};
    }
    for (uint64_t i = begin; i < end; ++i)
      check(s.cas().transact(kRoot, (i - begin) % 2 == 0 ? forward : back), "transact");
  });
}

struct TxRow {
  std::string name;
  Durability durability;
  uint64_t n;
  std::function<double(Durability, int, uint64_t)> run;
  Samples oneThread, twoThreads;
  Samples flushRate;  // kSync rows: the disk's flush rate just before each run
};

// ---- sections 2 and 3: bytes through the Namespace ----------------------------------

// Writes data[0, size) to `ino` as the mount does: 1 MiB FileDrafts::write
// calls into drafts built as acidfsd builds them (a draft commits when it
// reaches FileDrafts::kDefaultMaxDraftBytes), the rest committed at the end
// as close(2) does, then Store::sync as fsync(2) does; returns MB/s.
// `piece(off)` picks the bytes.
double writeFile(Store& s, uint64_t ino, uint64_t size, const std::function<std::string_view(uint64_t)>& piece) {
  auto start = Clock::now();
  FileDrafts drafts(s.ns(), s.content());
  for (uint64_t off = 0; off < size; off += kPiece) check(drafts.write(ino, off, piece(off)), "write");
  check(drafts.commit(ino), "commit");
  check(s.sync(), "sync");
  return mbPerSecond(size, secondsSince(start));
}

// Reads `ino` in 1 MiB Namespace::read calls and checks every byte against
// `data`; only the read calls are timed. Returns MB/s.
double readFile(Store& s, uint64_t ino, uint64_t size, const std::string& data) {
  std::string out;
  double seconds = 0;
  for (uint64_t off = 0; off < size; off += kPiece) {
    auto start = Clock::now();
    check(s.ns().read(ino, off, kPiece, out), "read");
    seconds += secondsSince(start);
    if (out.size() != kPiece || memcmp(out.data(), data.data() + off, kPiece) != 0)
      fail(format("read back wrong bytes at offset %llu", (unsigned long long)off));
  }
  return mbPerSecond(size, seconds);
}

uint64_t makeFile(Store& s, const std::string& name) {
  return check(s.ns().mknod(kRoot, kRootIno, name, S_IFREG | 0644, 0), "mknod").ino;
}

struct Throughput {
  Samples write, writeSameContent, writeRepeated, casPut, coldRead, warmRead, reopenMs;
  Samples growWrite, growSameContent, growRepeated;  // MiB the store grew by (du)
};

Throughput measureThroughput(const Config& cfg, const std::string& data, const std::string& block, DiskPeer& disk) {
  Throughput r;
  const uint64_t size = cfg.bigBytes;
  auto fromData = [&](uint64_t off) { return std::string_view(data).substr(off, kPiece); };
  auto grewMiB = [](const ScratchStore& s, uint64_t before) {
    return (static_cast<double>(storeBytes(s.path())) - before) / kMiB;
  };
  for (int run = 0; run < cfg.runs; ++run) {
    fprintf(stderr, "  disk peer and throughput, run %d/%d\n", run + 1, cfg.runs);
    measureDiskRun(cfg, data, disk);
    {
      ScratchStore s;
      uint64_t before = storeBytes(s.path());
      uint64_t ino = makeFile(*s, "big");
      r.write.add(writeFile(*s, ino, size, fromData));
      r.growWrite.add(grewMiB(s, before));

      r.reopenMs.add(s.reopenCold() * 1000);
      ino = check(s->ns().lookup(kRootIno, "big"), "lookup").ino;
      r.coldRead.add(readFile(*s, ino, size, data));
      r.warmRead.add(readFile(*s, ino, size, data));

      // Dedup: a second file with the same bytes; every chunk exists (its
      // bytes are compared with the stored ones before they are shared).
      before = storeBytes(s.path());
      r.writeSameContent.add(writeFile(*s, makeFile(*s, "same"), size, fromData));
      r.growSameContent.add(grewMiB(s, before));

      // Dedup within a file: one new 1 MiB block, written size/1 MiB times.
      before = storeBytes(s.path());
      r.writeRepeated.add(writeFile(*s, makeFile(*s, "repeated"), size, [&](uint64_t) { return std::string_view(block); }));
      r.growRepeated.add(grewMiB(s, before));
    }
    {
      // The whole content in one CasOps::put (one transaction, one fdatasync),
      // then its commit to a path.
      ScratchStore s;
      auto start = Clock::now();
      Id128 blob = check(s->cas().put(kRoot, std::string_view(data).substr(0, size)), "put");
      check(s->cas().commit(kRoot, "/put", blob, Basis::absent()), "commit");
      check(s->sync(), "sync");
      r.casPut.add(mbPerSecond(size, secondsSince(start)));
    }
  }
  return r;
}

struct ChunkRow {
  std::string label;
  uint32_t chunkSize, inlineMax;
  Samples write, coldRead, smallWriteUs, smallWriteBytes, storeMiB;
};

void measureChunkSize(const Config& cfg, const std::string& data, ChunkRow& row) {
  const uint64_t size = cfg.chunkBytes;
  for (int run = 0; run < cfg.runs; ++run) {
    fprintf(stderr, "  chunk size %s, run %d/%d\n", row.label.c_str(), run + 1, cfg.runs);
    StoreOptions options;
    options.chunkSize = row.chunkSize;
    options.inlineMax = row.inlineMax;
    ScratchStore s(options);
    uint64_t ino = makeFile(*s, "file");
    row.write.add(writeFile(*s, ino, size, [&](uint64_t off) { return std::string_view(data).substr(off, kPiece); }));
    row.storeMiB.add(static_cast<double>(storeBytes(s.path())) / kMiB);
    s.reopenCold();
    ino = check(s->ns().lookup(kRootIno, "file"), "lookup").ino;
    row.coldRead.add(readFile(*s, ino, size, data));

    // 4 KiB overwrites in the middle of the file, each in a different chunk
    // (1 MiB apart, so each lies inside one chunk at every chunk size). The
    // chunk's old bytes are in the page cache (just read).
    Samples us, bytes;
    const std::string patch = randomBytes(4096, 99 + run);
    FileDrafts drafts(s->ns(), s->content());
    for (int k = 0; k < cfg.smallWrites; ++k) {
      const uint64_t offset = size / 2 + k * kMiB;
      const uint64_t wroteBefore = threadBytesWritten();
      auto start = Clock::now();
      check(drafts.write(ino, offset, patch), "4 KiB write");
      check(drafts.commit(ino), "4 KiB write's commit");
      us.add(secondsSince(start) * 1e6);
      bytes.add(static_cast<double>(threadBytesWritten() - wroteBefore));
    }
    row.smallWriteUs.add(us.median());
    row.smallWriteBytes.add(bytes.median());
  }
}

// ---- main ----------------------------------------------------------------------

std::string sizeLabel(uint64_t bytes) {
  return bytes >= kMiB && bytes % kMiB == 0 ? format("%llu MiB", (unsigned long long)(bytes / kMiB))
                                             : format("%llu KiB", (unsigned long long)(bytes / 1024));
}

void printHeader(const Config& cfg, int argc, char** argv) {
  std::string command = "core_bench";
  for (int i = 1; i < argc; ++i) command += std::string(" ") + argv[i];
  utsname u{};
  uname(&u);
  struct sysinfo si{};
  sysinfo(&si);
  char date[64];
  time_t now = time(nullptr);
  strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S UTC", gmtime(&now));
  printf("acidfs core_bench: the core library alone (no FUSE)\n");
  printf("command:    %s\n", command.c_str());
  printf("date:       %s\n", date);
  printf("machine:    %u CPUs (%s), %.1f GiB memory, %s %s\n", std::thread::hardware_concurrency(),
         firstLineWith("/proc/cpuinfo", "model name").c_str(),
         static_cast<double>(si.totalram) * si.mem_unit / (1ull << 30), u.sysname, u.release);
  printf("directory:  %s (%s, per statfs)\n", cfg.dir.c_str(), filesystemType(cfg.dir).c_str());
  printf("build:      g++ %s, %s, RocksDB %d.%d.%d\n", __VERSION__,
#if defined(__OPTIMIZE__) && defined(NDEBUG)
         "optimised, NDEBUG",
#elif defined(__OPTIMIZE__)
         "optimised, assertions on",
#else
         "NOT optimised",
#endif
         ROCKSDB_MAJOR, ROCKSDB_MINOR, ROCKSDB_PATCH);
  printf("runs:       %d per figure%s; each figure is the median, (min–max) of the runs beside it\n", cfg.runs,
         cfg.quick ? " (--quick: small sizes, a smoke run)" : "");
  printf("units:      MB = 10^6 bytes; MiB = 2^20 bytes; tx/s = operations committed per second of wall time\n");
  printf("load:       %s (1/5/15-min load average at start; other work on the machine skews figures)\n\n",
         loadAverage().c_str());
  fflush(stdout);
}

void printTransactions(const std::vector<TxRow>& txRows) {
  printf("1. Transactions per second (fresh store per run; default options, chunk 64 KiB)\n\n");
  Table t1({"operation", "durability", "ops", "1 thread, tx/s", "us/tx", "2 threads, tx/s", "2T/1T", "disk flush/s", "1T/flush"});
  for (const TxRow& row : txRows) {
    const bool sync = row.durability == Durability::kSync;
    t1.row({row.name, sync ? "sync" : "default", format("%llu", (unsigned long long)row.n), withSpread(row.oneThread),
            format("%.1f", 1e6 / row.oneThread.median()),
            withSpread(row.twoThreads), ratio(row.twoThreads.median(), row.oneThread.median()),
            sync ? withSpread(row.flushRate) : "-", sync ? ratio(row.oneThread.median(), row.flushRate.median()) : "-"});
  }
  t1.print();
  printf("create: mknod of empty files in the root directory (2 threads: both in it). rename: f<i> -> r<i> in\n"
         "the root. unlink: of those files. CAS commit: CasOps::put of 200 new bytes + CasOps::commit with the previous blobId as basis\n"
         "(two transactions; each thread its own file). transact: 10 moves a<k> <-> b<k>, each with the source\n"
         "blobId precondition and an absent destination (each thread its own directory). disk flush/s: 4 KiB\n"
         "appends + fdatasync per second to a preallocated file (like RocksDB's WAL), probed right before each\n"
         "kSync run; 1T/flush: sync tx/s over it. kSync rows run fewer operations (each commit waits for the\n"
         "disk); a rate does not depend on the count. us/tx: 1 / the 1-thread median.\n\n");
}

}  // namespace

int main(int argc, char** argv) {
  Config cfg = parseArgs(argc, argv);
  acidfs::setLogLevel(acidfs::LogLevel::kWarning);
  std::error_code ec;
  if (!std::filesystem::is_directory(cfg.dir, ec)) fail(cfg.dir + " is not a directory");
  gScratchRoot = cfg.dir + format("/acidfs-bench-%d", getpid());
  if (!std::filesystem::create_directory(gScratchRoot, ec)) fail("cannot create " + gScratchRoot);
  gTrashSeconds = cfg.trashDays * 86400;
  gFeedSeconds = cfg.feedDays * 86400;
  printHeader(cfg, argc, argv);
  if (cfg.historyVersions) {
    measureHistory(cfg);
    std::filesystem::remove_all(gScratchRoot, ec);
    return 0;
  }
  if (cfg.trashDays) printf("section 1's stores keep drops %lld days (the trash, SPEC §10)\n", static_cast<long long>(cfg.trashDays));
  auto wallStart = Clock::now();

  fprintf(stderr, "generating %s of random bytes\n", sizeLabel(cfg.bigBytes).c_str());
  const std::string data = randomBytes(cfg.bigBytes, 1);
  const std::string block = randomBytes(kPiece, 2);  // the repeated 1 MiB block

  fprintf(stderr, "section 1: transactions\n");
  std::vector<TxRow> txRows = {
      {"create (mknod, one directory)", Durability::kDefault, cfg.creates, createRun, {}, {}, {}},
      {"create (mknod, one directory)", Durability::kSync, cfg.syncCreates, createRun, {}, {}, {}},
      {"rename (same directory)", Durability::kDefault, cfg.renames, renameRun, {}, {}, {}},
      {"unlink (empty file)", Durability::kDefault, cfg.unlinks, unlinkRun, {}, {}, {}},
      {"CAS commit (put + commit, basis)", Durability::kDefault, cfg.casCommits, casCommitRun, {}, {}, {}},
      {"CAS commit (put + commit, basis)", Durability::kSync, cfg.syncCasCommits, casCommitRun, {}, {}, {}},
      {"transact, 10 moves with preconditions", Durability::kDefault, cfg.transacts, transactRun, {}, {}, {}},
  };
  for (TxRow& row : txRows)
    for (int run = 0; run < cfg.runs; ++run) {
      fprintf(stderr, "  %s, %s, run %d/%d\n", row.name.c_str(),
              row.durability == Durability::kSync ? "sync" : "default", run + 1, cfg.runs);
      if (row.durability == Durability::kSync) row.flushRate.add(measureFlushRate(cfg.fsyncProbes, data));
      row.oneThread.add(row.run(row.durability, 1, row.n));
      row.twoThreads.add(row.run(row.durability, 2, row.n));
    }

  if (cfg.transactionsOnly) {
    printTransactions(txRows);
    std::filesystem::remove_all(gScratchRoot, ec);
    return 0;
  }

  fprintf(stderr, "sections 2 and 4: throughput, and the disk peer just before each run\n");
  DiskPeer disk;
  Throughput tp = measureThroughput(cfg, data, block, disk);

  fprintf(stderr, "section 3: chunk size\n");
  std::vector<ChunkRow> chunkRows = {
      {"16 KiB", 16 << 10, 32 << 10, {}, {}, {}, {}, {}},
      {"16 KiB, inlineMax 4 KiB", 16 << 10, 4 << 10, {}, {}, {}, {}, {}},
      {"64 KiB (default)", 64 << 10, 32 << 10, {}, {}, {}, {}, {}},
      {"256 KiB", 256 << 10, 32 << 10, {}, {}, {}, {}, {}},
      {"1 MiB", 1 << 20, 32 << 10, {}, {}, {}, {}, {}},
  };
  for (ChunkRow& row : chunkRows) measureChunkSize(cfg, data, row);

  // ---- the tables ----
  printTransactions(txRows);
  printf("2. Throughput, %s through the Namespace (1 MiB calls, chunk 64 KiB), MB/s\n\n", sizeLabel(cfg.bigBytes).c_str());
  Table t2({"workload", "MB/s", "x disk", "store grew, MiB"});
  t2.row({"write new data (FileDrafts, a commit per " + sizeLabel(FileDrafts::kDefaultMaxDraftBytes) + ")",
          withSpread(tp.write), ratio(tp.write.median(), disk.write.median()), format("%.0f", tp.growWrite.median())});
  t2.row({"write same content again, 2nd file (dedup)", withSpread(tp.writeSameContent),
          ratio(tp.writeSameContent.median(), disk.write.median()), format("%.0f", tp.growSameContent.median())});
  t2.row({"write one 1 MiB block repeated (dedup)", withSpread(tp.writeRepeated),
          ratio(tp.writeRepeated.median(), disk.write.median()), format("%.0f", tp.growRepeated.median())});
  t2.row({"CasOps::put of it all in one call + commit", withSpread(tp.casPut), ratio(tp.casPut.median(), disk.write.median()), "-"});
  t2.row({"read, cold (Namespace::read)", withSpread(tp.coldRead), ratio(tp.coldRead.median(), disk.coldRead.median()), "-"});
  t2.row({"read, warm", withSpread(tp.warmRead), ratio(tp.warmRead.median(), disk.warmRead.median()), "-"});
  t2.print();
  printf("Writes are timed to the end of a Store::sync (everything durable), like the peer's final fdatasync;\n"
         "'x disk' divides by table 4's sequential write (writes) or read (reads, cold by cold, warm by warm).\n"
         "Reads are timed per call, every byte checked outside the timing. Cold: store closed, page cache\n"
         "dropped (%s), store reopened; the reopen took %s ms (median).\n\n",
         gDropCachesWorks ? "drop_caches" : "fadvise DONTNEED", withSpread(tp.reopenMs).c_str());

  printf("3. Chunk size, %s file (FileDrafts::write in 1 MiB calls)\n\n", sizeLabel(cfg.chunkBytes).c_str());
  Table t3({"chunk size", "write MB/s", "x disk", "cold read MB/s", "x disk", "store MiB", "4 KiB write, us",
            "bytes written"});
  for (const ChunkRow& row : chunkRows)
    t3.row({row.label, withSpread(row.write), ratio(row.write.median(), disk.write.median()), withSpread(row.coldRead),
            ratio(row.coldRead.median(), disk.coldRead.median()), format("%.0f", row.storeMiB.median()),
            withSpread(row.smallWriteUs), format("%.0f", row.smallWriteBytes.median())});
  t3.print();
  printf("4 KiB write: a FileDrafts::write of 4 KiB into the middle of the file and its commit (the old\n"
         "chunk read and merged; one transaction: a new chunk, page and blob record stored, the old ones\n"
         "freed), median of %d per run.\n"
         "bytes written: what that thread handed to write(2)/pwrite(2) (/proc/thread-self/io wchar): the new\n"
         "chunk in a segment, or inline, plus the RocksDB WAL records. Chunks of at most inlineMax bytes\n"
         "(default 32 KiB) live inside RocksDB records instead of segment files. store MiB: segment blocks\n"
         "allocated + RocksDB file lengths after the write (du would add ~74 MiB of RocksDB preallocation).\n\n",
         cfg.smallWrites);

  printf("4. The peer: the same bytes to a plain file in %s, 1 MiB write(2)/pread(2) calls\n\n", cfg.dir.c_str());
  Table t4({"operation", "median", "unit"});
  t4.row({"sequential write + one fdatasync at the end", withSpread(disk.write), "MB/s"});
  t4.row({"sequential write, fdatasync after every MiB", withSpread(disk.writeSyncEachMiB), "MB/s"});
  t4.row({"sequential read, cold", withSpread(disk.coldRead), "MB/s"});
  t4.row({"sequential read, warm", withSpread(disk.warmRead), "MB/s"});
  t4.row({"4 KiB append + fdatasync (preallocated, like a WAL)", withSpread(disk.fsyncPerSecond), "ops/s"});
  t4.print();
  printf("%s each; the flush probe: %d appends per run. Each run was made just before the same run of\n"
         "table 2; table 3 divides by these medians.\n", sizeLabel(cfg.bigBytes).c_str(), cfg.fsyncProbes);
  printf("Whole run: %.0f s; load average at the end: %s\n", secondsSince(wallStart), loadAverage().c_str());

  std::filesystem::remove_all(gScratchRoot, ec);
  return 0;
}
