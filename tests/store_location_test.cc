// STORE arguments: a database URI is told from a directory, and its
// password never shows (logs, /proc/mounts, messages).
#include "core/store_location.h"

#include <gtest/gtest.h>

namespace acidfs {
namespace {

TEST(StoreLocation, DatabaseUrisAreToldFromDirectories) {
  EXPECT_TRUE(isDatabaseStore("postgresql://db.example/acidfs"));
  EXPECT_TRUE(isDatabaseStore("postgres:///acidfs?host=/run/postgresql"));
  EXPECT_FALSE(isDatabaseStore("/srv/acidfs"));
  EXPECT_FALSE(isDatabaseStore("postgresql"));  // a relative directory of that name
  EXPECT_FALSE(isDatabaseStore("./postgresql://x"));
}

TEST(StoreLocation, PasswordsAreNeverShown) {
  EXPECT_EQ("postgresql://alice:***@db.example:5432/acidfs",
            shownStore("postgresql://alice:s3cret@db.example:5432/acidfs"));
  EXPECT_EQ("postgresql://db.example/acidfs?user=alice&password=***&sslmode=require",
            shownStore("postgresql://db.example/acidfs?user=alice&password=s3cret&sslmode=require"));
  EXPECT_EQ("postgresql://db/acidfs?password=***", shownStore("postgresql://db/acidfs?password=a@b"));
  EXPECT_EQ("postgresql://alice@db/acidfs", shownStore("postgresql://alice@db/acidfs"));
  EXPECT_EQ("/srv/a:b@c", shownStore("/srv/a:b@c")) << "a directory is shown as it is";
}

}  // namespace
}  // namespace acidfs
