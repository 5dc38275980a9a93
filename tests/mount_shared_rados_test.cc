// Chunks on Ceph RADOS across hosts (SPEC §9, issue 14): three acidfsd over
// one PostgreSQL database with -o chunks=rados:POOL,conf=FILE, on a Ceph
// cluster of the test's own (tests/ceph_instance.h), whose pool the test
// counts with librados. What one mount wrote and closed, the others read
// byte-exact, and a copy adds no object; a deleted file's objects outlast
// the delete (the grace period that protects readers on other hosts) and
// go when the daemon that freed them unmounts; a daemon killed with -9 in
// the middle of a large write leaves every object of the pool named by a
// chunk record or pending (fsck); an OSD killed and restarted turns reads
// into EIO, never other bytes, while metadata is served, and loses nothing
// committed.
//
// The store's grace period (5 min) and sweep age (1 h) are fixed, with no
// option: objects freed are shown kept right after the delete and gone once
// their daemon closes (it deletes what waits out its grace then).
#include <libpq-fe.h>
#include <rados/librados.h>

#include <cstdio>
#include <map>
#include <set>

#include "tests/ceph_instance.h"
#include "tests/postgres_instance.h"
#include "tests/shared_mounts.h"

#ifndef ACIDFS_TOOL_PATH
#error "ACIDFS_TOOL_PATH must name the acidfs binary"
#endif

namespace acidfs::mounttest {
namespace {

constexpr int kHosts = 3;
constexpr long kChunk = 64 << 10;  // a store's default chunk size: one object per full chunk

// What `acidfs fsck` printed of the pool's objects.
struct ObjectCounts {
  long named = -1, pending = -1, orphans = -1, foreign = -1;
};

class RadosMounts : public ::testing::Test {
 protected:
  // The OSD test's cluster keeps its objects in a file, to come back with them.
  virtual bool bluestore() const { return false; }
  // Lines for the [client] section of the cluster's ceph.conf, which the
  // daemons' librados reads.
  virtual std::string clientConf() const { return ""; }
  // More -o options for every daemon.
  virtual std::string moreOptions() const { return ""; }

  void SetUp() override {
    if (auto why = fuseMissing()) GTEST_SKIP() << *why;
    ceph_ = std::make_unique<testing::CephInstance>(bluestore());
    ASSERT_TRUE(ceph_->ok()) << ceph_->why();
    if (!clientConf().empty()) std::ofstream(ceph_->confPath(), std::ios::app) << "[client]\n" << clientConf();
    chunks_ = "rados:" + ceph_->pool() + ",conf=" + ceph_->confPath();
    ASSERT_EQ(0, rados_create(&cluster_, nullptr));
    ASSERT_EQ(0, rados_conf_read_file(cluster_, ceph_->confPath().c_str()));
    ASSERT_EQ(0, rados_connect(cluster_));
    ASSERT_EQ(0, rados_ioctx_create(cluster_, ceph_->pool().c_str(), &io_));
    rados_ioctx_set_namespace(io_, LIBRADOS_ALL_NSPACES);  // objects() counts the whole pool
    pg_ = std::make_unique<testing::PostgresInstance>();
    ASSERT_TRUE(pg_->ok()) << pg_->why();
    ASSERT_EQ("", sql("CREATE DATABASE shared"));
    uri_ = pg_->uri("shared");
    for (int h = 0; h < kHosts; ++h) ASSERT_TRUE(start(h));
  }

  void TearDown() override {
    hosts_.stopAll();
    // Every test ends with a consistent store, every object accounted for.
    if (pg_ && pg_->ok() && ceph_ && ceph_->ok()) {
      CommandResult result = fsck();
      EXPECT_TRUE(result.ok()) << "acidfs fsck: " << result;
    }
    if (HasFailure()) hosts_.printLogs();
    if (io_) rados_ioctx_destroy(io_);
    if (cluster_) rados_shutdown(cluster_);
    pg_.reset();
    ceph_.reset();
  }

