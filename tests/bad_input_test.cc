// Bad input is a clear error and changes nothing: malformed blobIds, paths
// that are relative or hold empty, "." or ".." components, names over 255
// bytes, ops on directories where a file is required, destinations under
// missing directories or under files, and the POSIX namespace errors
// (EISDIR, ENOTDIR, ENOTEMPTY, EINVAL for a directory moved into itself).
// After each failure the tree and the store's counts are exactly as before.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/cas_ops.h"
#include "core/format.h"
#include "core/id128.h"
#include "core/namespace.h"
#include "core/store.h"
#include "tests/cas_test_util.h"
#include "tests/test_util.h"

namespace acidfs {

namespace {

using namespace ::acidfs::testing::ops;
using ::acidfs::testing::StoreFixture;
using ::acidfs::testing::writeFile;

const std::string kLongName(256, 'n');     // one byte too long
const std::string kLongestName(255, 'm');  // just fits

// Paths that are not absolute-and-clean, with the errno each must give.
struct BadPath {
  std::string path;
  int err;
};
std::vector<BadPath> badPaths() {
  return {
      {"", EINVAL},
      {"a.txt", EINVAL},
      {"d/a.txt", EINVAL},
      {"./a.txt", EINVAL},
      {"/d/./a.txt", EINVAL},
      {"/.", EINVAL},
      {"/d/..", EINVAL},
      {"/d/../a.txt", EINVAL},
      {"/..", EINVAL},
      {"//a.txt", EINVAL},
      {"/d//a.txt", EINVAL},
      {"/d/", EINVAL},
      {"/" + kLongName, ENAMETOOLONG},
      {"/d/" + kLongName + "/x", ENAMETOOLONG},
  };
}

class BadInputTest : public StoreFixture {
 protected:
  void SetUp() override {
    StoreFixture::SetUp();
    if (::testing::Test::HasFatalFailure()) return;
    d_ = makeDir(kRootIno, "d");
    sub_ = makeDir(d_, "sub");
    makeFile(sub_, "inner.txt", "keeps d/sub non-empty");
    fileIno_ = makeFile(kRootIno, "a.txt", "content of a");
    makeFile(d_, "b.txt", "content of b");
    aBlob_ = blobOf("/a.txt");
  }

  std::string describeTree() { return ::acidfs::testing::describeTree(*store_); }
  Result<std::vector<std::string>> transact(std::vector<TransactOp> ops) {
    return cas().transact(Caller::root(), ops);
  }
  Id128 put(const std::string& bytes) {
    auto id = cas().put(Caller::root(), bytes);
    EXPECT_TRUE(id.ok()) << id.status().toString();
    return id.ok() ? *id : Id128::zero();
  }

