// Shared helpers for the tests of the path-based operations (core/cas_ops.h):
// builders for transact ops, a description of the whole tree that tells
// whether a call left any trace, and the EXPECT_REJECTED / EXPECT_DENIED
// checks built on it.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <ostream>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/cas_ops.h"
#include "core/format.h"
#include "core/namespace.h"
#include "core/status.h"
#include "core/store.h"

namespace acidfs {

// Ids print as their hex form in failure messages.
inline void PrintTo(const Id128& id, std::ostream* os) { *os << id.hex(); }

}  // namespace acidfs

// ---- building ops ----------------------------------------------------------
//
// Each builder has two forms: the full one, in the order of the op's fields
// (source, its expected blob, dest, the dest's basis), and a short one for a
// source of any content. A test file takes them all with
// `using namespace ::acidfs::testing::ops;`.

namespace acidfs::testing::ops {

inline TransactOp Move(std::string source, std::optional<Id128> sourceBlob, std::string dest,
                       Basis basis = Basis::any()) {
  TransactOp op;
  op.kind = TransactOp::Kind::kMove;
  op.sourcePath = std::move(source);
  op.sourceBlob = sourceBlob;
  op.destPath = std::move(dest);
  op.destBasis = basis;
  return op;
}
inline TransactOp Move(std::string source, std::string dest, Basis basis = Basis::any()) {
  return Move(std::move(source), std::nullopt, std::move(dest), basis);
}

inline TransactOp Copy(std::string source, std::optional<Id128> sourceBlob, std::string dest,
                       Basis basis = Basis::any()) {
  TransactOp op = Move(std::move(source), sourceBlob, std::move(dest), basis);
  op.kind = TransactOp::Kind::kCopy;
  return op;
}
inline TransactOp Copy(std::string source, std::string dest, Basis basis = Basis::any()) {
  return Copy(std::move(source), std::nullopt, std::move(dest), basis);
}

inline TransactOp Delete(std::string source, std::optional<Id128> sourceBlob = std::nullopt) {
  TransactOp op;
  op.kind = TransactOp::Kind::kDelete;
  op.sourcePath = std::move(source);
  op.sourceBlob = sourceBlob;
  return op;
}

}  // namespace acidfs::testing::ops

namespace acidfs::testing {

// The Status of a call, whether it returns a Status or a Result.
inline const Status& statusOf(const Status& s) { return s; }
template <typename T>
const Status& statusOf(const Result<T>& r) {
  return r.status();
}

// ---- describing the store --------------------------------------------------

// Every path with its type, owner, attributes, blobId or symlink target, the
// root's link count and mtime, then the store's counts: equal before and
// after means an operation left no trace.
inline std::string describeTree(Store& store) {
  Namespace& ns = store.ns();
  std::string out;
  std::function<void(uint64_t, const std::string&)> walk = [&](uint64_t dir, const std::string& prefix) {
    std::vector<DirEntry> entries;
    Status s = ns.readdir(dir, 0, [&](const DirEntry& e) {
      entries.push_back(e);
      return true;
    });
    if (!s.ok()) {
      out += prefix + " <readdir " + s.toString() + ">\n";
      return;
    }
    std::sort(entries.begin(), entries.end(), [](const DirEntry& a, const DirEntry& b) { return a.name < b.name; });
    for (const DirEntry& e : entries) {
      if (e.name == "." || e.name == "..") continue;
      std::string path = prefix + "/" + e.name;
      auto attr = ns.getattr(e.ino);
      if (!attr.ok()) {
        out += path + " <getattr " + attr.status().toString() + ">\n";
        continue;
      }
      const InodeRecord& in = attr->inode;
      out += path + " ino=" + std::to_string(e.ino) + " mode=" + std::to_string(in.mode) +
             " uid=" + std::to_string(in.uid) + " gid=" + std::to_string(in.gid) +
             " nlink=" + std::to_string(in.nlink) + " size=" + std::to_string(in.size) +
             " mtime=" + std::to_string(in.mtimeNs) + " ctime=" + std::to_string(in.ctimeNs);
      if (in.isRegular()) out += " blob=" + in.blob.hex();
      if (in.isSymlink()) out += " target=" + in.symlinkTarget;
      out += "\n";
      if (in.isDir()) walk(e.ino, path);
    }
  };
  auto root = ns.getattr(kRootIno);
  if (root.ok()) {
    out += "/ nlink=" + std::to_string(root->inode.nlink) + " mtime=" + std::to_string(root->inode.mtimeNs) + "\n";
  } else {
    out += "/ <getattr " + root.status().toString() + ">\n";
  }
  walk(kRootIno, "");
  auto st = store.stats();
  if (st.ok()) {
    out += "chunks=" + std::to_string(st->chunkCount) + " blobs=" + std::to_string(st->blobCount) +
           " leases=" + std::to_string(st->leaseCount) + " inodes=" + std::to_string(st->inodeCount) +
           " referenced=" + std::to_string(st->bytesReferenced) + "\n";
  } else {
    ADD_FAILURE() << "stats: " << st.status().toString();
    out += "<stats " + st.status().toString() + ">\n";
  }
  return out;
}

}  // namespace acidfs::testing

// The call fails with exactly `err`, is not a conflict, says what is wrong,
// and changes nothing at all. Used inside a fixture with describeTree().
#define EXPECT_REJECTED(call, err)                                                                  \
  do {                                                                                              \
    const std::string before_ = describeTree();                                                     \
    auto&& result_ = (call);                                                                        \
    const ::acidfs::Status& status_ = ::acidfs::testing::statusOf(result_);                         \
    EXPECT_EQ(status_.errnum(), (err)) << #call << " -> " << status_.toString();                    \
    EXPECT_FALSE(status_.isConflict()) << #call;                                                    \
    EXPECT_FALSE(status_.message().empty()) << #call << ": an error says what is wrong";            \
    EXPECT_EQ(describeTree(), before_) << #call << " failed but changed the store";                 \
  } while (0)

// A permission refusal is a rejection like any other (SPEC §6).
#define EXPECT_DENIED(call, err) EXPECT_REJECTED(call, err)
