// Who may do what (SPEC §6): the path-based operations of cas_ops.h allow
// exactly what the equivalent POSIX calls would — a move what rename(2)
// needs, a copy what reading the source and creating the dest need, a delete
// what unlink(2) needs, sticky directories included — for several callers.
// After every denied attempt the tree, the blobIds and the store's counts are
// exactly as before.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/cas_ops.h"
#include "core/format.h"
#include "core/store.h"
#include "core/virtual_xattrs.h"
#include "tests/cas_test_util.h"
#include "tests/test_util.h"

namespace acidfs {

namespace {

using namespace ::acidfs::testing::ops;
using ::acidfs::testing::StoreFixture;
using ::acidfs::testing::statusOf;
using ::acidfs::testing::writeFile;

// The cast: root, the owner of most files, a member of the owner's group,
// someone else, and someone in the group only through a supplementary group.
const Caller kRoot = Caller::root();
const Caller kOwner = Caller::of(1000, 100);
const Caller kGroupMember = Caller::of(1001, 100);
const Caller kOther = Caller::of(1002, 1002);
const Caller kSupplementary = Caller::of(1003, 1003, {100, 200});

#define EXPECT_ALLOWED(call)                                                              \
  do {                                                                                    \
    auto&& result_ = (call);                                                              \
    EXPECT_TRUE(statusOf(result_).ok()) << #call << " -> " << statusOf(result_).toString(); \
  } while (0)

class Permissions : public StoreFixture {
 protected:
  // The tree, built as root with each node owned by the caller named:
  //
  //   /home           0755 root
  //   /private        0700 1000:100     f.txt 0644 1000
  //   /nosearch       0644 1000:100     f.txt 0644 1000   (readable, not searchable)
  //   /readonly       0555 1000:100     f.txt 0666 1000
  //   /shared         0770 1000:100     g.txt 0660 1000:100
  //   /pub            0777 root         open.txt 0666, ro.txt 0644, secret.txt 0600 (all 1000)
  //   /drop           0777 root         (empty: a place to copy and move to)
  //   /tmp           01777 root         owners.txt 0666 1000, others.txt 0666 1002
  //   /tmp-1001      01777 1001         owners.txt 0666 1000
  void SetUp() override {
    StoreFixture::SetUp();
    if (::testing::Test::HasFatalFailure()) return;
    dir("/", "private", 0700, kOwner);
    file("/private", "f.txt", "in private", 0644, kOwner);
    dir("/", "nosearch", 0644, kOwner);
    file("/nosearch", "f.txt", "behind a directory without x", 0644, kOwner);
    dir("/", "readonly", 0555, kOwner);
    file("/readonly", "f.txt", "in a read-only directory", 0666, kOwner);
    dir("/", "shared", 0770, kOwner);
    file("/shared", "g.txt", "for the group", 0660, kOwner);
    dir("/", "pub", 0777, kRoot);
    file("/pub", "open.txt", "anyone may write", 0666, kOwner);
    file("/pub", "ro.txt", "owner writes, all read", 0644, kOwner);
    file("/pub", "secret.txt", "only the owner reads this", 0600, kOwner);
    dir("/", "drop", 0777, kRoot);
    dir("/", "tmp", 01777, kRoot);
    file("/tmp", "owners.txt", "the owner's, in /tmp", 0666, kOwner);
    file("/tmp", "others.txt", "someone else's, in /tmp", 0666, kOther);
    dir("/", "tmp-1001", 01777, kGroupMember);
    file("/tmp-1001", "owners.txt", "the owner's, in 1001's sticky dir", 0666, kOwner);
  }

