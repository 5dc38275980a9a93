// Who may do what on a real mount (SPEC §6): mounted with allow_other, other
// users see the mount under the POSIX checks. Each test acts as non-root
// users (forked children that drop to uid 4242 and friends; no passwd entry
// needed) and, after every denial, checks as root that nothing changed.
#include <grp.h>
#include <sys/xattr.h>

#include <algorithm>

#include "tests/mount_fixture.h"

namespace acidfs::mounttest {
namespace {

struct User {
  uid_t uid;
  gid_t gid;
  std::vector<gid_t> groups;
};
const User kAlice{4242, 4242, {}};
const User kBob{4243, 4243, {}};
const User kCarol{4244, 4244, {4300}};
const User kRoot{0, 0, {}};  // in group 4300 only as a supplementary group

// The outcome of a system call made in a child as an errno number, 0 for success.
int outcome(long rc) { return rc == -1 ? errno : 0; }

class MountPermissions : public MountTest {
 protected:
  MountPermissions() { mountOptions_ = "allow_other"; }

  void SetUp() override {
    if (geteuid() != 0) {
      fprintf(stderr, "\n*** SKIPPED: the permission tests switch users and must run as root ***\n\n");
      GTEST_SKIP() << "not root: cannot act as other users";
    }
    MountTest::SetUp();
  }

  // Runs `call` as `user` in a child; "OK" or the errno name it failed with.
  std::string as(const User& user, const std::function<int()>& call) {
    int code = runInChild([&] {
      if (setgroups(user.groups.size(), user.groups.data()) != 0 || setgid(user.gid) != 0 || setuid(user.uid) != 0)
        return 120;
      if (geteuid() != user.uid) return 121;
      return call();
    });
    if (code == 0) return "OK";
    if (code == 120 || code == 121) return "could not become uid " + std::to_string(user.uid);
    if (code < 0) return "timed out";
    if (code > 128) return "killed by signal " + std::to_string(code - 128);
    return errnoName(code);
  }

  // The attribute names `user` gets from listxattr(p), sorted and joined by
  // spaces, or "<ERRNO>".
  std::string xattrNamesSeenBy(const User& user, const std::string& p) {
    int out[2];
    if (pipe(out) != 0) return "<pipe>";
    std::string r = as(user, [&] {
      char list[4096];
      ssize_t n = listxattr(p.c_str(), list, sizeof list);
      if (n < 0) return errno;
      return write(out[1], list, static_cast<size_t>(n)) == n ? 0 : EIO;
    });
    ::close(out[1]);
    std::string raw;
    char buf[4096];
    for (ssize_t n; (n = read(out[0], buf, sizeof buf)) > 0;) raw.append(buf, static_cast<size_t>(n));
    ::close(out[0]);
    if (r != "OK") return "<" + r + ">";
    std::vector<std::string> names;
    for (size_t i = 0; i < raw.size(); i += names.back().size() + 1) names.push_back(raw.c_str() + i);
    std::sort(names.begin(), names.end());
    std::string joined;
    for (const std::string& n : names) joined += (joined.empty() ? "" : " ") + n;
    return joined;
  }