  std::string mnt(int h) const { return hosts_.mnt(h); }
  std::string path(int h, const std::string& rel) const { return hosts_.path(h, rel); }
  std::string logOf(int h) const { return hosts_.logOf(h); }
  ::testing::AssertionResult start(int h) {
    return hosts_.start(h, uri_, "coherence_ms=500,session_timeout=3,db_timeout=5,chunks=" + chunks_ + moreOptions());
  }
  void stop(int h) { hosts_.stop(h); }
  void killDaemon(int h) { hosts_.killDaemon(h); }

  std::string sql(const std::string& statement) {
    PGconn* c = PQconnectdb(pg_->uri().c_str());
    PGresult* r = PQexec(c, statement.c_str());
    std::string out = PQresultStatus(r) == PGRES_COMMAND_OK ? "" : std::string("ERROR: ") + PQerrorMessage(c);
    PQclear(r);
    PQfinish(c);
    return out;
  }

  // How many objects the pool holds now (-1 when it cannot be listed).
  long objects() {
    rados_list_ctx_t listing = nullptr;
    if (rados_nobjects_list_open(io_, &listing) < 0) return -1;
    long n = 0;
    const char* entry = nullptr;
    int ret;
    while ((ret = rados_nobjects_list_next(listing, &entry, nullptr, nullptr)) == 0) ++n;
    rados_nobjects_list_close(listing);
    return ret == -ENOENT ? n : -1;
  }

  // `acidfs fsck URI --chunks rados:POOL,conf=FILE`, with the mounts idle.
  CommandResult fsck() { return runArgv({ACIDFS_TOOL_PATH, "fsck", uri_, "--chunks", chunks_}, "/", 300); }
  // The counts of the pool's objects fsck printed ("... 40 RADOS objects
  // (38 named, 2 pending, 0 orphans, 0 foreign)"); -1 each when it printed none.
  static ObjectCounts countsIn(const CommandResult& result) {
    const size_t at = result.out.find("RADOS objects (");
    ObjectCounts c;
    if (at == std::string::npos ||
        sscanf(result.out.c_str() + at, "RADOS objects (%ld named, %ld pending, %ld orphans, %ld foreign)", &c.named,
               &c.pending, &c.orphans, &c.foreign) != 4)
      return {};
    return c;
  }