  uint64_t inoOf(const std::string& path) {
    if (path == "/") return kRootIno;
    auto st = cas().stat(kRoot, path);
    EXPECT_TRUE(st.ok()) << path << ": " << st.status().toString();
    return st.ok() ? st->ino : 0;
  }
  void setMode(uint64_t ino, uint32_t mode) {
    SetAttrRequest req;
    req.mode = mode;
    auto set = ns().setattr(ino, req);
    ASSERT_TRUE(set.ok()) << set.status().toString();
    EXPECT_EQ(set->inode.mode & 07777, mode);
  }
  void dir(const std::string& parent, const std::string& name, uint32_t mode, const Caller& owner) {
    auto made = ns().mkdir(owner, inoOf(parent), name, mode);
    ASSERT_TRUE(made.ok()) << name << ": " << made.status().toString();
    EXPECT_EQ(made->inode.uid, owner.uid);
    setMode(made->ino, mode);
  }
  void file(const std::string& parent, const std::string& name, const std::string& content, uint32_t mode,
            const Caller& owner) {
    auto made = ns().mknod(owner, inoOf(parent), name, S_IFREG | mode, 0);
    ASSERT_TRUE(made.ok()) << name << ": " << made.status().toString();
    EXPECT_EQ(made->inode.uid, owner.uid);
    ASSERT_TRUE(writeFile(ns(), made->ino, 0, content).ok());
    setMode(made->ino, mode);
  }
  Id128 blobOf(const std::string& path) {
    auto st = cas().stat(kRoot, path);
    EXPECT_TRUE(st.ok()) << path << ": " << st.status().toString();
    return st.ok() && st->blob ? *st->blob : Id128::zero();
  }
  bool exists(const std::string& path) { return cas().stat(kRoot, path).ok(); }
  Result<std::vector<std::string>> transact(const Caller& who, std::vector<TransactOp> ops) {
    return cas().transact(who, ops);
  }
  Id128 put(const Caller& who, const std::string& bytes) {
    auto id = cas().put(who, bytes);
    EXPECT_TRUE(id.ok()) << id.status().toString();
    return id.ok() ? *id : Id128::zero();
  }

