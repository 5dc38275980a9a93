// Crash safety and store ownership (SPEC §1, §3): a process that is killed
// (SIGKILL) or exits without closing its store loses nothing it committed,
// and the store it leaves is exactly some committed state; one store, one
// process; directories that are not stores, or stores of an unknown format,
// are refused and left untouched.
//
// How the crash is made: the test forks a child that re-executes this test
// binary (so that it starts with a clean process, not a copy of a parent
// whose RocksDB threads did not survive fork) and runs only
// CrashChild.DISABLED_Run. The child opens the store, performs numbered
// operations, each one transaction, and after each returns writes "C <n>" to
// a pipe. The parent SIGKILLs it at a moment of its choosing, opens the store
// and checks that the tree equals the state after operation k for some
// k >= the last number it read, byte for byte, and that the tree is
// consistent in itself.
#include <dlfcn.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/content_store.h"
#include "core/format.h"
#include "core/meta_db.h"
#include "core/namespace.h"
#include "tests/test_util.h"

extern char** environ;

namespace acidfs {
namespace {

using testing::StoreFixture;
using testing::TempDir;
using testing::writeFile;

constexpr uint64_t kRoot = kRootIno;

using testing::code;

using testing::randomBytes;

// ---- the workload: operations, each one transaction, and its model ------------------

struct Op {
  enum Kind { kMkdir, kCreate, kWrite, kRename, kUnlink } kind;
  std::string path = "";   // absolute
  std::string path2 = "";  // rename target
  uint64_t offset = 0;
  std::string data = "";
};

struct Node {
  bool dir = false;
  std::string content;
  bool operator==(const Node&) const = default;
};
using Model = std::map<std::string, Node>;  // path → node; the root is implicit

void apply(const Op& op, Model& m) {
  switch (op.kind) {
    case Op::kMkdir:
      m[op.path] = Node{true, ""};
      break;
    case Op::kCreate:
      m[op.path] = Node{false, ""};
      break;
    case Op::kWrite: {
      std::string& c = m.at(op.path).content;
      if (c.size() < op.offset + op.data.size()) c.resize(op.offset + op.data.size(), '\0');
      c.replace(op.offset, op.data.size(), op.data);
      break;
    }
    case Op::kRename: {
      Model moved;
      const std::string prefix = op.path + "/";
      for (auto it = m.begin(); it != m.end();) {
        if (it->first == op.path || it->first.rfind(prefix, 0) == 0) {
          moved[op.path2 + it->first.substr(op.path.size())] = it->second;
          it = m.erase(it);
        } else {
          ++it;
        }
      }
      m.erase(op.path2);  // a replaced file
      m.merge(moved);
      break;
    }
    case Op::kUnlink:
      m.erase(op.path);
      break;
  }
}

// A deterministic workload of creates, writes (small ones inline, large ones
// into segment files), overwrites in place, renames of files and
// directories, replacing renames and unlinks.
// With a prefix, everything happens inside that (new) directory.
std::vector<Op> workload(int rounds, const std::string& prefix = "") {
  std::vector<Op> ops;
  if (!prefix.empty()) ops.push_back({Op::kMkdir, prefix});
  std::vector<std::string> dirOf;  // where round r's directory is now
  std::set<int> gone;              // rounds whose file was unlinked
  for (int r = 0; r < rounds; ++r) {
    const std::string d = prefix + "/d" + std::to_string(r);
    dirOf.push_back(d);
    ops.push_back({Op::kMkdir, d});
    ops.push_back({Op::kCreate, d + "/f"});
    const size_t size = r % 3 == 0 ? 100000 + r : 1000 + r;
    ops.push_back({Op::kWrite, d + "/f", "", 0, randomBytes(size, r)});
    ops.push_back({Op::kRename, d + "/f", d + "/g"});
    if (r >= 1 && !gone.count(r - 1))
      ops.push_back({Op::kWrite, dirOf[r - 1] + "/g", "", 5, "round " + std::to_string(r)});
    if (r >= 2 && r % 2 == 0) {
      ops.push_back({Op::kUnlink, dirOf[r - 2] + "/g"});
      gone.insert(r - 2);
    }
    if (r % 5 == 4 && !gone.count(r - 1)) {
      const std::string tmp = prefix + "/tmp" + std::to_string(r);
      ops.push_back({Op::kCreate, tmp});
      ops.push_back({Op::kWrite, tmp, "", 0, randomBytes(70000, 1000 + r)});
      ops.push_back({Op::kRename, tmp, dirOf[r - 1] + "/g"});
    }
    if (r % 4 == 3) {
      const std::string top = prefix + "/top" + std::to_string(r);
      ops.push_back({Op::kRename, d, top});
      dirOf[r] = top;
    }
  }
  return ops;
}

// ---- the child side --------------------------------------------------------------

[[noreturn]] void report(int fd, const std::string& line) {
  std::string text = line + "\n";
  (void)!write(fd, text.data(), text.size());
  _exit(3);
}

void say(int fd, const std::string& line) {
  std::string text = line + "\n";
  if (write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size())) _exit(4);
}

// Resolves "/a/b/c" to (ino of /a/b, "c").
Result<std::pair<uint64_t, std::string>> resolveParent(Namespace& ns, const std::string& path) {
  uint64_t dir = kRoot;
  size_t start = 1;
  for (;;) {
    size_t slash = path.find('/', start);
    if (slash == std::string::npos) return std::make_pair(dir, path.substr(start));
    auto next = ns.lookup(dir, path.substr(start, slash - start));
    if (!next.ok()) return next.status();
    dir = next->ino;
    start = slash + 1;
  }
}

Status perform(Namespace& ns, const Op& op) {
  ACIDFS_ASSIGN_OR_RETURN(auto where, resolveParent(ns, op.path));
  auto [parent, name] = where;
  switch (op.kind) {
    case Op::kMkdir:
      return ns.mkdir(Caller::root(), parent, name, 0755).status();
    case Op::kCreate:
      return ns.mknod(Caller::root(), parent, name, S_IFREG | 0644, 0).status();
    case Op::kWrite: {
      ACIDFS_ASSIGN_OR_RETURN(Attr attr, ns.lookup(parent, name));
      return writeFile(ns, attr.ino, op.offset, op.data).status();
    }
    case Op::kRename: {
      ACIDFS_ASSIGN_OR_RETURN(auto to, resolveParent(ns, op.path2));
      return ns.rename(Caller::root(), parent, name, to.first, to.second, 0).status();
    }
    case Op::kUnlink:
      return ns.unlink(parent, name).status();
  }
  return Status::Error(EINVAL, "unknown op");
}

[[noreturn]] void holdForever() {
  for (;;) pause();
}

// Runs in the re-executed child. Modes:
//   workload  perform workload() ops in order, "C <n>" after op n; with
//             ACIDFS_CRASH_EXIT_AFTER=N, _exit(0) after op N without closing.
//   hold      open the store, say "R <errno>", and wait to be killed.
//   orphan    make a file, hold it "open", unlink it, say "C 1", wait.
[[noreturn]] void runChild(const std::string& mode, int fd) {
  StoreOptions options;
  if (getenv("ACIDFS_CRASH_SYNC")) options.durability = Durability::kSync;
  auto opened = Store::open(getenv("ACIDFS_CRASH_STORE"), options);
  if (mode == "hold") {
    say(fd, "R " + std::to_string(opened.ok() ? 0 : opened.status().errnum()));
    holdForever();
  }
  if (!opened.ok()) report(fd, "E open: " + opened.status().toString());
  // Never destroyed: the process ends without closing the store.
  Store* store = opened.value().release();
  Namespace& ns = store->ns();

  if (mode == "orphan") {
    auto f = ns.mknod(Caller::root(), kRoot, "orphan", S_IFREG | 0644, 0);
    if (!f.ok()) report(fd, "E " + f.status().toString());
    const uint64_t ino = f->ino;
    if (!writeFile(ns, ino, 0, randomBytes(200000, 5)).ok()) report(fd, "E write");
    ns.setInUseCheck([ino](uint64_t i) { return i == ino; });
    auto gone = ns.unlink(kRoot, "orphan");
    if (!gone.ok() || !gone->lastLink) report(fd, "E unlink did not orphan");
    say(fd, "C 1 " + std::to_string(ino));
    holdForever();
  }

  const char* exitAfter = getenv("ACIDFS_CRASH_EXIT_AFTER");
  const size_t stopAt = exitAfter ? std::stoul(exitAfter) : SIZE_MAX;
  const char* prefix = getenv("ACIDFS_CRASH_PREFIX");
  const std::vector<Op> ops = workload(std::stoi(getenv("ACIDFS_CRASH_ROUNDS")), prefix ? prefix : "");
  for (size_t i = 0; i < ops.size(); ++i) {
    Status s = perform(ns, ops[i]);
    if (!s.ok()) report(fd, "E op " + std::to_string(i + 1) + " (" + ops[i].path + "): " + s.toString());
    say(fd, "C " + std::to_string(i + 1));
    if (i + 1 == stopAt) _exit(0);
  }
  holdForever();
}

}  // namespace