  uint64_t d_ = 0, sub_ = 0, fileIno_ = 0;
  Id128 aBlob_;
};

class BadPaths : public BadInputTest {};
class BadOps : public BadInputTest {};
class BadNames : public BadInputTest {};
class NamespaceErrors : public BadInputTest {};

// ---- blobIds in text --------------------------------------------------------------------

TEST(ParseHex, RejectsWrongLengths) {
  for (std::string text : {std::string(), std::string(1, 'a'), std::string(31, 'a'), std::string(33, 'a'),
                           std::string(64, 'a'), std::string(16, 'a')}) {
    EXPECT_EQ(Id128::parseHex(text), std::nullopt) << '"' << text << '"';
  }
}

TEST(ParseHex, RejectsNonHexCharacters) {
  const std::string good(32, '0');
  for (size_t pos : {size_t{0}, size_t{15}, size_t{31}}) {
    for (char bad : {'g', 'G', 'z', ' ', '-', 'x', '\0', '\n', '/', ':', '@', '`', static_cast<char>(0xc3)}) {
      std::string text = good;
      text[pos] = bad;
      EXPECT_EQ(Id128::parseHex(text), std::nullopt) << "char " << static_cast<int>(bad) << " at " << pos;
    }
  }
  EXPECT_EQ(Id128::parseHex("0x" + std::string(30, '0')), std::nullopt);
  EXPECT_EQ(Id128::parseHex(" " + std::string(31, '0')), std::nullopt);
  EXPECT_EQ(Id128::parseHex("00000000-0000-0000-0000-000000000000"), std::nullopt) << "no UUID form";
}

TEST(ParseHex, AcceptsBothCasesAndPrintsLowercase) {
  auto upper = Id128::parseHex("0123456789ABCDEF0123456789ABCDEF");
  auto lower = Id128::parseHex("0123456789abcdef0123456789abcdef");
  ASSERT_TRUE(upper.has_value());
  ASSERT_TRUE(lower.has_value());
  EXPECT_EQ(*upper, *lower);
  EXPECT_EQ(upper->hex(), "0123456789abcdef0123456789abcdef");
  EXPECT_EQ(upper->bytes[0], 0x01);
  EXPECT_EQ(upper->bytes[15], 0xef);
}

// ---- path and name syntax ---------------------------------------------------------------

TEST(ValidatePath, RejectsEveryMalformedPathWithTheRightErrno) {
  for (const BadPath& bad : badPaths()) {
    Status s = validatePath(bad.path);
    EXPECT_EQ(s.errnum(), bad.err) << '"' << bad.path << "\" -> " << s.toString();
  }
}

TEST(ValidatePath, AcceptsCleanAbsolutePaths) {
  for (std::string path : {std::string("/"), std::string("/a"), std::string("/a/b.txt"), std::string("/.hidden"),
                           std::string("/a/..b/c.."), std::string("/...") , "/" + kLongestName,
                           "/d/" + kLongestName}) {
    EXPECT_TRUE(validatePath(path).ok()) << path << ": " << validatePath(path).toString();
  }
}

TEST(ValidateName, RejectsEmptyDotDotDotSlashAndLongNames) {
  EXPECT_EQ(validateName("").errnum(), EINVAL);
  EXPECT_EQ(validateName(".").errnum(), EINVAL);
  EXPECT_EQ(validateName("..").errnum(), EINVAL);
  EXPECT_EQ(validateName("a/b").errnum(), EINVAL);
  EXPECT_EQ(validateName("/").errnum(), EINVAL);
  EXPECT_EQ(validateName(kLongName).errnum(), ENAMETOOLONG);
  EXPECT_TRUE(validateName(kLongestName).ok());
  EXPECT_TRUE(validateName("...").ok());
  EXPECT_TRUE(validateName(".a").ok());
}

// ---- bad paths through the CAS operations -----------------------------------------------

TEST_F(BadPaths, StatRejectsThem) {
  for (const BadPath& bad : badPaths()) {
    SCOPED_TRACE("\"" + bad.path + "\"");
    EXPECT_REJECTED(cas().stat(Caller::root(), bad.path), bad.err);
  }
}

TEST_F(BadPaths, TransactRejectsThemAsSource) {
  for (const BadPath& bad : badPaths()) {
    SCOPED_TRACE("\"" + bad.path + "\"");
    EXPECT_REJECTED(transact({Move(bad.path, "/moved.txt")}), bad.err);
    EXPECT_REJECTED(transact({Copy(bad.path, "/copied.txt")}), bad.err);
    EXPECT_REJECTED(transact({Delete(bad.path)}), bad.err);
  }
}

TEST_F(BadPaths, TransactRejectsThemAsDest) {
  for (const BadPath& bad : badPaths()) {
    SCOPED_TRACE("\"" + bad.path + "\"");
    EXPECT_REJECTED(transact({Move("/a.txt", bad.path)}), bad.err);
    EXPECT_REJECTED(transact({Copy("/a.txt", bad.path, Basis::absent())}), bad.err);
  }
}

TEST_F(BadPaths, ABadPathInALaterOpAppliesNothing) {
  for (const BadPath& bad : badPaths()) {
    SCOPED_TRACE("\"" + bad.path + "\"");
    EXPECT_REJECTED(transact({Copy("/a.txt", "/copy.txt"), Move("/d/b.txt", "/b.txt"), Delete(bad.path)}), bad.err);
  }
}

TEST_F(BadPaths, CommitRejectsThemAndKeepsTheLease) {
  Id128 id = put("pending");
  for (const BadPath& bad : badPaths()) {
    SCOPED_TRACE("\"" + bad.path + "\"");
    EXPECT_REJECTED(cas().commit(Caller::root(), bad.path, id, Basis::any()), bad.err);
  }
  auto committed = cas().commit(Caller::root(), "/good.txt", id, Basis::absent());
  EXPECT_TRUE(committed.ok()) << committed.status().toString();
}

// ---- ops that need a file and get a directory, or a missing parent ------------------------

TEST_F(BadOps, ASourceThatIsADirectoryIsEISDIR) {
  EXPECT_REJECTED(transact({Copy("/d", "/d-copy")}), EISDIR);
  EXPECT_REJECTED(transact({Delete("/d")}), EISDIR);
  EXPECT_REJECTED(transact({Delete("/d/sub")}), EISDIR);
  EXPECT_REJECTED(transact({Move("/d", aBlob_, "/d2")}), EISDIR);
  EXPECT_REJECTED(transact({Move("/d/sub", "/sub2")}), EISDIR);
  EXPECT_REJECTED(transact({Delete("/")}), EISDIR);
  // And after earlier ops that did apply.
  EXPECT_REJECTED(transact({Copy("/a.txt", "/a2.txt"), Delete("/d/sub")}), EISDIR);
}

TEST_F(BadOps, ADestThatIsADirectoryIsEISDIR) {
  EXPECT_REJECTED(transact({Move("/a.txt", "/d")}), EISDIR);
  EXPECT_REJECTED(transact({Copy("/a.txt", "/d/sub")}), EISDIR);
  EXPECT_REJECTED(transact({Copy("/a.txt", "/")}), EISDIR);
  Id128 id = put("for a directory");
  EXPECT_REJECTED(cas().commit(Caller::root(), "/d", id, Basis::any()), EISDIR);
  EXPECT_REJECTED(cas().commit(Caller::root(), "/", id, Basis::any()), EISDIR);
}

TEST_F(BadOps, ADestUnderAMissingDirectoryIsENOENT) {
  EXPECT_REJECTED(transact({Move("/a.txt", "/missing/a.txt")}), ENOENT);
  EXPECT_REJECTED(transact({Copy("/a.txt", "/missing/a.txt", Basis::absent())}), ENOENT);
  EXPECT_REJECTED(transact({Copy("/a.txt", "/d/missing/deeper/a.txt")}), ENOENT);
  Id128 id = put("nowhere to go");
  EXPECT_REJECTED(cas().commit(Caller::root(), "/missing/new.txt", id, Basis::absent()), ENOENT);
  EXPECT_REJECTED(cas().commit(Caller::root(), "/missing/new.txt", id, Basis::any()), ENOENT);
}

TEST_F(BadOps, APathThroughAFileIsENOTDIR) {
  EXPECT_REJECTED(transact({Move("/d/b.txt", "/a.txt/b.txt")}), ENOTDIR);
  EXPECT_REJECTED(transact({Copy("/d/b.txt", "/a.txt/b.txt", Basis::absent())}), ENOTDIR);
  EXPECT_REJECTED(transact({Copy("/a.txt/x", "/x")}), ENOTDIR);
  EXPECT_REJECTED(cas().stat(Caller::root(), "/a.txt/x"), ENOTDIR);
  Id128 id = put("under a file");
  EXPECT_REJECTED(cas().commit(Caller::root(), "/a.txt/new.txt", id, Basis::any()), ENOTDIR);
}

TEST_F(BadOps, CommitOfAnUnknownBlobIdIsENOENT) {
  Id128 garbage;
  garbage.bytes.fill(0x5a);
  Id128 almost = aBlob_;
  almost.bytes[7] ^= 0x10;
  for (const Id128& id : {garbage, almost, Id128::zero(), *Id128::parseHex("ffffffffffffffffffffffffffffffff")}) {
    SCOPED_TRACE(id.hex());
    EXPECT_REJECTED(cas().commit(Caller::root(), "/new.txt", id, Basis::absent()), ENOENT);
    EXPECT_REJECTED(cas().commit(Caller::root(), "/a.txt", id, Basis::any()), ENOENT);
  }
}

TEST_F(BadOps, AnUnknownBlobIdAsAPreconditionIsAConflictNotACrash) {
  Id128 garbage;
  garbage.bytes.fill(0x77);
  const std::string before = describeTree();
  Status s = transact({Copy("/a.txt", "/d/b.txt", Basis::of(garbage))}).status();
  ASSERT_TRUE(s.isConflict()) << s.toString();
  EXPECT_EQ(s.conflict()->code, ConflictCode::kDestChanged);
  s = transact({Delete("/a.txt", garbage)}).status();
  ASSERT_TRUE(s.isConflict()) << s.toString();
  EXPECT_EQ(s.conflict()->code, ConflictCode::kSourceChanged);
  EXPECT_EQ(describeTree(), before);
}

// ---- bad names through the namespace ----------------------------------------------------

struct BadName {
  std::string name;
  int err;
};
std::vector<BadName> badNames() {
  return {{"", EINVAL}, {".", EINVAL}, {"..", EINVAL}, {"a/b", EINVAL}, {"/", EINVAL}, {kLongName, ENAMETOOLONG}};
}

TEST_F(BadNames, CreateCallsRejectThem) {
  for (const BadName& bad : badNames()) {
    SCOPED_TRACE("\"" + bad.name.substr(0, 10) + "\" (" + std::to_string(bad.name.size()) + " bytes)");
    EXPECT_REJECTED(ns().mknod(Caller::root(), kRootIno, bad.name, S_IFREG | 0644, 0), bad.err);
    EXPECT_REJECTED(ns().mknod(Caller::root(), d_, bad.name, S_IFIFO | 0644, 0), bad.err);
    EXPECT_REJECTED(ns().mkdir(Caller::root(), kRootIno, bad.name, 0755), bad.err);
    EXPECT_REJECTED(ns().symlink(Caller::root(), kRootIno, bad.name, "/a.txt"), bad.err);
    EXPECT_REJECTED(ns().link(fileIno_, kRootIno, bad.name), bad.err);
  }
}

TEST_F(BadNames, RemovalRejectsThem) {
  for (const BadName& bad : badNames()) {
    SCOPED_TRACE("\"" + bad.name.substr(0, 10) + "\" (" + std::to_string(bad.name.size()) + " bytes)");
    EXPECT_REJECTED(ns().unlink(kRootIno, bad.name), bad.err);
    EXPECT_REJECTED(ns().unlink(d_, bad.name), bad.err);
    if (bad.name == "..") {
      EXPECT_REJECTED(ns().rmdir(d_, bad.name), ENOTEMPTY);  // what rmdir("..") gives on Linux
    } else {
      EXPECT_REJECTED(ns().rmdir(d_, bad.name), bad.err);
    }
  }
}

TEST_F(BadNames, LookupRejectsThem) {
  // namespace.h: validateName is "shared by every entry point". "." and ".."
  // are names a lookup resolves (next test); the rest are malformed.
  for (const BadName& bad : badNames()) {
    if (bad.name == "." || bad.name == "..") continue;
    SCOPED_TRACE("\"" + bad.name.substr(0, 10) + "\" (" + std::to_string(bad.name.size()) + " bytes)");
    EXPECT_REJECTED(ns().lookup(kRootIno, bad.name), bad.err);
  }
}

TEST_F(BadNames, LookupOfDotAndDotDotResolvesLikeLinux) {
  auto self = ns().lookup(d_, ".");
  ASSERT_TRUE(self.ok()) << self.status().toString();
  EXPECT_EQ(self->ino, d_);
  auto parent = ns().lookup(sub_, "..");
  ASSERT_TRUE(parent.ok()) << parent.status().toString();
  EXPECT_EQ(parent->ino, d_);
  auto rootParent = ns().lookup(kRootIno, "..");
  ASSERT_TRUE(rootParent.ok()) << rootParent.status().toString();
  EXPECT_EQ(rootParent->ino, kRootIno) << "the root is its own parent";
}

TEST_F(BadNames, RenameRejectsThemOnEitherSide) {
  for (const BadName& bad : badNames()) {
    SCOPED_TRACE("\"" + bad.name.substr(0, 10) + "\" (" + std::to_string(bad.name.size()) + " bytes)");
    EXPECT_REJECTED(ns().rename(Caller::root(), kRootIno, "a.txt", d_, bad.name, 0), bad.err);
    EXPECT_REJECTED(ns().rename(Caller::root(), kRootIno, "a.txt", d_, bad.name, kRenameNoReplace), bad.err);
    EXPECT_REJECTED(ns().rename(Caller::root(), kRootIno, bad.name, d_, "x.txt", 0), bad.err);
    EXPECT_REJECTED(ns().rename(Caller::root(), kRootIno, "d", kRootIno, bad.name, 0), bad.err);
  }
}

TEST_F(BadNames, A255ByteNameWorksEverywhere) {
  auto made = ns().mknod(Caller::root(), kRootIno, kLongestName, S_IFREG | 0644, 0);
  ASSERT_TRUE(made.ok()) << made.status().toString();
  EXPECT_TRUE(ns().lookup(kRootIno, kLongestName).ok());
  EXPECT_TRUE(cas().stat(Caller::root(), "/" + kLongestName).ok());
  EXPECT_TRUE(ns().rename(Caller::root(), kRootIno, kLongestName, d_, kLongestName, 0).ok());
  EXPECT_TRUE(transact({Move("/d/" + kLongestName, "/" + kLongestName)}).ok());
  EXPECT_TRUE(ns().mkdir(Caller::root(), d_, kLongestName, 0755).ok());
}

// ---- POSIX namespace errors -------------------------------------------------------------

TEST_F(NamespaceErrors, UnlinkOfADirectoryIsEISDIR) {
  EXPECT_REJECTED(ns().unlink(kRootIno, "d"), EISDIR);
  EXPECT_REJECTED(ns().unlink(d_, "sub"), EISDIR);
}

TEST_F(NamespaceErrors, RmdirOfAFileIsENOTDIR) {
  EXPECT_REJECTED(ns().rmdir(kRootIno, "a.txt"), ENOTDIR);
  EXPECT_REJECTED(ns().rmdir(d_, "b.txt"), ENOTDIR);
}

TEST_F(NamespaceErrors, RmdirOfANonEmptyDirectoryIsENOTEMPTY) {
  EXPECT_REJECTED(ns().rmdir(kRootIno, "d"), ENOTEMPTY);
  EXPECT_REJECTED(ns().rmdir(d_, "sub"), ENOTEMPTY);
}

TEST_F(NamespaceErrors, RemovingAMissingNameIsENOENT) {
  EXPECT_REJECTED(ns().unlink(kRootIno, "missing"), ENOENT);
  EXPECT_REJECTED(ns().rmdir(kRootIno, "missing"), ENOENT);
  EXPECT_REJECTED(ns().rename(Caller::root(), kRootIno, "missing", kRootIno, "x", 0), ENOENT);
  EXPECT_REJECTED(ns().lookup(kRootIno, "missing"), ENOENT);
}

TEST_F(NamespaceErrors, RenameOfADirectoryIntoItsOwnSubtreeIsEINVAL) {
  EXPECT_REJECTED(ns().rename(Caller::root(), kRootIno, "d", d_, "d", 0), EINVAL);
  EXPECT_REJECTED(ns().rename(Caller::root(), kRootIno, "d", sub_, "d", 0), EINVAL);
  EXPECT_REJECTED(ns().rename(Caller::root(), kRootIno, "d", sub_, "x", kRenameNoReplace), EINVAL);
  EXPECT_REJECTED(ns().rename(Caller::root(), d_, "sub", sub_, "sub", 0), EINVAL);
  uint64_t deep = makeDir(sub_, "deep");
  EXPECT_REJECTED(ns().rename(Caller::root(), kRootIno, "d", deep, "d", 0), EINVAL);
}

TEST_F(NamespaceErrors, RenameTypeMismatches) {
  makeDir(kRootIno, "empty");
  EXPECT_REJECTED(ns().rename(Caller::root(), kRootIno, "a.txt", kRootIno, "empty", 0), EISDIR);
  EXPECT_REJECTED(ns().rename(Caller::root(), kRootIno, "empty", kRootIno, "a.txt", 0), ENOTDIR);
  EXPECT_REJECTED(ns().rename(Caller::root(), kRootIno, "empty", kRootIno, "d", 0), ENOTEMPTY);
}

TEST_F(NamespaceErrors, RenameNoReplaceOntoAnExistingNameIsEEXIST) {
  EXPECT_REJECTED(ns().rename(Caller::root(), kRootIno, "a.txt", d_, "b.txt", kRenameNoReplace), EEXIST);
}

TEST_F(NamespaceErrors, RenameExchangeWithAMissingTargetIsENOENT) {
  EXPECT_REJECTED(ns().rename(Caller::root(), kRootIno, "a.txt", d_, "missing", kRenameExchange), ENOENT);
}

TEST_F(NamespaceErrors, RenameWithBothNoReplaceAndExchangeIsEINVAL) {
  EXPECT_REJECTED(ns().rename(Caller::root(), kRootIno, "a.txt", d_, "b.txt", kRenameNoReplace | kRenameExchange), EINVAL);
}

TEST_F(NamespaceErrors, CreatingAnExistingNameIsEEXIST) {
  EXPECT_REJECTED(ns().mknod(Caller::root(), kRootIno, "a.txt", S_IFREG | 0644, 0), EEXIST);
  EXPECT_REJECTED(ns().mkdir(Caller::root(), kRootIno, "a.txt", 0755), EEXIST);
  EXPECT_REJECTED(ns().mkdir(Caller::root(), kRootIno, "d", 0755), EEXIST);
  EXPECT_REJECTED(ns().symlink(Caller::root(), kRootIno, "d", "/a.txt"), EEXIST);
  EXPECT_REJECTED(ns().link(fileIno_, d_, "b.txt"), EEXIST);
}

TEST_F(NamespaceErrors, AFileUsedAsADirectoryIsENOTDIR) {
  EXPECT_REJECTED(ns().mknod(Caller::root(), fileIno_, "x", S_IFREG | 0644, 0), ENOTDIR);
  EXPECT_REJECTED(ns().mkdir(Caller::root(), fileIno_, "x", 0755), ENOTDIR);
  EXPECT_REJECTED(ns().lookup(fileIno_, "x"), ENOTDIR);
  EXPECT_REJECTED(ns().readdir(fileIno_, 0, [](const DirEntry&) { return true; }), ENOTDIR);
}

TEST_F(NamespaceErrors, AMissingParentIsENOENT) {
  const uint64_t gone = 987654321;
  EXPECT_REJECTED(ns().mknod(Caller::root(), gone, "x", S_IFREG | 0644, 0), ENOENT);
  EXPECT_REJECTED(ns().mkdir(Caller::root(), gone, "x", 0755), ENOENT);
  EXPECT_REJECTED(ns().getattr(gone), ENOENT);
}

TEST_F(NamespaceErrors, LinkOfADirectoryIsEPERM) {
  EXPECT_REJECTED(ns().link(d_, kRootIno, "d-link"), EPERM);
}

TEST_F(NamespaceErrors, ReadingADirectoryIsEISDIR) {
  std::string out;
  EXPECT_REJECTED(ns().read(d_, 0, 100, out), EISDIR);
  EXPECT_REJECTED(writeFile(ns(), d_, 0, "into a directory"), EISDIR);
}

TEST_F(NamespaceErrors, ASymlinkTargetOver4095BytesIsENAMETOOLONG) {
  EXPECT_REJECTED(ns().symlink(Caller::root(), kRootIno, "long-link", std::string(kSymlinkMax + 1, 't')),
                  ENAMETOOLONG);
  EXPECT_TRUE(ns().symlink(Caller::root(), kRootIno, "longest-link", std::string(kSymlinkMax, 't')).ok());
}

}  // namespace
}  // namespace acidfs