  std::string describeTree() { return ::acidfs::testing::describeTree(*store_); }
};

// ---- stat -----------------------------------------------------------------------------

TEST_F(Permissions, StatNeedsSearchPermissionOnEveryDirectory) {
  EXPECT_ALLOWED(cas().stat(kRoot, "/private/f.txt"));
  EXPECT_ALLOWED(cas().stat(kOwner, "/private/f.txt"));
  EXPECT_DENIED(cas().stat(kGroupMember, "/private/f.txt"), EACCES);
  EXPECT_DENIED(cas().stat(kOther, "/private/f.txt"), EACCES);
  // Without x even the owner cannot look inside; root can.
  EXPECT_DENIED(cas().stat(kOwner, "/nosearch/f.txt"), EACCES);
  EXPECT_DENIED(cas().stat(kOther, "/nosearch/f.txt"), EACCES);
  EXPECT_ALLOWED(cas().stat(kRoot, "/nosearch/f.txt"));
  // The directory itself needs only search permission on its parent.
  auto dir = cas().stat(kOther, "/private");
  ASSERT_TRUE(dir.ok()) << dir.status().toString();
  EXPECT_FALSE(dir->blob.has_value());
}

TEST_F(Permissions, StatOfAnUnreadableFileDoesNotRevealItsBlobId) {
  const Id128 secret = blobOf("/pub/secret.txt");
  for (const Caller& who : {kGroupMember, kOther, kSupplementary}) {
    SCOPED_TRACE(who.uid);
    const std::string before = describeTree();
    auto st = cas().stat(who, "/pub/secret.txt");
    if (st.ok()) {
      EXPECT_FALSE(st->blob.has_value()) << "a blobId tells about content: it needs read permission";
    } else {
      EXPECT_EQ(st.status().errnum(), EACCES) << st.status().toString();
    }
    EXPECT_EQ(describeTree(), before);
  }
  auto owner = cas().stat(kOwner, "/pub/secret.txt");
  ASSERT_TRUE(owner.ok()) << owner.status().toString();
  EXPECT_EQ(owner->blob, secret);
  // A readable file's blobId is anyone's to see.
  auto open = cas().stat(kOther, "/pub/ro.txt");
  ASSERT_TRUE(open.ok()) << open.status().toString();
  EXPECT_EQ(open->blob, blobOf("/pub/ro.txt"));
}

// ---- move -----------------------------------------------------------------------------

TEST_F(Permissions, MoveNeedsWriteOnTheSourceDirectory) {
  EXPECT_DENIED(transact(kOwner, {Move("/readonly/f.txt", "/drop/f.txt")}), EACCES);
  EXPECT_DENIED(transact(kOther, {Move("/readonly/f.txt", "/drop/f.txt")}), EACCES);
  EXPECT_ALLOWED(transact(kRoot, {Move("/readonly/f.txt", "/drop/f.txt")}));
  EXPECT_FALSE(exists("/readonly/f.txt"));
}

TEST_F(Permissions, MoveNeedsWriteOnTheDestDirectory) {
  EXPECT_DENIED(transact(kOwner, {Move("/pub/open.txt", "/readonly/open.txt")}), EACCES);
  EXPECT_DENIED(transact(kOther, {Move("/pub/open.txt", "/readonly/open.txt")}), EACCES);
  // Replacing an existing file there, too.
  EXPECT_DENIED(transact(kOther, {Move("/pub/open.txt", "/readonly/f.txt")}), EACCES);
  EXPECT_ALLOWED(transact(kRoot, {Move("/pub/open.txt", "/readonly/open.txt")}));
}

TEST_F(Permissions, MoveOutOfAnUnsearchableDirectoryIsDenied) {
  EXPECT_DENIED(transact(kGroupMember, {Move("/private/f.txt", "/drop/f.txt")}), EACCES);
  EXPECT_DENIED(transact(kOther, {Move("/private/f.txt", "/drop/f.txt")}), EACCES);
  EXPECT_DENIED(transact(kOwner, {Move("/nosearch/f.txt", "/drop/f.txt")}), EACCES);
  EXPECT_DENIED(transact(kOther, {Move("/pub/open.txt", "/private/open.txt")}), EACCES);
  EXPECT_ALLOWED(transact(kOwner, {Move("/private/f.txt", "/drop/f.txt")}));
}

TEST_F(Permissions, MoveNeedsNoPermissionOnTheFileItself) {
  // rename(2) in a writable, non-sticky directory: the file's own mode does not matter.
  const Id128 secret = blobOf("/pub/secret.txt");
  EXPECT_ALLOWED(transact(kOther, {Move("/pub/secret.txt", "/drop/secret.txt", Basis::absent())}));
  EXPECT_EQ(blobOf("/drop/secret.txt"), secret);
}

TEST_F(Permissions, MoveCheckingTheBlobOfAnUnreadableFileIsDenied) {
  // A source precondition reads the content's id: that needs read permission,
  // or the blobId would leak what the file holds.
  const Id128 secret = blobOf("/pub/secret.txt");
  EXPECT_DENIED(transact(kOther, {Move("/pub/secret.txt", secret, "/drop/secret.txt")}), EACCES);
  EXPECT_DENIED(transact(kOther, {Delete("/pub/secret.txt", secret)}), EACCES);
  // A dest basis reads the dest's blobId.
  EXPECT_DENIED(transact(kOther, {Move("/pub/open.txt", "/pub/secret.txt", Basis::of(secret))}), EACCES);
}

// ---- copy -----------------------------------------------------------------------------

TEST_F(Permissions, CopyNeedsReadPermissionOnTheSource) {
  EXPECT_DENIED(transact(kGroupMember, {Copy("/pub/secret.txt", "/drop/stolen.txt")}), EACCES);
  EXPECT_DENIED(transact(kOther, {Copy("/pub/secret.txt", "/drop/stolen.txt")}), EACCES);
  EXPECT_DENIED(transact(kSupplementary, {Copy("/pub/secret.txt", "/drop/stolen.txt")}), EACCES);
  EXPECT_ALLOWED(transact(kOwner, {Copy("/pub/secret.txt", "/drop/mine.txt")}));
  EXPECT_ALLOWED(transact(kRoot, {Copy("/pub/secret.txt", "/drop/roots.txt")}));
  EXPECT_ALLOWED(transact(kOther, {Copy("/pub/ro.txt", "/drop/ro-copy.txt")}));
}

TEST_F(Permissions, KnowingTheBlobIdGrantsNothing) {
  // The right blobId in hand, a caller who may not read still cannot copy.
  const Id128 secret = blobOf("/pub/secret.txt");
  EXPECT_DENIED(transact(kOther, {Copy("/pub/secret.txt", secret, "/drop/stolen.txt", Basis::absent())}), EACCES);
  // Nor commit it somewhere it can read: a commit needs the caller's own lease.
  EXPECT_DENIED(cas().commit(kOther, "/drop/stolen.txt", secret, Basis::absent()), ENOENT);
}

TEST_F(Permissions, CopyNeedsWriteAndSearchOnTheDestDirectory) {
  EXPECT_DENIED(transact(kOwner, {Copy("/pub/open.txt", "/readonly/copy.txt")}), EACCES);
  EXPECT_DENIED(transact(kOther, {Copy("/pub/open.txt", "/private/copy.txt")}), EACCES);
  EXPECT_DENIED(transact(kOwner, {Copy("/pub/open.txt", "/nosearch/copy.txt")}), EACCES);
  EXPECT_ALLOWED(transact(kOwner, {Copy("/pub/open.txt", "/private/copy.txt")}));
}

TEST_F(Permissions, CopyOutOfAnUnsearchableDirectoryIsDenied) {
  EXPECT_DENIED(transact(kOther, {Copy("/private/f.txt", "/drop/f.txt")}), EACCES);
  EXPECT_DENIED(transact(kGroupMember, {Copy("/private/f.txt", "/drop/f.txt")}), EACCES);
  EXPECT_ALLOWED(transact(kOwner, {Copy("/private/f.txt", "/drop/f.txt")}));
}

TEST_F(Permissions, ACopyBelongsToTheCaller) {
  EXPECT_ALLOWED(transact(kOther, {Copy("/pub/ro.txt", "/drop/copy.txt", Basis::absent())}));
  auto st = cas().stat(kRoot, "/drop/copy.txt");
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->inode.uid, kOther.uid);
  EXPECT_EQ(st->blob, blobOf("/pub/ro.txt"));
}

TEST_F(Permissions, GroupPermissionsApplyToMembersOnly) {
  EXPECT_ALLOWED(transact(kGroupMember, {Copy("/shared/g.txt", "/shared/g2.txt", Basis::absent())}));
  EXPECT_ALLOWED(transact(kSupplementary, {Copy("/shared/g.txt", "/shared/g3.txt", Basis::absent())}));
  EXPECT_DENIED(transact(kOther, {Copy("/shared/g.txt", "/drop/g.txt")}), EACCES);
  EXPECT_DENIED(transact(kOther, {Delete("/shared/g.txt")}), EACCES);
  EXPECT_DENIED(cas().stat(kOther, "/shared/g.txt"), EACCES);
  EXPECT_ALLOWED(transact(kGroupMember, {Delete("/shared/g2.txt")}));
}

// ---- delete ---------------------------------------------------------------------------

TEST_F(Permissions, DeleteNeedsWriteOnTheDirectory) {
  EXPECT_DENIED(transact(kOwner, {Delete("/readonly/f.txt")}), EACCES);
  EXPECT_DENIED(transact(kOther, {Delete("/readonly/f.txt")}), EACCES);
  EXPECT_DENIED(transact(kOther, {Delete("/private/f.txt")}), EACCES);
  EXPECT_DENIED(transact(kOwner, {Delete("/nosearch/f.txt")}), EACCES);
  EXPECT_ALLOWED(transact(kRoot, {Delete("/readonly/f.txt")}));
  EXPECT_ALLOWED(transact(kOwner, {Delete("/private/f.txt")}));
}

TEST_F(Permissions, DeleteNeedsNoPermissionOnTheFileItself) {
  // unlink(2) in a writable, non-sticky directory.
  EXPECT_ALLOWED(transact(kOther, {Delete("/pub/secret.txt")}));
  EXPECT_FALSE(exists("/pub/secret.txt"));
}

// ---- the sticky bit -------------------------------------------------------------------

TEST_F(Permissions, StickyDirectoryStopsOthersFromDeletingOrMovingAFile) {
  for (const Caller& who : {kOther, kGroupMember}) {
    SCOPED_TRACE(who.uid);
    EXPECT_DENIED(transact(who, {Delete("/tmp/owners.txt")}), EPERM);
    EXPECT_DENIED(transact(who, {Move("/tmp/owners.txt", "/tmp/taken.txt")}), EPERM);
    EXPECT_DENIED(transact(who, {Move("/tmp/owners.txt", "/drop/taken.txt")}), EPERM);
  }
  // Nor replace it by moving one's own file over it.
  EXPECT_DENIED(transact(kOther, {Move("/tmp/others.txt", "/tmp/owners.txt")}), EPERM);
  // A later op's denial undoes the earlier ops too.
  EXPECT_DENIED(transact(kOther, {Copy("/pub/ro.txt", "/tmp/mine.txt"), Delete("/tmp/owners.txt")}), EPERM);
}

TEST_F(Permissions, StickyDirectoryLetsTheFileOwnerTheDirectoryOwnerAndRootRemove) {
  EXPECT_ALLOWED(transact(kOther, {Move("/tmp/others.txt", "/tmp/renamed.txt")}));
  EXPECT_ALLOWED(transact(kOther, {Delete("/tmp/renamed.txt")}));
  EXPECT_ALLOWED(transact(kOwner, {Move("/tmp/owners.txt", "/tmp/o.txt")}));
  EXPECT_ALLOWED(transact(kRoot, {Delete("/tmp/o.txt")}));
  // 1001 owns /tmp-1001, not the file in it.
  EXPECT_DENIED(transact(kOther, {Delete("/tmp-1001/owners.txt")}), EPERM);
  EXPECT_ALLOWED(transact(kGroupMember, {Delete("/tmp-1001/owners.txt")}));
}

TEST_F(Permissions, StickyDirectoryStillLetsOthersReadAndCreate) {
  EXPECT_ALLOWED(transact(kOther, {Copy("/tmp/owners.txt", "/tmp/copy-by-other.txt", Basis::absent())}));
  auto st = cas().stat(kRoot, "/tmp/copy-by-other.txt");
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->inode.uid, kOther.uid);
  EXPECT_EQ(st->blob, blobOf("/tmp/owners.txt"));
}

