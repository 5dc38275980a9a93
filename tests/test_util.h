// Shared test helpers: a store in a fresh temporary directory that is
// removed afterwards, and small conveniences for building trees.
#pragma once

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fcntl.h>

#include <libpq-fe.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <string_view>

#include "core/content_store.h"
#include "core/file_drafts.h"
#include "core/store.h"
#include "tests/ceph_instance.h"
#include "tests/postgres_instance.h"

namespace acidfs::testing {

// "OK" or the errno's name ("ENOENT"): assertions read like the contract.
inline std::string code(const Status& s) {
  return s.ok() ? "OK" : errnoName(s.errnum());
}
template <typename T>
std::string code(const Result<T>& r) {
  return code(r.status());
}

// Reproducible bytes with no zero byte, so that no window of them is
// shortened by the trailing-zero rule and every chunk has its full length.
inline std::string randomBytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string out(n, '\0');
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<char>(1 + rng() % 255);
  return out;
}

// Writes `data` at `offset` the way the mount does a write(2) and then the
// close(2) or fsync(2) that commits it (fuse_ops.cc opWrite, opFlush): into
// a FileDrafts draft built as FuseFs builds its own, then committed — one
// transaction, as Namespace::commitWindows. The errors are the draft's:
// EISDIR for a directory, EINVAL for another non-regular file, ENOENT.
// Returns the file's attributes after the commit. The drafts are the call's
// own: nothing is left in them when it returns.
inline Result<Attr> writeFile(Namespace& ns, uint64_t ino, uint64_t offset, std::string_view data) {
  FileDrafts drafts(ns, ns.content());
  ACIDFS_RETURN_IF_ERROR(drafts.write(ino, offset, data));
  ACIDFS_RETURN_IF_ERROR(drafts.commit(ino));
  return ns.getattr(ino);
}

// A temporary directory, deleted (recursively) when the object dies.
class TempDir {
 public:
  // In `base`, or else in $TMPDIR or /tmp.
  explicit TempDir(std::string base = "") {
    if (base.empty()) base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    std::string tmpl = base + "/acidfs-test-XXXXXX";
    char* made = mkdtemp(tmpl.data());
    if (!made) abort();
    path_ = made;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Which store the core's suites run on: a directory (the default), or with
// ACIDFS_TEST_STORE=postgresql a database store, each fixture on a fresh
// database of one PostgreSQL server the test binary starts (ctest runs the
// conformance suites both ways: tests/CMakeLists.txt).
// ACIDFS_TEST_STORE=postgresql+rados: the same with its chunks in a RADOS
// pool of one Ceph cluster the test binary starts (tests/ceph_instance.h).
inline bool testingDatabaseStore() {
  const char* store = getenv("ACIDFS_TEST_STORE");
  return store && (std::string(store) == "postgresql" || std::string(store) == "postgresql+rados");
}
inline bool testingRadosChunks() {
  const char* store = getenv("ACIDFS_TEST_STORE");
  return store && std::string(store) == "postgresql+rados";
}
inline PostgresInstance& sharedPostgres() {
  // A static, so that the process's end stops the server and removes its
  // directory (a leaked one kept running and filled the disk).
  static PostgresInstance instance;
  return instance;
}
// A fresh, empty database on sharedPostgres(): its name, or its URI.
inline std::string freshDatabaseName() {
  static std::atomic<int> next{0};
  const std::string name = "t" + std::to_string(getpid()) + "_" + std::to_string(next++);
  PGconn* c = PQconnectdb(sharedPostgres().uri().c_str());
  PGresult* r = PQexec(c, ("CREATE DATABASE " + name).c_str());
  const bool made = PQresultStatus(r) == PGRES_COMMAND_OK;
  PQclear(r);
  PQfinish(c);
  EXPECT_TRUE(made) << "CREATE DATABASE " << name;
  return name;
}
inline std::string freshDatabaseUri() { return sharedPostgres().uri(freshDatabaseName()); }

// A store opened in its own TempDir (or database). reopen() closes and
// opens it again.
class StoreFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    if (testingDatabaseStore()) {
      ASSERT_TRUE(sharedPostgres().ok()) << sharedPostgres().why();
      location_ = freshDatabaseUri();
      if (testingRadosChunks()) {
        ASSERT_TRUE(sharedCeph().ok()) << sharedCeph().why();
        options_.chunks = "rados:" + sharedCeph().pool();
        // So that Ceph's default configuration (fsck without --chunks) is this cluster's.
        setenv("CEPH_CONF", sharedCeph().confPath().c_str(), 1);
      }
    } else {
      location_ = dir_.path() + "/store";
    }
    open();
  }
  void open() {
    auto opened = Store::open(location_, options_);
    ASSERT_TRUE(opened.ok()) << opened.status().toString();
    store_ = std::move(opened.value());
  }
  void reopen() {
    store_.reset();
    open();
  }
  Namespace& ns() { return store_->ns(); }
  CasOps& cas() { return store_->cas(); }

