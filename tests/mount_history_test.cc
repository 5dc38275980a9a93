// History and recovery (SPEC §10) on a real mount, through the acidfs tool
// and the ioctl door: `rm -rf` of a thousand files undone byte for byte by
// the user who owned them, an overwritten version brought back, undelete
// onto an existing name a DEST_EXISTS conflict (exit 1), versions hidden
// from users who could not read them, a frozen GC keeping drops the trash
// would not, and a client of the first ioctl version still served.
#include <sys/ioctl.h>

#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "acidfs/ioctl.h"
#include "tests/mount_fixture.h"
#include "tests/test_util.h"

namespace acidfs::mounttest {
namespace {

using nlohmann::json;

constexpr const char* kNobody = "setpriv --reuid=65534 --regid=65534 --clear-groups ";

class MountHistory : public MountTest {
 protected:
  MountHistory() { mountOptions_ = "allow_other"; }

  // The tool with `args` (a shell fragment) in the mount, as root or as nobody.
  CommandResult tool(const std::string& args) {
    return sh(std::string("'") + ACIDFS_TOOL_PATH + "' " + args, 120, mountpoint());
  }
  CommandResult toolAsNobody(const std::string& args) {
    return sh(std::string(kNobody) + "'" + ACIDFS_TOOL_PATH + "' " + args, 120, mountpoint());
  }
  // `acidfs log` output, one JSON object per line.
  std::vector<json> logOf(const CommandResult& r) {
    std::vector<json> lines;
    std::istringstream in(r.out);
    for (std::string line; std::getline(in, line);) lines.push_back(json::parse(line));
    return lines;
  }
  std::string blobOf(const std::string& rel) {
    CommandResult r = tool("blob-id '" + rel + "'");
    EXPECT_EQ(0, r.exitStatus) << r;
    return r.out.substr(0, 32);
  }
  // Every entry under `rel`: type, mode, owner, size, mtime (ns) and
  // content. Not a directory's mtime: `rm -rf` changed it, emptying the
  // directory, before the directory itself went to the trash.
  std::string manifest(const std::string& rel) {
    CommandResult r = sh("find '" + rel + "' \\( -type d -printf '%p %y %m %U %G\\n' \\) -o -printf '%p %y %m %U %G %s %T@\\n' | sort && "
                         "find '" + rel + "' -type f -print0 | sort -z | xargs -0 -r md5sum",
                         120, mountpoint());
    EXPECT_TRUE(r.ok()) << r;
    return r.out;
  }
};

bool nonRootUsable() { return geteuid() == 0; }

// The lines of `expected` missing from `actual` and the other way round, the
// first few of each ("" when they are the same).
std::string firstDifferences(const std::string& expected, const std::string& actual) {
  auto lines = [](const std::string& text) {
    std::multiset<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) out.insert(line);
    return out;
  };
  const std::multiset<std::string> a = lines(expected), b = lines(actual);
  std::string report;
  int shown = 0;
  for (const std::string& line : a)
    if (!b.count(line) && shown++ < 5) report += "missing: " + line + "\n";
  for (const std::string& line : b)
    if (!a.count(line) && shown++ < 10) report += "unexpected: " + line + "\n";
  return report;
}

// `rm -rf` of a tree of 1,000 files and its undelete, both by the
// (non-root) user who owns it: every name, mode, size, mtime and byte is back.
TEST_F(MountHistory, RmRfOfAThousandFilesComesBackByteExactForTheUserWhoOwnedThem) {
  if (!nonRootUsable()) GTEST_SKIP() << "not root: cannot act as another user";
  ASSERT_EQ(0, mkdir(path("home").c_str(), 0755));
  ASSERT_EQ(0, chown(path("home").c_str(), 65534, 65534));
  // Files of every size class (inline, one chunk, several), modes from
  // 0600 to 0755, ten directories and a symlink.
  const std::string make = std::string(kNobody) + R"(/usr/bin/python3 -c '
import os, random
random.seed(7)
os.makedirs("home/tree")
for d in range(10):
    os.makedirs("home/tree/d%d/sub" % d)
    os.symlink("../d%d" % ((d + 1) % 10), "home/tree/d%d/next" % d)
for i in range(1000):
    p = "home/tree/d%d/%sf%d" % (i % 10, "sub/" if i % 3 == 0 else "", i)
    size = random.choice([0, 17, 4000, 70000, 300000])
    with open(p, "wb") as f:
        f.write(random.randbytes(size))
    os.chmod(p, random.choice([0o600, 0o640, 0o644, 0o700, 0o755]))
os.chmod("home/tree/d3", 0o750)
')";
  CommandResult made = sh(make, 300, mountpoint());
  ASSERT_TRUE(made.ok()) << made;
  const std::string before = manifest("home/tree");
  ASSERT_NE(std::string::npos, before.find("f999")) << before.substr(0, 400);

  CommandResult rm = sh(std::string(kNobody) + "rm -rf home/tree", 300, mountpoint());
  ASSERT_TRUE(rm.ok()) << rm;
  struct stat st;
  ASSERT_NE(0, lstat(path("home/tree").c_str(), &st));

  // The log shows the tree going, also for a path inside it.
  CommandResult log = toolAsNobody("log home/tree");
  ASSERT_EQ(0, log.exitStatus) << log;
  std::vector<json> versions = logOf(log);
  ASSERT_FALSE(versions.empty());
  EXPECT_EQ("rmdir", versions[0]["cause"]);
  EXPECT_EQ(65534, versions[0]["uid"]);
  CommandResult inner = toolAsNobody("log home/tree/d1/f1");
  ASSERT_EQ(0, inner.exitStatus) << inner;
  ASSERT_EQ(1u, logOf(inner).size()) << inner.out;
  EXPECT_EQ("unlink", logOf(inner)[0]["cause"]);
  EXPECT_FALSE(logOf(inner)[0]["exists"].get<bool>());

  CommandResult back = toolAsNobody("undelete home/tree");
  ASSERT_EQ(0, back.exitStatus) << back;
  EXPECT_EQ("", firstDifferences(before, manifest("home/tree")));
  // Restored, it is an ordinary tree: its owner changes it.
  CommandResult again = sh(std::string(kNobody) + "sh -c 'echo new > home/tree/d0/f10 && rm home/tree/d1/f1'", 60,
                           mountpoint());
  EXPECT_TRUE(again.ok()) << again;
}

TEST_F(MountHistory, AnOverwrittenVersionComesBackAndAnExistingDestIsAConflict) {
  ASSERT_EQ("OK", writeFile(path("notes"), "first draft"));
  const std::string first = blobOf("notes");
  ASSERT_EQ("OK", writeFile(path("staged"), "second draft"));
  const std::string second = blobOf("staged");
  ASSERT_EQ(0, rename(path("staged").c_str(), path("notes").c_str()));  // mv over it

  CommandResult log = tool("log notes");
  ASSERT_EQ(0, log.exitStatus) << log;
  std::vector<json> versions = logOf(log);
  ASSERT_EQ(1u, versions.size()) << log.out;
  EXPECT_EQ(first, versions[0]["blobId"]);
  EXPECT_EQ("rename", versions[0]["cause"]);
  EXPECT_EQ(second, versions[0]["replacedBy"]);
  EXPECT_EQ(11, versions[0]["size"]);
  EXPECT_FALSE(versions[0]["exists"].get<bool>()) << "the file that held it is gone";

  // Onto the existing name: DEST_EXISTS, exit 1, nothing changed.
  CommandResult refused = tool("undelete notes --blob " + first);
  EXPECT_EQ(1, refused.exitStatus) << refused;
  json report = json::parse(refused.out, nullptr, false);
  ASSERT_FALSE(report.is_discarded()) << refused.out;
  EXPECT_EQ("DEST_EXISTS", report.value("code", ""));
  EXPECT_EQ(second, report.value("found", ""));
  EXPECT_EQ("second draft", readOr(path("notes")));

  // Beside it, or over it with --force (the replaced one goes to the trash).
  CommandResult aside = tool("undelete notes --blob " + first + " --to notes.old");
  ASSERT_EQ(0, aside.exitStatus) << aside;
  EXPECT_EQ("first draft", readOr(path("notes.old")));
  CommandResult forced = tool("undelete notes --id " + versions[0]["id"].get<std::string>() + " --force");
  ASSERT_EQ(0, forced.exitStatus) << forced;
  EXPECT_EQ("first draft", readOr(path("notes")));
  std::vector<json> after = logOf(tool("log notes"));
  ASSERT_EQ(2u, after.size());
  EXPECT_EQ(second, after[0]["blobId"]) << "the forced undelete kept what it replaced";

  // A version that is not there: exit 2, ENOENT.
  CommandResult none = tool("undelete notes --blob 0123456789abcdef0123456789abcdef --to x");
  EXPECT_EQ(2, none.exitStatus) << none;
  EXPECT_NE(std::string::npos, none.err.find("ENOENT")) << none;
  CommandResult never = tool("log never/was/here");
  EXPECT_EQ(2, never.exitStatus) << never;
}

// SPEC §10: only a user who could read a version when it was replaced may
// list or restore it; and undelete needs what creating DEST needs.
TEST_F(MountHistory, VersionsAUserCouldNotReadAreNeitherListedNorRestored) {
  if (!nonRootUsable()) GTEST_SKIP() << "not root: cannot act as another user";
  ASSERT_EQ("OK", writeFile(path("secret"), "root only"));
  ASSERT_EQ(0, chmod(path("secret").c_str(), 0600));
  ASSERT_EQ("OK", writeFile(path("public"), "anyone"));
  ASSERT_EQ(0, unlink(path("secret").c_str()));
  ASSERT_EQ(0, unlink(path("public").c_str()));

  CommandResult hidden = toolAsNobody("log secret");
  EXPECT_EQ(0, hidden.exitStatus) << hidden;
  EXPECT_EQ("", hidden.out) << "nobody sees a version it could not read";
  CommandResult denied = toolAsNobody("undelete secret --to /tmp/nowhere");
  EXPECT_EQ(2, denied.exitStatus) << denied;
  CommandResult stolen = toolAsNobody("undelete secret");
  EXPECT_EQ(2, stolen.exitStatus) << stolen;
  struct stat st;
  EXPECT_NE(0, lstat(path("secret").c_str(), &st));

  // Readable, but the root directory is not nobody's to write in.
  ASSERT_EQ(1u, logOf(toolAsNobody("log public")).size());
  CommandResult noWrite = toolAsNobody("undelete public");
  EXPECT_EQ(2, noWrite.exitStatus) << noWrite;
  EXPECT_NE(std::string::npos, noWrite.err.find("EACCES")) << noWrite;
  EXPECT_NE(0, lstat(path("public").c_str(), &st));
  // Root restores both.
  EXPECT_EQ(0, tool("undelete secret").exitStatus);
  EXPECT_EQ("root only", readOr(path("secret")));
  ASSERT_EQ(0, lstat(path("secret").c_str(), &st));
  EXPECT_EQ(0600u, st.st_mode & 07777);
}

class MountHistoryTrashOff : public MountHistory {
 protected:
  MountHistoryTrashOff() { mountOptions_ = "allow_other,trash_days=0"; }
};

// With the trash off a delete is reclaimed at once — unless GC is frozen
// (an incident): then it is kept, listed and restorable, until the thaw.
TEST_F(MountHistoryTrashOff, AFrozenGcKeepsEveryDropUntilTheThaw) {
  ASSERT_EQ("OK", writeFile(path("gone-now"), "reclaimed"));
  ASSERT_EQ(0, unlink(path("gone-now").c_str()));
  EXPECT_EQ("", tool("log gone-now").out) << "trash_days=0 keeps nothing";

  if (nonRootUsable()) {
    CommandResult notYours = toolAsNobody("gc --freeze .");
    EXPECT_EQ(2, notYours.exitStatus) << notYours;
    EXPECT_NE(std::string::npos, notYours.err.find("EPERM")) << notYours;
  }
  ASSERT_EQ(0, tool("gc --freeze .").exitStatus);
  json status = json::parse(tool("gc --status .").out);
  EXPECT_TRUE(status["frozen"].get<bool>());
  EXPECT_EQ(0, status["trashDays"]);
  EXPECT_EQ(0, status["trashVersions"]);

  const std::string content = ::acidfs::testing::randomBytes(1 << 20, 5);
  ASSERT_EQ("OK", writeFile(path("incident"), content));
  ASSERT_EQ(0, unlink(path("incident").c_str()));
  status = json::parse(tool("gc --status .").out);
  EXPECT_EQ(1, status["trashVersions"]);
  EXPECT_EQ(1 << 20, status["trashBytes"]);
  ASSERT_EQ(1u, logOf(tool("log incident")).size());

  ASSERT_EQ(0, tool("gc --thaw .").exitStatus);
  status = json::parse(tool("gc --status .").out);
  EXPECT_FALSE(status["frozen"].get<bool>());
  EXPECT_EQ(0, status["trashVersions"]) << "the thaw reclaims what expired while frozen";
  EXPECT_EQ("", tool("log incident").out);
  EXPECT_EQ(2, tool("undelete incident").exitStatus);
}

// The ioctl interface grew (version 2) without breaking version 1 clients.
TEST_F(MountHistory, AVersionOneClientIsStillServedAndAnUnknownVersionIsRefused) {
  ASSERT_EQ("OK", writeFile(path("f"), "x"));
  ASSERT_EQ(0, unlink(path("f").c_str()));
  Fd root(open(mountpoint().c_str(), O_RDONLY | O_DIRECTORY));
  ASSERT_TRUE(root.ok());
  auto ask = [&](uint32_t version, unsigned long cmd, const std::string& payload) {
    acidfs_ioc_msg msg;
    memset(&msg, 0, sizeof msg);
    msg.version = version;
    msg.length = static_cast<uint32_t>(payload.size());
    memcpy(msg.data, payload.data(), payload.size());
    const int rc = ioctl(root.get(), cmd, &msg);
    return std::make_pair(rc == 0 ? msg.result : -errno, std::string(msg.data, rc == 0 ? msg.length : 0));
  };
  auto [statResult, stat] = ask(1, ACIDFS_IOC_STAT, R"({"path":"/"})");
  EXPECT_EQ(0, statResult) << stat;
  auto [logResult, log] = ask(1, ACIDFS_IOC_LOG, R"({"path":"/f"})");
  EXPECT_EQ(0, logResult) << log;
  EXPECT_EQ(1u, json::parse(log)["versions"].size()) << log;
  EXPECT_EQ(-EPROTO, ask(ACIDFS_IOCTL_VERSION + 1, ACIDFS_IOC_STAT, R"({"path":"/"})").first);
  EXPECT_EQ(-EPROTO, ask(0, ACIDFS_IOC_STAT, R"({"path":"/"})").first);
}

}  // namespace
}  // namespace acidfs::mounttest