// ---- commit and put -------------------------------------------------------------------

TEST_F(Permissions, EveryoneMayPut) {
  const std::string bytes = "anyone may store bytes";
  Id128 first = put(kRoot, bytes);
  for (const Caller& who : {kOwner, kGroupMember, kOther, kSupplementary}) EXPECT_EQ(put(who, bytes), first);
}

TEST_F(Permissions, CommitOverAFileNeedsWritePermissionOnIt) {
  Id128 byOther = put(kOther, "other's new content");
  EXPECT_DENIED(cas().commit(kOther, "/pub/ro.txt", byOther, Basis::any()), EACCES);
  EXPECT_DENIED(cas().commit(kOther, "/pub/secret.txt", byOther, Basis::any()), EACCES);
  Id128 byMember = put(kGroupMember, "member's new content");
  EXPECT_DENIED(cas().commit(kGroupMember, "/pub/ro.txt", byMember, Basis::any()), EACCES);
  // The denied commit kept the lease: it can go where the caller may write.
  EXPECT_ALLOWED(cas().commit(kOther, "/pub/open.txt", byOther, Basis::any()));
  EXPECT_ALLOWED(cas().commit(kOwner, "/pub/ro.txt", put(kOwner, "owner's new content"), Basis::any()));
  EXPECT_ALLOWED(cas().commit(kRoot, "/pub/secret.txt", put(kRoot, "root's new content"), Basis::any()));
}