  // Creates a regular file at `parent/name` holding `content`; returns its ino.
  uint64_t makeFile(uint64_t parent, const std::string& name, const std::string& content,
                    uint32_t mode = 0644, const Caller& caller = Caller::root()) {
    auto attr = ns().mknod(caller, parent, name, S_IFREG | mode, 0);
    EXPECT_TRUE(attr.ok()) << attr.status().toString();
    if (!attr.ok()) return 0;
    if (!content.empty()) {
      auto written = writeFile(ns(), attr->ino, 0, content);
      EXPECT_TRUE(written.ok()) << written.status().toString();
    }
    return attr->ino;
  }
  uint64_t makeDir(uint64_t parent, const std::string& name, uint32_t mode = 0755,
                   const Caller& caller = Caller::root()) {
    auto attr = ns().mkdir(caller, parent, name, mode);
    EXPECT_TRUE(attr.ok()) << attr.status().toString();
    return attr.ok() ? attr->ino : 0;
  }
  // The committed content of a file, or "<error>" text.
  std::string readAll(uint64_t ino) {
    std::string out;
    Status s = ns().read(ino, 0, 1ull << 32, out);
    return s.ok() ? out : "<" + s.toString() + ">";
  }
  // The committed content of the file at `path`, or "<error>" text.
  // Whether `path` exists (a failure other than ENOENT fails the test).
  bool exists(const std::string& path) {
    auto st = cas().stat(Caller::root(), path);
    if (!st.ok()) {
      EXPECT_EQ(st.status().errnum(), ENOENT) << path << ": " << st.status().toString();
    }
    return st.ok();
  }
  std::string contentAt(const std::string& path) {
    auto st = cas().stat(Caller::root(), path);
    if (!st.ok()) return "<" + st.status().toString() + ">";
    return readAll(st->ino);
  }
  StoreStats stats() {
    auto s = store_->stats();
    EXPECT_TRUE(s.ok()) << s.status().toString();
    return s.ok() ? *s : StoreStats{};
  }
  Id128 blobOf(const std::string& path) {
    auto st = cas().stat(Caller::root(), path);
    EXPECT_TRUE(st.ok()) << st.status().toString();
    return st.ok() && st->blob ? *st->blob : Id128::zero();
  }

  TempDir dir_;
  std::string location_;  // the store's directory or database URI
  StoreOptions options_;
  std::unique_ptr<Store> store_;
};

// Flips one byte of `needle`'s stored copy in the segment files of the store
// at `storePath` (chunk bytes larger than inlineMax live there). Returns how
// many copies were flipped: a test wants exactly one.
inline int flipSegmentByte(const std::string& storePath, const std::string& needle, size_t index) {
  int found = 0;
  for (const auto& entry : std::filesystem::directory_iterator(storePath + "/segments")) {
    if (entry.path().extension() != ".seg") continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (size_t at = bytes.find(needle); at != std::string::npos; at = bytes.find(needle, at + 1)) {
      ++found;
      int fd = ::open(entry.path().c_str(), O_WRONLY);
      if (fd < 0) return -1;
      char flipped = static_cast<char>(bytes[at + index] ^ 0x5a);
      bool ok = pwrite(fd, &flipped, 1, static_cast<off_t>(at + index)) == 1 && fsync(fd) == 0;
      close(fd);
      if (!ok) return -1;
    }
  }
  return found;
}

}  // namespace acidfs::testing
