// FileDrafts: uncommitted writes are visible at once, commit as one blob,
// and a commit never mixes two states of the file (SPEC §3).
#include "core/file_drafts.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "tests/test_util.h"

namespace acidfs::testing {
namespace {

class Drafts : public StoreFixture {
 protected:
  void SetUp() override {
    options_.chunkSize = 4096;  // small windows: multi-window cases stay cheap
    StoreFixture::SetUp();
    drafts_ = std::make_unique<FileDrafts>(ns(), store_->content(), 1 << 20);
  }
  std::string draftRead(uint64_t ino, uint64_t off = 0, size_t len = 1 << 24) {
    std::string out;
    Status s = drafts_->read(ino, off, len, out);
    return s.ok() ? out : "<" + s.toString() + ">";
  }
  std::unique_ptr<FileDrafts> drafts_;
};

// Many files written at once cannot make the drafts hold more than their
// total budget: the writer that finds it full commits its own file.
TEST_F(Drafts, AllDraftsTogetherStayWithinTheirBudget) {
  constexpr size_t kWindow = 4096, kBudget = 16 * kWindow;
  drafts_ = std::make_unique<FileDrafts>(ns(), store_->content(), 1 << 20, kBudget);
  std::vector<uint64_t> files;
  for (int f = 0; f < 8; ++f) files.push_back(makeFile(kRootIno, "f" + std::to_string(f), ""));
  const std::string piece(kWindow, 'w');
  for (int round = 0; round < 8; ++round) {
    for (uint64_t ino : files) {
      ASSERT_TRUE(drafts_->write(ino, round * kWindow, piece).ok());
      EXPECT_LE(drafts_->totalBytes(), kBudget) << "round " << round;
    }
  }
  for (uint64_t ino : files) EXPECT_EQ(draftRead(ino), std::string(8 * kWindow, 'w'));
  ASSERT_TRUE(drafts_->commitAll().ok());
  EXPECT_EQ(drafts_->totalBytes(), 0u);
  for (uint64_t ino : files) EXPECT_EQ(readAll(ino), std::string(8 * kWindow, 'w'));
}

// The content changed behind the draft (a door replaced it while a write
// was pending): the draft is rebased — its writes land on the new content —
// never stuck failing with ECANCELED or ESTALE, and nothing is lost.
TEST_F(Drafts, ADraftWhoseBaseMovedIsRebasedNotStuck) {
  const std::string a(3 * 4096, 'a'), b(2 * 4096 + 100, 'b');
  uint64_t ino = makeFile(kRootIno, "f", a);
  uint64_t other = makeFile(kRootIno, "other", b);
  ASSERT_TRUE(drafts_->write(ino, 5, "XY").ok());
  ASSERT_TRUE(drafts_->write(ino, 4096 * 2 + 200, "Z").ok());  // past b's end: zeros between
  ASSERT_TRUE(ns().shareContent(other, ino).ok());  // behind the draft's back, as a TRANSACT copy
  std::string expected = b;
  expected.replace(5, 2, "XY");
  expected.resize(4096 * 2 + 200, '\0');
  expected += "Z";
  EXPECT_EQ(draftRead(ino), expected) << "reads must not fail or show the old content once its blob is gone";
  ASSERT_TRUE(drafts_->write(ino, 0, "W").ok());
  expected[0] = 'W';
  Status committed = drafts_->commit(ino);
  ASSERT_TRUE(committed.ok()) << committed.toString();
  EXPECT_EQ(readAll(ino), expected);
  EXPECT_FALSE(drafts_->hasDraft(ino));
}

// Content changes through changeContent are serialized with writes: a
// writer racing truncates never sees an error no local filesystem gives.
TEST_F(Drafts, WritesRacingContentChangesNeverFail) {
  uint64_t ino = makeFile(kRootIno, "f", std::string(3 * 4096, 'a'));
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::string firstFailure;
  std::mutex failureMutex;
  auto fail = [&](const Status& s) {
    if (s.ok()) return;
    std::lock_guard<std::mutex> lock(failureMutex);
    if (failures++ == 0) firstFailure = s.toString();
  };
  std::thread writer([&] {
    for (int i = 0; !stop; ++i) {
      fail(drafts_->write(ino, (i * 997) % (3 * 4096), "w"));
      std::string out;
      fail(drafts_->read(ino, 0, 3 * 4096, out));
      if (i % 16 == 0) fail(drafts_->commit(ino));
    }
  });
  for (int round = 0; round < 300; ++round) {
    SetAttrRequest truncate;
    truncate.size = round % 2 ? 0 : 4096 + round;
    fail(drafts_->changeContent(ino, [&] { return ns().setattr(ino, truncate).status(); }));
  }
  stop = true;
  writer.join();
  fail(drafts_->commit(ino));
  EXPECT_EQ(failures.load(), 0) << firstFailure;
}

TEST_F(Drafts, WriteIsVisibleAtOnceButNotCommitted) {
  uint64_t ino = makeFile(kRootIno, "f", "old content");
  ASSERT_TRUE(drafts_->write(ino, 0, "NEW").ok());
  EXPECT_EQ(draftRead(ino), "NEW content");
  EXPECT_EQ(readAll(ino), "old content");  // the store still holds the last commit
  EXPECT_TRUE(drafts_->hasDraft(ino));
}

TEST_F(Drafts, CommitStoresExactlyWhatReadersSaw) {
  uint64_t ino = makeFile(kRootIno, "f", std::string(10000, 'a'));
  ASSERT_TRUE(drafts_->write(ino, 5000, std::string(3000, 'b')).ok());
  ASSERT_TRUE(drafts_->write(ino, 12000, "tail").ok());  // past the end: a hole in between
  std::string seen = draftRead(ino);
  ASSERT_TRUE(drafts_->commit(ino).ok());
  EXPECT_FALSE(drafts_->hasDraft(ino));
  EXPECT_EQ(readAll(ino), seen);
  EXPECT_EQ(seen.size(), 12004u);
  EXPECT_EQ(seen.substr(10000, 2000), std::string(2000, '\0'));
}

TEST_F(Drafts, CommittedBlobEqualsBlobOfSameContentWrittenAtOnce) {
  uint64_t a = makeFile(kRootIno, "a", "");
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(drafts_->write(a, i * 97, std::string(97, char('A' + i % 26))).ok());
  ASSERT_TRUE(drafts_->commit(a).ok());
  uint64_t b = makeFile(kRootIno, "b", readAll(a));
  (void)b;
  EXPECT_EQ(blobOf("/a"), blobOf("/b"));
}

TEST_F(Drafts, OverlayShowsPendingSize) {
  uint64_t ino = makeFile(kRootIno, "f", "abc");
  ASSERT_TRUE(drafts_->write(ino, 100, "x").ok());
  auto attr = ns().getattr(ino);
  ASSERT_TRUE(attr.ok());
  InodeRecord inode = attr->inode;
  EXPECT_EQ(inode.size, 3u);
  drafts_->overlay(ino, inode);
  EXPECT_EQ(inode.size, 101u);
}

TEST_F(Drafts, CommitOlderThanLeavesYoungDrafts) {
  uint64_t ino = makeFile(kRootIno, "f", "");
  ASSERT_TRUE(drafts_->write(ino, 0, "young").ok());
  ASSERT_TRUE(drafts_->commitOlderThan(3600ll * 1000000000).ok());
  EXPECT_TRUE(drafts_->hasDraft(ino));
  EXPECT_EQ(readAll(ino), "");
  ASSERT_TRUE(drafts_->commitOlderThan(0).ok());
  EXPECT_FALSE(drafts_->hasDraft(ino));
  EXPECT_EQ(readAll(ino), "young");
}

TEST_F(Drafts, OutgrowingTheBudgetCommitsEarly) {
  uint64_t ino = makeFile(kRootIno, "f", "");
  std::string big((1 << 20) + 4096, 'z');  // more than the 1 MiB budget
  ASSERT_TRUE(drafts_->write(ino, 0, big).ok());
  EXPECT_FALSE(drafts_->hasDraft(ino));
  EXPECT_EQ(readAll(ino), big);
}

TEST_F(Drafts, DiscardDropsPendingWrites) {
  uint64_t ino = makeFile(kRootIno, "f", "keep");
  ASSERT_TRUE(drafts_->write(ino, 0, "lose").ok());
  drafts_->discard(ino);
  EXPECT_EQ(draftRead(ino), "keep");
}

TEST_F(Drafts, WritesToDirectoriesAreRefused) {
  uint64_t dir = makeDir(kRootIno, "d");
  EXPECT_EQ(drafts_->write(dir, 0, "x").errnum(), EISDIR);
  EXPECT_EQ(drafts_->write(999999, 0, "x").errnum(), ENOENT);
}

// Writers and a committer race; every commit is some prefix of the writes,
// and the final content is every write.
TEST_F(Drafts, ConcurrentWritesAndCommitsLoseNothing) {
  uint64_t ino = makeFile(kRootIno, "f", "");
  constexpr int kWriters = 4, kRecords = 200, kRecord = 64;
  std::atomic<bool> done{false};
  std::thread committer([&] {
    while (!done) ASSERT_TRUE(drafts_->commit(ino).ok());
  });
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w)
    writers.emplace_back([&, w] {
      for (int r = 0; r < kRecords; ++r) {
        uint64_t slot = static_cast<uint64_t>(r * kWriters + w);
        ASSERT_TRUE(drafts_->write(ino, slot * kRecord, std::string(kRecord, char('a' + w))).ok());
      }
    });
  for (auto& t : writers) t.join();
  done = true;
  committer.join();
  ASSERT_TRUE(drafts_->commit(ino).ok());
  std::string content = readAll(ino);
  ASSERT_EQ(content.size(), size_t(kWriters * kRecords * kRecord));
  for (int slot = 0; slot < kWriters * kRecords; ++slot)
    EXPECT_EQ(content.substr(slot * kRecord, kRecord), std::string(kRecord, char('a' + slot % kWriters))) << slot;
}

}  // namespace
}  // namespace acidfs::testing
