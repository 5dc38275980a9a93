// acidfsd's -o parsing: ours are taken out and validated, the rest pass to libfuse.
#include "daemon/mount_options.h"

#include <gtest/gtest.h>

namespace acidfs {
namespace {

TEST(MountOptions, OursAreTakenOutTheRestPassThrough) {
  auto o = parseMountOptions({"allow_other,sync", "commit_interval=9,debug,fsname=x", "max_write=65536"});
  ASSERT_TRUE(o.ok()) << o.status().toString();
  EXPECT_TRUE(o->sync);
  EXPECT_TRUE(o->debug);
  EXPECT_TRUE(o->allowOther);
  EXPECT_EQ(o->commitIntervalSeconds, 9);
  EXPECT_EQ(o->maxWrite, 65536u);
  EXPECT_EQ(o->fuseOptions, (std::vector<std::string>{"allow_other", "fsname=x"}));
}

TEST(MountOptions, NoatimeTurnsAccessTimesOffAndReachesTheMount) {
  auto o = parseMountOptions({"noatime"});
  ASSERT_TRUE(o.ok());
  EXPECT_FALSE(o->atime);
  EXPECT_EQ(o->fuseOptions, (std::vector<std::string>{"noatime"}));
}

TEST(MountOptions, DefaultsWhenNoneGiven) {
  auto o = parseMountOptions({});
  ASSERT_TRUE(o.ok());
  EXPECT_FALSE(o->sync);
  EXPECT_EQ(o->commitIntervalSeconds, 5);
  EXPECT_TRUE(o->readdirplus);
  EXPECT_TRUE(o->fuseOptions.empty());
}

TEST(MountOptions, FstabOnlyOptionsAreDropped) {
  auto o = parseMountOptions({"rw,noauto,nofail,_netdev,x-systemd.automount,default_permissions"});
  ASSERT_TRUE(o.ok());
  EXPECT_TRUE(o->fuseOptions.empty());
}

TEST(MountOptions, BadValuesAreEinval) {
  for (const char* bad : {"commit_interval=0", "commit_interval=abc", "commit_interval=", "attr_timeout=-1",
                          "max_write=10", "max_write=99999999"}) {
    auto o = parseMountOptions({bad});
    EXPECT_EQ(o.status().errnum(), EINVAL) << bad;
  }
}

}  // namespace
}  // namespace acidfs
