// RadosChunkStore (core/rados_chunk_store.h) on a single-node Ceph cluster
// the test binary starts (tests/ceph_instance.h): the chunk store contract
// as SegmentsAsChunkStore checks it (chunk_store_test.cc), and what is
// RADOS's own: an object per put, ESTALE for a freed object, deletes after
// the grace period, a sweep that deletes only unnamed objects older than
// sweepAge; then a database store with chunks=rados end to end.
#include "core/rados_chunk_store.h"

#include <gtest/gtest.h>

#include <future>
#include <fstream>
#include <map>
#include <set>

#include "core/store.h"
#include "tests/ceph_instance.h"
#include "tests/test_util.h"

namespace acidfs {
namespace {

using testing::code;
using testing::randomBytes;

testing::CephInstance& ceph() { return testing::sharedCeph(); }

Id128 idOf(const std::string& bytes) { return xxh3Hash(bytes.data(), bytes.size(), 0); }

// How many objects the test cluster's pool holds now, in every namespace
// (-1 on an error).
long objectCount() {
  rados_t cluster = nullptr;
  if (rados_create(&cluster, nullptr) < 0) return -1;
  long n = -1;
  rados_ioctx_t io = nullptr;
  rados_list_ctx_t listing = nullptr;
  if (rados_conf_read_file(cluster, ceph().confPath().c_str()) == 0 && rados_connect(cluster) == 0 &&
      rados_ioctx_create(cluster, ceph().pool().c_str(), &io) == 0 &&
      (rados_ioctx_set_namespace(io, LIBRADOS_ALL_NSPACES), rados_nobjects_list_open(io, &listing) == 0)) {
    const char* entry = nullptr;
    int ret;
    for (n = 0; (ret = rados_nobjects_list_next(listing, &entry, nullptr, nullptr)) == 0;) ++n;
    if (ret != -ENOENT) n = -1;
    rados_nobjects_list_close(listing);
  }
  if (io) rados_ioctx_destroy(io);
  rados_shutdown(cluster);
  return n;
}

TEST(RadosChunksSpec, PoolConfAndIdAreTakenAndAnythingElseIsEinval) {
  auto plain = parseRadosChunks("rados:bulk");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ("bulk", plain->pool);
  EXPECT_EQ("", plain->confFile);
  EXPECT_EQ("", plain->clientId);
  auto full = parseRadosChunks("rados:bulk,conf=/etc/ceph/x.conf,id=acidfs");
  ASSERT_TRUE(full.ok());
  EXPECT_EQ("bulk", full->pool);
  EXPECT_EQ("/etc/ceph/x.conf", full->confFile);
  EXPECT_EQ("acidfs", full->clientId);
  for (const char* bad : {"rados:", "rados:,conf=/x", "rados:p,conf=", "rados:p,user=x", "db", "rados:p,,id=x"})
    EXPECT_EQ("EINVAL", code(parseRadosChunks(bad))) << bad;
}

// The store's 30 s timeouts stand in for Ceph's defaults (wait forever),
// not for what ceph.conf sets: a cluster whose monitor is not there fails
// the open within the configuration's 1 s, not after 30 s. (Also how a test
// makes an OSD's absence fail reads quickly: mount_shared_rados_test.)
TEST(RadosChunksConf, TimeoutsTheConfigurationSetsAreKept) {
  testing::TempDir dir;
  const std::string conf = dir.path() + "/ceph.conf";
  {
    std::ofstream out(conf);
    // Port 9 (discard): no monitor answers there.
    out << "[global]\nmon host = v2:127.0.0.1:9\nauth client required = none\n"
           "[client]\nclient mount timeout = 1\n";
  }
  RadosChunkStoreOptions options;
  options.pool = "acidfs";
  options.confFile = conf;
  auto opening = std::async(std::launch::async, [&] { return RadosChunkStore::open(options); });
  ASSERT_EQ(std::future_status::ready, opening.wait_for(std::chrono::seconds(15)))
      << "the open waited past the configuration's client mount timeout (1 s)";
  auto opened = opening.get();
  EXPECT_EQ("EIO", code(opened)) << (opened.ok() ? "connected" : opened.status().toString());
}

class RadosAsChunkStore : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(ceph().ok()) << ceph().why();
    open(std::chrono::minutes(5), std::chrono::hours(1));
  }
  void open(std::chrono::milliseconds grace, std::chrono::milliseconds sweepAge) {
    store_.reset();
    RadosChunkStoreOptions options;
    options.pool = ceph().pool();
    options.confFile = ceph().confPath();
    options.grace = grace;
    options.sweepAge = sweepAge;
    auto opened = RadosChunkStore::open(options);
    ASSERT_TRUE(opened.ok()) << opened.status().toString();
    store_ = std::move(*opened);
  }
  ChunkStore& chunks() { return *store_; }
  std::string readBack(const Id128& id, const Extent& place) {
    std::string out(place.length, '\0');
    Status s = chunks().read(id, place, out.data());
    return s.ok() ? out : "<" + s.toString() + ">";
  }