TEST_F(Permissions, CommitOverAFileInAReadOnlyDirectoryNeedsOnlyTheFile) {
  // Writing a file's content is not a change to its directory.
  EXPECT_ALLOWED(cas().commit(kOwner, "/readonly/f.txt", put(kOwner, "rewritten"), Basis::any()));
  EXPECT_ALLOWED(cas().commit(kOther, "/readonly/f.txt", put(kOther, "rewritten again"), Basis::any()));
}

TEST_F(Permissions, CommitCreatingAFileNeedsWriteAndSearchOnTheDirectory) {
  Id128 byOther = put(kOther, "new file");
  EXPECT_DENIED(cas().commit(kOther, "/readonly/new.txt", byOther, Basis::absent()), EACCES);
  EXPECT_DENIED(cas().commit(kOther, "/private/new.txt", byOther, Basis::absent()), EACCES);
  EXPECT_DENIED(cas().commit(kOther, "/shared/new.txt", byOther, Basis::absent()), EACCES);
  Id128 byOwner = put(kOwner, "new file");
  EXPECT_DENIED(cas().commit(kOwner, "/readonly/new.txt", byOwner, Basis::absent()), EACCES);
  EXPECT_DENIED(cas().commit(kOwner, "/nosearch/new.txt", byOwner, Basis::absent()), EACCES);
  EXPECT_ALLOWED(cas().commit(kGroupMember, "/shared/new.txt", put(kGroupMember, "new file"), Basis::absent()));
  EXPECT_ALLOWED(cas().commit(kOther, "/drop/new.txt", byOther, Basis::absent()));
  auto st = cas().stat(kRoot, "/drop/new.txt");
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->inode.uid, kOther.uid) << "a committed new file belongs to the caller";
}

