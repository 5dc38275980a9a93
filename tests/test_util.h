// Shared test helpers: a store in a fresh temporary directory that is
// removed afterwards, and small conveniences for building trees.
#pragma once

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "core/store.h"

namespace acidfs::testing {

// A temporary directory, deleted (recursively) when the object dies.
class TempDir {
 public:
  TempDir() {
    const char* base = getenv("TMPDIR");
    std::string tmpl = std::string(base ? base : "/tmp") + "/acidfs-test-XXXXXX";
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

// A store opened in its own TempDir. reopen() closes and opens it again.
class StoreFixture : public ::testing::Test {
 protected:
  void SetUp() override { open(); }
  void open() {
    auto opened = Store::open(dir_.path() + "/store", options_);
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
      auto written = ns().write(attr->ino, 0, content);
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
  Id128 blobOf(const std::string& path) {
    auto st = cas().stat(Caller::root(), path);
    EXPECT_TRUE(st.ok()) << st.status().toString();
    return st.ok() && st->blob ? *st->blob : Id128::zero();
  }

  TempDir dir_;
  StoreOptions options_;
  std::unique_ptr<Store> store_;
};

}  // namespace acidfs::testing