  std::unique_ptr<RadosChunkStore> store_;
};

TEST_F(RadosAsChunkStore, EveryPutIsAnObjectOfItsOwnAndReadsBackExactly) {
  const std::string a = randomBytes(5000, 20), b = randomBytes(65536, 21);
  auto pa = chunks().put(idOf(a), a);
  auto pa2 = chunks().put(idOf(a), a);  // the same chunk again: a place of its own
  auto pb = chunks().put(idOf(b), b);
  ASSERT_TRUE(pa.ok() && pa2.ok() && pb.ok()) << pa.status().toString();
  EXPECT_EQ(kRadosPlace, pa->segment);
  EXPECT_EQ(a.size(), pa->length);
  EXPECT_NE(pa->offset, pa2->offset) << "two puts of one chunk share an object";
  ASSERT_EQ("OK", code(chunks().makeDurable({{idOf(a), *pa}, {idOf(b), *pb}})));
  EXPECT_TRUE(readBack(idOf(a), *pa) == a);
  EXPECT_TRUE(readBack(idOf(a), *pa2) == a);
  EXPECT_TRUE(readBack(idOf(b), *pb) == b);
  EXPECT_EQ(chunks().liveBytes(), 2 * a.size() + b.size());
  // Read as longer than it is: the object is short, EIO.
  Extent longer = *pa;
  longer.length += 1;
  EXPECT_EQ("<EIO", readBack(idOf(a), longer).substr(0, 4));
  chunks().release({{idOf(a), *pa}, {idOf(a), *pa2}, {idOf(b), *pb}});
  chunks().drainReleases();
}

// Puts are in flight together (more than the store lets fly at once here);
// a read of one not yet durable finds its bytes; makeDurable settles them
// all; readMany answers each place for itself.
TEST_F(RadosAsChunkStore, ManyPutsInFlightAreDurableTogetherAndReadTogether) {
  std::vector<std::string> bytes;
  std::vector<StoredChunk> stored;
  for (int i = 0; i < 150; ++i) {
    bytes.push_back(randomBytes(65536, 100 + i));
    auto place = chunks().put(idOf(bytes.back()), bytes.back());
    ASSERT_TRUE(place.ok()) << place.status().toString();
    stored.push_back({idOf(bytes.back()), *place});
    if (i == 149) {
      EXPECT_TRUE(readBack(stored.back().id, stored.back().place) == bytes.back()) << "read before makeDurable";
    }
  }
  ASSERT_EQ("OK", code(chunks().makeDurable(stored)));
  std::vector<std::string> out(stored.size() + 2, std::string(65537, '\0'));
  std::vector<ChunkStore::Read> reads;
  for (size_t i = 0; i < stored.size(); ++i) reads.push_back({stored[i].id, stored[i].place, out[i].data()});
  Extent missing = stored[0].place;
  missing.offset ^= 1;  // no object has this nonce
  reads.push_back({stored[0].id, missing, out[stored.size()].data()});
  Extent longer = stored[1].place;
  longer.length += 1;  // a record that says more than the object holds
  reads.push_back({stored[1].id, longer, out[stored.size() + 1].data()});
  std::vector<Status> answers = chunks().readMany(reads);
  ASSERT_EQ(reads.size(), answers.size());
  for (size_t i = 0; i < stored.size(); ++i) {
    EXPECT_EQ("OK", code(answers[i])) << i;
    EXPECT_TRUE(out[i].compare(0, 65536, bytes[i]) == 0) << i;
  }
  EXPECT_EQ("ESTALE", code(answers[stored.size()]));
  EXPECT_EQ("EIO", code(answers[stored.size() + 1]));
  chunks().release(stored);
  chunks().drainReleases();
}

