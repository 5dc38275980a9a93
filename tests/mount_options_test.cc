// acidfsd's -o parsing: every option a user may write is taken out with its
// effect recorded, passed to libfuse (kernel flags, libfuse's own options),
// consumed as mount(8) consumes it, or refused by name — never dropped unsaid.
#include "daemon/mount_options.h"

#include <gtest/gtest.h>

namespace acidfs {
namespace {

using Options = std::vector<std::string>;

TEST(MountOptions, OursAreTakenOutTheRestPassThrough) {
  auto o = parseMountOptions({"allow_other,sync", "commit_interval=9,debug,fsname=x", "max_write=65536"});
  ASSERT_TRUE(o.ok()) << o.status().toString();
  EXPECT_TRUE(o->sync);
  EXPECT_TRUE(o->debug);
  EXPECT_TRUE(o->allowOther);
  EXPECT_EQ(o->commitIntervalSeconds, 9);
  EXPECT_EQ(o->maxWrite, 65536u);
  EXPECT_EQ(o->fuseOptions, (Options{"allow_other", "fsname=x"}));
}

TEST(MountOptions, DefaultsWhenNoneGiven) {
  auto o = parseMountOptions({});
  ASSERT_TRUE(o.ok());
  EXPECT_FALSE(o->sync);
  EXPECT_FALSE(o->dirsync);
  EXPECT_FALSE(o->readOnly);
  EXPECT_TRUE(o->atime);
  EXPECT_EQ(o->commitIntervalSeconds, 5);
  EXPECT_TRUE(o->readdirplus);
  EXPECT_TRUE(o->fuseOptions.empty());
}

// ---- kernel flags: passed to libfuse, which sets them in mount(2) -----------

TEST(MountOptions, KernelFlagsReachLibfuseInOrder) {
  auto o = parseMountOptions({"noexec,nosuid,nodev", "exec,suid,dev"});
  ASSERT_TRUE(o.ok()) << o.status().toString();
  EXPECT_EQ(o->fuseOptions, (Options{"noexec", "nosuid", "nodev", "exec", "suid", "dev"}));
}

TEST(MountOptions, RoIsReadOnlyAndReachesTheKernel) {
  auto o = parseMountOptions({"ro"});
  ASSERT_TRUE(o.ok());
  EXPECT_TRUE(o->readOnly);
  EXPECT_EQ(o->fuseOptions, (Options{"ro"}));
}

TEST(MountOptions, RwAfterRoWinsAsWithMount8) {
  auto o = parseMountOptions({"ro,rw"});
  ASSERT_TRUE(o.ok());
  EXPECT_FALSE(o->readOnly);
  EXPECT_EQ(o->fuseOptions, (Options{"ro", "rw"}));  // libfuse: the last one wins too
  o = parseMountOptions({"rw", "ro"});
  ASSERT_TRUE(o.ok());
  EXPECT_TRUE(o->readOnly);
}

TEST(MountOptions, NoatimeTurnsAccessTimesOffAndReachesTheMount) {
  auto o = parseMountOptions({"noatime"});
  ASSERT_TRUE(o.ok());
  EXPECT_FALSE(o->atime);
  EXPECT_EQ(o->fuseOptions, (Options{"noatime"}));
}

TEST(MountOptions, AtimeAfterNoatimeTurnsThemBackOn) {
  auto o = parseMountOptions({"noatime,atime"});
  ASSERT_TRUE(o.ok());
  EXPECT_TRUE(o->atime);
  EXPECT_EQ(o->fuseOptions, (Options{"noatime", "atime"}));
}

TEST(MountOptions, RelatimeIsTheDefaultAndDoesNotUndoNoatime) {
  auto o = parseMountOptions({"relatime"});
  ASSERT_TRUE(o.ok()) << o.status().toString();
  EXPECT_TRUE(o->atime);
  EXPECT_TRUE(o->fuseOptions.empty());  // libfuse 3.14 does not know it; the kernel's default anyway
  o = parseMountOptions({"noatime,relatime"});  // the kernel: MS_NOATIME wins over MS_RELATIME
  ASSERT_TRUE(o.ok());
  EXPECT_FALSE(o->atime);
}

TEST(MountOptions, NorelatimeAloneLeavesRelatimeAsTheKernelDoes) {
  auto o = parseMountOptions({"norelatime"});
  ASSERT_TRUE(o.ok()) << o.status().toString();
  EXPECT_TRUE(o->atime);
  EXPECT_FALSE(o->strictAtime);
  EXPECT_TRUE(o->fuseOptions.empty());
}

TEST(MountOptions, StrictatimeMovesAtimeAtEveryReadAndOverridesNoatime) {
  auto o = parseMountOptions({"strictatime"});
  ASSERT_TRUE(o.ok()) << o.status().toString();
  EXPECT_TRUE(o->atime);
  EXPECT_TRUE(o->strictAtime);
  // MS_STRICTATIME clears MNT_NOATIME wherever it stands: the mount shows no noatime.
  for (const char* list : {"noatime,strictatime", "strictatime,noatime"}) {
    o = parseMountOptions({list});
    ASSERT_TRUE(o.ok()) << list;
    EXPECT_TRUE(o->atime) << list;
    EXPECT_TRUE(o->strictAtime) << list;
    EXPECT_EQ("atime", o->fuseOptions.back()) << list;
  }
  o = parseMountOptions({"strictatime,nostrictatime"});
  ASSERT_TRUE(o.ok());
  EXPECT_FALSE(o->strictAtime);
  EXPECT_TRUE(o->fuseOptions.empty());
}

// Generic options of Linux filesystems that ask for what acidfs does anyway.
TEST(MountOptions, GenericOptionsThatChangeNothingAreAccepted) {
  for (const char* same : {"noacl", "lazytime", "nolazytime", "nomand", "noiversion", "silent", "loud", "symfollow",
                           "dax=never", "nousers", "noowner", "nogroup", "helper=fuse", "uhelper=acidfs"}) {
    auto o = parseMountOptions({same});
    ASSERT_TRUE(o.ok()) << same << ": " << o.status().toString();
    EXPECT_TRUE(o->fuseOptions.empty()) << same;
    EXPECT_TRUE(o->atime) << same;
    EXPECT_FALSE(o->strictAtime) << same;
    EXPECT_FALSE(o->sync) << same;
  }
}

TEST(MountOptions, OwnerAndGroupImplyNosuidNodevAsMountSays) {
  for (const char* who : {"owner", "group"}) {
    auto o = parseMountOptions({who});
    ASSERT_TRUE(o.ok()) << who;
    EXPECT_EQ(o->fuseOptions, (Options{"nosuid", "nodev"})) << who;
    o = parseMountOptions({std::string(who) + ",suid"});
    EXPECT_EQ(o->fuseOptions, (Options{"nosuid", "nodev", "suid"})) << who;
  }
}

TEST(MountOptions, NodiratimeIsAlreadySo) {
  auto o = parseMountOptions({"nodiratime"});
  ASSERT_TRUE(o.ok()) << o.status().toString();
  EXPECT_TRUE(o->atime);  // files keep relatime
  EXPECT_TRUE(o->fuseOptions.empty());
}

TEST(MountOptions, SyncIsOursAndNotTheKernels) {
  auto o = parseMountOptions({"sync"});
  ASSERT_TRUE(o.ok());
  EXPECT_TRUE(o->sync);
  EXPECT_TRUE(o->fuseOptions.empty());  // no MS_SYNCHRONOUS: it would add an FSYNC per write
  o = parseMountOptions({"sync,async"});
  ASSERT_TRUE(o.ok());
  EXPECT_FALSE(o->sync);
  o = parseMountOptions({"async", "sync"});
  ASSERT_TRUE(o.ok());
  EXPECT_TRUE(o->sync);
}

TEST(MountOptions, DirsyncMakesTheStoreSyncAndReachesTheKernel) {
  auto o = parseMountOptions({"dirsync"});
  ASSERT_TRUE(o.ok());
  EXPECT_TRUE(o->dirsync);
  EXPECT_FALSE(o->sync);  // a write() itself is still committed at fsync, close or commit_interval
  EXPECT_EQ(o->fuseOptions, (Options{"dirsync"}));
}

// ---- mount(8) and fstab -------------------------------------------------------

TEST(MountOptions, DefaultsIsTheBaselineThatExplicitFlagsOverride) {
  auto o = parseMountOptions({"defaults"});
  ASSERT_TRUE(o.ok());
  EXPECT_FALSE(o->readOnly);
  EXPECT_FALSE(o->sync);
  EXPECT_EQ(o->fuseOptions, (Options{"rw", "suid", "dev", "exec"}));
  // Wherever defaults stands, an explicit flag wins (mount(8): noexec,defaults is noexec).
  for (const char* list : {"noexec,ro,sync,defaults", "defaults,noexec,ro,sync"}) {
    o = parseMountOptions({list});
    ASSERT_TRUE(o.ok()) << list;
    EXPECT_TRUE(o->readOnly) << list;
    EXPECT_TRUE(o->sync) << list;
    ASSERT_FALSE(o->fuseOptions.empty());
    EXPECT_EQ(o->fuseOptions.back(), "ro") << list;
    EXPECT_EQ(o->fuseOptions, (Options{"rw", "suid", "dev", "exec", "noexec", "ro"})) << list;
  }
}

TEST(MountOptions, UserAndUsersImplyNoexecNosuidNodevAsWithMount8) {
  for (const char* list : {"user", "users"}) {
    auto o = parseMountOptions({list});
    ASSERT_TRUE(o.ok()) << list;
    EXPECT_EQ(o->fuseOptions, (Options{"noexec", "nosuid", "nodev"})) << list;
  }
  auto o = parseMountOptions({"users,exec"});  // what mount(8) hands on for "users,exec"
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->fuseOptions.back(), "exec");
  o = parseMountOptions({"nouser"});
  ASSERT_TRUE(o.ok());
  EXPECT_TRUE(o->fuseOptions.empty());
  o = parseMountOptions({"user=joe"});  // the mtab's record of a user mount: libfuse's
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->fuseOptions, (Options{"user=joe"}));
}