TEST_F(Permissions, CommitNeedsTheCallersOwnLease) {
  Id128 byOwner = put(kOwner, "the owner's bytes");
  EXPECT_DENIED(cas().commit(kOther, "/drop/x.txt", byOwner, Basis::absent()), ENOENT);
  EXPECT_DENIED(cas().commit(kGroupMember, "/drop/x.txt", byOwner, Basis::absent()), ENOENT);
  // A lease is the putter's, whoever asks.
  EXPECT_DENIED(cas().commit(kRoot, "/drop/x.txt", byOwner, Basis::absent()), ENOENT);
  EXPECT_ALLOWED(cas().commit(kOwner, "/drop/x.txt", byOwner, Basis::absent()));
}

TEST_F(Permissions, CommitWithABasisOnAnUnreadableFileIsDenied) {
  // Comparing against the file's blobId would tell about its content.
  const Id128 secret = blobOf("/pub/secret.txt");
  Id128 byOther = put(kOther, "guess");
  SetAttrRequest writable;
  writable.mode = 0602;  // others may write, not read
  ASSERT_TRUE(ns().setattr(inoOf("/pub/secret.txt"), writable).ok());
  EXPECT_DENIED(cas().commit(kOther, "/pub/secret.txt", byOther, Basis::of(secret)), EACCES);
  // The answer must not depend on whether the guess was right.
  EXPECT_DENIED(cas().commit(kOther, "/pub/secret.txt", byOther, Basis::of(byOther)), EACCES);
}

// ---- what a conflict report may show (security issue item 5) -------------------------

// The report of a failed precondition names what is at the path; its blobId
// is the caller's to learn only if the caller may read the file.
ConflictReport conflictOf(const Status& s) {
  EXPECT_TRUE(s.isConflict()) << s.toString();
  return s.isConflict() ? *s.conflict() : ConflictReport{ConflictCode::kCasConflict, "", {}, {}, 0};
}

