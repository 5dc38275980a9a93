// Sessions (core/sessions.h): a daemon's session lapses for another only
// after that one watched its count stand still for the whole timeout, and a
// gap in the watching starts the watch again. Two Sessions over one store
// play two daemons; time is given to tick().
#include "core/sessions.h"

#include <gtest/gtest.h>

#include "core/meta_engine.h"
#include "core/transaction.h"
#include "tests/test_util.h"

namespace acidfs {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using SteadyClock = Sessions::SteadyClock;

class SessionsTest : public testing::StoreFixture {
 protected:
  bool recorded(const std::string& id) {
    auto v = store_->engine().get(Column::kDefault, std::string(Sessions::kPrefix) + id);
    EXPECT_TRUE(v.ok()) << v.status().toString();
    return v.ok() && v->has_value();
  }
  std::unique_ptr<Sessions> session() {
    return std::make_unique<Sessions>(store_->engine(), store_->runner(), store_->ns(), milliseconds(3000));
  }
};

TEST_F(SessionsTest, ASessionLapsesOnlyAfterStandingStillForTheWholeTimeout) {
  auto watcher = session(), other = session();
  ASSERT_TRUE(watcher->start().ok());
  auto otherId = other->start();
  ASSERT_TRUE(otherId.ok());
  const auto t0 = SteadyClock::now();
  // The watcher ticks every second; the other daemon is silent from t0.
  for (int s = 0; s <= 2; ++s) ASSERT_TRUE(watcher->tick(t0 + seconds(s)).ok());
  EXPECT_TRUE(recorded(*otherId)) << "lapsed after 2 s of a 3 s timeout";
  ASSERT_TRUE(watcher->tick(t0 + milliseconds(3100)).ok());
  EXPECT_FALSE(recorded(*otherId)) << "not reclaimed after standing still for the timeout";
}

TEST_F(SessionsTest, AHeartbeatOrAGapInWatchingStartsTheWatchAgain) {
  auto watcher = session(), other = session();
  ASSERT_TRUE(watcher->start().ok());
  auto otherId = other->start();
  ASSERT_TRUE(otherId.ok());
  const auto t0 = SteadyClock::now();
  ASSERT_TRUE(watcher->tick(t0).ok());
  // A gap in watching (as while the database was unreachable): the next
  // tick cannot tell how long the other stood still, so it starts again.
  ASSERT_TRUE(watcher->tick(t0 + seconds(10)).ok());
  EXPECT_TRUE(recorded(*otherId)) << "lapsed across a gap in watching";
  ASSERT_TRUE(watcher->tick(t0 + seconds(11)).ok());
  ASSERT_TRUE(watcher->tick(t0 + seconds(12)).ok());
  EXPECT_TRUE(recorded(*otherId));
  // The other beats (its tick, far enough after its start): the count moved.
  ASSERT_TRUE(other->tick(SteadyClock::now() + seconds(5)).ok());
  ASSERT_TRUE(watcher->tick(t0 + seconds(13)).ok());
  ASSERT_TRUE(watcher->tick(t0 + seconds(14)).ok());
  ASSERT_TRUE(watcher->tick(t0 + seconds(15)).ok());
  EXPECT_TRUE(recorded(*otherId)) << "lapsed though it beat 2 s ago";
  ASSERT_TRUE(watcher->tick(t0 + seconds(16)).ok());
  ASSERT_TRUE(watcher->tick(t0 + milliseconds(16100)).ok());
  EXPECT_FALSE(recorded(*otherId));
}

TEST_F(SessionsTest, ACleanEndRemovesTheRecord) {
  auto s = session();
  auto id = s->start();
  ASSERT_TRUE(id.ok());
  EXPECT_TRUE(recorded(*id));
  ASSERT_TRUE(s->end().ok());
  EXPECT_FALSE(recorded(*id));
}

}  // namespace
}  // namespace acidfs
