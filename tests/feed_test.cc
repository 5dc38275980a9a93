// The change feed in the core (SPEC §11, core/feed.h): every committed
// change has its record, in commit order, with its path; a reader that
// resumes from the number after the last it saw misses nothing and sees
// nothing out of order while writers commit concurrently; conflicting
// transactions number in their commit order; a watcher sees only what it
// may read; what is older than the retention is gone (and said to be).
// Runs on both engines.
#include "core/feed.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "tests/test_util.h"

namespace acidfs {
namespace {

using testing::StoreFixture;

const Caller kAlice = Caller::of(1000, 1000);
const Caller kBob = Caller::of(1001, 1001);

class FeedTest : public StoreFixture {
 protected:
  // Everything `caller` may see from `from` on, as "op path[ -> to]" lines.
  std::vector<std::string> changes(uint64_t from = 1, const Caller& caller = Caller::root(),
                                   std::string_view prefix = "/") {
    std::vector<std::string> out;
    for (;;) {
      auto page = store_->feed().read(caller, prefix, from, 100);
      EXPECT_TRUE(page.ok()) << page.status().toString();
      if (!page.ok() || page->gone) break;
      for (const FeedChange& c : page->changes)
        out.push_back(std::string(feedOpName(c.record.op)) + " " + c.record.path +
                      (c.record.to.empty() ? "" : " -> " + c.record.to));
      if (page->next == from) break;
      from = page->next;
    }
    return out;
  }
};

TEST_F(FeedTest, EveryChangeIsRecordedInOrderWithItsPath) {
  auto d = ns().mkdir(Caller::root(), kRootIno, "d", 0755);
  ASSERT_TRUE(d.ok());
  const uint64_t f = makeFile(d->ino, "f", "one");  // a create, then a write
  ASSERT_TRUE(ns().rename(Caller::root(), d->ino, "f", d->ino, "g", 0).ok());
  ASSERT_TRUE(ns().link(f, kRootIno, "hard").ok());
  ASSERT_TRUE(testing::writeFile(ns(), f, 0, "two").ok());
  ASSERT_TRUE(ns().unlink(d->ino, "g").ok());
  auto e = ns().mkdir(Caller::root(), d->ino, "e", 0755);
  ASSERT_TRUE(e.ok());
  ASSERT_TRUE(ns().rename(Caller::root(), kRootIno, "d", kRootIno, "renamed", 0).ok());
  ASSERT_TRUE(ns().rmdir(d->ino, "e").ok());
  SetAttrRequest chmod;
  chmod.mode = 0600;
  ASSERT_TRUE(ns().setattr(f, chmod).ok());
  // A file with several names is reported by its newest (DESIGN.md 4.11).
  const std::vector<std::string> want = {
      "mkdir /d",   "create /d/f",  "write /d/f",            "rename /d/f -> /d/g", "link /hard",
      "write /hard", "delete /d/g", "mkdir /d/e", "rename /d -> /renamed", "rmdir /renamed/e",
      "attr /hard",
  };
  EXPECT_EQ(want, changes());
  // Under a path: what happened there (or was moved there).
  const std::vector<std::string> underHard = {"link /hard", "write /hard", "attr /hard"};
  EXPECT_EQ(underHard, changes(1, Caller::root(), "/hard"));
}

TEST_F(FeedTest, ARecordKeepsItsNumberAcrossAReopenAndNumbersGoOnAbove) {
  makeFile(kRootIno, "a", "a");
  auto before = store_->feed().read(Caller::root(), "/", 1, 100);
  ASSERT_TRUE(before.ok());
  ASSERT_FALSE(before->changes.empty());
  const uint64_t last = before->changes.back().seq;
  reopen();
  makeFile(kRootIno, "b", "b");
  auto after = store_->feed().read(Caller::root(), "/", 1, 100);
  ASSERT_TRUE(after.ok());
  ASSERT_GT(after->changes.size(), before->changes.size());
  EXPECT_EQ(last, after->changes[before->changes.size() - 1].seq);
  EXPECT_GT(after->changes.back().seq, last);
  auto end = store_->feed().end();
  ASSERT_TRUE(end.ok());
  EXPECT_EQ(after->changes.back().seq + 1, *end);
}

// Conflicting transactions (each reads the counter under its lock, then
// writes it) number in their commit order: the feed's writes of the
// counter hold strictly growing values.
TEST_F(FeedTest, ConflictingTransactionsNumberInTheirCommitOrder) {
  const uint64_t counter = makeFile(kRootIno, "counter", "0");
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 25; ++i) {
        for (;;) {
          auto st = cas().stat(Caller::root(), "/counter");
          ASSERT_TRUE(st.ok());
          std::string value;
          ASSERT_TRUE(ns().read(counter, 0, st->inode.size, value).ok());
          auto blob = cas().put(Caller::root(), std::to_string(std::stoi(value) + 1));
          ASSERT_TRUE(blob.ok());
          auto done = cas().commit(Caller::root(), "/counter", *blob, Basis::of(*st->blob));
          if (done.ok()) break;
          ASSERT_TRUE(done.status().isConflict()) << done.status().toString();
        }
      }
    });
  for (auto& t : threads) t.join();
  // Content-addressed: the blobId of "i" is the blobId of every "i".
  std::map<Id128, int> valueOf;
  for (int i = 0; i <= 100; ++i) {
    auto blob = cas().put(Caller::root(), std::to_string(i));
    ASSERT_TRUE(blob.ok());
    valueOf[*blob] = i;
  }
  std::vector<int> values;
  uint64_t from = 1;
  for (;;) {
    auto page = store_->feed().read(Caller::root(), "/counter", from, 100);
    ASSERT_TRUE(page.ok());
    for (const FeedChange& c : page->changes) {
      if (c.record.op != FeedOp::kWrite) continue;
      ASSERT_TRUE(c.record.blob);
      ASSERT_TRUE(valueOf.count(*c.record.blob)) << "a write of something else than a count";
      values.push_back(valueOf[*c.record.blob]);
    }
    if (page->next == from) break;
    from = page->next;
  }
  ASSERT_EQ(101u, values.size());  // the first "0", then 100 increments
  for (size_t i = 0; i < values.size(); ++i) EXPECT_EQ(static_cast<int>(i), values[i]) << "write " << i;
}

