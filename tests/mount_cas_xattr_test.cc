// Compare-and-swap from the shell (SPEC §4.2): user.acidfs.blob_id and
// user.acidfs.dest_basis on a real mount, through getfattr, setfattr and mv
// as a script uses them, and through the system calls they make.
#include <errno.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include <string>

#include "tests/mount_fixture.h"

namespace acidfs::mounttest {
namespace {

class MountCasXattr : public MountTest {
 protected:
  // getfattr --only-values, as a script reads it.
  std::string blobIdOf(const std::string& rel) {
    CommandResult r = sh("getfattr --only-values -n user.acidfs.blob_id '" + path(rel) + "'");
    EXPECT_TRUE(r.ok()) << r;
    return r.out;
  }
  int getErrno(const std::string& rel, const char* name) {
    char buf[256];
    return getxattr(path(rel).c_str(), name, buf, sizeof buf) < 0 ? errno : 0;
  }
  int setErrno(const std::string& rel, const char* name, const std::string& value) {
    return setxattr(path(rel).c_str(), name, value.data(), value.size(), 0) < 0 ? errno : 0;
  }
};

TEST_F(MountCasXattr, BlobIdIsTheContentsIdAndFollowsTheContent) {
  ASSERT_EQ("OK", writeFile(path("a"), "hello"));
  ASSERT_EQ("OK", writeFile(path("b"), "hello"));
  ASSERT_EQ("OK", writeFile(path("c"), "other"));
  ASSERT_EQ("OK", writeFile(path("empty"), ""));
  const std::string a = blobIdOf("a");
  EXPECT_EQ(32u, a.size()) << a;
  EXPECT_EQ(a, blobIdOf("b")) << "equal content, equal blobId";
  EXPECT_NE(a, blobIdOf("c"));
  EXPECT_EQ("02f9c633070d0b8d6d5712a45690de04", blobIdOf("empty")) << "the documented empty blobId";
  ASSERT_EQ("OK", writeFile(path("c"), "hello"));
  EXPECT_EQ(a, blobIdOf("c")) << "changed back: the old id again";
}

TEST_F(MountCasXattr, BlobIdCommitsPendingWritesFirst) {
  ASSERT_EQ("OK", writeFile(path("ref"), "written, not closed"));
  Fd fd(open(path("f").c_str(), O_CREAT | O_WRONLY, 0644));
  ASSERT_TRUE(fd.ok());
  const std::string data = "written, not closed";
  ASSERT_EQ(static_cast<ssize_t>(data.size()), write(fd.get(), data.data(), data.size()));
  EXPECT_EQ(blobIdOf("ref"), blobIdOf("f")) << "the id of what a read returns now";
}

TEST_F(MountCasXattr, VirtualAttributesAreNeverListedAndOthersAreStored) {
  ASSERT_EQ("OK", writeFile(path("f"), "x"));
  ASSERT_EQ(0, setErrno("f", "user.acidfs.dest_basis", "absent"));
  ASSERT_EQ(0, setErrno("f", "user.note", "kept"));
  char names[1024];
  ssize_t n = listxattr(path("f").c_str(), names, sizeof names);
  ASSERT_GE(n, 0) << strerror(errno);
  EXPECT_EQ(std::string("user.note", 10), std::string(names, static_cast<size_t>(n)));
}

TEST_F(MountCasXattr, WrongNamesAndValuesAreEinvalAndDirectoriesHaveNoBlobId) {
  ASSERT_EQ("OK", writeFile(path("f"), "x"));
  ASSERT_EQ(0, mkdir(path("d").c_str(), 0755));
  EXPECT_EQ(EINVAL, setErrno("f", "user.acidfs.blob_id", "0123456789abcdef0123456789abcdef"));
  EXPECT_EQ(EINVAL, setErrno("f", "user.acidfs.something", "x"));
  EXPECT_EQ(EINVAL, setErrno("f", "user.acidfs.dest_basis", "not-a-blob-id"));
  EXPECT_EQ(EINVAL, setErrno("f", "user.acidfs.dest_basis", "absent\n"));
  EXPECT_EQ(EINVAL, setErrno("f", "user.acidfs.dest_basis", std::string(31, 'a')));
  EXPECT_EQ(EINVAL, setErrno("d", "user.acidfs.dest_basis", "absent"));
  EXPECT_EQ(ENODATA, getErrno("d", "user.acidfs.blob_id"));
  EXPECT_EQ(ENODATA, getErrno("f", "user.acidfs.dest_basis")) << "none set";
  EXPECT_EQ(0, getErrno("f", "user.acidfs.blob_id"));
}

// The idiom of SPEC §4.2, verbatim: a script replaces photo.jpg only if it is
// still what the script read.
TEST_F(MountCasXattr, TheShellIdiomReplacesAnUnchangedFile) {
  ASSERT_EQ("OK", writeFile(path("photo.jpg"), "original"));
  ASSERT_TRUE(sh("b=$(getfattr --only-values -n user.acidfs.blob_id photo.jpg) && "
                 "printf cropped > .photo.new && "
                 "setfattr -n user.acidfs.dest_basis -v \"$b\" .photo.new && "
                 "mv .photo.new photo.jpg",
                 60, mountpoint())
                  .ok());
  EXPECT_EQ("cropped", readOr(path("photo.jpg")));
  EXPECT_EQ(-1, access(path(".photo.new").c_str(), F_OK));
  EXPECT_EQ(ENODATA, getErrno("photo.jpg", "user.acidfs.dest_basis")) << "consumed by the rename";
}

TEST_F(MountCasXattr, AChangedDestinationRefusesTheMoveAndLeavesBothFiles) {
  ASSERT_EQ("OK", writeFile(path("photo.jpg"), "original"));
  const std::string b = blobIdOf("photo.jpg");
  ASSERT_EQ("OK", writeFile(path("photo.jpg"), "edited by someone else"));
  ASSERT_EQ("OK", writeFile(path(".photo.new"), "cropped"));
  ASSERT_EQ(0, setErrno(".photo.new", "user.acidfs.dest_basis", b));
  CommandResult r = sh("mv .photo.new photo.jpg", 60, mountpoint());
  EXPECT_NE(0, r.exitStatus);
  EXPECT_NE(std::string::npos, r.err.find("Operation canceled")) << r;
  EXPECT_EQ(ECANCELED, rename(path(".photo.new").c_str(), path("photo.jpg").c_str()) == 0 ? 0 : errno);
  EXPECT_EQ("edited by someone else", readOr(path("photo.jpg")));
  EXPECT_EQ("cropped", readOr(path(".photo.new")));
  EXPECT_EQ(0, getErrno(".photo.new", "user.acidfs.dest_basis")) << "kept: the rename failed";
}

TEST_F(MountCasXattr, AbsentBasisRefusesAnExistingDestinationWithEexist) {
  ASSERT_EQ("OK", writeFile(path("taken"), "first"));
  ASSERT_EQ("OK", writeFile(path("new"), "second"));
  ASSERT_EQ(0, setErrno("new", "user.acidfs.dest_basis", "absent"));
  CommandResult r = sh("mv new taken", 60, mountpoint());
  EXPECT_NE(0, r.exitStatus);
  EXPECT_NE(std::string::npos, r.err.find("File exists")) << r;
  EXPECT_EQ("first", readOr(path("taken")));
  EXPECT_EQ("second", readOr(path("new")));
  // Onto a free name it goes, and the basis is consumed.
  ASSERT_EQ(0, rename(path("new").c_str(), path("free").c_str())) << strerror(errno);
  EXPECT_EQ("second", readOr(path("free")));
  EXPECT_EQ(ENODATA, getErrno("free", "user.acidfs.dest_basis"));
}

TEST_F(MountCasXattr, ABlobIdBasisOntoAMissingDestinationIsEnoent) {
  ASSERT_EQ("OK", writeFile(path("new"), "x"));
  ASSERT_EQ(0, setErrno("new", "user.acidfs.dest_basis", blobIdOf("new")));
  EXPECT_EQ(ENOENT, rename(path("new").c_str(), path("missing").c_str()) == 0 ? 0 : errno);
  EXPECT_EQ("x", readOr(path("new")));
}

TEST_F(MountCasXattr, BasisComparesTheDestinationsUnclosedWrites) {
  ASSERT_EQ("OK", writeFile(path("dest"), "v1"));
  const std::string v1 = blobIdOf("dest");
  Fd fd(open(path("dest").c_str(), O_WRONLY));
  ASSERT_TRUE(fd.ok());
  ASSERT_EQ(2, pwrite(fd.get(), "v2", 2, 0));  // not closed: still a draft
  ASSERT_EQ("OK", writeFile(path("new"), "v3"));
  ASSERT_EQ(0, setErrno("new", "user.acidfs.dest_basis", v1));
  EXPECT_EQ(ECANCELED, rename(path("new").c_str(), path("dest").c_str()) == 0 ? 0 : errno)
      << "a read of dest returns v2, not v1";
  EXPECT_EQ("v2", readOr(path("dest")));
}

// Four shell processes take 10 units each from a balance of 100, each
// update a getfattr / setfattr / mv compare-and-swap retried on conflict:
// the balance must end at exactly 60 (a lost update would leave more).
TEST_F(MountCasXattr, ConcurrentShellProcessesDecrementingByCasEndAtTheExactTotal) {
  ASSERT_EQ("OK", writeFile(path("balance"), "100"));
  const std::string worker =
      "for i in $(seq 10); do "
      "  while :; do "
      "    b=$(getfattr --only-values -n user.acidfs.blob_id balance) || exit 3; "
      "    v=$(cat balance); "
      "    echo $((v - 1)) > .next.$1; "
      "    setfattr -n user.acidfs.dest_basis -v \"$b\" .next.$1 || exit 4; "
      "    mv .next.$1 balance 2>/dev/null && break; "
      "    rm -f .next.$1; "
      "  done; "
      "done";
  CommandResult r = shConcurrently(4, worker);
  ASSERT_TRUE(r.ok()) << r;
  EXPECT_EQ("60\n", readOr(path("balance")));
}

}  // namespace
}  // namespace acidfs::mounttest