TEST(MountOptions, OptionsOnlyMountAndSystemdActOnAreConsumed) {
  auto o = parseMountOptions(
      {"auto,noauto,nofail,_netdev,x-systemd.automount,x-systemd.device-timeout=5s,X-mount.mkdir,comment=foo,"
       "default_permissions"});
  ASSERT_TRUE(o.ok()) << o.status().toString();
  EXPECT_TRUE(o->fuseOptions.empty());
  EXPECT_FALSE(o->readOnly);
}

// What mount(8) and mount.fuse3 hand acidfsd for a typical fstab line
// (rw,noexec,nofail,_netdev,x-systemd.automount,comment=foo: libmount drops
// the last two, mount.fuse3 the nofail,_netdev and appends dev,suid).
TEST(MountOptions, AnFstabLineAsMountFuse3PassesIt) {
  auto o = parseMountOptions({"rw,noexec,relatime,allow_other,dev,suid"});
  ASSERT_TRUE(o.ok()) << o.status().toString();
  EXPECT_FALSE(o->readOnly);
  EXPECT_TRUE(o->allowOther);
  EXPECT_EQ(o->fuseOptions, (Options{"rw", "noexec", "allow_other", "dev", "suid"}));
}

TEST(MountOptions, LibfuseOptionsPassThrough) {
  auto o = parseMountOptions(
      {"fsname=my store,allow_root,auto_unmount,max_read=131072,context=system_u:object_r:tmp_t:s0,"
       "fscontext=a,defcontext=b,rootcontext=c"});
  ASSERT_TRUE(o.ok()) << o.status().toString();
  EXPECT_EQ(o->fuseOptions.size(), 8u);
  EXPECT_EQ(o->fuseOptions.front(), "fsname=my store");
}