  std::unique_ptr<testing::CephInstance> ceph_;
  std::unique_ptr<testing::PostgresInstance> pg_;
  rados_t cluster_ = nullptr;
  rados_ioctx_t io_ = nullptr;
  std::string chunks_, uri_;
  SharedStoreMounts hosts_{kHosts, "shared-rados"};
};

TEST_F(RadosMounts, WhatOneMountWroteTheOthersReadByteExactAndACopyAddsNoObject) {
  const std::string content = randomBytes(6 << 20, 1);  // random: no two chunks alike
  ASSERT_EQ("OK", writeFile(path(0, "data.bin"), content));
  for (int h = 1; h < kHosts; ++h) EXPECT_TRUE(sameBytes(content, readFile(path(h, "data.bin")))) << "mount " << h;
  const long written = objects();
  CommandResult checked = fsck();
  ASSERT_TRUE(checked.ok()) << checked;
  ObjectCounts counts = countsIn(checked);
  EXPECT_EQ(static_cast<long>(content.size()) / kChunk, counts.named) << "an object per chunk: " << checked.out;
  EXPECT_EQ(written, counts.named + counts.pending) << checked.out;

  // cp as it comes (a clone, where the mount offers one), and a copy of
  // every byte through read and write: the chunks are found, not put again.
  CommandResult cp = runArgv({"cp", path(1, "data.bin"), path(1, "copy.bin")});
  ASSERT_TRUE(cp.ok()) << cp;
  CommandResult bytewise = runArgv({"/bin/sh", "-c", "cat data.bin > bytewise.bin"}, mnt(2));
  ASSERT_TRUE(bytewise.ok()) << bytewise;
  EXPECT_EQ(written, objects()) << "a copy added objects";
  for (int h = 0; h < kHosts; ++h)
    for (const char* copy : {"copy.bin", "bytewise.bin"})
      EXPECT_TRUE(sameBytes(content, readFile(path(h, copy)))) << copy << " on mount " << h;
  EXPECT_EQ(counts.named, countsIn(fsck()).named) << "the copies' chunk records name other objects";
}

// The trash (on by default) would keep the deleted content a day.
class RadosMountsTrashOff : public RadosMounts {
 protected:
  std::string moreOptions() const override { return ",trash_days=0"; }
};

TEST_F(RadosMountsTrashOff, ADeletedFilesObjectsOutlastTheDeleteAndGoWhenItsDaemonUnmounts) {
  const std::string kept = randomBytes(1 << 20, 2), dropped = randomBytes(1 << 20, 3);
  ASSERT_EQ("OK", writeFile(path(0, "kept"), kept));
  ASSERT_EQ("OK", writeFile(path(0, "dropped"), dropped));
  ASSERT_TRUE(runArgv({"cp", path(0, "kept"), path(0, "kept-copy")}).ok());
  const long before = objects();
  ASSERT_EQ(2 * (1 << 20) / kChunk, countsIn(fsck()).named);

  // Mount 1 deletes both: "kept"'s chunks stay named by its copy,
  // "dropped"'s are freed, and wait out their grace period (5 min) in
  // mount 1's daemon: a reader elsewhere may still be reading them.
  ASSERT_EQ(0, unlink(path(1, "kept").c_str()));
  ASSERT_EQ(0, unlink(path(1, "dropped").c_str()));
  struct stat st;
  ASSERT_EQ("ENOENT", errnoAfter(stat(path(2, "dropped").c_str(), &st)));
  {
    // The deletes durable (fsyncdir syncs the store): mount 1 has released
    // the chunks, and what keeps their objects is the grace period alone.
    Fd root(open(mnt(1).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(root.ok()) << errnoName(errno);
    ASSERT_EQ(0, fsync(root.get())) << errnoName(errno);
  }
  EXPECT_EQ(before, objects()) << "objects deleted before their grace period";
  // The daemon that freed them deletes what waits out its grace as it closes.
  stop(1);
  EXPECT_EQ(before - (1 << 20) / kChunk, objects()) << "the deleted file's objects were left, or others went";
  for (int h : {0, 2}) EXPECT_TRUE(sameBytes(kept, readFile(path(h, "kept-copy")))) << "mount " << h;
  ObjectCounts after = countsIn(fsck());
  EXPECT_EQ((1 << 20) / kChunk, after.named);
  EXPECT_EQ(objects(), after.named + after.pending);
}

// A writer process streams 128 MiB into mount 0 (its drafts commit every
// 32 MiB); its daemon is killed with -9 once the pool holds more objects
// than the first commit named, while the next one's puts fly.
TEST_F(RadosMounts, ADaemonKilledMidWriteLeavesEveryObjectNamedOrPending) {
  const std::string content = randomBytes(128 << 20, 4);
  const std::string source = hosts_.root() + "/source.bin";
  std::ofstream(source, std::ios::binary) << content;
  CommandResult writer;
  const std::string stream = "cat '" + source + "' > '" + path(0, "stream") + "'";
  std::thread writing([&] { writer = runArgv({"/bin/sh", "-c", stream}, "/", 300); });
  const bool midWrite = waitUntil([&] { return objects() >= 700; }, 120);
  killDaemon(0);
  writing.join();
  ASSERT_TRUE(midWrite) << "the pool never held 700 objects: " << writer << "\n" << logOf(0);
  EXPECT_FALSE(writer.ok()) << "the write finished before its daemon was killed";

  // What was committed reads byte-exact elsewhere: a prefix of the stream.
  std::optional<std::string> committed = readFile(path(1, "stream"));
  ASSERT_TRUE(committed.has_value()) << errnoName(errno);
  EXPECT_GE(committed->size(), 32u << 20) << "the first commit is lost";
  EXPECT_TRUE(sameBytes(content.substr(0, committed->size()), committed));

  const long inPool = objects();
  CommandResult checked = fsck();
  EXPECT_TRUE(checked.ok()) << checked;
  ObjectCounts counts = countsIn(checked);
  // cat writes 128 KiB at a time: every commit ends on a chunk's end.
  EXPECT_EQ(static_cast<long>(committed->size()) / kChunk, counts.named) << checked.out;
  EXPECT_EQ(inPool, counts.named + counts.pending) << "objects fsck does not account for: " << checked.out;
  EXPECT_GT(counts.pending, 0) << "the kill came between commits, not amid puts: " << checked.out;
  EXPECT_EQ(0, counts.orphans) << checked.out;
  EXPECT_EQ(0, counts.foreign) << checked.out;
}

// ---- the OSD killed and restarted ------------------------------------------------

// A bluestore OSD, which comes back with its objects; the daemons' RADOS
// operations time out after 3 s instead of the store's 30 (set in ceph.conf,
// which the store leaves as it is), so that reads fail soon.
class RadosMountsOsdKilled : public RadosMounts {
 protected:
  bool bluestore() const override { return true; }
  std::string clientConf() const override { return "rados osd op timeout = 3\n"; }
};

// What a read of `path` in another process gave: EIO, the expected bytes,
// other bytes, another error, or no answer within 60 s.
std::string readInChild(const std::string& path, const std::string& expected) {
  const int outcome = runInChild([&] {
    Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.ok()) return 10;
    std::string got(expected.size(), '\0');
    for (size_t done = 0; done < got.size();) {
      const ssize_t n = read(fd.get(), got.data() + done, got.size() - done);
      if (n < 0) return errno == EIO ? 0 : 11;
      if (n == 0) return 12;
      if (got.compare(done, n, expected, done, n) != 0) return 13;
      done += static_cast<size_t>(n);
    }
    return 1;
  }, 60);
  switch (outcome) {
    case 0: return "EIO";
    case 1: return "the bytes written";
    case 13: return "OTHER BYTES";
    case -1: return "no answer within 60 s";
    default: return "outcome " + std::to_string(outcome);
  }
}

TEST_F(RadosMountsOsdKilled, ReadsFailWithEioNeverOtherBytesAndNothingCommittedIsLost) {
  std::map<std::string, std::string> files;
  for (int i = 0; i < 3; ++i) {
    const std::string name = "f" + std::to_string(i);
    files[name] = randomBytes((1 << 20) + 1000 * i, 10 + i);
    Fd fd(open(path(0, name).c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    ASSERT_TRUE(fd.ok()) << errnoName(errno);
    ASSERT_EQ(static_cast<ssize_t>(files[name].size()), write(fd.get(), files[name].data(), files[name].size()));
    ASSERT_EQ(0, fsync(fd.get())) << errnoName(errno);
    ASSERT_EQ(0, fd.close());
  }
  ASSERT_TRUE(ceph_->killOsd()) << ceph_->why();

  // Mount 1 never read these: no cache of the kernel's or the daemon's holds them.
  for (const auto& [name, content] : files) EXPECT_EQ("EIO", readInChild(path(1, name), content)) << name;
  // Metadata is the database's: served on.
  for (int h = 0; h < kHosts; ++h) {
    struct stat st;
    ASSERT_EQ(0, stat(path(h, "f0").c_str(), &st)) << "mount " << h << ": " << errnoName(errno);
    EXPECT_EQ(static_cast<off_t>(files["f0"].size()), st.st_size);
    EXPECT_EQ(0, mkdir(path(h, "dir" + std::to_string(h)).c_str(), 0755)) << "mount " << h << ": " << errnoName(errno);
    EXPECT_EQ("OK", writeFile(path(h, "dir" + std::to_string(h) + "/small"), "inline, no object"));
  }
  // A write that needs objects fails whole: the file keeps what it held.
  EXPECT_EQ("close: EIO", writeFile(path(0, "f1"), randomBytes(1 << 20, 20), O_WRONLY));

  ASSERT_TRUE(ceph_->startOsd()) << ceph_->why();
  // The daemons' librados finds the OSD again at its next map (a few seconds).
  ASSERT_TRUE(waitUntil([&] { return readInChild(path(1, "f0"), files["f0"]) != "EIO"; }, 60))
      << "mount 1 reads EIO a minute after the OSD came back";
  for (int h = 0; h < kHosts; ++h)
    for (const auto& [name, content] : files)
      EXPECT_TRUE(waitUntil([&] { return readInChild(path(h, name), content) != "EIO"; }, 20) &&
                  readInChild(path(h, name), content) == "the bytes written")
          << name << " on mount " << h << ": " << readInChild(path(h, name), content);
  for (int h = 0; h < kHosts; ++h) EXPECT_EQ("inline, no object", readOr(path(h, "dir0/small"))) << "mount " << h;
}

}  // namespace
}  // namespace acidfs::mounttest
