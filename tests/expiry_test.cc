// user.acidfs.expires_at in the core (SPEC §11, core/expiry.h): the file
// is deleted at its time, in a transaction that checks it still holds the
// content it held when the expiry was set; a move or a copy clears it; only
// a caller who could unlink the file may set it; it survives a reopen; a
// commit can set it in its own transaction. Runs on both engines.
#include "core/expiry.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/history.h"
#include "core/virtual_xattrs.h"
#include "tests/test_util.h"

namespace acidfs {
namespace {

using testing::code;
using testing::StoreFixture;

constexpr int64_t kSecond = 1'000'000'000;
constexpr int64_t kStart = 1'800'000'000ll * kSecond;
const Caller kAlice = Caller::of(1000, 1000);

class ExpiryTest : public StoreFixture {
 protected:
  ExpiryTest() {
    options_.clock = clock_;
    options_.trashSeconds = 24 * 3600;
    options_.gcIntervalSeconds = 0;
  }
  // Sets f's expiry `seconds` from the clock's now, as setfattr would.
  Status expireIn(uint64_t ino, int64_t seconds, const Caller& who = Caller::root()) {
    return ns().setExpiry(who, ino, std::to_string(clock_->nowNs() / kSecond + seconds));
  }
  std::string expiresAt(uint64_t ino) {
    auto value = ns().getxattr(ino, kExpiresAtXattr);
    return value.ok() ? *value : "<" + code(value.status()) + ">";
  }
  uint64_t fire() {
    auto fired = store_->fireExpiries();
    EXPECT_TRUE(fired.ok()) << fired.status().toString();
    return fired.ok() ? *fired : 0;
  }
  uint64_t dir(const std::string& name, uint32_t mode = 0755) {
    auto made = ns().mkdir(Caller::root(), kRootIno, name, mode);
    EXPECT_TRUE(made.ok()) << made.status().toString();
    return made.ok() ? made->ino : 0;
  }