// Four writers commit concurrently while a reader follows the feed, and
// now and then starts again from the last number it saw (as `acidfs
// watch --from` does after a restart): it sees every change exactly as a
// reader of the finished feed does, in the same order, none twice.
TEST_F(FeedTest, AReaderThatRestartsFromWhereItWasMissesNothingWhileFourWritersCommit) {
  std::atomic<bool> writing{true};
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w)
    writers.emplace_back([&, w] {
      const std::string name = "w" + std::to_string(w);
      for (int i = 0; i < 60; ++i) {
        auto made = ns().mknod(Caller::root(), kRootIno, name + "-" + std::to_string(i), S_IFREG | 0644, 0);
        ASSERT_TRUE(made.ok()) << made.status().toString();
        ASSERT_TRUE(testing::writeFile(ns(), made->ino, 0, std::to_string(i)).ok());
      }
    });
  std::vector<std::pair<uint64_t, std::string>> seen;
  std::mt19937 rng(7);
  uint64_t from = 1;
  auto readSome = [&] {
    auto page = store_->feed().read(Caller::root(), "/", from, 1 + rng() % 20);
    ASSERT_TRUE(page.ok());
    for (const FeedChange& c : page->changes) seen.emplace_back(c.seq, std::string(feedOpName(c.record.op)) + " " + c.record.path);
    from = page->next;
  };
  // Each read is a new reader from the saved number (no state but `from`),
  // of a random size: as many restarts as reads.
  std::thread reader([&] {
    while (writing) readSome();
  });
  for (auto& t : writers) t.join();
  writing = false;
  reader.join();
  for (int i = 0; i < 1000; ++i) {
    const uint64_t before = from;
    readSome();
    if (from == before) break;
  }
  std::vector<std::pair<uint64_t, std::string>> all;
  {
    uint64_t at = 1;
    for (;;) {
      auto page = store_->feed().read(Caller::root(), "/", at, 1000);
      ASSERT_TRUE(page.ok());
      for (const FeedChange& c : page->changes) all.emplace_back(c.seq, std::string(feedOpName(c.record.op)) + " " + c.record.path);
      if (page->next == at) break;
      at = page->next;
    }
  }
  EXPECT_EQ(4u * 60 * 2, all.size());  // a create and a write per file
  EXPECT_EQ(all, seen) << "a reader following the feed saw something else than the finished feed";
  // Each writer's changes in its own order.
  std::map<std::string, int> lastOf;
  for (const auto& [seq, line] : all) {
    const size_t slash = line.find('/'), dash = line.find('-');
    const std::string writer = line.substr(slash + 1, dash - slash - 1);
    const int i = std::stoi(line.substr(dash + 1));
    if (lastOf.count(writer)) {
      EXPECT_GE(i, lastOf[writer]) << line;
    }
    lastOf[writer] = i;
  }
}