// The child's entry point; disabled, so that it runs only when a crash test
// asks for it explicitly.
TEST(CrashChild, DISABLED_Run) {
  const char* mode = getenv("ACIDFS_CRASH_CHILD");
  if (!mode) GTEST_SKIP() << "runs only as a crash test's child";
  runChild(mode, std::stoi(getenv("ACIDFS_CRASH_FD")));
}

namespace {

// ---- the parent side ---------------------------------------------------------------

class Child {
 public:
  // Starts this binary again as a child in `mode` on `storePath`.
  Child(const std::string& mode, const std::string& storePath, std::map<std::string, std::string> env = {}) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) abort();
    readFd_ = fds[0];
    const int writeFd = fds[1];
    env["ACIDFS_CRASH_CHILD"] = mode;
    env["ACIDFS_CRASH_STORE"] = storePath;
    env["ACIDFS_CRASH_FD"] = "3";
    // Everything the child needs is built before fork: after it, a copy of
    // a multithreaded process may only call async-signal-safe functions.
    std::vector<std::string> envStrings;
    for (char** e = environ; *e; ++e)
      if (strncmp(*e, "GTEST_", 6) != 0 && strncmp(*e, "ACIDFS_CRASH_", 13) != 0) envStrings.push_back(*e);
    for (const auto& [k, v] : env) envStrings.push_back(k + "=" + v);
    std::vector<char*> envp;
    for (auto& s : envStrings) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::string exe = "/proc/self/exe";
    std::string filter = "--gtest_filter=CrashChild.DISABLED_Run";
    std::string disabled = "--gtest_also_run_disabled_tests";
    char* argv[] = {exe.data(), filter.data(), disabled.data(), nullptr};