// ---- refused: EINVAL, with the option's name in the message --------------------

TEST(MountOptions, UnknownOptionsAreRefusedByName) {
  for (const char* bad : {"frobnicate", "frob=1", "subtype=other", "blkdev", "blksize=4096", "loop", "bind",
                          "NOACL", "EXEC", "noexec "}) {
    auto o = parseMountOptions({std::string("rw,") + bad + ",nodev"});
    ASSERT_FALSE(o.ok()) << bad;
    EXPECT_EQ(o.status().errnum(), EINVAL) << bad;
    EXPECT_NE(o.status().message().find(std::string("'") + bad + "'"), std::string::npos) << o.status().message();
  }
}

TEST(MountOptions, OptionsAcidfsCannotHonourAreRefusedByNameWithTheReason) {
  for (const char* bad : {"diratime", "mand", "acl", "iversion", "nosymfollow", "dax", "dax=always", "dax=inode",
                          "inlinecrypt", "remount"}) {
    auto o = parseMountOptions({bad});
    ASSERT_FALSE(o.ok()) << bad;
    EXPECT_EQ(o.status().errnum(), EINVAL) << bad;
    const std::string& message = o.status().message();
    EXPECT_NE(message.find(std::string("'") + bad + "' is not supported: "), std::string::npos) << message;
  }
}