TEST_F(FeedTest, AWatcherSeesOnlyWhatItMayReadAndABlobIdOnlyOfWhatItMayRead) {
  auto open = ns().mkdir(Caller::root(), kRootIno, "open", 0777);
  ASSERT_TRUE(open.ok());
  auto hers = ns().mkdir(kAlice, open->ino, "hers", 0700);
  ASSERT_TRUE(hers.ok());
  makeFile(hers->ino, "secret", "s", 0600, kAlice);
  makeFile(open->ino, "unreadable", "u", 0600, kAlice);
  makeFile(open->ino, "readable", "r", 0644, kAlice);
  const std::vector<std::string> bobs = changes(1, kBob);
  for (const std::string& line : bobs) EXPECT_EQ(std::string::npos, line.find("secret")) << line;
  auto page = store_->feed().read(kBob, "/open", 1, 100);
  ASSERT_TRUE(page.ok());
  int writes = 0;
  for (const FeedChange& c : page->changes) {
    if (c.record.op != FeedOp::kWrite) continue;
    ++writes;
    EXPECT_EQ(c.record.path == "/open/readable", c.blobVisible) << c.record.path;
  }
  EXPECT_EQ(2, writes);
  const std::vector<std::string> alices = changes(1, kAlice, "/open/hers");
  EXPECT_FALSE(alices.empty());
}

class FeedRetention : public FeedTest {
 protected:
  FeedRetention() {
    options_.clock = clock_;
    options_.gcIntervalSeconds = 0;
    options_.feedSeconds = 3600;
  }
  std::shared_ptr<ManualClock> clock_ = std::make_shared<ManualClock>(1'800'000'000ll * 1'000'000'000);
};

TEST_F(FeedRetention, WhatIsOlderThanTheRetentionIsGoneAndSaidToBe) {
  makeFile(kRootIno, "old", "o");
  clock_->advance(3000ll * 1'000'000'000);
  makeFile(kRootIno, "newer", "n");
  clock_->advance(700ll * 1'000'000'000);  // "old" is 3700 s old, "newer" 700 s
  ASSERT_TRUE(store_->feed().expire().ok());
  auto gone = store_->feed().read(Caller::root(), "/", 1, 100);
  ASSERT_TRUE(gone.ok());
  EXPECT_TRUE(gone->gone);
  EXPECT_TRUE(gone->changes.empty());
  const std::vector<std::string> kept = {"create /newer", "write /newer"};
  EXPECT_EQ(kept, changes(gone->next));
}

}  // namespace
}  // namespace acidfs
