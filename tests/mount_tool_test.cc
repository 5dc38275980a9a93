// The acidfs tool (SPEC §5) against a real mount: every command, every
// conflict code with exit 1 and its report on stdout, malformed input with
// exit 2 and nothing changed, a 1,000-op transaction that is all or nothing,
// races among real processes, the caches after a change the kernel did not
// make, and a non-root user meeting POSIX's checks.
#include <grp.h>

#include <atomic>
#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <vector>
#include <string>

#include "tests/mount_fixture.h"
#include "tests/test_util.h"

namespace acidfs::mounttest {
namespace {

using nlohmann::json;

class MountTool : public MountTest {
 protected:
  MountTool() { mountOptions_ = "allow_other"; }

  // Runs the tool with `args` (a shell fragment) in the mount.
  CommandResult tool(const std::string& args, const std::string& input = "") {
    std::string command = std::string("'") + ACIDFS_TOOL_PATH + "' " + args;
    if (!input.empty()) command = "printf %s '" + input + "' | " + command;
    return sh(command, 120, mountpoint());
  }
  std::string blobOf(const std::string& rel) {
    CommandResult r = tool("blob-id '" + rel + "'");
    EXPECT_EQ(0, r.exitStatus) << r;
    return r.out.substr(0, 32);
  }
  // exit 1 with exactly one JSON report on stdout naming `code`.
  void expectConflict(const CommandResult& r, const std::string& code, int operationIndex = 1) {
    EXPECT_EQ(1, r.exitStatus) << r;
    json report = json::parse(r.out, nullptr, false);
    ASSERT_FALSE(report.is_discarded()) << "stdout is not one JSON object: " << r.out;
    EXPECT_EQ(code, report.value("code", "")) << r.out;
    EXPECT_EQ(operationIndex, report.value("operationIndex", 0)) << r.out;
  }
  void expectError(const CommandResult& r, const std::string& says) {
    EXPECT_EQ(2, r.exitStatus) << r;
    EXPECT_TRUE(r.out.empty()) << r;
    EXPECT_NE(std::string::npos, r.err.find(says)) << r;
    EXPECT_EQ(1, std::count(r.err.begin(), r.err.end(), '\n')) << "one line on stderr: " << r.err;
  }
  static bool exists(const std::string& p) { return access(p.c_str(), F_OK) == 0; }
  // What the tree looks like: names and contents, for "nothing changed".
  std::string snapshot() { return sh("find . -type f | sort | xargs -r md5sum", 60, mountpoint()).out; }
};

TEST_F(MountTool, StatPrintsOneJsonObjectPerPath) {
  ASSERT_EQ("OK", writeFile(path("a"), "hello"));
  ASSERT_EQ(0, mkdir(path("d").c_str(), 0750));
  CommandResult r = tool("stat a d");
  ASSERT_EQ(0, r.exitStatus) << r;
  std::istringstream lines(r.out);
  std::string line;
  std::getline(lines, line);
  json a = json::parse(line);
  EXPECT_EQ("a", a["path"]);
  EXPECT_EQ(blobOf("a"), a["blobId"]);
  EXPECT_EQ(5, a["size"]);
  EXPECT_EQ(S_IFREG | 0644, a["mode"].get<int>() & ~0);
  for (const char* k : {"uid", "gid", "mtime"}) EXPECT_TRUE(a.contains(k)) << k;
  std::getline(lines, line);
  json d = json::parse(line);
  EXPECT_TRUE(d["blobId"].is_null());
  EXPECT_EQ(S_IFDIR | 0750, d["mode"].get<int>());
}

TEST_F(MountTool, MvCpRmAndCasDoTheirJobAndTheKernelSeesItAtOnce) {
  ASSERT_EQ("OK", writeFile(path("a"), "one"));
  // Warm the kernel's caches of every name involved (60 s entry caching).
  EXPECT_EQ("one", readOr(path("a")));
  EXPECT_EQ(-1, access(path("b").c_str(), F_OK));
  const std::string one = blobOf("a");
  ASSERT_EQ(0, tool("mv a b --if-source " + one + " --absent").exitStatus);
  EXPECT_EQ(-1, access(path("a").c_str(), F_OK)) << "a stale entry for a";
  EXPECT_EQ("one", readOr(path("b")));
  ASSERT_EQ(0, tool("cp b c --absent").exitStatus);
  EXPECT_EQ("one", readOr(path("c")));
  ASSERT_EQ(0, tool("cas c --expect " + one, "two").exitStatus);
  EXPECT_EQ("two", readOr(path("c"))) << "stale cached pages of c";
  EXPECT_EQ("one", readOr(path("b"))) << "the copy shares content, not the file";
  ASSERT_EQ(0, tool("cas new --absent", "fresh").exitStatus);
  EXPECT_EQ("fresh", readOr(path("new")));
  ASSERT_EQ(0, tool("rm b --if " + one).exitStatus);
  EXPECT_EQ(-1, access(path("b").c_str(), F_OK));
  CommandResult ls = sh("ls", 60, mountpoint());
  EXPECT_EQ("c\nnew\n", ls.out);
}

// SPEC §4.2: a blobId names what a read() returns now. Writes still pending
// on an open descriptor are part of it (found by the man page review: the
// xattr committed them first, `acidfs blob-id` and `stat` did not).
TEST_F(MountTool, BlobIdIncludesWritesPendingOnAnOpenDescriptor) {
  ASSERT_EQ("OK", writeFile(path("same"), "second version"));
  ASSERT_EQ("OK", writeFile(path("f"), "first version"));
  const std::string first = blobOf("f");
  Fd fd(open(path("f").c_str(), O_WRONLY | O_TRUNC));
  ASSERT_TRUE(fd.ok());
  const std::string second = "second version";
  ASSERT_EQ(static_cast<ssize_t>(second.size()), write(fd.get(), second.data(), second.size()));
  const std::string pending = blobOf("f");  // the descriptor is still open
  EXPECT_NE(first, pending) << "blob-id ignored the pending write";
  EXPECT_EQ(blobOf("same"), pending) << "the same content must have the same blobId";
  CommandResult st = tool("stat f");
  ASSERT_EQ(0, st.exitStatus) << st;
  EXPECT_EQ(pending, json::parse(st.out)["blobId"]);
  EXPECT_EQ(static_cast<int>(second.size()), json::parse(st.out)["size"]);
}

// A file the tool creates gets 0666 less the caller's umask, as open(O_CREAT) would.
TEST_F(MountTool, CasAbsentCreatesWithTheCallersUmask) {
  CommandResult r = sh("umask 027 && printf x | '" + std::string(ACIDFS_TOOL_PATH) + "' cas new --absent", 60, mountpoint());
  ASSERT_EQ(0, r.exitStatus) << r;
  EXPECT_EQ(S_IFREG | 0640, statOf(path("new")).st_mode);
  r = sh("umask 0 && printf y | '" + std::string(ACIDFS_TOOL_PATH) + "' cas open --absent", 60, mountpoint());
  ASSERT_EQ(0, r.exitStatus) << r;
  EXPECT_EQ(S_IFREG | 0666, statOf(path("open")).st_mode);
}

TEST_F(MountTool, EveryConflictCodeExitsOneAndChangesNothing) {
  ASSERT_EQ("OK", writeFile(path("a"), "A"));
  ASSERT_EQ("OK", writeFile(path("b"), "B"));
  const std::string a = blobOf("a"), b = blobOf("b");
  const std::string before = snapshot();
  expectConflict(tool("mv missing x"), "SOURCE_NOT_FOUND");
  expectConflict(tool("mv a x --if-source " + b), "SOURCE_CHANGED");
  expectConflict(tool("cp a b --absent"), "DEST_EXISTS");
  expectConflict(tool("mv a x --if-dest " + b), "DEST_NOT_FOUND");
  expectConflict(tool("mv a b --if-dest " + a), "DEST_CHANGED");
  expectConflict(tool("cas a --expect " + b, "new"), "CAS_CONFLICT");
  expectConflict(tool("cas a --absent", "new"), "CAS_CONFLICT");
  expectConflict(tool("rm a --if " + b), "SOURCE_CHANGED");
  EXPECT_EQ(before, snapshot());
}

TEST_F(MountTool, MalformedInputExitsTwoNamingTheProblemAndChangesNothing) {
  ASSERT_EQ("OK", writeFile(path("a"), "A"));
  const std::string a = blobOf("a");
  const std::string before = snapshot();
  expectError(tool("transact", "not json"), "not valid JSON");
  expectError(tool("transact", "{\"op\":\"move\"}"), "array");
  expectError(tool("transact", "[{\"op\":\"rename\",\"source\":{\"path\":\"/a\"},\"dest\":{\"path\":\"/b\"}}]"),
              "unknown op");
  expectError(tool("transact", "[{\"op\":\"move\",\"source\":{\"path\":\"/a\"}}]"), "missing field \"dest\"");
  expectError(tool("transact", "[{\"op\":\"move\",\"dest\":{\"path\":\"/b\"}}]"), "missing field \"source\"");
  expectError(tool("transact", "[{\"op\":\"delete\",\"source\":{\"path\":\"/a\",\"blobId\":\"xyz\"}}]"), "not a blobId");
  expectError(tool("transact", "[{\"op\":\"move\",\"source\":{\"path\":\"/a\"},\"dest\":{\"path\":\"/b\",\"bassis\":null}}]"),
              "unknown field");
  expectError(tool("transact", "[{\"op\":\"delete\",\"source\":{\"path\":\"a\"}}]"), "not absolute");
  expectError(tool("transact", "[{\"op\":\"delete\",\"source\":{\"path\":\"/x/../a\"}}]"), "..");
  expectError(tool("transact", "[{\"op\":\"delete\",\"source\":{\"path\":\"/./a\"}}]"), ".");
  expectError(tool("rm a --if nothex"), "not a blobId");
  expectError(tool("mv a b --if-dest " + a + " --absent"), "excludes");
  expectError(tool("cas a", "x"), "--expect");
  expectError(tool("frobnicate"), "unknown command 'frobnicate'");
  expectError(tool("stat /proc/self"), "not inside an acidfs mount");
  // A file name that is not UTF-8 has no JSON spelling: exit 2, not abort.
  ASSERT_EQ("OK", writeFile(path("bad\xff"), "x"));
  expectError(tool("stat \"$(printf 'bad\\377')\""), "not valid UTF-8");
  ASSERT_EQ(0, unlink(path("bad\xff").c_str()));
  // An oversized payload: a transaction of more than 4 MiB (fuse/ioctl_parts.h).
  CommandResult big = sh("python3 -c \"import sys; sys.stdout.write('[' + ' ' * (5 << 20) + ']')\" | '" +
                             std::string(ACIDFS_TOOL_PATH) + "' transact",
                         300, mountpoint());
  EXPECT_EQ(2, big.exitStatus) << big;
  EXPECT_NE(std::string::npos, big.err.find("larger than 4 MiB (E2BIG)")) << big;
  EXPECT_EQ(before, snapshot());
  // The daemon keeps serving.
  EXPECT_EQ(0, tool("stat a").exitStatus);
}

// 1,000 moves in one transaction; the last one's precondition fails, so none
// of the 999 before it may remain.
TEST_F(MountTool, AThousandOpTransactionIsAllOrNothing) {
  ASSERT_EQ(0, mkdir(path("in").c_str(), 0755));
  ASSERT_EQ(0, mkdir(path("out").c_str(), 0755));
  for (int i = 0; i < 1000; ++i) ASSERT_EQ("OK", writeFile(path("in/f" + std::to_string(i)), std::to_string(i)));
  json ops = json::array();
  for (int i = 0; i < 1000; ++i) {
    json dest{{"path", "/out/f" + std::to_string(i)}, {"basis", nullptr}};
    ops.push_back({{"op", "move"}, {"source", {{"path", "/in/f" + std::to_string(i)}}}, {"dest", dest}});
  }
  ASSERT_EQ("OK", writeFile(path("out/f999"), "in the way"));  // op 1000: DEST_EXISTS
  ASSERT_EQ("OK", writeFile(scratchDir() + "/txn.json", ops.dump()));
  const std::string before = snapshot();
  CommandResult r = tool("transact '" + scratchDir() + "/txn.json'");
  expectConflict(r, "DEST_EXISTS", 1000);
  EXPECT_EQ(before, snapshot());
  EXPECT_EQ("0", readOr(path("in/f0")));
  // Without the obstacle all 1,000 go through.
  ASSERT_EQ(0, unlink(path("out/f999").c_str()));
  r = tool("transact '" + scratchDir() + "/txn.json'");
  ASSERT_EQ(0, r.exitStatus) << r;
  EXPECT_EQ("{\"applied\":1000}\n", r.out);
  EXPECT_EQ("999", readOr(path("out/f999")));
  EXPECT_EQ(-1, access(path("in/f0").c_str(), F_OK));
}

// Four processes take 25 units each from 100 by `acidfs cas` with retry.
TEST_F(MountTool, ConcurrentCasProcessesEndAtTheExactTotal) {
  ASSERT_EQ("OK", writeFile(path("balance"), "100"));
  const std::string t = std::string("'") + ACIDFS_TOOL_PATH + "'";
  const std::string worker =
      "for i in $(seq 25); do while :; do b=$(" + t + " blob-id balance) || exit 3; v=$(cat balance); "
      "echo -n $((v - 1)) | " + t + " cas balance --expect $b >/dev/null; rc=$?; "
      "[ $rc = 0 ] && break; [ $rc = 1 ] || exit 4; done; done";
  CommandResult r = shConcurrently(4, worker, 600);
  ASSERT_TRUE(r.ok()) << r;
  EXPECT_EQ("0", readOr(path("balance")));
}

// Twelve processes claim five seats, each seat a name that must not exist:
// exactly five win, each seat has one owner.
TEST_F(MountTool, MoreClaimantsThanSeatsGivesExactlyAsManyWinners) {
  ASSERT_EQ(0, mkdir(path("seats").c_str(), 0755));
  const std::string t = std::string("'") + ACIDFS_TOOL_PATH + "'";
  const std::string claimant =
      "for s in 1 2 3 4 5; do echo -n $1 | " + t + " cas seats/$s --absent >/dev/null 2>&1 && "
      "{ echo won >> winners.$1; exit 0; }; done; exit 0";
  CommandResult r = shConcurrently(12, claimant);
  ASSERT_TRUE(r.ok()) << r;
  CommandResult winners = sh("ls winners.* | wc -l", 60, mountpoint());
  EXPECT_EQ("5\n", winners.out);
  std::set<std::string> owners;
  for (int s = 1; s <= 5; ++s) owners.insert(readOr(path("seats/" + std::to_string(s))));
  EXPECT_EQ(5u, owners.size()) << "a claimant holds two seats, or a seat was written twice";
  for (const std::string& o : owners) EXPECT_EQ(0, access(path("winners." + o).c_str(), F_OK)) << o;
}

TEST_F(MountTool, ANonRootUserIsDeniedWhatPosixDeniesAndNothingChanges) {
  if (geteuid() != 0) GTEST_SKIP() << "not root: cannot act as another user";
  ASSERT_EQ(0, mkdir(path("private").c_str(), 0700));
  ASSERT_EQ("OK", writeFile(path("private/secret"), "s"));
  ASSERT_EQ("OK", writeFile(path("unreadable"), "u"));
  ASSERT_EQ(0, chmod(path("unreadable").c_str(), 0600));
  ASSERT_EQ("OK", writeFile(path("readable"), "r"));
  const std::string secret = blobOf("private/secret"), readable = blobOf("readable");
  const std::string before = snapshot();
  auto asNobody = [&](const std::string& args) {
    return sh("setpriv --reuid=65534 --regid=65534 --clear-groups '" + std::string(ACIDFS_TOOL_PATH) + "' " + args, 60,
              mountpoint());
  };
  const std::vector<std::string> denied = {
      "stat private/secret", "blob-id unreadable", "mv private/secret stolen", "cp unreadable copy",
      "rm private/secret --if " + secret, "rm readable --if " + readable, "mv readable renamed",
      "cas readable --expect " + readable + " --from /dev/null"};
  for (const std::string& args : denied) {
    CommandResult r = asNobody(args);
    EXPECT_EQ(2, r.exitStatus) << args << ": " << r;
    EXPECT_TRUE(r.err.find("EACCES") != std::string::npos || r.err.find("EPERM") != std::string::npos) << args << ": " << r;
  }
  EXPECT_EQ(before, snapshot());
  // What POSIX allows, the tool allows: reading a world-readable file's id.
  EXPECT_EQ(0, asNobody("blob-id readable").exitStatus);
}

// SPEC §11: `acidfs put` and commit ops land several files' new contents in
// one transaction, each under its own basis; the kernel shows them at once.
TEST_F(MountTool, PutThenCommitOpsLandSeveralFilesTogether) {
  ASSERT_EQ("OK", writeFile(path("a"), "old a"));
  ASSERT_EQ("old a", readOr(path("a")));  // cached by the kernel
  const std::string a = blobOf("a");
  CommandResult putA = tool("put", "new a"), putB = tool("put", "new b");
  ASSERT_EQ(0, putA.exitStatus) << putA;
  ASSERT_EQ(0, putB.exitStatus) << putB;
  const std::string newA = putA.out.substr(0, 32), newB = putB.out.substr(0, 32);
  auto transaction = [&](const std::string& basisOfB) {
    return json::array({{{"op", "commit"}, {"blobId", newA}, {"dest", {{"path", "/a"}, {"basis", a}}}},
                        {{"op", "commit"}, {"blobId", newB}, {"dest", {{"path", "/b"}, {"basis", json::parse(basisOfB)}}}}});
  };
  const std::string file = scratchDir() + "/commit.json";
  std::ofstream(file) << transaction("\"" + a + "\"").dump();  // /b does not hold a: op 2 fails
  expectConflict(tool("transact '" + file + "'"), "CAS_CONFLICT", 2);
  EXPECT_EQ("old a", readOr(path("a")));
  std::ofstream(file, std::ios::trunc) << transaction("null").dump();
  CommandResult done = tool("transact '" + file + "'");
  ASSERT_EQ(0, done.exitStatus) << done;
  EXPECT_EQ("new a", readOr(path("a")));
  EXPECT_EQ("new b", readOr(path("b")));
}

// SPEC §11: a transact or cas with --txn-id repeated — after a kill -9 and
// a restart too — changes nothing and answers exactly as the first did,
// a conflict included.
TEST_F(MountTool, ARepeatedTxnIdChangesNothingAndAnswersAsTheFirstAcrossAKill9) {
  ASSERT_EQ("OK", writeFile(path("a"), "a"));
  const std::string file = scratchDir() + "/copy.json";
  std::ofstream(file) << R"([{"op": "copy", "source": {"path": "/a"}, "dest": {"path": "/b", "basis": null}}])";
  CommandResult first = tool("transact --txn-id job-7 '" + file + "'");
  ASSERT_EQ(0, first.exitStatus) << first;
  EXPECT_EQ("a", readOr(path("b")));
  ASSERT_EQ(0, unlink(path("b").c_str()));
  CommandResult repeat = tool("transact --txn-id job-7 '" + file + "'");
  EXPECT_EQ(0, repeat.exitStatus) << repeat;
  EXPECT_EQ(first.out, repeat.out);
  EXPECT_FALSE(exists(path("b"))) << "a repeat applied its ops";
  // The same id in the file's own form, {"txnId", "ops"}.
  const std::string wrapped = scratchDir() + "/wrapped.json";
  std::ofstream(wrapped) << R"({"txnId": "job-7", "ops": [{"op": "delete", "source": {"path": "/a"}}]})";
  EXPECT_EQ(0, tool("transact '" + wrapped + "'").exitStatus);
  EXPECT_TRUE(exists(path("a")));

  // A conflict is an outcome too: the repeat gets it though it would pass now.
  ASSERT_EQ("OK", writeFile(path("b"), "in the way"));
  CommandResult refused = tool("transact --txn-id job-8 '" + file + "'");
  expectConflict(refused, "DEST_EXISTS");
  ASSERT_EQ(0, unlink(path("b").c_str()));

  ASSERT_TRUE(tool("cas c --absent --txn-id c-1", "x").ok());
  ASSERT_TRUE(killDaemon9());
  ASSERT_TRUE(restart());
  CommandResult again = tool("transact --txn-id job-7 '" + file + "'");
  EXPECT_EQ(0, again.exitStatus) << again;
  EXPECT_EQ(first.out, again.out);
  EXPECT_FALSE(exists(path("b")));
  CommandResult refusedAgain = tool("transact --txn-id job-8 '" + file + "'");
  EXPECT_EQ(refused.out, refusedAgain.out);
  expectConflict(refusedAgain, "DEST_EXISTS");
  EXPECT_FALSE(exists(path("b")));
  CommandResult casAgain = tool("cas c --absent --txn-id c-1", "y");
  EXPECT_EQ(0, casAgain.exitStatus) << "the first cas succeeded: so does its repeat\n" << casAgain;
  EXPECT_EQ("x", readOr(path("c")));
  // A fresh id is a fresh request.
  EXPECT_EQ(0, tool("transact --txn-id job-9 '" + file + "'").exitStatus);
  EXPECT_EQ("a", readOr(path("b")));
  expectError(tool("transact --txn-id '' '" + file + "'"), "txnId");
}

// SPEC §11: user.acidfs.version grows at every content commit — a shell's
// rewrite, a cas — and never comes back, a kill -9 and restart included;
// `acidfs stat` shows it; nobody sets it.
TEST_F(MountTool, TheVersionGrowsAtEveryCommitAcrossAKill9AndStatShowsIt) {
  auto version = [&](const std::string& rel) -> uint64_t {
    CommandResult r = sh("getfattr --only-values -n user.acidfs.version '" + rel + "'", 30, mountpoint());
    EXPECT_EQ(0, r.exitStatus) << r;
    return r.ok() ? std::stoull(r.out) : 0;
  };
  ASSERT_EQ("OK", writeFile(path("f"), "one"));
  const uint64_t v1 = version("f");
  EXPECT_GT(v1, 0u);
  ASSERT_TRUE(sh("echo two > f", 30, mountpoint()).ok());
  const uint64_t v2 = version("f");
  EXPECT_GT(v2, v1);
  ASSERT_TRUE(tool("cas f --expect " + blobOf("f"), "three").ok());
  const uint64_t v3 = version("f");
  EXPECT_GT(v3, v2);
  CommandResult st = tool("stat f");
  ASSERT_EQ(0, st.exitStatus) << st;
  EXPECT_EQ(v3, json::parse(st.out).value("version", uint64_t{0})) << st.out;
  ASSERT_TRUE(killDaemon9());
  ASSERT_TRUE(restart());
  EXPECT_EQ(v3, version("f"));
  ASSERT_TRUE(sh("echo four > f", 30, mountpoint()).ok());
  EXPECT_GT(version("f"), v3);
  CommandResult set = sh("setfattr -n user.acidfs.version -v 1 f", 30, mountpoint());
  EXPECT_NE(0, set.exitStatus) << "user.acidfs.version was set";
}

TEST_F(MountTool, EveryCommandHasHelpWithAnExample) {
  for (const char* cmd : {"stat", "blob-id", "mv", "cp", "rm", "cas", "transact", "status", "log", "undelete", "gc", "clone", "put"}) {
    CommandResult r = tool(std::string(cmd) + " --help");
    EXPECT_EQ(0, r.exitStatus) << cmd << ": " << r;
    EXPECT_NE(std::string::npos, r.out.find("example:")) << cmd << ": " << r.out;
  }
  CommandResult status = tool("status .");
  ASSERT_EQ(0, status.exitStatus) << status;
  json counters = json::parse(status.out);
  for (const char* k : {"commits", "conflicts", "bytesStored", "bytesReferenced", "dedupRatio", "pendingLeases"})
    EXPECT_TRUE(counters.contains(k)) << k;
}

// The ioctl example a Python programmer starts from (examples/) works as
// shipped: its own assertions check each step.
TEST_F(MountTool, ThePythonIoctlExampleRuns) {
  CommandResult r = sh(std::string("python3 '") + ACIDFS_SOURCE_DIR + "/examples/acidfs_ioctl.py' '" + mountpoint() + "'",
                       120, scratchDir());
  ASSERT_TRUE(r.ok()) << r;
  EXPECT_NE(std::string::npos, r.out.find("counter.txt = 5")) << r;
  EXPECT_EQ("5", readOr(path("counter.txt")));
  EXPECT_EQ("b.txt", readOr(path("a.txt")));
}

// Four processes increment one file by CAS through the ioctl, reading the
// value through the kernel between STAT and COMMIT. A STAT must never show a
// blobId whose content the kernel's caches do not serve yet: the bench found
// lost updates when invalidation trailed the commit.
TEST_F(MountTool, IoctlCasRacesLoseNoUpdate) {
  for (int round = 0; round < 3; ++round) {
    CommandResult r = sh(std::string("python3 '") + ACIDFS_SOURCE_DIR + "/tests/scripts/ioctl_cas_race.py' '" +
                             mountpoint() + "' 4 100",
                         300, scratchDir());
    ASSERT_TRUE(r.ok()) << "round " << round << ": " << r;
  }
}

// fsck through the tool: 2 while the daemon has the store, 0 once it is
// unmounted and clean, 1 with a corrupted chunk (which --repair cannot fix),
// 2 for a directory that is not a store.
// write() racing door copies onto the same file, and opens with O_TRUNC
// racing writers: no call ever fails with an errno no local filesystem gives
// (ECANCELED, ESTALE), nothing wedges, and the last write is what stays.
TEST_F(MountTool, WritesRacingDoorCopiesAndTruncatesNeverWedge) {
  ASSERT_EQ("OK", writeFile(path("f"), std::string(200000, 'f')));
  ASSERT_EQ("OK", writeFile(path("other"), std::string(150000, 'o')));
  std::atomic<bool> stop{false};
  std::atomic<int> doorFailures{0}, truncFailures{0};
  std::thread door([&] {
    Fd dir(open(mountpoint().c_str(), O_RDONLY | O_DIRECTORY));
    for (int i = 0; i < 200; ++i) {
      IoctlAnswer a = ioctlRequest(dir.get(), ACIDFS_IOC_TRANSACT,
                                   R"([{"op":"copy","source":{"path":"/other"},"dest":{"path":"/f"}}])");
      if (a.ioctlRc != 0 || a.result != 0) doorFailures++;
    }
    stop = true;
  });
  std::thread truncater([&] {
    while (!stop) {
      int fd = open(path("f").c_str(), O_WRONLY | O_TRUNC);
      if (fd < 0 || close(fd) != 0) truncFailures++;
    }
  });
  Fd f(open(path("f").c_str(), O_RDWR));
  ASSERT_TRUE(f.ok());
  std::vector<int> errors;
  for (int i = 0; !stop; ++i) {
    if (pwrite(f.get(), "w", 1, (i * 7919) % 150000) != 1) errors.push_back(errno);
    char c;
    if (pread(f.get(), &c, 1, 0) < 0) errors.push_back(errno);
    if (i % 32 == 0 && fsync(f.get()) != 0) errors.push_back(errno);
  }
  door.join();
  truncater.join();
  ASSERT_EQ(4, pwrite(f.get(), "LAST", 4, 10));
  EXPECT_EQ(0, fsync(f.get())) << strerror(errno);
  EXPECT_EQ(0, f.close()) << strerror(errno);
  std::string names;
  for (int e : errors) names += std::string(strerrorname_np(e) ? strerrorname_np(e) : "?") + " ";
  EXPECT_TRUE(errors.empty()) << errors.size() << " failed calls: " << names.substr(0, 300);
  EXPECT_EQ(0, doorFailures.load());
  EXPECT_EQ(0, truncFailures.load());
  EXPECT_EQ("LAST", readOr(path("f")).substr(10, 4));
  EXPECT_EQ(0, tool("transact", R"([{"op":"copy","source":{"path":"/other"},"dest":{"path":"/f"}}])").exitStatus);
}

TEST_F(MountTool, FsckExitStatusesFollowTheStoresState) {
  const std::string big = randomBytes(200000, 11);
  ASSERT_EQ("OK", writeFile(path("big"), big));
  ASSERT_EQ("OK", writeFile(path("small"), "small"));
  const std::string fsck = std::string("'") + ACIDFS_TOOL_PATH + "' fsck '" + storeDir() + "'";
  CommandResult busy = sh(fsck, 120, scratchDir());
  expectError(busy, "in use");
  ASSERT_TRUE(unmount());
  CommandResult clean = sh(fsck, 120, scratchDir());
  EXPECT_EQ(0, clean.exitStatus) << clean;
  EXPECT_NE(std::string::npos, clean.out.find("clean: ")) << clean;
  ASSERT_EQ(1, ::acidfs::testing::flipSegmentByte(storeDir(), big.substr(100000, 64), 5));
  CommandResult found = sh(fsck + " --repair", 120, scratchDir());
  EXPECT_EQ(1, found.exitStatus) << found;
  EXPECT_NE(std::string::npos, found.out.find("does not match its hash")) << found;
  expectError(sh(std::string("'") + ACIDFS_TOOL_PATH + "' fsck '" + scratchDir() + "'", 120, scratchDir()),
              "not an acidfs store");
}

}  // namespace
}  // namespace acidfs::mounttest