TEST_F(Permissions, AConflictWithholdsTheBlobIdOfAFileTheCallerMayNotRead) {
  const Id128 secret = blobOf("/pub/secret.txt");  // 0600, owner 1000
  ASSERT_TRUE(ns().mknod(kOther, inoOf("/pub"), "mine.txt", S_IFREG | 0644, 0).ok());
  auto expectWithheld = [&](const Status& s) {
    ConflictReport report = conflictOf(s);
    EXPECT_EQ(report.code, ConflictCode::kDestExists);
    EXPECT_FALSE(report.found.has_value());
    EXPECT_TRUE(report.foundWithheld);
    EXPECT_EQ(report.toJson().find(secret.hex()), std::string::npos) << report.toJson();
    EXPECT_NE(report.toJson().find("\"found\":\"unreadable\""), std::string::npos) << report.toJson();
  };
  // A move with basis null onto it (a move needs no permission on the file).
  expectWithheld(transact(kOther, {Move("/pub/mine.txt", "/pub/secret.txt", Basis::absent())}).status());
  // Others may write it, not read it: a copy and a commit with basis null.
  SetAttrRequest writeOnly;
  writeOnly.mode = 0622;
  ASSERT_TRUE(ns().setattr(inoOf("/pub/secret.txt"), writeOnly).ok());
  expectWithheld(transact(kOther, {Copy("/pub/mine.txt", "/pub/secret.txt", Basis::absent())}).status());
  auto committed = cas().commit(kOther, "/pub/secret.txt", put(kOther, "x"), Basis::absent());
  ConflictReport report = conflictOf(committed.status());
  EXPECT_EQ(report.code, ConflictCode::kCasConflict);
  EXPECT_TRUE(report.foundWithheld);
  EXPECT_EQ(report.toJson().find(secret.hex()), std::string::npos) << report.toJson();
  // The owner, and root, see it.
  for (const Caller& who : {kOwner, kRoot}) {
    auto r = transact(who, {Copy("/pub/ro.txt", "/pub/secret.txt", Basis::absent())});
    ConflictReport seen = conflictOf(r.status());
    EXPECT_EQ(seen.found, secret);
    EXPECT_FALSE(seen.foundWithheld);
  }
  // A readable file's blobId is anyone's to see, in a report too.
  auto r = transact(kOther, {Move("/pub/mine.txt", "/pub/ro.txt", Basis::absent())});
  EXPECT_EQ(conflictOf(r.status()).found, blobOf("/pub/ro.txt"));
}

// ---- user.acidfs.dest_basis is no content oracle (item 6) -----------------------------

TEST_F(Permissions, ARenameWithABasisOntoAnUnreadableFileIsDeniedRightGuessOrWrong) {
  const Id128 secret = blobOf("/pub/secret.txt");
  const uint64_t pub = inoOf("/pub");
  auto mine = ns().mknod(kOther, pub, "mine.txt", S_IFREG | 0644, 0);
  ASSERT_TRUE(mine.ok());
  for (const std::string& guess : {secret.hex(), Id128::zero().hex()}) {
    SCOPED_TRACE(guess);
    ASSERT_TRUE(ns().setxattr(mine->ino, kDestBasisXattr, guess, 0).ok());
    EXPECT_DENIED(ns().rename(kOther, pub, "mine.txt", pub, "secret.txt", 0), EACCES);
  }
  // The same rule as a TRANSACT with that basis.
  EXPECT_DENIED(transact(kOther, {Move("/pub/mine.txt", "/pub/secret.txt", Basis::of(secret))}), EACCES);
  // With basis "absent" the answer is DEST_EXISTS, with the blobId withheld.
  ASSERT_TRUE(ns().setxattr(mine->ino, kDestBasisXattr, "absent", 0).ok());
  auto exists = ns().rename(kOther, pub, "mine.txt", pub, "secret.txt", 0);
  ConflictReport report = conflictOf(exists.status());
  EXPECT_EQ(report.code, ConflictCode::kDestExists);
  EXPECT_TRUE(report.foundWithheld);
  // The owner's right guess goes through.
  ASSERT_TRUE(ns().setxattr(mine->ino, kDestBasisXattr, secret.hex(), 0).ok());
  EXPECT_ALLOWED(ns().rename(kOwner, pub, "mine.txt", pub, "secret.txt", 0));
}

