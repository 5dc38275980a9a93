// A store opened and closed again and again (a daemon restarted by systemd,
// a mount at every boot, a CI job per commit) keeps a bounded number of
// files: write-ahead logs and RocksDB's info logs do not pile up with each
// restart, and every restart still finds all the data.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "tests/test_util.h"

namespace acidfs {
namespace {

using testing::StoreFixture;

class StoreRestart : public StoreFixture {
 protected:
  // Files in the store's RocksDB directory whose name ends in `suffix` or,
  // for info logs, starts with "LOG".
  int countDbFiles(const std::string& kind) {
    int n = 0;
    for (const auto& entry : std::filesystem::directory_iterator(dir_.path() + "/store/db")) {
      const std::string name = entry.path().filename().string();
      if (kind == "wal" && name.size() > 4 && name.ends_with(".log")) ++n;
      if (kind == "info" && name.starts_with("LOG")) ++n;
    }
    return n;
  }
};

TEST_F(StoreRestart, FiftyRestartsLeaveABoundedNumberOfLogFiles) {
  constexpr int kRestarts = 50;
  for (int i = 0; i < kRestarts; ++i) {
    makeFile(kRootIno, "f" + std::to_string(i), "content " + std::to_string(i));
    reopen();
  }
  EXPECT_LE(countDbFiles("wal"), 2) << "write-ahead logs pile up with restarts";
  EXPECT_LE(countDbFiles("info"), 5) << "RocksDB info logs pile up with restarts";
  for (int i = 0; i < kRestarts; ++i) {
    auto entry = ns().lookup(kRootIno, "f" + std::to_string(i));
    ASSERT_TRUE(entry.ok()) << "f" << i << ": " << entry.status().toString();
    std::string content;
    ASSERT_TRUE(ns().read(entry->ino, 0, 100, content).ok());
    EXPECT_EQ("content " + std::to_string(i), content);
  }
}

// A second open is refused naming the holder, and its mount point once the
// holder recorded one (acidfsd does); so does fsck (one line each).
TEST_F(StoreRestart, ASecondOpenNamesTheHolderAndWhereItIsMounted) {
  const std::string path = dir_.path() + "/store";
  const std::string pid = std::to_string(getpid());
  auto second = Store::open(path, options_);
  ASSERT_EQ(EBUSY, second.status().errnum());
  EXPECT_NE(std::string::npos, second.status().message().find("in use by another process (pid " + pid + ")"))
      << second.status().toString();
  store_->recordUse("mounted on /some/where");
  second = Store::open(path, options_);
  ASSERT_EQ(EBUSY, second.status().errnum());
  EXPECT_NE(std::string::npos,
            second.status().message().find("in use by another process (pid " + pid + ", mounted on /some/where)"))
      << second.status().toString();
  EXPECT_EQ("pid 12, mounted on /m", LockHolder::decode("12\nmounted on /m\n").describe());
  EXPECT_EQ("pid 12", LockHolder::decode("12\n").describe());
  EXPECT_EQ("pid ?", LockHolder::decode("").describe());
  EXPECT_EQ("12\nmounted on /m\n", (LockHolder{"12", "mounted on /m"}.encode()));
}

}  // namespace
}  // namespace acidfs