    pid_t pid = fork();
    if (pid < 0) abort();
    if (pid == 0) {
      int devnull = ::open("/dev/null", O_WRONLY);
      dup2(devnull, 1);
      dup2(devnull, 2);
      dup2(writeFd, 3);  // dup2 clears O_CLOEXEC on the copy
      execve(exe.c_str(), argv, envp.data());
      _exit(127);
    }
    pid_ = pid;
    close(writeFd);
  }
  ~Child() {
    if (pid_ > 0) killAndWait();
    if (readFd_ >= 0) close(readFd_);
  }

  // The next line from the child, or "" at EOF or after `timeout`.
  std::string readLine(std::chrono::seconds timeout = std::chrono::seconds(120)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      size_t nl = buffer_.find('\n');
      if (nl != std::string::npos) {
        std::string line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return line;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return "";
      pollfd p{readFd_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char chunk[4096];
      ssize_t n = read(readFd_, chunk, sizeof chunk);
      if (n <= 0) return "";
      buffer_.append(chunk, static_cast<size_t>(n));
    }
  }

  // Reads "C <n>" markers until n >= target; returns the last n read, or
  // -1 if the child failed (its message in `error`).
  long awaitCommitted(long target, std::string& error) {
    long last = 0;
    while (last < target) {
      std::string line = readLine();
      if (line.rfind("C ", 0) == 0) {
        last = std::stol(line.substr(2));
        continue;
      }
      error = line.empty() ? "the child stopped talking after op " + std::to_string(last) : line;
      return -1;
    }
    return last;
  }

  // SIGKILL; returns the wait status.
  int killAndWait() {
    kill(pid_, SIGKILL);
    return waitForExit();
  }
  int waitForExit() {
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    return status;
  }
  // After the child is gone: the markers it wrote that were not read yet.
  long drainCommitted(long last) {
    for (std::string line = readLine(std::chrono::seconds(5)); !line.empty();
         line = readLine(std::chrono::seconds(5)))
      if (line.rfind("C ", 0) == 0) last = std::stol(line.substr(2));
    return last;
  }

 private:
  pid_t pid_ = -1;
  int readFd_ = -1;
  std::string buffer_;
};

// What a store holds, read through the namespace, with consistency checks.
struct Observed {
  Model tree;
  std::vector<std::string> problems;
};

Observed observe(Store& store) {
  Observed out;
  Namespace& ns = store.ns();
  std::map<uint64_t, int> namesOf;     // ino → number of entries naming it
  std::map<uint64_t, uint32_t> nlinkOf;
  std::map<uint64_t, bool> isDir;
  std::set<Id128> blobs;
  std::set<std::string> chunks;
  const uint32_t C = store.content().chunkSize();
  auto problem = [&](const std::string& what) { out.problems.push_back(what); };

  std::vector<std::pair<uint64_t, std::string>> pending{{kRoot, ""}};
  while (!pending.empty()) {
    auto [dir, path] = pending.back();
    pending.pop_back();
    auto dirAttr = ns.getattr(dir);
    if (!dirAttr.ok()) {
      problem("directory " + path + "/ has no inode: " + dirAttr.status().toString());
      continue;
    }
    std::vector<DirEntry> entries;
    Status listed = ns.readdir(dir, 0, [&](const DirEntry& e) {
      if (e.name != "." && e.name != "..") entries.push_back(e);
      return true;
    });
    if (!listed.ok()) problem("listing " + path + "/: " + listed.toString());
    uint32_t subdirs = 0;
    for (const DirEntry& e : entries) {
      const std::string child = path + "/" + e.name;
      auto looked = ns.lookup(dir, e.name);
      if (!looked.ok()) {
        problem(child + " is listed but does not resolve: " + looked.status().toString());
        continue;
      }
      if (looked->ino != e.ino) problem(child + ": readdir and lookup disagree on the inode");
      const InodeRecord& inode = looked->inode;
      if ((inode.mode & S_IFMT) != e.type) problem(child + ": readdir type differs from the inode's");
      namesOf[e.ino]++;
      nlinkOf[e.ino] = inode.nlink;
      isDir[e.ino] = inode.isDir();
      if (inode.isDir()) {
        ++subdirs;
        if (inode.parent != dir) problem(child + ": its parent is not the directory naming it");
        out.tree[child] = Node{true, ""};
        pending.emplace_back(e.ino, child);
      } else if (inode.isRegular()) {
        std::string content;
        Status read = ns.read(e.ino, 0, inode.size + 1, content);
        if (!read.ok()) problem(child + ": " + read.toString());
        if (content.size() != inode.size) problem(child + ": size " + std::to_string(inode.size) + " but read " +
                                                  std::to_string(content.size()) + " bytes");
        if (inode.size > 0) blobs.insert(inode.blob);
        for (size_t at = 0; at < content.size(); at += C) {
          std::string window = content.substr(at, C);
          window.erase(window.find_last_not_of('\0') + 1);
          if (!window.empty()) chunks.insert(window);
        }
        out.tree[child] = Node{false, content};
      } else {
        problem(child + ": unexpected file type");
      }
    }
    if (dirAttr->inode.nlink != 2 + subdirs)
      problem((path.empty() ? "/" : path) + ": nlink " + std::to_string(dirAttr->inode.nlink) + " but " +
              std::to_string(subdirs) + " subdirectories");
  }
  for (const auto& [ino, names] : namesOf)
    if (!isDir[ino] && nlinkOf[ino] != static_cast<uint32_t>(names))
      problem("inode " + std::to_string(ino) + " has nlink " + std::to_string(nlinkOf[ino]) + " but " +
              std::to_string(names) + " names");

  auto stats = store.stats();
  if (!stats.ok()) {
    problem("stats: " + stats.status().toString());
    return out;
  }
  if (stats->inodeCount != namesOf.size() + 1)
    problem("inodeCount " + std::to_string(stats->inodeCount) + " but " + std::to_string(namesOf.size() + 1) +
            " inodes are reachable (root included)");
  if (stats->blobCount != blobs.size())
    problem("blobCount " + std::to_string(stats->blobCount) + " but files hold " + std::to_string(blobs.size()) +
            " distinct blobs");
  if (stats->chunkCount != chunks.size())
    problem("chunkCount " + std::to_string(stats->chunkCount) + " but the files' content has " +
            std::to_string(chunks.size()) + " distinct chunks");
  if (stats->leaseCount != 0) problem("leases left: " + std::to_string(stats->leaseCount));
  return out;
}