TEST_F(RadosAsChunkStore, AReleasedObjectLastsItsGracePeriodThenReadsAsEstale) {
  const std::string a = randomBytes(9000, 22), b = randomBytes(9000, 23);
  auto pa = chunks().put(idOf(a), a);
  auto pb = chunks().put(idOf(b), b);
  ASSERT_TRUE(pa.ok() && pb.ok());
  chunks().release({{idOf(a), *pa}});
  EXPECT_TRUE(readBack(idOf(a), *pa) == a) << "deleted before its grace period";
  EXPECT_EQ(chunks().liveBytes(), b.size());
  EXPECT_EQ(chunks().bytesOnDisk(), a.size() + b.size());
  chunks().drainReleases();
  EXPECT_EQ("<ESTALE", readBack(idOf(a), *pa).substr(0, 7)) << "a freed object must never read as bytes";
  EXPECT_TRUE(readBack(idOf(b), *pb) == b) << "another object went with it";
  EXPECT_EQ(chunks().bytesOnDisk(), b.size());

  // A short grace: the deleter does it by itself.
  open(std::chrono::milliseconds(50), std::chrono::hours(1));
  chunks().release({{idOf(b), *pb}});
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (readBack(idOf(b), *pb) == b && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ("<ESTALE", readBack(idOf(b), *pb).substr(0, 7)) << "never deleted after its grace period";
}

TEST_F(RadosAsChunkStore, WhatIsReleasedIsDeletedWhenTheStoreCloses) {
  const std::string a = randomBytes(7000, 24);
  auto pa = chunks().put(idOf(a), a);
  ASSERT_TRUE(pa.ok());
  chunks().release({{idOf(a), *pa}});
  open(std::chrono::minutes(5), std::chrono::hours(1));  // closes the first
  EXPECT_EQ("<ESTALE", readBack(idOf(a), *pa).substr(0, 7));
}

TEST_F(RadosAsChunkStore, ASweepDeletesOnlyObjectsNoRecordNamesOlderThanSweepAge) {
  const std::string named = randomBytes(3000, 25), orphan = randomBytes(3000, 26);
  auto pn = chunks().put(idOf(named), named);
  auto po = chunks().put(idOf(orphan), orphan);
  ASSERT_TRUE(pn.ok() && po.ok());
  auto isNamed = [&](const Id128& id, const Extent& place) {
    return id == idOf(named) && place.offset == pn->offset;
  };
  // Young objects may be puts whose commits are still coming: kept.
  auto young = store_->sweep(isNamed);
  ASSERT_TRUE(young.ok()) << young.status().toString();
  EXPECT_EQ(0u, *young);
  EXPECT_TRUE(readBack(idOf(orphan), *po) == orphan);
  // RADOS keeps mtimes in whole seconds: past sweepAge 0 after a second.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  open(std::chrono::minutes(5), std::chrono::milliseconds(0));
  auto swept = store_->sweep(isNamed);
  ASSERT_TRUE(swept.ok()) << swept.status().toString();
  EXPECT_GE(*swept, 1u);  // objects other tests of this pool left unnamed may go too
  EXPECT_EQ("<ESTALE", readBack(idOf(orphan), *po).substr(0, 7));
  EXPECT_TRUE(readBack(idOf(named), *pn) == named) << "a named object was swept";
  chunks().release({{idOf(named), *pn}});
  chunks().drainReleases();
}

// ---- a database store with chunks=rados --------------------------------------------

class RadosStore : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(ceph().ok()) << ceph().why();
    ASSERT_TRUE(testing::sharedPostgres().ok()) << testing::sharedPostgres().why();
    uri_ = testing::freshDatabaseUri();
    options_.chunks = "rados:" + ceph().pool() + ",conf=" + ceph().confPath();
    options_.gcIntervalSeconds = 0;
    auto opened = Store::open(uri_, options_);
    ASSERT_TRUE(opened.ok()) << opened.status().toString();
    store_ = std::move(*opened);
  }
  uint64_t makeFile(const std::string& name, const std::string& content) {
    auto attr = store_->ns().mknod(Caller::root(), kRootIno, name, S_IFREG | 0644, 0);
    EXPECT_TRUE(attr.ok()) << attr.status().toString();
    if (!attr.ok()) return 0;
    auto written = testing::writeFile(store_->ns(), attr->ino, 0, content);
    EXPECT_TRUE(written.ok()) << written.status().toString();
    return attr->ino;
  }
  std::string readAll(uint64_t ino) {
    std::string out;
    Status s = store_->ns().read(ino, 0, 1ull << 32, out);
    return s.ok() ? out : "<" + s.toString() + ">";
  }

  std::string uri_;
  StoreOptions options_;
  std::unique_ptr<Store> store_;
};

