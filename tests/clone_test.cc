// Clones (SPEC §10, CasOps::clone): a copy of a tree at one instant,
// sharing all content, published whole or not at all under a name that
// must not exist; writers under the source never leave a mixed copy; a
// read-only clone refuses every change with EROFS until made writable.
#include <sys/xattr.h>

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "core/cas_ops.h"
#include "core/fsck.h"
#include "tests/test_util.h"

namespace acidfs {
namespace {

using testing::code;
using testing::StoreFixture;
using testing::writeFile;

const Caller kAlice = Caller::of(1000, 1000);

class CloneTest : public StoreFixture {
 protected:
  uint64_t inoAt(const std::string& path) {
    auto st = cas().stat(Caller::root(), path);
    EXPECT_TRUE(st.ok()) << path << ": " << st.status().toString();
    return st.ok() ? st->ino : 0;
  }
  Attr attrAt(const std::string& path) {
    auto attr = ns().getattr(inoAt(path));
    EXPECT_TRUE(attr.ok()) << path;
    return attr.ok() ? *attr : Attr{};
  }
  std::vector<std::string> namesIn(uint64_t dir) {
    std::vector<std::string> names;
    EXPECT_TRUE(ns().readdir(dir, 0, [&](const DirEntry& e) {
      names.push_back(e.name);
      return true;
    }).ok());
    return names;
  }
  Result<CloneResult> clone(const std::string& src, const std::string& dst, bool readOnly = false,
                            const Caller& caller = Caller::root()) {
    return cas().clone(caller, src, dst, readOnly);
  }
  void expectFsckClean() {
    auto report = fsckStore(*store_, /*repair=*/false);
    ASSERT_TRUE(report.ok()) << report.status().toString();
    for (const std::string& f : report->findings) ADD_FAILURE() << "fsck: " << f;
  }
};

TEST_F(CloneTest, ACopySharesEveryFilesContentAndKeepsTheTreeAsItWas) {
  const uint64_t src = makeDir(kRootIno, "src");
  const uint64_t sub = makeDir(src, "sub", 0750);
  const std::string big = testing::randomBytes(3 << 20, 1);
  const uint64_t bigFile = makeFile(sub, "big", big, 0600);
  makeFile(src, "small", "small text", 0644);
  ASSERT_TRUE(ns().symlink(Caller::root(), src, "link", "sub/big").ok());
  ASSERT_TRUE(ns().link(bigFile, src, "big-again").ok());  // two names, one file
  ASSERT_TRUE(ns().setxattr(bigFile, "user.tag", "blue", 0).ok());
  ASSERT_TRUE(ns().mknod(Caller::root(), src, "fifo", S_IFIFO | 0640, 0).ok());
  const uint64_t storedBefore = stats().bytesStored;

  auto made = clone("/src", "/copy");
  ASSERT_TRUE(made.ok()) << made.status().toString();
  EXPECT_EQ(7u, made->entries);  // copy, sub, big, small, link, big-again, fifo
  EXPECT_EQ(big.size() + 10, made->bytes) << "the file with two names counts once";
  EXPECT_EQ(storedBefore, stats().bytesStored) << "a clone copies no content";

  EXPECT_EQ(namesIn(src), namesIn(inoAt("/copy")));
  EXPECT_EQ(big, contentAt("/copy/sub/big"));
  EXPECT_EQ("small text", contentAt("/copy/small"));
  EXPECT_EQ(blobOf("/src/sub/big"), blobOf("/copy/sub/big"));
  const Attr was = attrAt("/src/sub/big"), copy = attrAt("/copy/sub/big");
  EXPECT_NE(was.ino, copy.ino);
  EXPECT_EQ(was.inode.mode, copy.inode.mode);
  EXPECT_EQ(was.inode.mtimeNs, copy.inode.mtimeNs);
  EXPECT_EQ(2u, copy.inode.nlink);
  EXPECT_EQ(copy.ino, inoAt("/copy/big-again")) << "a hard link stays one file in the copy";
  EXPECT_EQ(0750u, attrAt("/copy/sub").inode.mode & 07777);
  EXPECT_EQ(3u, attrAt("/copy").inode.nlink) << ". , .. and sub";
  EXPECT_EQ("sub/big", *ns().readlink(inoAt("/copy/link")));
  EXPECT_TRUE(S_ISFIFO(attrAt("/copy/fifo").inode.mode));
  EXPECT_EQ("blue", *ns().getxattr(copy.ino, "user.tag"));

  // Independent from now on, both ways.
  ASSERT_TRUE(writeFile(ns(), copy.ino, 0, "CHANGED").ok());
  EXPECT_EQ(big, contentAt("/src/sub/big"));
  ASSERT_TRUE(ns().unlink(sub, "big").ok());
  ASSERT_TRUE(ns().unlink(src, "big-again").ok());
  EXPECT_EQ("CHANGED" + big.substr(7), contentAt("/copy/sub/big"));
  expectFsckClean();
  reopen();
  EXPECT_EQ("small text", contentAt("/copy/small")) << "a clone is durable";
}

TEST_F(CloneTest, TheDestinationMustNotExistNorLieInsideTheSource) {
  makeDir(kRootIno, "src");
  makeFile(inoAt("/src"), "f", "x");
  makeDir(kRootIno, "taken");
  auto onto = clone("/src", "/taken");
  ASSERT_FALSE(onto.ok());
  ASSERT_TRUE(onto.status().isConflict()) << onto.status().toString();
  EXPECT_EQ(ConflictCode::kDestExists, onto.status().conflict()->code);
  EXPECT_EQ("EINVAL", code(clone("/src", "/src/inner").status()));
  EXPECT_EQ("EINVAL", code(clone("/", "/all").status()));
  EXPECT_EQ("ENOENT", code(clone("/missing", "/x").status()));
  EXPECT_EQ("ENOENT", code(clone("/src", "/no/such/dir").status()));
  // A single file clones too.
  ASSERT_TRUE(clone("/src/f", "/f-copy").ok());
  EXPECT_EQ("x", contentAt("/f-copy"));
}

// SPEC §6: a clone needs what reading every part of the source and creating
// the destination need; the copy is the caller's.
TEST_F(CloneTest, ACallerClonesOnlyWhatItCouldReadAndOwnsTheCopy) {
  const uint64_t src = makeDir(kRootIno, "src", 0755);
  makeFile(src, "open", "anyone", 0644);
  const uint64_t home = makeDir(kRootIno, "home", 0755, kAlice);
  EXPECT_EQ("EACCES", code(clone("/src", "/mine", false, kAlice).status())) << "no write permission in /";
  ASSERT_TRUE(clone("/src", "/home/mine", false, kAlice).ok());
  EXPECT_EQ(1000u, attrAt("/home/mine/open").inode.uid);
  makeFile(src, "secret", "root only", 0600);
  EXPECT_EQ("EACCES", code(clone("/src", "/home/again", false, kAlice).status()));
  EXPECT_EQ(std::vector<std::string>{"mine"}, namesIn(home)) << "a refused clone leaves nothing";
}

TEST_F(CloneTest, AReadOnlyCloneRefusesEveryChangeUntilMadeWritable) {
  const uint64_t src = makeDir(kRootIno, "src");
  makeDir(src, "d");
  makeFile(src, "f", "content");
  ASSERT_TRUE(clone("/src", "/ro", /*readOnly=*/true).ok());
  const uint64_t ro = inoAt("/ro"), d = inoAt("/ro/d"), f = inoAt("/ro/f");
  const uint64_t outside = makeDir(kRootIno, "outside");
  makeFile(outside, "g", "g");
  EXPECT_EQ("EROFS", code(ns().mknod(Caller::root(), ro, "new", S_IFREG | 0644, 0).status()));
  EXPECT_EQ("EROFS", code(ns().mkdir(Caller::root(), d, "new", 0755).status()));
  EXPECT_EQ("EROFS", code(ns().symlink(Caller::root(), ro, "s", "f").status()));
  EXPECT_EQ("EROFS", code(ns().unlink(ro, "f").status()));
  EXPECT_EQ("EROFS", code(ns().rmdir(ro, "d")));
  EXPECT_EQ("EROFS", code(ns().rename(Caller::root(), ro, "f", ro, "f2", 0).status()));
  EXPECT_EQ("EROFS", code(ns().rename(Caller::root(), ro, "f", outside, "f", 0).status()));
  EXPECT_EQ("EROFS", code(ns().rename(Caller::root(), outside, "g", ro, "g", 0).status()));
  EXPECT_EQ("EROFS", code(ns().rename(Caller::root(), kRootIno, "ro", kRootIno, "moved", 0).status()));
  EXPECT_EQ("EROFS", code(ns().link(f, outside, "f-link").status()));
  SetAttrRequest chmod;
  chmod.mode = 0600;
  EXPECT_EQ("EROFS", code(ns().setattr(f, chmod).status()));
  SetAttrRequest truncate;
  truncate.size = 0;
  EXPECT_EQ("EROFS", code(ns().setattr(f, truncate).status()));
  EXPECT_EQ("EROFS", code(writeFile(ns(), f, 0, "overwrite").status()));
  EXPECT_EQ("EROFS", code(ns().setxattr(f, "user.x", "1", 0)));
  std::vector<TransactOp> copyOnto{{TransactOp::Kind::kCopy, "/outside/g", std::nullopt, "/ro/f", Basis::any()}};
  EXPECT_EQ("EROFS", code(cas().transact(Caller::root(), copyOnto).status()));
  std::vector<TransactOp> deleteIt{{TransactOp::Kind::kDelete, "/ro/f", std::nullopt, "", Basis::any()}};
  EXPECT_EQ("EROFS", code(cas().transact(Caller::root(), deleteIt).status()));
  EXPECT_EQ("content", contentAt("/ro/f"));
  EXPECT_EQ((std::vector<std::string>{"d", "f"}), namesIn(ro));
  // Reading, and cloning it again, are not changes.
  ASSERT_TRUE(clone("/ro", "/again").ok());
  ASSERT_TRUE(ns().mknod(Caller::root(), inoAt("/again"), "new", S_IFREG | 0644, 0).ok())
      << "a clone of a read-only clone is writable unless asked";

  // Only its owner (or root) makes it writable.
  EXPECT_EQ("EPERM", code(cas().setCloneWritable(kAlice, "/ro").status()));
  auto changed = cas().setCloneWritable(Caller::root(), "/ro");
  ASSERT_TRUE(changed.ok()) << changed.status().toString();
  EXPECT_EQ(3u, *changed);
  EXPECT_TRUE(writeFile(ns(), f, 0, "overwrite").ok());
  EXPECT_TRUE(ns().unlink(ro, "f").ok());
  EXPECT_TRUE(ns().rmdir(ro, "d").ok());
  expectFsckClean();
}

// Writers that keep /src/a and /src/b equal (each transaction writes both)
// race with clones: every clone has them equal.
TEST_F(CloneTest, WritersUnderTheSourceNeverLeaveAMixedCopy) {
  const uint64_t src = makeDir(kRootIno, "src");
  for (int i = 0; i < 200; ++i) makeFile(src, "pad" + std::to_string(i), "padding " + std::to_string(i));
  makeFile(src, "a", "v0");
  makeFile(src, "b", "v0");
  constexpr int kWriters = 2;
  for (int w = 0; w < kWriters; ++w) makeFile(kRootIno, "stage" + std::to_string(w), "");
  std::atomic<bool> stop{false};
  std::atomic<int> writes{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      const std::string stage = "/stage" + std::to_string(w);
      for (int n = 1; !stop; ++n) {
        auto blob = cas().put(Caller::root(), "writer " + std::to_string(w) + " version " + std::to_string(n));
        if (!blob.ok() || !cas().commit(Caller::root(), stage, *blob, Basis::any()).ok()) continue;
        std::vector<TransactOp> both{{TransactOp::Kind::kCopy, stage, std::nullopt, "/src/a", Basis::any()},
                                     {TransactOp::Kind::kCopy, stage, std::nullopt, "/src/b", Basis::any()}};
        if (cas().transact(Caller::root(), both).ok()) ++writes;
      }
    });
  }
  constexpr int kClones = 30;
  for (int c = 0; c < kClones; ++c) {
    const std::string dst = "/c" + std::to_string(c);
    auto made = clone("/src", dst);
    ASSERT_TRUE(made.ok()) << made.status().toString();
    EXPECT_EQ(203u, made->entries);
    EXPECT_EQ(blobOf(dst + "/a"), blobOf(dst + "/b")) << "clone " << c << " is mixed";
  }
  stop = true;
  for (auto& t : writers) t.join();
  EXPECT_GT(writes.load(), 0) << "the writers never wrote: the test tested nothing";
  expectFsckClean();
}

}  // namespace
}  // namespace acidfs