std::string describeDifference(const Model& actual, const Model& expected) {
  std::ostringstream out;
  int shown = 0;
  for (const auto& [path, node] : expected) {
    auto it = actual.find(path);
    if (it == actual.end())
      out << "  missing " << path << "\n";
    else if (!(it->second == node))
      out << "  differs " << path << " (" << it->second.content.size() << " vs " << node.content.size()
          << " bytes)\n";
    else
      continue;
    if (++shown == 10) break;
  }
  for (const auto& [path, node] : actual)
    if (!expected.count(path) && shown++ < 20) out << "  unexpected " << path << "\n";
  return out.str();
}

class CrashTest : public ::testing::Test {
 protected:
  std::string storePath() const { return dir_.path() + "/store" + suffix_; }

  // Kills a workload child once it has reported `killAt` commits (and
  // `delay` later, to land anywhere in a later operation), then checks what
  // the store holds: `base_` plus a prefix of the workload.
  void crashAndCheck(long killAt, bool syncDurability, int rounds = 400, const std::string& prefix = "",
                     std::chrono::microseconds delay = {}) {
    SCOPED_TRACE("kill " + std::to_string(delay.count()) + " µs after op " + std::to_string(killAt));
    std::map<std::string, std::string> env{{"ACIDFS_CRASH_ROUNDS", std::to_string(rounds)}};
    if (syncDurability) env["ACIDFS_CRASH_SYNC"] = "1";
    if (!prefix.empty()) env["ACIDFS_CRASH_PREFIX"] = prefix;
    long committed;
    {
      Child child("workload", storePath(), env);
      std::string error;
      committed = child.awaitCommitted(killAt, error);
      ASSERT_GE(committed, 0) << error;
      std::this_thread::sleep_for(delay);
      int status = child.killAndWait();
      ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "child ended with status " << status;
      committed = child.drainCommitted(committed);
    }
    checkPrefix(committed, workload(rounds, prefix));
  }

  // The store must hold exactly base_ plus the state after op k of `ops`, for
  // some k ≥ committed (exactly k = committed with `exact`), and be
  // consistent. Afterwards base_ is what the store holds.
  void checkPrefix(long committed, const std::vector<Op>& ops, bool exact = false) {
    auto opened = Store::open(storePath());
    ASSERT_TRUE(opened.ok()) << opened.status().toString();
    Observed seen = observe(**opened);
    for (const std::string& p : seen.problems) ADD_FAILURE() << "inconsistent store: " << p;

    Model model = base_;
    ASSERT_LE(static_cast<size_t>(committed), ops.size());
    for (long i = 0; i < committed; ++i) apply(ops[i], model);
    const Model atCommitted = model;
    long k = committed;
    while (!(model == seen.tree) && !exact && static_cast<size_t>(k) < ops.size()) apply(ops[k++], model);
    EXPECT_TRUE(model == seen.tree) << "the store is not the state after any op ≥ " << committed
                                    << "; against the state after op " << committed << ":\n"
                                    << describeDifference(seen.tree, atCommitted);

    // The recovered store keeps working.
    Namespace& ns = (*opened)->ns();
    const std::string name = "after-recovery-" + std::to_string(++recoveries_);
    const std::string content = randomBytes(100000, 99);
    auto f = ns.mknod(Caller::root(), kRoot, name, S_IFREG | 0644, 0);
    ASSERT_TRUE(f.ok()) << f.status().toString();
    ASSERT_TRUE(writeFile(ns, f->ino, 0, content).ok());
    std::string back;
    ASSERT_EQ(code(ns.read(f->ino, 0, content.size(), back)), "OK");
    EXPECT_EQ(back, content);
    base_ = seen.tree;
    base_["/" + name] = Node{false, content};
  }