  // A directory made by root with exactly `mode` (umask aside).
  void makeDir(const std::string& rel, mode_t mode, uid_t uid = 0, gid_t gid = 0) {
    ASSERT_EQ(0, mkdir(path(rel).c_str(), 0700)) << strerror(errno);
    ASSERT_EQ(0, chown(path(rel).c_str(), uid, gid));
    ASSERT_EQ(0, chmod(path(rel).c_str(), mode));
  }
  void makeFile(const std::string& rel, const std::string& content, mode_t mode, uid_t uid = 0, gid_t gid = 0) {
    ASSERT_EQ("OK", writeFile(path(rel), content));
    ASSERT_EQ(0, chown(path(rel).c_str(), uid, gid));
    ASSERT_EQ(0, chmod(path(rel).c_str(), mode));
  }
};

TEST_F(MountPermissions, OtherUsersSeeTheMountWithAllowOther) {
  makeFile("public", "for everyone", 0644);
  const std::string mnt = mountpoint(), p = path("public");
  EXPECT_EQ("OK", as(kAlice, [&] {
              struct stat st;
              return outcome(stat(mnt.c_str(), &st));
            }));
  EXPECT_EQ("OK", as(kAlice,
                     [&] {
                       auto content = readFile(p);
                       return content && *content == "for everyone" ? 0 : EIO;
                     }))
      << "a 0644 file is readable by others";
}

TEST_F(MountPermissions, NonRootCannotReadARootFileOfMode0600) {
  makeFile("secret", "top secret", 0600);
  makeFile("readonly", "look, don't touch", 0644);
  const std::string secret = path("secret"), ro = path("readonly");
  EXPECT_EQ("EACCES", as(kAlice, [&] { return outcome(open(secret.c_str(), O_RDONLY)); }));
  EXPECT_EQ("EACCES", as(kAlice, [&] { return outcome(open(secret.c_str(), O_WRONLY)); }));
  EXPECT_EQ("EACCES", as(kAlice, [&] { return outcome(truncate(secret.c_str(), 0)); }));
  EXPECT_EQ("EACCES", as(kAlice, [&] { return outcome(open(ro.c_str(), O_WRONLY | O_TRUNC)); }));
  EXPECT_EQ("EACCES", as(kAlice, [&] { return outcome(open(ro.c_str(), O_RDWR)); }));
  EXPECT_EQ("EACCES", as(kAlice, [&] { return outcome(setxattr(ro.c_str(), "user.x", "1", 1, 0)); }));
  EXPECT_EQ("OK", as(kAlice, [&] { return outcome(open(ro.c_str(), O_RDONLY)); }));
  // Root: nothing changed.
  EXPECT_EQ("top secret", readOr(secret));
  EXPECT_EQ("look, don't touch", readOr(ro));
  EXPECT_EQ(0600u, lstatOf(secret).st_mode & 07777);
  EXPECT_EQ("ENODATA", errnoAfter(getxattr(ro.c_str(), "user.x", nullptr, 0)));
}

TEST_F(MountPermissions, NonRootCannotWriteIntoA0755RootDirectory) {
  makeDir("d", 0755);
  makeFile("d/f", "root's file", 0666);
  const std::string d = path("d");
  EXPECT_EQ("EACCES", as(kAlice, [&] { return outcome(open((d + "/new").c_str(), O_WRONLY | O_CREAT, 0644)); }));
  EXPECT_EQ("EACCES", as(kAlice, [&] { return outcome(mkdir((d + "/sub").c_str(), 0755)); }));
  EXPECT_EQ("EACCES", as(kAlice, [&] { return outcome(mknod((d + "/fifo").c_str(), S_IFIFO | 0644, 0)); }));
  EXPECT_EQ("EACCES", as(kAlice, [&] { return outcome(symlink("f", (d + "/link").c_str())); }));
  EXPECT_EQ("EACCES", as(kAlice, [&] { return outcome(unlink((d + "/f").c_str())); }));
  EXPECT_EQ("EACCES", as(kAlice, [&] { return outcome(rename((d + "/f").c_str(), (d + "/g").c_str())); }));
  // The file itself is 0666: writing its content is allowed, replacing its name is not.
  EXPECT_EQ("OK", as(kAlice, [&] { return outcome(open((d + "/f").c_str(), O_WRONLY)); }));
  EXPECT_EQ((std::vector<std::string>{"f"}), listDir(d)) << "the directory changed";
  EXPECT_EQ("root's file", readOr(d + "/f"));
  EXPECT_EQ(0u, lstatOf(d + "/f").st_uid);
}

TEST_F(MountPermissions, StickyDirectoryLetsUsersCreateButNotRemoveOthersFiles) {
  makeDir("tmp", 01777);
  const std::string tmp = path("tmp");
  EXPECT_EQ("OK", as(kAlice, [&] {
              std::string r = writeFile(tmp + "/alice", "alice's");
              return r == "OK" ? 0 : EIO;
            }));
  EXPECT_EQ("OK", as(kBob, [&] { return writeFile(tmp + "/bob", "bob's") == "OK" ? 0 : EIO; }));
  ASSERT_EQ(kAlice.uid, lstatOf(tmp + "/alice").st_uid);
  ASSERT_EQ(kBob.uid, lstatOf(tmp + "/bob").st_uid);

  EXPECT_EQ("EPERM", as(kBob, [&] { return outcome(unlink((tmp + "/alice").c_str())); }));
  EXPECT_EQ("EPERM", as(kBob, [&] { return outcome(rename((tmp + "/alice").c_str(), (tmp + "/stolen").c_str())); }));
  EXPECT_EQ("EPERM", as(kBob, [&] { return outcome(rename((tmp + "/bob").c_str(), (tmp + "/alice").c_str())); }))
      << "replacing another user's name in a sticky directory";
  EXPECT_EQ("EACCES", as(kBob, [&] { return outcome(open((tmp + "/alice").c_str(), O_WRONLY)); }));
  EXPECT_EQ((std::vector<std::string>{"alice", "bob"}), listDir(tmp));
  EXPECT_EQ("alice's", readOr(tmp + "/alice"));
  EXPECT_EQ("bob's", readOr(tmp + "/bob"));
  EXPECT_EQ(kAlice.uid, lstatOf(tmp + "/alice").st_uid);

  // Their own files they may rename and delete.
  EXPECT_EQ("OK", as(kBob, [&] { return outcome(rename((tmp + "/bob").c_str(), (tmp + "/bob2").c_str())); }));
  EXPECT_EQ("OK", as(kBob, [&] { return outcome(unlink((tmp + "/bob2").c_str())); }));
  EXPECT_EQ("OK", as(kAlice, [&] { return outcome(unlink((tmp + "/alice").c_str())); }));
  EXPECT_EQ(std::vector<std::string>{}, listDir(tmp));
}

TEST_F(MountPermissions, ChmodOfSomeoneElsesFileIsEpermTheirOwnWorks) {
  makeDir("pub", 0777);
  const std::string f = path("pub/alices");
  EXPECT_EQ("OK", as(kAlice, [&] { return writeFile(f, "mine") == "OK" ? 0 : EIO; }));
  ASSERT_EQ(0644u, lstatOf(f).st_mode & 07777);

  EXPECT_EQ("EPERM", as(kBob, [&] { return outcome(chmod(f.c_str(), 0666)); }));
  EXPECT_EQ("EPERM", as(kBob, [&] { return outcome(chown(f.c_str(), kBob.uid, kBob.gid)); }));
  const timespec times[2] = {{1000, 0}, {1000, 0}};
  EXPECT_EQ("EPERM", as(kBob, [&] { return outcome(utimensat(AT_FDCWD, f.c_str(), times, 0)); }));
  EXPECT_EQ("EACCES", as(kBob, [&] { return outcome(utimensat(AT_FDCWD, f.c_str(), nullptr, 0)); }))
      << "setting the times to now needs write permission";
  struct stat st = lstatOf(f);
  EXPECT_EQ(0644u, st.st_mode & 07777) << "nothing changed";
  EXPECT_EQ(kAlice.uid, st.st_uid);
  EXPECT_NE(1000, st.st_mtim.tv_sec);

  EXPECT_EQ("OK", as(kAlice, [&] { return outcome(chmod(f.c_str(), 0600)); }));
  EXPECT_EQ("OK", as(kAlice, [&] { return outcome(utimensat(AT_FDCWD, f.c_str(), times, 0)); }));
  EXPECT_EQ("EPERM", as(kAlice, [&] { return outcome(chown(f.c_str(), kBob.uid, -1)); }))
      << "a user cannot give a file away";
  EXPECT_EQ("EPERM", as(kAlice, [&] { return outcome(chown(f.c_str(), -1, 4300)); }))
      << "nor hand it to a group she is not in";
  st = lstatOf(f);
  EXPECT_EQ(0600u, st.st_mode & 07777);
  EXPECT_EQ(1000, st.st_mtim.tv_sec);
  EXPECT_EQ(kAlice.uid, st.st_uid);
  EXPECT_EQ(kAlice.gid, st.st_gid);
  EXPECT_EQ("EACCES", as(kBob, [&] { return outcome(open(f.c_str(), O_RDONLY)); })) << "now 0600";
}

TEST_F(MountPermissions, WriteByAnotherUserClearsSetuid) {
  makeFile("tool", "#!/bin/sh\n", 06777);
  const std::string f = path("tool");
  EXPECT_EQ("OK", as(kAlice, [&] {
              int fd = open(f.c_str(), O_WRONLY | O_APPEND);
              return fd >= 0 && write(fd, "# changed\n", 10) == 10 && close(fd) == 0 ? 0 : errno;
            }));
  const mode_t mode = lstatOf(f).st_mode & 07777;
  EXPECT_EQ(0u, mode & S_ISUID) << "setuid survived a write by another user: " << std::oct << mode;
  EXPECT_EQ(0u, mode & S_ISGID) << "setgid (with group exec) survived: " << std::oct << mode;
  EXPECT_EQ("#!/bin/sh\n# changed\n", readOr(f));
}

TEST_F(MountPermissions, TrustedXattrsAreForRootOnly) {
  makeFile("f", "x", 0666);
  const std::string f = path("f");
  ASSERT_EQ(0, setxattr(f.c_str(), "trusted.admin", "1", 1, 0)) << strerror(errno);
  EXPECT_EQ("EPERM", as(kAlice, [&] { return outcome(setxattr(f.c_str(), "trusted.mine", "1", 1, 0)); }));
  EXPECT_EQ("EPERM", as(kAlice, [&] { return outcome(removexattr(f.c_str(), "trusted.admin")); }));
  EXPECT_EQ("OK", as(kAlice, [&] { return outcome(setxattr(f.c_str(), "user.mine", "1", 1, 0)); }))
      << "user.* follows write permission";
  EXPECT_EQ("user.mine", xattrNamesSeenBy(kAlice, f))
      << "Linux lists trusted.* only to CAP_SYS_ADMIN (ext4, tmpfs: trusted_xattr_list)";
  EXPECT_EQ("trusted.admin user.mine", xattrNamesSeenBy(kRoot, f));
  EXPECT_EQ("ENODATA", as(kAlice,
                          [&] {
                            char v[8];
                            return outcome(getxattr(f.c_str(), "trusted.admin", v, sizeof v));
                          }))
      << "nor lets others read it";
  char value[8];
  EXPECT_EQ(1, getxattr(f.c_str(), "trusted.admin", value, sizeof value));
  EXPECT_EQ("ENODATA", errnoAfter(getxattr(f.c_str(), "trusted.mine", value, sizeof value)));
}

TEST_F(MountPermissions, SupplementaryGroupGrantsGroupAccess) {
  makeFile("group-file", "for group 4300", 0640, 0, 4300);
  const std::string f = path("group-file");
  EXPECT_EQ("OK", as(kCarol, [&] { return outcome(open(f.c_str(), O_RDONLY)); }));
  EXPECT_EQ("EACCES", as(kCarol, [&] { return outcome(open(f.c_str(), O_WRONLY)); }));
  EXPECT_EQ("EACCES", as(kAlice, [&] { return outcome(open(f.c_str(), O_RDONLY)); }));
  EXPECT_EQ("for group 4300", readOr(f));
}

TEST_F(MountPermissions, UserCreatesInASetgidDirectoryWithItsGroup) {
  makeDir("team", 02777, 0, 4300);
  const std::string team = path("team");
  EXPECT_EQ("OK", as(kAlice, [&] { return writeFile(team + "/report", "x") == "OK" ? 0 : EIO; }));
  EXPECT_EQ("OK", as(kAlice, [&] { return outcome(mkdir((team + "/sub").c_str(), 0755)); }));
  struct stat report = lstatOf(team + "/report"), sub = lstatOf(team + "/sub");
  EXPECT_EQ(kAlice.uid, report.st_uid);
  EXPECT_EQ(4300u, report.st_gid);
  EXPECT_EQ(4300u, sub.st_gid);
  EXPECT_TRUE(sub.st_mode & S_ISGID);
}

}  // namespace
}  // namespace acidfs::mounttest