// ---- set-ID bits when another user replaces the content (item 7) ----------------------

TEST_F(Permissions, ReplacingContentThroughTheDoorsClearsSetIdBitsAsWriteDoes) {
  auto modeOf = [&](const std::string& path) { return cas().stat(kRoot, path)->inode.mode & 07777; };
  const uint64_t setid = inoOf("/pub/open.txt");
  auto reset = [&] { setMode(setid, 06777); };  // world-writable, setuid, setgid with group x
  reset();
  ASSERT_TRUE(cas().commit(kOther, "/pub/open.txt", put(kOther, "by commit"), Basis::any()).ok());
  EXPECT_EQ(modeOf("/pub/open.txt"), 0777u) << "a COMMIT by another user keeps setuid/setgid";
  reset();
  ASSERT_TRUE(transact(kOther, {Copy("/pub/ro.txt", "/pub/open.txt")}).ok());
  EXPECT_EQ(modeOf("/pub/open.txt"), 0777u) << "a TRANSACT copy by another user keeps setuid/setgid";
  // Without group execute, set-group-ID marks mandatory locking: it stays.
  setMode(setid, 06767);
  ASSERT_TRUE(cas().commit(kOther, "/pub/open.txt", put(kOther, "again"), Basis::any()).ok());
  EXPECT_EQ(modeOf("/pub/open.txt"), 02767u);
  // Root (CAP_FSETID) keeps them.
  reset();
  ASSERT_TRUE(cas().commit(kRoot, "/pub/open.txt", put(kRoot, "by root"), Basis::any()).ok());
  EXPECT_EQ(modeOf("/pub/open.txt"), 06777u);
}

// ---- what open(2) checks on an existing file (item 1) ---------------------------------

TEST(MayOpen, ChecksWhatOpenChecksOnAnExistingFile) {
  InodeRecord secret;
  secret.mode = S_IFREG | 0600;
  secret.uid = 0;
  InodeRecord readable = secret;
  readable.mode = S_IFREG | 0644;
  InodeRecord dir = secret;
  dir.mode = S_IFDIR | 0777;
  const Caller nobody = Caller::of(65534, 65534);
  for (int flags : {O_RDONLY, O_WRONLY, O_RDWR, O_RDONLY | O_TRUNC, O_WRONLY | O_APPEND})
    EXPECT_EQ(mayOpen(nobody, secret, flags | O_CREAT).errnum(), EACCES) << flags;
  EXPECT_TRUE(mayOpen(nobody, readable, O_RDONLY | O_CREAT).ok());
  EXPECT_EQ(mayOpen(nobody, readable, O_RDWR | O_CREAT).errnum(), EACCES);
  EXPECT_EQ(mayOpen(nobody, readable, O_RDONLY | O_CREAT | O_TRUNC).errnum(), EACCES);
  EXPECT_EQ(mayOpen(nobody, dir, O_WRONLY | O_CREAT).errnum(), EISDIR);
  EXPECT_TRUE(mayOpen(Caller::root(), secret, O_RDWR | O_CREAT | O_TRUNC).ok());
}

TEST(ErrnoName, NamesWhatHasANameAndNumbersWhatHasNot) {
  EXPECT_EQ(errnoName(ENOENT), "ENOENT");
  EXPECT_EQ(errnoName(4711), "errno 4711");
  EXPECT_EQ(Status::Error(4711, "odd").toString(), "errno 4711: odd");
}

}  // namespace
}  // namespace acidfs