  std::shared_ptr<ManualClock> clock_ = std::make_shared<ManualClock>(kStart);
};

TEST_F(ExpiryTest, AFileIsDeletedAtItsTimeAndKeptInTheTrash) {
  const uint64_t d = dir("locks");
  const uint64_t f = makeFile(d, "lease", "held by 42");
  ASSERT_TRUE(expireIn(f, 30).ok());
  EXPECT_EQ(std::to_string(kStart / kSecond + 30), expiresAt(f));
  clock_->advance(29 * kSecond);
  EXPECT_EQ(0u, fire());
  EXPECT_TRUE(exists("/locks/lease"));
  clock_->advance(1 * kSecond);
  EXPECT_EQ(1u, fire());
  EXPECT_FALSE(exists("/locks/lease"));
  EXPECT_EQ(0u, fire()) << "an expiry fires once";
  // Deleted as an unlink is: the version is in the trash.
  auto log = store_->history().log(Caller::root(), "/locks/lease");
  ASSERT_TRUE(log.ok());
  ASSERT_EQ(1u, log->size());
  EXPECT_EQ(DropCause::kUnlink, (*log)[0].record.cause);
}

TEST_F(ExpiryTest, ChangedContentKeepsTheFileAndAMoveOrACopyClearsTheExpiry) {
  const uint64_t changed = makeFile(kRootIno, "changed", "v1");
  ASSERT_TRUE(expireIn(changed, 5).ok());
  ASSERT_TRUE(testing::writeFile(ns(), changed, 0, "v2").ok());

  const uint64_t moved = makeFile(kRootIno, "moved", "m");
  ASSERT_TRUE(expireIn(moved, 5).ok());
  ASSERT_TRUE(ns().rename(Caller::root(), kRootIno, "moved", kRootIno, "moved-away", 0).ok());
  EXPECT_EQ("<ENODATA>", expiresAt(moved)) << "a move clears the expiry";

  const uint64_t copiedOnto = makeFile(kRootIno, "copied-onto", "c");
  ASSERT_TRUE(expireIn(copiedOnto, 5).ok());
  std::vector<TransactOp> copy{{TransactOp::Kind::kCopy, "/changed", std::nullopt, "/copied-onto", Basis::any()}};
  ASSERT_TRUE(cas().transact(Caller::root(), copy).ok());
  EXPECT_EQ("<ENODATA>", expiresAt(copiedOnto)) << "a copy onto the file clears it";

  const uint64_t source = makeFile(kRootIno, "source", "s");
  ASSERT_TRUE(expireIn(source, 5).ok());
  std::vector<TransactOp> copyOut{{TransactOp::Kind::kCopy, "/source", std::nullopt, "/the-copy", Basis::absent()}};
  ASSERT_TRUE(cas().transact(Caller::root(), copyOut).ok());
  auto copyStat = cas().stat(Caller::root(), "/the-copy");
  ASSERT_TRUE(copyStat.ok());
  EXPECT_EQ("<ENODATA>", expiresAt(copyStat->ino)) << "a copy does not carry the source's expiry";

  clock_->advance(10 * kSecond);
  EXPECT_EQ(1u, fire()) << "only /source, which nothing changed";
  EXPECT_TRUE(exists("/changed"));
  EXPECT_EQ("<ENODATA>", expiresAt(changed)) << "an expiry that found other content is dropped";
  EXPECT_TRUE(exists("/moved-away"));
  EXPECT_TRUE(exists("/copied-onto"));
  EXPECT_TRUE(exists("/the-copy"));
  EXPECT_FALSE(exists("/source"));
}

TEST_F(ExpiryTest, SettingAgainMovesTheTimeAndClearingCancelsIt) {
  const uint64_t f = makeFile(kRootIno, "f", "x");
  ASSERT_TRUE(expireIn(f, 5).ok());
  ASSERT_TRUE(expireIn(f, 60).ok());  // a renewed lease
  clock_->advance(10 * kSecond);
  EXPECT_EQ(0u, fire()) << "the old time's key fired";
  EXPECT_TRUE(exists("/f"));
  ASSERT_TRUE(ns().setExpiry(Caller::root(), f, "").ok());
  EXPECT_EQ("<ENODATA>", expiresAt(f));
  clock_->advance(60 * kSecond);
  EXPECT_EQ(0u, fire());
  EXPECT_TRUE(exists("/f"));
}

TEST_F(ExpiryTest, OnlyWhoCouldUnlinkTheFileSetsItAndBadValuesAreRefused) {
  const uint64_t open = dir("open", 0777);
  const uint64_t f = makeFile(kRootIno, "roots-dir", "x", 0666);  // writable file, root's directory
  EXPECT_EQ("EACCES", code(expireIn(f, 5, kAlice))) << "Alice could not unlink it";
  const uint64_t sticky = dir("sticky", 01777);
  const uint64_t inSticky = makeFile(sticky, "roots", "x", 0666);
  EXPECT_EQ("EPERM", code(expireIn(inSticky, 5, kAlice)));
  const uint64_t hers = makeFile(open, "hers", "x", 0644, kAlice);
  EXPECT_TRUE(expireIn(hers, 5, kAlice).ok());
  for (const char* bad : {"soon", "-5", "0", "12 ", "1e9", "99999999999999999999"})
    EXPECT_EQ("EINVAL", code(ns().setExpiry(Caller::root(), f, bad))) << bad;
  EXPECT_EQ("EINVAL", code(ns().setExpiry(Caller::root(), open, "2000000000"))) << "a directory";
  EXPECT_EQ("EINVAL", code(ns().setxattr(f, kExpiresAtXattr, "2000000000", 0)))
      << "only setExpiry, which knows the caller, sets it";
  EXPECT_EQ("<ENODATA>", expiresAt(f));
}

TEST_F(ExpiryTest, AnExpirySurvivesAReopenAndACommitCanSetItAtomically) {
  const uint64_t f = makeFile(kRootIno, "f", "x");
  ASSERT_TRUE(expireIn(f, 5).ok());
  auto blob = cas().put(Caller::root(), "holder 7");
  ASSERT_TRUE(blob.ok());
  auto lock = cas().commit(Caller::root(), "/lock", *blob, Basis::absent(), 0644, nullptr, kStart + 5 * kSecond);
  ASSERT_TRUE(lock.ok()) << lock.status().toString();
  EXPECT_EQ(std::to_string(kStart / kSecond + 5), expiresAt(lock->ino));
  reopen();
  clock_->advance(5 * kSecond);
  EXPECT_EQ(2u, fire());
  EXPECT_FALSE(exists("/f"));
  EXPECT_FALSE(exists("/lock"));
  // Alice may write root's file in a sticky directory, not make it expire.
  const uint64_t sticky = dir("sticky", 01777);
  makeFile(sticky, "roots", "x", 0666);
  auto hers = cas().put(kAlice, "alice");
  ASSERT_TRUE(hers.ok());
  EXPECT_EQ("EPERM", code(cas().commit(kAlice, "/sticky/roots", *hers, Basis::any(), 0644, nullptr,
                                       clock_->nowNs() + 60 * kSecond).status()));
  EXPECT_EQ("x", contentAt("/sticky/roots")) << "the refused commit changed the file";
}

}  // namespace
}  // namespace acidfs