  TempDir dir_;
  std::string suffix_;
  Model base_;
  int recoveries_ = 0;
};

// ---- crashes ----------------------------------------------------------------------------

TEST_F(CrashTest, KilledProcessLosesNoCommittedOperation) {
  crashAndCheck(150, false);
}

TEST_F(CrashTest, KilledAtManyMomentsTheStoreIsAlwaysACommittedState) {
  std::mt19937 rng(2024);
  for (long killAt : {1L, 7L, 33L, 120L, 260L, 480L, 700L}) {
    suffix_ = "-" + std::to_string(killAt);  // a fresh store each time
    base_.clear();
    crashAndCheck(killAt, false, 400, "", std::chrono::microseconds(rng() % 20000));
    if (HasFatalFailure()) return;
  }
}

TEST_F(CrashTest, KilledProcessWithSyncDurabilityLosesNoCommittedOperation) {
  crashAndCheck(120, true);
  if (HasFatalFailure()) return;
  suffix_ = "-later";
  base_.clear();
  crashAndCheck(200, true, 400, "", std::chrono::microseconds(3000));
}

TEST_F(CrashTest, ExitWithoutClosingKeepsEveryOperation) {
  const int rounds = 100;
  const std::vector<Op> ops = workload(rounds);
  const long stopAt = 333;
  ASSERT_LT(static_cast<size_t>(stopAt), ops.size());
  {
    Child child("workload", storePath(),
                {{"ACIDFS_CRASH_ROUNDS", std::to_string(rounds)}, {"ACIDFS_CRASH_EXIT_AFTER", std::to_string(stopAt)}});
    std::string error;
    long committed = child.awaitCommitted(stopAt, error);
    ASSERT_EQ(committed, stopAt) << error;
    int status = child.waitForExit();
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child ended with status " << status;
  }
  checkPrefix(stopAt, ops, /*exact=*/true);
}

TEST_F(CrashTest, SuccessiveCrashesEachKeepTheirCommittedOperations) {
  // A killed store, recovered, then killed again while a second process
  // works on it (in its own subdirectory): the second recovery holds the
  // first recovery's state plus a prefix of the second's operations.
  crashAndCheck(90, false, 60);
  if (HasFatalFailure()) return;
  crashAndCheck(140, false, 60, "/second");
  if (HasFatalFailure()) return;
  // A clean close and reopen changes nothing.
  auto opened = Store::open(storePath());
  ASSERT_TRUE(opened.ok()) << opened.status().toString();
  Observed seen = observe(**opened);
  for (const std::string& p : seen.problems) ADD_FAILURE() << "inconsistent store after a clean reopen: " << p;
  EXPECT_TRUE(seen.tree == base_) << describeDifference(seen.tree, base_);
}

TEST_F(CrashTest, OrphanLeftByAKilledProcessIsFreedOnOpen) {
  uint64_t orphanIno = 0;
  {
    Child child("orphan", storePath());
    std::string line = child.readLine();
    ASSERT_EQ(line.rfind("C 1 ", 0), 0u) << line;
    orphanIno = std::stoull(line.substr(4));
    child.killAndWait();
  }
  auto opened = Store::open(storePath());
  ASSERT_TRUE(opened.ok()) << opened.status().toString();
  EXPECT_EQ(code((*opened)->ns().getattr(orphanIno)), "ENOENT");
  auto stats = (*opened)->stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->chunkCount, 0u);
  EXPECT_EQ(stats->blobCount, 0u);
  EXPECT_EQ(stats->inodeCount, 1u);  // the root
}

// ---- one process per store --------------------------------------------------------------

using StoreOpen = StoreFixture;

TEST_F(StoreOpen, SecondOpenWhileTheFirstIsOpenIsEbusy) {
  const uint64_t f = makeFile(kRoot, "f", "kept");
  auto second = Store::open(store_->path(), options_);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(code(second.status()), "EBUSY");
  EXPECT_NE(second.status().message().find(store_->path()), std::string::npos)
      << "the message should name the store: " << second.status().message();
  // The first is unharmed.
  EXPECT_EQ(readAll(f), "kept");
  makeFile(kRoot, "g", "still works");
  reopen();  // and once it is closed, the store opens again
  EXPECT_EQ(readAll(f), "kept");
}

TEST(StoreOwnership, OpenWhileAnotherProcessHoldsTheStoreIsEbusy) {
  TempDir dir;
  const std::string path = dir.path() + "/store";
  {
    auto made = Store::open(path);  // formatted first, then closed
    ASSERT_TRUE(made.ok()) << made.status().toString();
  }
  Child holder("hold", path);
  ASSERT_EQ(holder.readLine(), "R 0");
  auto second = Store::open(path);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(code(second.status()), "EBUSY");
  EXPECT_FALSE(second.status().message().empty());
  // The lock dies with its holder.
  holder.killAndWait();
  auto third = Store::open(path);
  EXPECT_TRUE(third.ok()) << third.status().toString();
}

TEST(StoreOwnership, AnotherProcessCannotOpenAStoreWeHold) {
  TempDir dir;
  const std::string path = dir.path() + "/store";
  auto mine = Store::open(path);
  ASSERT_TRUE(mine.ok()) << mine.status().toString();
  Child other("hold", path);
  EXPECT_EQ(other.readLine(), "R " + std::to_string(EBUSY));
}

