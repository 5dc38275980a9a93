// Opening a database store (SPEC §9): the first daemon formats an empty
// database, several formatting at once make one store; a database of a
// newer format is refused untouched; the database's chunk size wins over
// the options, and so does where its chunks are (RADOS itself:
// rados_chunk_store_test.cc).
#include <gtest/gtest.h>

#include <thread>

#include "core/format.h"
#include "core/meta_engine.h"
#include "tests/test_util.h"

namespace acidfs {
namespace {

using testing::freshDatabaseUri;
using testing::sharedPostgres;

class StoreDatabase : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(sharedPostgres().ok()) << sharedPostgres().why();
    uri_ = freshDatabaseUri();
  }
  std::string uri_;
};

TEST_F(StoreDatabase, DaemonsFormattingAnEmptyDatabaseAtOnceMakeOneStore) {
  constexpr int kDaemons = 4;
  std::vector<std::unique_ptr<Store>> stores(kDaemons);
  std::vector<std::string> errors(kDaemons);
  std::vector<std::thread> threads;
  for (int i = 0; i < kDaemons; ++i)
    threads.emplace_back([&, i] {
      StoreOptions options;
      options.chunkSize = 4096u << i;  // each would format with its own
      auto opened = Store::open(uri_, options);
      if (opened.ok()) stores[i] = std::move(*opened);
      else errors[i] = opened.status().toString();
    });
  for (auto& t : threads) t.join();
  for (int i = 0; i < kDaemons; ++i) ASSERT_TRUE(stores[i]) << errors[i];
  for (int i = 1; i < kDaemons; ++i) EXPECT_EQ(stores[0]->chunkSize(), stores[i]->chunkSize()) << "two formats";
  // One namespace: a file made through one is there for all.
  auto made = stores[1]->ns().mknod(Caller::root(), kRootIno, "f", S_IFREG | 0644, 0);
  ASSERT_TRUE(made.ok()) << made.status().toString();
  for (int i = 0; i < kDaemons; ++i) EXPECT_TRUE(stores[i]->ns().lookup(kRootIno, "f").ok()) << "daemon " << i;
}

TEST_F(StoreDatabase, ANewerFormatIsRefusedUntouched) {
  {
    auto store = Store::open(uri_, {});
    ASSERT_TRUE(store.ok()) << store.status().toString();
    ASSERT_TRUE((*store)->engine().put(Column::kDefault, "format_version", "2", true).ok());
  }
  auto refused = Store::open(uri_, {});
  EXPECT_EQ(EPROTO, refused.status().errnum()) << refused.status().toString();
  EXPECT_NE(std::string::npos, refused.status().message().find("format 2")) << refused.status().toString();
}

TEST_F(StoreDatabase, TheDatabasesChunkSizeAndChunkPlaceWin) {
  StoreOptions small;
  small.chunkSize = 16384;
  { ASSERT_TRUE(Store::open(uri_, small).ok()); }
  auto reopened = Store::open(uri_, {});
  ASSERT_TRUE(reopened.ok()) << reopened.status().toString();
  EXPECT_EQ(16384u, (*reopened)->chunkSize());
  reopened->reset();
  // Formatted with chunks=db: RADOS is refused before any cluster is asked.
  StoreOptions rados;
  rados.chunks = "rados:pool";
  EXPECT_EQ(EINVAL, Store::open(uri_, rados).status().errnum());
  rados.chunks = "rados:pool,user=x";
  EXPECT_EQ(EINVAL, Store::open(uri_, rados).status().errnum());
}

}  // namespace
}  // namespace acidfs
