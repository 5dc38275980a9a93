// The Ceph cluster the RADOS tests start for themselves
// (tests/ceph_instance.h): a librados client reads back what it wrote byte
// for byte, an exclusive create of an existing object is EEXIST, a removed
// object is ENOENT, and two clusters side by side never meet — what the
// RADOS chunk store of issue 14 and its tests rest on.
#include "tests/ceph_instance.h"

#include <gtest/gtest.h>
#include <rados/librados.h>

#include <cerrno>
#include <optional>
#include <random>
#include <string>

#include "core/status.h"

namespace acidfs::testing {
namespace {

// A librados client of a cluster's pool: a connection and an I/O context,
// released in reverse order.
class RadosPool {
 public:
  explicit RadosPool(const CephInstance& ceph) {
    status_ = rados_create(&cluster_, nullptr);
    if (status_ < 0) {
      cluster_ = nullptr;
      return;
    }
    status_ = rados_conf_read_file(cluster_, ceph.confPath().c_str());
    // A broken cluster fails the test instead of hanging it (by default a
    // connection waits 5 minutes, an operation for ever).
    if (status_ == 0) status_ = rados_conf_set(cluster_, "client_mount_timeout", "30");
    if (status_ == 0) status_ = rados_conf_set(cluster_, "rados_osd_op_timeout", "30");
    if (status_ == 0) status_ = rados_connect(cluster_);
    if (status_ == 0) status_ = rados_ioctx_create(cluster_, ceph.pool().c_str(), &io_);
  }
  ~RadosPool() {
    if (io_) rados_ioctx_destroy(io_);
    if (cluster_) rados_shutdown(cluster_);
  }
  RadosPool(const RadosPool&) = delete;
  RadosPool& operator=(const RadosPool&) = delete;

  // 0, or the -errno of the first step that failed.
  int status() const { return status_; }
  rados_ioctx_t io() const { return io_; }

  // The whole object `oid` (up to `limit` bytes), or its -errno as a string.
  std::string read(const char* oid, size_t limit) const {
    std::string out(limit, '\0');
    const int n = rados_read(io_, oid, out.data(), out.size(), 0);
    if (n < 0) return "error " + errnoName(-n);
    out.resize(n);
    return out;
  }

 private:
  rados_t cluster_ = nullptr;
  rados_ioctx_t io_ = nullptr;
  int status_ = 0;
};

// Random bytes, zeros among them, different in every run.
std::string randomBytes(size_t n) {
  std::mt19937_64 rng(std::random_device{}());
  std::string out(n, '\0');
  for (char& c : out) c = static_cast<char>(rng());
  return out;
}

// A client of the binary's shared cluster; fails the test loudly when the
// cluster did not start or does not answer.
class CephCluster : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(sharedCeph().ok()) << sharedCeph().why();
    pool_.emplace(sharedCeph());
    ASSERT_EQ(0, pool_->status()) << "connecting to " << sharedCeph().confPath() << ": " << errnoName(-pool_->status());
  }
  RadosPool& pool() { return *pool_; }

 private:
  std::optional<RadosPool> pool_;
};

TEST_F(CephCluster, AnObjectWrittenWholeReadsBackByteExact) {
  const std::string data = randomBytes((4 << 20) + 1);
  ASSERT_EQ(0, rados_write_full(pool().io(), "whole", data.data(), data.size()));
  EXPECT_TRUE(pool().read("whole", data.size() + 1) == data) << "the bytes read differ from those written";
  uint64_t size = 0;
  ASSERT_EQ(0, rados_stat(pool().io(), "whole", &size, nullptr));
  EXPECT_EQ(data.size(), size);
}

TEST_F(CephCluster, AnExclusiveCreateOfAnExistingObjectIsEEXISTAndChangesNothing) {
  ASSERT_EQ(0, rados_write_full(pool().io(), "taken", "first", 5));
  const auto createExclusive = [&](const char* oid) {
    rados_write_op_t op = rados_create_write_op();
    rados_write_op_create(op, LIBRADOS_CREATE_EXCLUSIVE, nullptr);
    const int r = rados_write_op_operate(op, pool().io(), oid, nullptr, 0);
    rados_release_write_op(op);
    return r;
  };
  EXPECT_EQ(-EEXIST, createExclusive("taken"));
  EXPECT_EQ("first", pool().read("taken", 16));
  EXPECT_EQ(0, createExclusive("fresh")) << "an exclusive create of a new name succeeds";
  EXPECT_EQ(-EEXIST, createExclusive("fresh"));
}

TEST_F(CephCluster, ARemovedObjectIsENOENT) {
  ASSERT_EQ(0, rados_write_full(pool().io(), "doomed", "bytes", 5));
  ASSERT_EQ(0, rados_remove(pool().io(), "doomed"));
  EXPECT_EQ("error ENOENT", pool().read("doomed", 16));
  EXPECT_EQ(-ENOENT, rados_remove(pool().io(), "doomed"));
}

TEST_F(CephCluster, ASecondClusterAtOnceIsSeparate) {
  CephInstance other;
  ASSERT_TRUE(other.ok()) << other.why();
  RadosPool otherPool(other);
  ASSERT_EQ(0, otherPool.status()) << errnoName(-otherPool.status());
  ASSERT_EQ(0, rados_write_full(pool().io(), "only-in-shared", "x", 1));
  EXPECT_EQ("x", pool().read("only-in-shared", 16));
  EXPECT_EQ("error ENOENT", otherPool.read("only-in-shared", 16));
}

}  // namespace
}  // namespace acidfs::testing