// ---- refusing what is not ours ------------------------------------------------------------

// Every file under `root` with its content and mtime, to prove nothing moved.
std::map<std::string, std::string> snapshot(const std::string& root) {
  std::map<std::string, std::string> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(root)) {
    struct stat st;
    lstat(e.path().c_str(), &st);
    std::string desc = std::to_string(st.st_mode) + " " + std::to_string(st.st_mtim.tv_sec) + "." +
                       std::to_string(st.st_mtim.tv_nsec) + " " + std::to_string(st.st_size);
    if (S_ISREG(st.st_mode)) {
      std::ifstream in(e.path(), std::ios::binary);
      desc += " " + std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    }
    out[e.path().string().substr(root.size())] = desc;
  }
  return out;
}

TEST(StoreOwnership, NonEmptyDirectoryThatIsNotAStoreIsEinvalAndUntouched) {
  TempDir dir;
  const std::string path = dir.path() + "/precious";
  std::filesystem::create_directories(path + "/sub");
  std::ofstream(path + "/notes.txt") << "my notes\n";
  std::ofstream(path + "/sub/data.bin") << std::string(10000, 'd');
  const auto before = snapshot(path);
  struct stat dirBefore;
  ASSERT_EQ(stat(path.c_str(), &dirBefore), 0);

  auto opened = Store::open(path);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(code(opened.status()), "EINVAL");
  EXPECT_FALSE(opened.status().message().empty());
  EXPECT_EQ(snapshot(path), before);
  struct stat dirAfter;
  ASSERT_EQ(stat(path.c_str(), &dirAfter), 0);
  EXPECT_EQ(dirAfter.st_mtim.tv_nsec, dirBefore.st_mtim.tv_nsec) << "something was created and removed";
  EXPECT_EQ(dirAfter.st_mtim.tv_sec, dirBefore.st_mtim.tv_sec);
}

