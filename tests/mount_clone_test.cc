// `acidfs clone` on a real mount (SPEC §10): a complete copy sharing all
// content; a read-only clone refused every change with EROFS through every
// door (POSIX calls, extended attributes, the ioctl interface, the tool)
// until `clone --writable`; a clone and a RENAME_EXCHANGE as an atomic
// rollback; and kill -9 of the daemon during a clone leaving either no
// destination or a complete one.
#include <sys/syscall.h>
#include <sys/xattr.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/mount_fixture.h"
#include "tests/test_util.h"

namespace acidfs::mounttest {
namespace {

using nlohmann::json;

class MountClone : public MountTest {
 protected:
  CommandResult tool(const std::string& args) {
    return sh(std::string("'") + ACIDFS_TOOL_PATH + "' " + args, 300, mountpoint());
  }
  // A tree of `files` files (and a symlink and a subdirectory per 100).
  void makeTree(const std::string& rel, int files) {
    CommandResult made = sh("/usr/bin/python3 -c '\n"
                            "import os\n"
                            "for i in range(" + std::to_string(files) + "):\n"
                            "    d = \"" + rel + "/d%d\" % (i // 100)\n"
                            "    if i % 100 == 0:\n"
                            "        os.makedirs(d)\n"
                            "        os.symlink(\"f%d\" % i, d + \"/link\")\n"
                            "    with open(d + \"/f%d\" % i, \"w\") as f:\n"
                            "        f.write(\"file %d \" % i * (1 + i % 7))\n"
                            "'",
                            600, mountpoint());
    ASSERT_TRUE(made.ok()) << made;
  }
  // Names, types, modes, sizes, mtimes and contents under `rel`.
  std::string manifest(const std::string& rel) {
    CommandResult r = sh("cd '" + rel + "' && find . \\( -type d -printf '%p %y %m\\n' \\) -o -printf '%p %y %m %s %T@\\n' | sort && "
                         "find . -type f -print0 | sort -z | xargs -0 -r md5sum",
                         300, mountpoint());
    EXPECT_TRUE(r.ok()) << r;
    return r.out;
  }
  long entriesUnder(const std::string& rel) {
    CommandResult r = sh("find '" + rel + "' | wc -l", 300, mountpoint());
    return r.ok() ? std::stol(r.out) : -1;
  }
};

TEST_F(MountClone, ACloneIsACompleteCopyThatSharesAllContent) {
  makeTree("src", 500);
  ASSERT_EQ(0, setxattr(path("src/d0/f0").c_str(), "user.colour", "red", 3, 0));
  const std::string before = manifest("src");
  const json statusBefore = json::parse(tool("status .").out);
  CommandResult made = tool("clone src copy");
  ASSERT_EQ(0, made.exitStatus) << made;
  const json report = json::parse(made.out);
  EXPECT_EQ(511, report["entries"]) << made.out;  // the copy, 5 directories, 500 files, 5 symlinks
  EXPECT_EQ(before, manifest("copy"));
  char value[16] = {};
  EXPECT_EQ(3, getxattr(path("copy/d0/f0").c_str(), "user.colour", value, sizeof value));
  const json statusAfter = json::parse(tool("status .").out);
  EXPECT_EQ(statusBefore["bytesStored"], statusAfter["bytesStored"]) << "a clone copies no content";
  // Independent copies.
  ASSERT_EQ("OK", writeFile(path("copy/d1/f100"), "changed"));
  EXPECT_NE("changed", readOr(path("src/d1/f100")));
  // DST must not exist: DEST_EXISTS, exit 1.
  CommandResult again = tool("clone src copy");
  EXPECT_EQ(1, again.exitStatus) << again;
  EXPECT_EQ("DEST_EXISTS", json::parse(again.out).value("code", "")) << again.out;
  EXPECT_EQ(2, tool("clone src src/inside").exitStatus);
}

TEST_F(MountClone, AReadOnlyCloneRefusesEveryChangeThroughEveryDoorUntilMadeWritable) {
  makeTree("src", 150);
  ASSERT_EQ(0, mkdir(path("src/empty").c_str(), 0755));
  ASSERT_EQ(0, tool("clone src ro --readonly").exitStatus);
  const std::string before = manifest("ro");
  ASSERT_EQ("OK", writeFile(path("other"), "other content"));
  ASSERT_EQ("OK", writeFile(path("gone"), "in the trash"));
  ASSERT_EQ(0, unlink(path("gone").c_str()));
  const std::string blob = tool("blob-id ro/d0/f1").out.substr(0, 32);
  const std::string otherBlob = tool("blob-id other").out.substr(0, 32);

  // POSIX calls.
  EXPECT_EQ("EROFS", errnoAfter(open(path("ro/new").c_str(), O_CREAT | O_WRONLY, 0644)));
  EXPECT_EQ("EROFS", errnoAfter(open(path("ro/d0/f1").c_str(), O_WRONLY)));
  EXPECT_EQ("EROFS", errnoAfter(open(path("ro/d0/f1").c_str(), O_RDWR | O_TRUNC)));
  EXPECT_EQ("EROFS", errnoAfter(truncate(path("ro/d0/f1").c_str(), 0)));
  EXPECT_EQ("EROFS", errnoAfter(unlink(path("ro/d0/f1").c_str())));
  EXPECT_EQ("EROFS", errnoAfter(mkdir(path("ro/d0/sub").c_str(), 0755)));
  EXPECT_EQ("EROFS", errnoAfter(rmdir(path("ro/empty").c_str())));
  EXPECT_EQ("EROFS", errnoAfter(rename(path("ro/d0/f1").c_str(), path("ro/d0/f1b").c_str())));
  EXPECT_EQ("EROFS", errnoAfter(rename(path("other").c_str(), path("ro/other").c_str())));
  EXPECT_EQ("EROFS", errnoAfter(rename(path("ro").c_str(), path("ro-moved").c_str())));
  EXPECT_EQ("EROFS", errnoAfter(link(path("ro/d0/f1").c_str(), path("hard").c_str())));
  EXPECT_EQ("EROFS", errnoAfter(symlink("x", path("ro/sym").c_str())));
  EXPECT_EQ("EROFS", errnoAfter(chmod(path("ro/d0/f1").c_str(), 0600)));
  EXPECT_EQ("EROFS", errnoAfter(chown(path("ro/d0/f1").c_str(), 1, 1)));
  EXPECT_EQ("EROFS", errnoAfter(utimensat(AT_FDCWD, path("ro/d0/f1").c_str(), nullptr, 0)));
  // Extended attributes: a real one, and a basis that a rename would apply.
  EXPECT_EQ("EROFS", errnoAfter(setxattr(path("ro/d0/f1").c_str(), "user.x", "1", 1, 0)));
  ASSERT_EQ(0, setxattr(path("other").c_str(), "user.acidfs.dest_basis", blob.c_str(), blob.size(), 0));
  EXPECT_EQ("EROFS", errnoAfter(rename(path("other").c_str(), path("ro/d0/f1").c_str())));
  // The tool and the ioctl interface under it.
  for (const std::string& args : std::vector<std::string>{"cp other ro/d0/f1", "mv ro/d0/f1 elsewhere", "rm ro/d0/f1 --if " + blob,
                                  "cas ro/d0/f1 --expect " + blob + " --from /dev/null",
                                  "cp other ro/new --absent", "undelete gone --to ro/undeleted"}) {
    CommandResult r = tool(args);
    EXPECT_EQ(2, r.exitStatus) << args << ": " << r;
    EXPECT_NE(std::string::npos, r.err.find("EROFS")) << args << ": " << r;
  }
  EXPECT_EQ(before, manifest("ro")) << "nothing changed";
  EXPECT_EQ(otherBlob, tool("blob-id other").out.substr(0, 32));

  // Reading works; a writable clone of it is writable; --writable makes it so.
  EXPECT_FALSE(readOr(path("ro/d0/f1")).empty());
  CommandResult writable = tool("clone --writable ro");
  ASSERT_EQ(0, writable.exitStatus) << writable;
  ASSERT_EQ("OK", writeFile(path("ro/d0/f1"), "now writable"));
  EXPECT_EQ("now writable", readOr(path("ro/d0/f1")));
  CommandResult rm = sh("rm -rf ro", 120, mountpoint());
  EXPECT_TRUE(rm.ok()) << rm;
}

// SPEC §10: a clone followed by RENAME_EXCHANGE of two directories is an
// atomic rollback.
TEST_F(MountClone, ACloneThenRenameExchangeIsAnAtomicRollback) {
  makeTree("project", 200);
  const std::string good = manifest("project");
  ASSERT_EQ(0, tool("clone project .project.good --readonly").exitStatus);
  ASSERT_EQ("OK", writeFile(path("project/d0/f0"), "a bad change"));
  ASSERT_EQ(0, unlink(path("project/d1/f100").c_str()));
  ASSERT_EQ(0, tool("clone --writable .project.good").exitStatus);
  ASSERT_EQ(0, syscall(SYS_renameat2, AT_FDCWD, path(".project.good").c_str(), AT_FDCWD, path("project").c_str(),
                       RENAME_EXCHANGE))
      << strerror(errno);
  EXPECT_EQ(good, manifest("project"));
  EXPECT_EQ("a bad change", readOr(path(".project.good/d0/f0"))) << "the bad tree is kept aside";
}

// kill -9 of the daemon while it builds a clone: after a restart DST is
// either absent or complete — never part of a tree.
TEST_F(MountClone, Kill9DuringACloneLeavesNoDestinationOrACompleteOne) {
  constexpr int kFiles = 5000;
  makeTree("big", kFiles);
  const long whole = entriesUnder("big");
  ASSERT_GT(whole, kFiles);
  // How long a clone takes here: the kills land from before its commit to after it.
  const auto started = std::chrono::steady_clock::now();
  ASSERT_EQ(0, tool("clone big timed").exitStatus);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  int complete = 0, absent = 0;
  const double fractions[] = {0.1, 0.4, 0.8, 1.2, 3.0};
  for (int round = 0; round < 5; ++round) {
    const std::string dst = "c" + std::to_string(round);
    pid_t client = fork();
    if (client == 0) {
      execl(ACIDFS_TOOL_PATH, ACIDFS_TOOL_PATH, "clone", path("big").c_str(), path(dst).c_str(), nullptr);
      _exit(127);
    }
    ASSERT_GT(client, 0);
    usleep(static_cast<useconds_t>(seconds * fractions[round] * 1e6));
    ASSERT_TRUE(killDaemon9());
    int status = 0;
    waitpid(client, &status, 0);
    ASSERT_TRUE(start());
    struct stat st;
    if (lstat(path(dst).c_str(), &st) != 0) {
      ++absent;
      continue;
    }
    ++complete;
    EXPECT_EQ(whole, entriesUnder(dst)) << dst << " is part of a tree";
  }
  fprintf(stderr, "kill -9 during a clone of %.2f s: %d complete, %d absent\n", seconds, complete, absent);
  CommandResult last = tool("clone big final");
  ASSERT_EQ(0, last.exitStatus) << last;
  EXPECT_EQ(whole, entriesUnder("final"));
}

}  // namespace
}  // namespace acidfs::mounttest