TEST(MountOptions, ADatabaseStoresOptionsAreTakenWithTheirDefaults) {
  auto defaults = parseMountOptions({"rw"});
  ASSERT_TRUE(defaults.ok());
  EXPECT_FALSE(defaults->databaseOptionGiven);
  EXPECT_EQ("", defaults->chunks);
  EXPECT_EQ(1000, defaults->coherenceMs);
  EXPECT_EQ(30, defaults->dbTimeoutSeconds);
  EXPECT_EQ(30, defaults->sessionTimeoutSeconds);
  auto o = parseMountOptions({"chunks=db,coherence_ms=250", "db_timeout=5,session_timeout=12"});
  ASSERT_TRUE(o.ok()) << o.status().toString();
  EXPECT_TRUE(o->databaseOptionGiven);
  EXPECT_EQ("db", o->chunks);
  EXPECT_EQ(250, o->coherenceMs);
  EXPECT_EQ(5, o->dbTimeoutSeconds);
  EXPECT_EQ(12, o->sessionTimeoutSeconds);
  EXPECT_TRUE(o->fuseOptions.empty()) << "none of them reaches libfuse";
}

// SPEC §9's chunks=rados:POOL,conf=FILE,id=NAME survives the commas that
// split an option list; conf= and id= mean nothing anywhere else.
TEST(MountOptions, RadosChunksKeepTheirConfAndIdParts) {
  auto o = parseMountOptions({"chunks=rados:bulk,conf=/etc/ceph/other.conf,id=acidfs,coherence_ms=10", "ro"});
  ASSERT_TRUE(o.ok()) << o.status().toString();
  EXPECT_EQ("rados:bulk,conf=/etc/ceph/other.conf,id=acidfs", o->chunks);
  EXPECT_EQ(10, o->coherenceMs);
  EXPECT_TRUE(o->readOnly);
  for (const char* stray : {"conf=/x", "id=x"}) {
    auto refused = parseMountOptions({std::string("chunks=db,") + stray});
    EXPECT_EQ(refused.status().errnum(), EINVAL) << stray;
  }
}

TEST(MountOptions, BadValuesAreEinval) {
  for (const char* bad : {"commit_interval=0", "commit_interval=abc", "commit_interval=", "attr_timeout=-1",
                          "entry_timeout=3601", "max_write=10", "max_write=99999999", "readdirplus=maybe",
                          "chunks=segments", "chunks=", "coherence_ms=-1", "coherence_ms=1s", "db_timeout=0",
                          "session_timeout=1", "session_timeout="}) {
    auto o = parseMountOptions({bad});
    EXPECT_EQ(o.status().errnum(), EINVAL) << bad;
  }
}

// The whole list a user may write in fstab, at a glance: which are taken,
// which refused (the tests above say what each taken one does).
TEST(MountOptions, EveryFstabOptionHasAnEffectOrIsRefused) {
  struct Case {
    const char* option;
    bool accepted;
  };
  for (const Case& c : std::initializer_list<Case>{
           {"ro", true},        {"rw", true},        {"noexec", true},      {"exec", true},
           {"nosuid", true},    {"suid", true},      {"nodev", true},       {"dev", true},
           {"noatime", true},   {"atime", true},     {"relatime", true},    {"nodiratime", true},
           {"sync", true},      {"async", true},     {"dirsync", true},     {"nofail", true},
           {"_netdev", true},   {"defaults", true},  {"auto", true},        {"noauto", true},
           {"user", true},      {"users", true},     {"nouser", true},      {"x-systemd.automount", true},
           {"x-anything", true}, {"comment=foo", true}, {"strictatime", true}, {"norelatime", true},
           {"nostrictatime", true}, {"lazytime", true}, {"nolazytime", true}, {"noacl", true},
           {"nomand", true},    {"noiversion", true}, {"silent", true},     {"loud", true},
           {"symfollow", true}, {"owner", true},     {"group", true},       {"nousers", true},
           {"dax=never", true}, {"acl", false},      {"iversion", false},   {"nosymfollow", false},
           {"dax", false},      {"inlinecrypt", false}, {"remount", false}, {"diratime", false},
           {"mand", false},     {"frobnicate", false}}) {
    auto o = parseMountOptions({c.option});
    EXPECT_EQ(c.accepted, o.ok()) << c.option << ": " << o.status().toString();
  }
}

}  // namespace
}  // namespace acidfs