// Four chunks, the last of 1234 bytes: three objects (the tail is inline).
TEST_F(RadosStore, ContentIsByteExactAndSharedAndFreedObjectsGo) {
  const long before = objectCount();
  ASSERT_GE(before, 0);
  const std::string big = randomBytes(3 * 65536 + 1234, 27);
  const uint64_t ino = makeFile("big", big);
  EXPECT_TRUE(readAll(ino) == big);
  auto stats = store_->stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(big.size(), stats->bytesStored);
  EXPECT_EQ(before + 3, objectCount());
  // Same content again: no new object (deduplicated through the records).
  const uint64_t copy = makeFile("copy", big);
  EXPECT_TRUE(readAll(copy) == big);
  EXPECT_EQ(big.size(), store_->stats()->bytesStored);
  EXPECT_EQ(before + 3, objectCount()) << "a copy added objects";
  // Reopened: the records name the objects.
  store_.reset();
  auto reopened = Store::open(uri_, options_);
  ASSERT_TRUE(reopened.ok()) << reopened.status().toString();
  store_ = std::move(*reopened);
  EXPECT_TRUE(readAll(ino) == big);
  ASSERT_TRUE(store_->ns().unlink(kRootIno, "big").ok());
  ASSERT_TRUE(store_->ns().unlink(kRootIno, "copy").ok());
  ASSERT_EQ("OK", code(store_->sync()));
  EXPECT_EQ(0u, store_->stats()->bytesStored);
  EXPECT_EQ(before + 3, objectCount()) << "deleted before the grace period";
  store_.reset();  // what waits out its grace period is deleted as the store closes
  EXPECT_EQ(before, objectCount()) << "objects of deleted files were left";
}

TEST_F(RadosStore, ItsChunksAreNotToBeLookedForInTheDatabase) {
  makeFile("f", randomBytes(100000, 28));
  store_.reset();
  StoreOptions inDatabase = options_;
  inDatabase.chunks = "db";
  EXPECT_EQ("EINVAL", code(Store::open(uri_, inDatabase)));
  StoreOptions otherPool = options_;
  otherPool.chunks = "rados:another," + std::string("conf=") + ceph().confPath();
  EXPECT_EQ("EINVAL", code(Store::open(uri_, otherPool)));
}

}  // namespace
}  // namespace acidfs
