// The metadata database's own options: what it keeps in memory.
#include "core/meta_db.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/test_util.h"

namespace acidfs {
namespace {

uint64_t memtableBytes(MetaDb& db, Column c) {
  uint64_t bytes = 0;
  EXPECT_TRUE(db.db()->GetIntProperty(db.cf(c), "rocksdb.size-all-mem-tables", &bytes));
  return bytes;
}

// TransactionDB would keep flushed memtables (up to 128 MiB a column
// family) for snapshot validation, which acidfs never uses (meta_db.cc).
// RocksDB still keeps the last flushed one; what must not happen is that
// every flush leaves its records in memory.
TEST(MetaDb, FlushedMemtablesLeaveMemory) {
  testing::TempDir dir;
  auto opened = MetaDb::open(dir.path() + "/db");
  ASSERT_TRUE(opened.ok()) << opened.status().toString();
  MetaDb& db = *opened.value();
  const std::string value(4096, 'v');
  constexpr uint64_t kRoundBytes = 16u << 20;
  for (int round = 0; round < 4; ++round) {
    for (uint64_t i = 0; i < kRoundBytes / value.size(); ++i)
      ASSERT_TRUE(db.put(Column::kInodes, "key" + std::to_string(i), value, false).ok());
    ASSERT_TRUE(db.flush().ok());
  }
  // The history would hold all four rounds (64 MiB).
  EXPECT_LT(memtableBytes(db, Column::kInodes), 2 * kRoundBytes);
}

}  // namespace
}  // namespace acidfs
