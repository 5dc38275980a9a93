// Mount options as fstab and mount(8) give them, on real mounts (security
// issue item 8: noexec in fstab once mounted executable). The kernel flags
// reach mount(2), and the kernel shows them (statvfs) and enforces them
// (execve, setuid, device nodes); ro is read-only through every door, a read
// still works and no access time moves; the options only mount(8) and
// systemd act on mount fine; an unknown or refused option fails with a
// message naming it, and nothing is mounted.
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include <set>
#include <sstream>

#include "tests/mount_fixture.h"

namespace acidfs::mounttest {
namespace {

constexpr char kScript[] = "#!/bin/sh\nexit 0\n";

class MountFstabOptions : public MountTest {
 protected:
  // The kernel's view of the mount: ST_RDONLY, ST_NOEXEC, ...
  unsigned long mountFlags() {
    struct statvfs sv;
    EXPECT_EQ(0, statvfs(mountpoint().c_str(), &sv)) << strerror(errno);
    return sv.f_flag;
  }
  // The options /proc/self/mounts shows for the mount ("rw", "nosuid", "dirsync"...).
  std::set<std::string> optionsShown() {
    std::ifstream in("/proc/self/mounts");
    for (std::string line; std::getline(in, line);) {
      std::istringstream fields(line);
      std::string source, point, type, options;
      fields >> source >> point >> type >> options;
      if (point != mountpoint()) continue;
      std::set<std::string> shown;
      std::stringstream split(options);
      for (std::string o; std::getline(split, o, ',');) shown.insert(o);
      return shown;
    }
    ADD_FAILURE() << mountpoint() << " is not in /proc/self/mounts";
    return {};
  }
  // Unmounts and mounts the same store again with `options`.
  ::testing::AssertionResult remountWith(const std::string& options) {
    mountOptions_ = options;
    return restart();
  }
  // execve of `p` in a child: "OK" when it ran and exited 0, else the errno name.
  std::string execOutcome(const std::string& p) {
    int code = runInChild([&] {
      execl(p.c_str(), p.c_str(), static_cast<char*>(nullptr));
      return errno;
    });
    return code == 0 ? "OK" : errnoName(code);
  }
  // acidfsd run by hand on this test's store and mount point.
  CommandResult runDaemon(const std::vector<std::string>& extra, const std::string& store = "") {
    std::vector<std::string> argv = {ACIDFS_DAEMON_PATH, store.empty() ? storeDir() : store, mountpoint()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return runArgv(argv, "/", 60);
  }
  // The acidfs tool, in the mount.
  CommandResult tool(const std::string& args, const std::string& input = "") {
    std::string command = std::string("'") + ACIDFS_TOOL_PATH + "' " + args;
    if (!input.empty()) command = "printf %s '" + input + "' | " + command;
    return sh(command, 120, mountpoint());
  }
  // Sets a file's atime a day before its mtime: relatime would move it at the next read.
  void ageAtime(const std::string& p) {
    struct stat st = statOf(p);
    struct timespec times[2] = {{st.st_mtim.tv_sec - 86400, 0}, {UTIME_OMIT, UTIME_OMIT}};
    ASSERT_EQ(0, utimensat(AT_FDCWD, p.c_str(), times, 0)) << strerror(errno);
  }
};

// ---- the kernel flags ------------------------------------------------------------

TEST_F(MountFstabOptions, NoexecIsShownAndExecveFailsEacces) {
  ASSERT_EQ("OK", writeFile(path("script"), kScript, O_WRONLY | O_CREAT | O_TRUNC, 0755));
  EXPECT_EQ(0u, mountFlags() & ST_NOEXEC);
  EXPECT_EQ("OK", execOutcome(path("script"))) << "the script must run where exec is allowed";

  ASSERT_TRUE(remountWith("noexec"));
  EXPECT_NE(0u, mountFlags() & ST_NOEXEC);
  EXPECT_EQ(1u, optionsShown().count("noexec"));
  EXPECT_EQ(S_IFREG | 0755, statOf(path("script")).st_mode);
  EXPECT_EQ("EACCES", execOutcome(path("script")));
  // A file created in the noexec mount is no more executable.
  ASSERT_EQ("OK", writeFile(path("fresh"), kScript, O_WRONLY | O_CREAT | O_TRUNC, 0755));
  EXPECT_EQ("EACCES", execOutcome(path("fresh")));
  // Reading it is still allowed, as on any noexec mount.
  CommandResult r = sh("/bin/sh ./script && echo ran");
  EXPECT_EQ("ran\n", r.out) << r;
}

TEST_F(MountFstabOptions, NosuidIsShownAndTheKernelIgnoresTheSetuidBit) {
  // The setuid bit is honoured with suid (root only) and ignored with nosuid:
  // a setuid-root copy of id(1) run by user 65534 reports euid 0, then 65534.
  ASSERT_TRUE(remountWith("allow_other,suid"));
  EXPECT_EQ(0u, mountFlags() & ST_NOSUID);
  ASSERT_TRUE(runShell("cp /usr/bin/id ./id && chown root:root ./id && chmod 4755 ./id", mountpoint()).ok());
  const std::string asNobody = "setpriv --reuid=65534 --regid=65534 --clear-groups " + path("id") + " -u";
  CommandResult r = sh(asNobody);
  EXPECT_EQ("0\n", r.out) << r;

  ASSERT_TRUE(remountWith("allow_other,suid,nosuid"));  // the last one wins
  EXPECT_NE(0u, mountFlags() & ST_NOSUID);
  EXPECT_EQ(1u, optionsShown().count("nosuid"));
  EXPECT_EQ(S_IFREG | S_ISUID | 0755, statOf(path("id")).st_mode);
  r = sh(asNobody);
  EXPECT_EQ("65534\n", r.out) << r;
}

TEST_F(MountFstabOptions, NodevIsShownAndDeviceNodesCannotBeOpened) {
  ASSERT_TRUE(remountWith("dev"));
  EXPECT_EQ(0u, mountFlags() & ST_NODEV);
  ASSERT_EQ(0, mknod(path("null").c_str(), S_IFCHR | 0666, makedev(1, 3))) << strerror(errno);
  EXPECT_EQ("OK", writeFile(path("null"), "into the void", O_WRONLY));

  ASSERT_TRUE(remountWith("dev,nodev"));
  EXPECT_NE(0u, mountFlags() & ST_NODEV);
  EXPECT_EQ(1u, optionsShown().count("nodev"));
  EXPECT_EQ("open: EACCES", writeFile(path("null"), "into the void", O_WRONLY));
}

TEST_F(MountFstabOptions, NoatimeIsShownAndAReadLeavesTheAccessTime) {
  ASSERT_EQ("OK", writeFile(path("f"), "content"));
  ASSERT_TRUE(remountWith("noatime"));
  EXPECT_NE(0u, mountFlags() & ST_NOATIME);
  ageAtime(path("f"));
  const struct timespec before = statOf(path("f")).st_atim;
  EXPECT_EQ("content", readOr(path("f")));
  const struct stat after = statOf(path("f"));
  EXPECT_EQ(before.tv_sec, after.st_atim.tv_sec);
  EXPECT_EQ(before.tv_nsec, after.st_atim.tv_nsec);
}

TEST_F(MountFstabOptions, RelatimeAndNodiratimeAsMountFuse3PassesThemMountFine) {
  // What mount(8) and mount.fuse3 hand acidfsd for the fstab options
  // "noexec,relatime,nodiratime,nofail" (libfuse 3.14 alone refuses relatime).
  ASSERT_TRUE(remountWith("rw,noexec,relatime,nodiratime,dev,suid"));
  const unsigned long flags = mountFlags();
  EXPECT_NE(0u, flags & ST_NOEXEC);
  EXPECT_EQ(0u, flags & (ST_RDONLY | ST_NOSUID | ST_NODEV | ST_NOATIME));
  ASSERT_EQ("OK", writeFile(path("f"), "x"));
  ageAtime(path("f"));
  const time_t aged = statOf(path("f")).st_atim.tv_sec;
  EXPECT_EQ("x", readOr(path("f")));
  EXPECT_GT(statOf(path("f")).st_atim.tv_sec, aged) << "relatime: a read moves an atime older than the mtime";
}

TEST_F(MountFstabOptions, GenericOptionsOfLinuxFilesystemsMountFine) {
  // As xfstests and fstab lines give them (issue 18): each asks for what
  // acidfs does anyway (daemon/mount_options.cc, isAlreadySo).
  ASSERT_TRUE(remountWith("rw,relatime,norelatime,noacl,lazytime,nolazytime,nomand,noiversion,silent,symfollow,"
                          "dax=never,nousers,uhelper=acidfs"));
  EXPECT_EQ(0u, mountFlags() & (ST_RDONLY | ST_NOATIME));
  ASSERT_EQ("OK", writeFile(path("f"), "x"));
  EXPECT_EQ("x", readOr(path("f")));
  // noacl is true of acidfs: no POSIX ACL can be set.
  // user::rw-, group::r--, other::r-- (struct posix_acl_xattr_header, then entries {tag, perm, id}).
  const uint32_t header = 2;
  const struct { uint16_t tag, perm; uint32_t id; } entries[] = {{0x01, 6, ~0u}, {0x04, 4, ~0u}, {0x20, 4, ~0u}};
  std::string acl(reinterpret_cast<const char*>(&header), sizeof header);
  acl.append(reinterpret_cast<const char*>(entries), sizeof entries);
  EXPECT_EQ("EOPNOTSUPP",
            errnoAfter(setxattr(path("f").c_str(), "system.posix_acl_access", acl.data(), acl.size(), 0)));
}

TEST_F(MountFstabOptions, StrictatimeMovesAtimeAtEveryReadAndOverridesNoatime) {
  ASSERT_TRUE(remountWith("noatime,strictatime"));
  EXPECT_EQ(0u, mountFlags() & ST_NOATIME) << "MS_STRICTATIME clears noatime";
  ASSERT_EQ("OK", writeFile(path("f"), "content"));
  EXPECT_EQ("content", readOr(path("f")));
  const struct timespec first = statOf(path("f")).st_atim;
  sleepMs(20);
  EXPECT_EQ("content", readOr(path("f")));  // from the page cache: the close still reaches the daemon
  const struct timespec second = statOf(path("f")).st_atim;
  EXPECT_TRUE(second.tv_sec > first.tv_sec || (second.tv_sec == first.tv_sec && second.tv_nsec > first.tv_nsec))
      << "strictatime: the second read moves atime again (relatime would not)";
}

TEST_F(MountFstabOptions, DirsyncReachesTheKernelAndTheMountWorks) {
  ASSERT_TRUE(remountWith("dirsync"));
  EXPECT_EQ(1u, optionsShown().count("dirsync"));
  ASSERT_EQ(0, mkdir(path("d").c_str(), 0755)) << strerror(errno);
  ASSERT_EQ("OK", writeFile(path("d/f"), "x"));
  ASSERT_TRUE(remountWith(""));
  EXPECT_EQ("x", readOr(path("d/f")));
}

// The kernel's readahead for the mount (daemon/readahead.h) is raised to the
// largest request, max_write: a cold sequential read then comes in requests
// of that size, not of the kernel's default 128 KiB.
TEST_F(MountFstabOptions, ReadaheadIsRaisedToTheLargestRequest) {
  if (geteuid() != 0) GTEST_SKIP() << "only root may set a mount's readahead: NOT RUN";
  auto readaheadKb = [&] {
    struct stat st = statOf(mountpoint());
    std::ifstream in("/sys/class/bdi/" + std::to_string(major(st.st_dev)) + ":" + std::to_string(minor(st.st_dev)) +
                     "/read_ahead_kb");
    long kb = -1;
    in >> kb;
    return kb;
  };
  EXPECT_EQ(1024, readaheadKb()) << "max_write is 1 MiB by default";
  ASSERT_TRUE(remountWith("max_write=262144"));
  EXPECT_EQ(256, readaheadKb());
}

// ---- ro ----------------------------------------------------------------------------

TEST_F(MountFstabOptions, RoRefusesEveryPosixChangeWithErofsAndStillReads) {
  ASSERT_EQ("OK", writeFile(path("kept"), "kept content"));
  ASSERT_EQ(0, mkdir(path("d").c_str(), 0755));
  ASSERT_EQ("OK", writeFile(path("d/x"), "x"));
  ASSERT_EQ(0, setxattr(path("kept").c_str(), "user.note", "n", 1, 0)) << strerror(errno);
  ageAtime(path("kept"));
  const struct timespec atimeBefore = statOf(path("kept")).st_atim;

  ASSERT_TRUE(remountWith("ro"));
  EXPECT_NE(0u, mountFlags() & ST_RDONLY);
  EXPECT_EQ(1u, optionsShown().count("ro"));
  // Reading works.
  EXPECT_EQ("kept content", readOr(path("kept")));
  EXPECT_EQ((std::vector<std::string>{"d", "kept"}), listDir(mountpoint()));
  char note[8];
  EXPECT_EQ(1, getxattr(path("kept").c_str(), "user.note", note, sizeof note));
  // Every change is EROFS.
  EXPECT_EQ("open: EROFS", writeFile(path("kept"), "new", O_WRONLY));
  EXPECT_EQ("open: EROFS", writeFile(path("kept"), "more", O_WRONLY | O_APPEND));
  EXPECT_EQ("open: EROFS", writeFile(path("new"), "new"));
  EXPECT_EQ("EROFS", errnoAfter(truncate(path("kept").c_str(), 0)));
  EXPECT_EQ("EROFS", errnoAfter(mkdir(path("e").c_str(), 0755)));
  EXPECT_EQ("EROFS", errnoAfter(mknod(path("p").c_str(), S_IFIFO | 0644, 0)));
  EXPECT_EQ("EROFS", errnoAfter(unlink(path("kept").c_str())));
  EXPECT_EQ("EROFS", errnoAfter(unlink(path("d/x").c_str())));
  EXPECT_EQ("EROFS", errnoAfter(rmdir(path("d").c_str())));
  EXPECT_EQ("EROFS", errnoAfter(rename(path("kept").c_str(), path("moved").c_str())));
  EXPECT_EQ("EROFS", errnoAfter(link(path("kept").c_str(), path("hard").c_str())));
  EXPECT_EQ("EROFS", errnoAfter(symlink("kept", path("soft").c_str())));
  EXPECT_EQ("EROFS", errnoAfter(chmod(path("kept").c_str(), 0600)));
  EXPECT_EQ("EROFS", errnoAfter(chown(path("kept").c_str(), 1, 1)));
  EXPECT_EQ("EROFS", errnoAfter(utimensat(AT_FDCWD, path("kept").c_str(), nullptr, 0)));
  EXPECT_EQ("EROFS", errnoAfter(setxattr(path("kept").c_str(), "user.other", "v", 1, 0)));
  EXPECT_EQ("EROFS", errnoAfter(removexattr(path("kept").c_str(), "user.note")));
  // No access time is written either, though relatime would have moved this one.
  const struct stat inRo = statOf(path("kept"));
  EXPECT_EQ(atimeBefore.tv_sec, inRo.st_atim.tv_sec);
  EXPECT_EQ(atimeBefore.tv_nsec, inRo.st_atim.tv_nsec);

  // Read-write again: everything as it was.
  ASSERT_TRUE(remountWith("ro,rw"));  // the last one wins
  EXPECT_EQ(0u, mountFlags() & ST_RDONLY);
  const struct stat back = statOf(path("kept"));  // before a read here moves the atime
  EXPECT_EQ(S_IFREG | 0644, back.st_mode);
  EXPECT_EQ(atimeBefore.tv_sec, back.st_atim.tv_sec) << "the ro mount wrote an access time";
  EXPECT_EQ("kept content", readOr(path("kept")));
  EXPECT_EQ((std::vector<std::string>{"d", "kept"}), listDir(mountpoint()));
  EXPECT_EQ((std::vector<std::string>{"x"}), listDir(path("d")));
  EXPECT_EQ("OK", writeFile(path("kept"), "changed"));
}

// Needs the ioctl door to honour FuseOptions::readOnly (fuse/ioctl_door.cc):
// the kernel does not see into an ioctl, so MS_RDONLY alone does not stop it.
TEST_F(MountFstabOptions, RoRefusesChangesThroughTheIoctlDoorWithErofs) {
  ASSERT_EQ("OK", writeFile(path("kept"), "kept content"));
  ASSERT_TRUE(remountWith("ro"));
  auto saysReadOnly = [](const CommandResult& r) {
    return r.err.find("EROFS") != std::string::npos || r.err.find("ead-only") != std::string::npos;
  };
  // Reading through the door still works.
  CommandResult r = tool("blob-id kept");
  ASSERT_EQ(0, r.exitStatus) << r;
  const std::string blob = r.out.substr(0, 32);
  r = tool("stat kept");
  EXPECT_EQ(0, r.exitStatus) << r;
  // Changing through it does not.
  r = tool("cp kept copy");
  EXPECT_EQ(2, r.exitStatus) << r;
  EXPECT_TRUE(saysReadOnly(r)) << r;
  r = tool("mv kept moved");
  EXPECT_EQ(2, r.exitStatus) << r;
  EXPECT_TRUE(saysReadOnly(r)) << r;
  r = tool("rm kept --if " + blob);
  EXPECT_EQ(2, r.exitStatus) << r;
  EXPECT_TRUE(saysReadOnly(r)) << r;
  r = tool("cas kept --expect " + blob, "new content");
  EXPECT_EQ(2, r.exitStatus) << r;
  EXPECT_TRUE(saysReadOnly(r)) << r;
  EXPECT_EQ((std::vector<std::string>{"kept"}), listDir(mountpoint()));
  EXPECT_EQ("kept content", readOr(path("kept")));
}

// ---- defaults, and what only mount(8) and systemd act on -----------------------------

TEST_F(MountFstabOptions, DefaultsIsRwSuidDevExec) {
  ASSERT_TRUE(remountWith("defaults"));
  EXPECT_EQ(0u, mountFlags() & (ST_RDONLY | ST_NOSUID | ST_NODEV | ST_NOEXEC));
  ASSERT_EQ("OK", writeFile(path("script"), kScript, O_WRONLY | O_CREAT | O_TRUNC, 0755));
  EXPECT_EQ("OK", execOutcome(path("script")));
  // An explicit flag wins wherever defaults stands, as with mount(8).
  ASSERT_TRUE(remountWith("noexec,nosuid,defaults"));
  EXPECT_EQ(ST_NOEXEC | ST_NOSUID, mountFlags() & (ST_RDONLY | ST_NOSUID | ST_NODEV | ST_NOEXEC));
  EXPECT_EQ("EACCES", execOutcome(path("script")));
}

TEST_F(MountFstabOptions, RwExecSuidDevMountsWithAllOfThemOn) {
  ASSERT_TRUE(remountWith("rw,exec,suid,dev"));
  EXPECT_EQ(0u, mountFlags() & (ST_RDONLY | ST_NOSUID | ST_NODEV | ST_NOEXEC));
  ASSERT_EQ("OK", writeFile(path("script"), kScript, O_WRONLY | O_CREAT | O_TRUNC, 0755));
  EXPECT_EQ("OK", execOutcome(path("script")));
}

TEST_F(MountFstabOptions, OptionsOnlyMountAndSystemdActOnMountFine) {
  ASSERT_TRUE(remountWith("nofail,_netdev,noauto,x-systemd.automount,comment=foo"));
  // libfuse's defaults, nothing more: rw, exec, nosuid, nodev.
  EXPECT_EQ(ST_NOSUID | ST_NODEV, mountFlags() & (ST_RDONLY | ST_NOSUID | ST_NODEV | ST_NOEXEC));
  ASSERT_EQ("OK", writeFile(path("f"), "works"));
  EXPECT_EQ("works", readOr(path("f")));
  ASSERT_TRUE(remountWith("auto,nouser,x-mount.mkdir,X-foo"));
  EXPECT_EQ("works", readOr(path("f")));
}

TEST_F(MountFstabOptions, UsersImpliesNoexecNosuidNodevUnlessLifted) {
  ASSERT_TRUE(remountWith("users"));
  EXPECT_EQ(ST_NOEXEC | ST_NOSUID | ST_NODEV, mountFlags() & (ST_RDONLY | ST_NOSUID | ST_NODEV | ST_NOEXEC));
  ASSERT_TRUE(remountWith("users,exec"));
  EXPECT_EQ(ST_NOSUID | ST_NODEV, mountFlags() & (ST_RDONLY | ST_NOSUID | ST_NODEV | ST_NOEXEC));
}

// ---- refused ---------------------------------------------------------------------------

TEST_F(MountFstabOptions, UnknownOrRefusedOptionsFailByNameAndMountNothing) {
  ASSERT_TRUE(unmount());
  const std::string freshStore = storeDir() + "-never-made";
  for (const char* bad : {"frobnicate", "acl", "inlinecrypt", "dax"}) {
    for (bool foreground : {false, true}) {
      SCOPED_TRACE(std::string(bad) + (foreground ? " with -f" : " in the background"));
      std::vector<std::string> args = {"-o", std::string("rw,") + bad + ",nofail"};
      if (foreground) args.push_back("-f");
      CommandResult r = runDaemon(args);
      EXPECT_EQ(2, r.exitStatus) << r;
      EXPECT_NE(std::string::npos, r.err.find(std::string("'") + bad + "'")) << r;
      EXPECT_FALSE(isMountPoint(mountpoint()));
      EXPECT_TRUE(daemonsServing(storeDir()).empty());
      // Refused before the store is touched: a missing one is not created.
      r = runDaemon(args, freshStore);
      EXPECT_EQ(2, r.exitStatus) << r;
      EXPECT_FALSE(std::filesystem::exists(freshStore));
      EXPECT_FALSE(isMountPoint(mountpoint()));
    }
  }
  // The store is still fine.
  ASSERT_TRUE(start());
}

TEST_F(MountFstabOptions, RoOfAStoreNotYetMadeIsRefused) {
  ASSERT_TRUE(unmount());
  const std::string freshStore = storeDir() + "-never-made";
  CommandResult r = runDaemon({"-o", "ro"}, freshStore);
  EXPECT_EQ(1, r.exitStatus) << r;
  EXPECT_NE(std::string::npos, r.err.find("read-only")) << r;
  EXPECT_FALSE(std::filesystem::exists(freshStore));
  EXPECT_FALSE(isMountPoint(mountpoint()));
}

}  // namespace
}  // namespace acidfs::mounttest