TEST(StoreOwnership, UnknownFormatVersionIsEprotoAndUntouched) {
  TempDir dir;
  const std::string path = dir.path() + "/store";
  {
    auto made = Store::open(path);
    ASSERT_TRUE(made.ok()) << made.status().toString();
    auto f = (*made)->ns().mknod(Caller::root(), kRoot, "f", S_IFREG | 0644, 0);
    ASSERT_TRUE(f.ok());
  }
  std::string marker;
  {
    std::ifstream in(path + "/ACIDFS");
    marker.assign((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  const size_t at = marker.find("\nformat 1\n");
  ASSERT_NE(at, std::string::npos) << "format.h documents a 'format 1' line: " << marker;
  marker.replace(at, 10, "\nformat 999\n");
  std::ofstream(path + "/ACIDFS", std::ios::trunc) << marker;
  const auto before = snapshot(path);

  auto opened = Store::open(path);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(code(opened.status()), "EPROTO");
  EXPECT_NE(opened.status().message().find("999"), std::string::npos)
      << "the message should say which format: " << opened.status().message();
  EXPECT_EQ(snapshot(path), before);
}

TEST(StoreOwnership, AnEmptyDirectoryBecomesAStoreWithTheDocumentedMarker) {
  TempDir dir;
  const std::string path = dir.path() + "/new";
  std::filesystem::create_directories(path);
  StoreOptions options;
  options.chunkSize = 16384;
  {
    auto made = Store::open(path, options);
    ASSERT_TRUE(made.ok()) << made.status().toString();
  }
  std::ifstream in(path + "/ACIDFS");
  std::string marker((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(marker, "acidfs store\nformat 1\nchunk_size 16384\n");
  EXPECT_TRUE(std::filesystem::is_directory(path + "/db"));
  // Opening it again with other options keeps the format it was given.
  options.chunkSize = 65536;
  auto again = Store::open(path, options);
  ASSERT_TRUE(again.ok()) << again.status().toString();
  EXPECT_EQ((*again)->content().chunkSize(), 16384u);
}


// ---- a power cut: what was not synced is lost, what was synced stays ------------------------
//
// A power cut keeps what reached stable storage: the metadata as of the last
// write-ahead-log sync, and the segment files as they are, with any hole
// punched or file unlinked since. We make one by pairing a copy of the
// metadata taken right after a sync with a copy of the segment files taken
// after a later, unsynced commit (and after the reclaimer had its turn).
// The store it leaves must open and read as the synced state.
class PowerCut : public StoreFixture {
 protected:
  PowerCut() { options_.commitIntervalSeconds = 0; }  // the test decides when the log is synced
  std::string storePath() const { return dir_.path() + "/store"; }
  std::string cutPath() const { return dir_.path() + "/cut"; }

  // The metadata as it is on stable storage now: call right after sync().
  void keepSyncedMetadata() {
    std::filesystem::create_directories(cutPath());
    std::filesystem::copy_file(storePath() + "/ACIDFS", cutPath() + "/ACIDFS");
    std::filesystem::copy(storePath() + "/db", cutPath() + "/db", std::filesystem::copy_options::recursive);
  }
  // The segment files as they are now, once the reclaimer is idle.
  void keepSegments() {
    (void)store_->diskUsage();  // drains the reclaimer
    std::filesystem::copy(storePath() + "/segments", cutPath() + "/segments",
                          std::filesystem::copy_options::recursive);
  }
};

TEST_F(PowerCut, AnOverwriteLostToThePowerCutLeavesTheOldContentReadable) {
  const uint32_t C = store_->content().chunkSize();
  const std::string old = randomBytes(4 * C, 80);  // larger than inlineMax: in segment files
  const uint64_t f = makeFile(kRoot, "f", old);
  ASSERT_EQ(code(store_->sync()), "OK");
  keepSyncedMetadata();
  ASSERT_TRUE(writeFile(ns(), f, 0, randomBytes(4 * C, 81)).ok());  // committed, never synced
  keepSegments();
  store_.reset();

  auto cut = Store::open(cutPath());
  ASSERT_TRUE(cut.ok()) << cut.status().toString();
  std::string back;
  ASSERT_EQ(code((*cut)->ns().read(f, 0, old.size(), back)), "OK");
  EXPECT_TRUE(back == old) << "the synced content did not survive";
}

TEST_F(PowerCut, ADeletionLostToThePowerCutLeavesTheWholeFile) {
  const uint32_t C = store_->content().chunkSize();
  const std::string old = randomBytes(4 * C, 82);
  const uint64_t f = makeFile(kRoot, "f", old);
  reopen();  // seals f's segment: deleting f frees all of it
  ASSERT_EQ(code(store_->sync()), "OK");
  keepSyncedMetadata();
  auto gone = ns().unlink(kRoot, "f");  // committed, never synced
  ASSERT_TRUE(gone.ok() && gone->lastLink);
  if (ns().getattr(f).ok()) {
    ASSERT_EQ(code(ns().releaseOrphan(f)), "OK");
  }
  keepSegments();
  store_.reset();

  auto cut = Store::open(cutPath());
  ASSERT_TRUE(cut.ok()) << cut.status().toString();
  auto entry = (*cut)->ns().lookup(kRoot, "f");
  ASSERT_TRUE(entry.ok()) << entry.status().toString();
  std::string back;
  ASSERT_EQ(code((*cut)->ns().read(entry->ino, 0, old.size(), back)), "OK");
  EXPECT_TRUE(back == old) << "the synced content did not survive";
}

// ---- a crash while formatting (SPEC §1: an empty STORE is formatted) ----------------------
//
// Formatting takes the lock (LOCK), writes the marker (ACIDFS.tmp renamed to
// ACIDFS), then creates the metadata. A crash before the marker is in place
// leaves only LOCK and perhaps ACIDFS.tmp: that is still an empty store. A
// crash after it leaves a store whose metadata is not formatted yet: opening
// finishes the format.

// Makes `path` hold exactly `files` (name → content).
void makeDirectoryWith(const std::string& path, const std::map<std::string, std::string>& files) {
  std::filesystem::create_directories(path);
  for (const auto& [name, content] : files) std::ofstream(path + "/" + name, std::ios::binary) << content;
}

void expectFormattedStore(const std::string& path) {
  auto opened = Store::open(path);
  ASSERT_TRUE(opened.ok()) << opened.status().toString();
  auto made = (*opened)->ns().mknod(Caller::root(), kRoot, "f", S_IFREG | 0644, 0);
  ASSERT_TRUE(made.ok()) << made.status().toString();
  const uint64_t f = made->ino;
  ASSERT_TRUE(writeFile((*opened)->ns(), f, 0, "works").ok());
  opened->reset();
  std::ifstream in(path + "/ACIDFS");
  std::string marker((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(marker.rfind("acidfs store\nformat 1\n", 0), 0u) << marker;
  EXPECT_FALSE(std::filesystem::exists(path + "/ACIDFS.tmp"));
  auto again = Store::open(path);
  ASSERT_TRUE(again.ok()) << again.status().toString();
  std::string back;
  ASSERT_EQ(code((*again)->ns().read(f, 0, 100, back)), "OK");
  EXPECT_EQ(back, "works");
}

TEST(FormatCrash, AStoreHoldingOnlyAnEmptyLockIsFormatted) {
  TempDir dir;
  makeDirectoryWith(dir.path() + "/store", {{"LOCK", ""}});
  expectFormattedStore(dir.path() + "/store");
}

TEST(FormatCrash, AStoreHoldingOnlyALockWithAPidIsFormatted) {
  TempDir dir;
  makeDirectoryWith(dir.path() + "/store", {{"LOCK", "12345\n"}});
  expectFormattedStore(dir.path() + "/store");
}

TEST(FormatCrash, AStoreHoldingALockAndAHalfWrittenMarkerIsFormatted) {
  TempDir dir;
  for (const std::string& partial : {std::string(), std::string("acidfs st"),
                                     std::string("acidfs store\nformat 1\nchunk_si")}) {
    SCOPED_TRACE("ACIDFS.tmp holds '" + partial + "'");
    const std::string path = dir.path() + "/store" + std::to_string(partial.size());
    makeDirectoryWith(path, {{"LOCK", "12345\n"}, {"ACIDFS.tmp", partial}});
    expectFormattedStore(path);
  }
}

TEST(FormatCrash, AStoreWithAMarkerAndHalfMadeMetadataIsFormatted) {
  TempDir dir;
  const std::string path = dir.path() + "/store";
  makeDirectoryWith(path, {{"LOCK", "12345\n"}, {"ACIDFS", "acidfs store\nformat 1\nchunk_size 65536\n"}});
  {
    auto db = MetaDb::open(path + "/db");  // column families made, format not yet committed
    ASSERT_TRUE(db.ok()) << db.status().toString();
  }
  expectFormattedStore(path);
}

// Opening `path` is refused as not a store, and changes none of its files.
void expectRefusedAsNotAStoreAndUntouched(const std::string& path) {
  const auto before = snapshot(path);
  auto opened = Store::open(path);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(code(opened.status()), "EINVAL");
  EXPECT_EQ(snapshot(path), before);
}

TEST(FormatCrash, ALockBesideAnUnrelatedFileIsStillRefusedAndUntouched) {
  TempDir dir;
  const std::string path = dir.path() + "/store";
  makeDirectoryWith(path, {{"LOCK", ""}, {"notes.txt", "my notes\n"}});
  expectRefusedAsNotAStoreAndUntouched(path);
}

TEST(FormatCrash, ALockFileThatIsNotOursIsRefusedAndUntouched) {
  TempDir dir;
  for (const std::string& content : {std::string("locked by the backup job\n"), std::string("123\n456\n")}) {
    const std::string path = dir.path() + "/store" + std::to_string(content.size());
    makeDirectoryWith(path, {{"LOCK", content}});
    ASSERT_NO_FATAL_FAILURE(expectRefusedAsNotAStoreAndUntouched(path));
  }
}

TEST(FormatCrash, AMarkerTempFileThatIsNotOursIsRefused) {
  TempDir dir;
  const std::string path = dir.path() + "/store";
  makeDirectoryWith(path, {{"ACIDFS.tmp", "something else entirely\n"}});
  auto opened = Store::open(path);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(code(opened.status()), "EINVAL");
}

}  // namespace
}  // namespace acidfs

// ---- names are durable before records name them -------------------------------------------
//
// fdatasync(2) makes a file's bytes durable, not its name: a new file's
// directory entry is durable only once its directory is fsynced. So a new
// segment file's directory is synced before the first commit naming the
// file returns, and a new store's directory once db/ and segments/ exist.
//
// This binary interposes fsync(2): each call goes on to the C library's, and
// while a test records, the path of what was synced is noted. (A power cut
// cannot be made in-process; what is asked to reach the disk can be seen.)
namespace fsync_log {
std::atomic<bool> recording{false};
std::mutex mutex;
std::vector<std::string> paths;  // guarded by mutex

std::vector<std::string> take() {
  std::lock_guard<std::mutex> lock(mutex);
  return std::exchange(paths, {});
}
}  // namespace fsync_log

extern "C" int fsync(int fd) {
  static const auto real = reinterpret_cast<int (*)(int)>(dlsym(RTLD_NEXT, "fsync"));
  if (fsync_log::recording) {
    char path[4096];
    const ssize_t n = readlink(("/proc/self/fd/" + std::to_string(fd)).c_str(), path, sizeof path);
    std::lock_guard<std::mutex> lock(fsync_log::mutex);
    fsync_log::paths.emplace_back(path, n > 0 ? static_cast<size_t>(n) : 0);
  }
  return real(fd);
}

namespace acidfs {
namespace {

using testing::randomBytes;
using testing::TempDir;

class DurableNames : public ::testing::Test {
 protected:
  DurableNames() {
    fsync_log::take();
    fsync_log::recording = true;
  }
  ~DurableNames() override { fsync_log::recording = false; }
  static int count(const std::vector<std::string>& synced, const std::string& path) {
    return static_cast<int>(std::count(synced.begin(), synced.end(), path));
  }
  TempDir dir_;
  // Real paths: what /proc/self/fd shows (TMPDIR may be a symlink).
  std::string store() const { return std::filesystem::canonical(dir_.path()).string() + "/store"; }
};

TEST_F(DurableNames, FormattingSyncsTheStoreDirectoryAfterMakingItsParts) {
  auto opened = Store::open(dir_.path() + "/store");
  ASSERT_TRUE(opened.ok()) << opened.status().toString();
  const auto synced = fsync_log::take();
  // Once for the marker's name, once for db/ and segments/.
  EXPECT_GE(count(synced, store()), 2);
}

TEST_F(DurableNames, TheFirstCommitIntoANewSegmentSyncsTheSegmentDirectory) {
  auto opened = Store::open(dir_.path() + "/store");  // starts a new segment file
  ASSERT_TRUE(opened.ok()) << opened.status().toString();
  Namespace& ns = (*opened)->ns();
  const uint32_t C = (*opened)->content().chunkSize();
  auto f = ns.mknod(Caller::root(), kRootIno, "f", S_IFREG | 0644, 0);
  ASSERT_TRUE(f.ok());
  fsync_log::take();

  ASSERT_TRUE(writeFile(ns, f->ino, 0, randomBytes(2 * C, 90)).ok());  // chunks in the new segment
  EXPECT_EQ(count(fsync_log::take(), store() + "/segments"), 1)
      << "the commit returned before the new segment file's name was durable";

  ASSERT_TRUE(writeFile(ns, f->ino, 0, randomBytes(2 * C, 91)).ok());  // the same segment again
  EXPECT_EQ(count(fsync_log::take(), store() + "/segments"), 0) << "a known name needs no directory sync";
}

}  // namespace
}  // namespace acidfs
