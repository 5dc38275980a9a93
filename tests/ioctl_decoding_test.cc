// The ioctl door's decoding (fuse/ioctl_door.h) and the assembly of requests
// sent in parts (fuse/ioctl_parts.h), against the contract of
// include/acidfs/ioctl.h: one deterministic case per documented error and
// per bound, at the bound and one past it. In-process, as
// tests/ioctl_fuzz_test.cc (which throws random and pathological input at
// the same code): runIoctl over a FuseFs with no kernel session.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "acidfs/ioctl.h"
#include "fuse/fuse_fs.h"
#include "fuse/ioctl_door.h"
#include "fuse/ioctl_parts.h"
#include "tests/test_util.h"

namespace acidfs {
namespace {

using nlohmann::json;
using ::acidfs::testing::StoreFixture;
using Kind = IoctlParts::Step::Kind;

class IoctlDoor : public StoreFixture {
 protected:
  void SetUp() override {
    StoreFixture::SetUp();
    if (HasFatalFailure()) return;
    makeFile(kRootIno, "a", "the content of a", 0644);
    mount(FuseOptions{});
  }
  void TearDown() override { fs_.reset(); }
  void mount(FuseOptions options) {
    fs_.reset();
    fs_ = std::make_unique<FuseFs>(*store_, options);
  }

  IoctlAnswer run(unsigned cmd, const std::string& payload) { return runIoctl(*fs_, Caller::root(), cmd, payload); }
  // The answer's JSON (null when it is not JSON, which fails the test).
  static json reply(const IoctlAnswer& a) {
    json j = json::parse(a.data, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << a.data.substr(0, 200);
    return j.is_discarded() ? json() : j;
  }
  // Refused with EINVAL and an error message containing `why`.
  void expectEinval(unsigned cmd, const std::string& payload, const std::string& why) {
    SCOPED_TRACE(payload.substr(0, 200));
    IoctlAnswer a = run(cmd, payload);
    EXPECT_EQ(a.result, EINVAL) << a.data;
    json j = reply(a);
    ASSERT_TRUE(j.is_object() && j.contains("error") && j["error"].is_string()) << a.data;
    EXPECT_NE(j["error"].get<std::string>().find(why), std::string::npos) << "wanted \"" << why << "\" in " << a.data;
  }
  void expectUnchanged() {
    EXPECT_EQ(contentAt("/a"), "the content of a");
  }

  std::unique_ptr<FuseFs> fs_;
};

std::string nested(size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

// A transaction of the one op `op` (a JSON object's text).
std::string opJson(const std::string& op) { return "[" + op + "]"; }

// ---- the command and the bounds checked before any parsing --------------------------------

TEST_F(IoctlDoor, AnUnknownCommandIsEnotty) {
  const unsigned unknown[] = {0u, _IOWR(ACIDFS_IOC_MAGIC, 11, struct acidfs_ioc_msg),  // one past ACIDFS_IOC_FEED
                              _IOWR(ACIDFS_IOC_MAGIC, 0, struct acidfs_ioc_msg), _IOR(ACIDFS_IOC_MAGIC, 1, int),
                              _IOWR(ACIDFS_IOC_MAGIC + 1, 1, struct acidfs_ioc_msg)};
  for (unsigned cmd : unknown) {
    IoctlAnswer a = run(cmd, R"({"path":"/a"})");
    EXPECT_EQ(a.result, ENOTTY) << std::hex << cmd;
    EXPECT_TRUE(reply(a).contains("error"));
  }
}

TEST_F(IoctlDoor, AReadOnlyMountAnswersChangesWithErofsBeforeLookingAtThem) {
  FuseOptions ro;
  ro.readOnly = true;
  mount(ro);
  const Id128 a = blobOf("/a");
  for (unsigned cmd : {ACIDFS_IOC_TRANSACT, ACIDFS_IOC_PUT, ACIDFS_IOC_COMMIT, ACIDFS_IOC_UNDELETE, ACIDFS_IOC_CLONE}) {
    EXPECT_EQ(run(cmd, "not even JSON").result, EROFS) << cmd;
    EXPECT_EQ(run(cmd, std::string(kMaxPutRequest + 1, 'x')).result, EROFS) << cmd;
  }
  EXPECT_EQ(run(ACIDFS_IOC_TRANSACT, R"([{"op":"delete","source":{"path":"/a"}}])").result, EROFS);
  EXPECT_EQ(run(ACIDFS_IOC_COMMIT, R"({"path":"/b","blobId":")" + a.hex() + R"("})").result, EROFS);
  EXPECT_EQ(run(ACIDFS_IOC_GC, R"({"freeze":true})").result, EROFS);
  // Reading is still answered.
  EXPECT_EQ(run(ACIDFS_IOC_STAT, R"({"path":"/a"})").result, 0);
  EXPECT_EQ(run(ACIDFS_IOC_STATUS, "").result, 0);
  EXPECT_EQ(run(ACIDFS_IOC_LOG, R"({"path":"/a"})").result, 0);
  EXPECT_EQ(run(ACIDFS_IOC_GC, "{}").result, 0);
  expectUnchanged();
}

TEST_F(IoctlDoor, JsonRequestsAreAtMost4MiBAndPutsAtMost64MiB) {
  EXPECT_EQ(maxRequestBytes(ACIDFS_IOC_STAT), 4u << 20);
  EXPECT_EQ(maxRequestBytes(ACIDFS_IOC_TRANSACT), 4u << 20);
  EXPECT_EQ(maxRequestBytes(ACIDFS_IOC_COMMIT), 4u << 20);
  EXPECT_EQ(maxRequestBytes(ACIDFS_IOC_STATUS), 4u << 20);
  EXPECT_EQ(maxRequestBytes(ACIDFS_IOC_PUT), 64u << 20);
  // Exactly at the bound is parsed; one byte more is E2BIG, whatever it holds.
  std::string stat = R"({"path":"/a"})";
  stat += std::string(kMaxJsonRequest - stat.size(), ' ');
  EXPECT_EQ(run(ACIDFS_IOC_STAT, stat).result, 0);
  EXPECT_EQ(run(ACIDFS_IOC_STAT, stat + " ").result, E2BIG);
  IoctlAnswer commit = run(ACIDFS_IOC_COMMIT, stat + " ");
  EXPECT_EQ(commit.result, E2BIG);
  EXPECT_NE(reply(commit)["error"].get<std::string>().find("4 MiB"), std::string::npos) << commit.data;
  // A PUT may be larger than any JSON request, up to its own bound.
  IoctlAnswer put = run(ACIDFS_IOC_PUT, std::string(kMaxJsonRequest + 1, 'p'));
  EXPECT_EQ(put.result, 0) << put.data;
  EXPECT_EQ(reply(put)["size"], kMaxJsonRequest + 1);
  IoctlAnswer bigPut = run(ACIDFS_IOC_PUT, std::string(kMaxPutRequest + 1, 'p'));
  EXPECT_EQ(bigPut.result, E2BIG);
  EXPECT_NE(reply(bigPut)["error"].get<std::string>().find("64 MiB"), std::string::npos) << bigPut.data;
}

// ---- JSON ---------------------------------------------------------------------------------

TEST_F(IoctlDoor, TextThatIsNotJsonIsEinval) {
  for (unsigned cmd : {ACIDFS_IOC_STAT, ACIDFS_IOC_TRANSACT, ACIDFS_IOC_COMMIT})
    for (const std::string bad : {"", "{", "{\"path\":\"/a\"} trailing", "{'path':'/a'}"})
      expectEinval(cmd, bad, "not valid JSON");
}

// "nested at most 16 deep": 16 levels are parsed (and then found to be the
// wrong shape), 17 are refused while parsing.
TEST_F(IoctlDoor, SixteenLevelsOfNestingAreParsedAndSeventeenAreNot) {
  expectEinval(ACIDFS_IOC_STAT, nested(16), "must be a JSON object");
  expectEinval(ACIDFS_IOC_STAT, nested(17), "nested deeper than 16");
  std::string objects16, objects17;
  for (int i = 0; i < 15; ++i) objects16 += R"({"k":)";
  objects16 += "{}" + std::string(15, '}');
  objects17 = R"({"k":)" + objects16 + "}";
  expectEinval(ACIDFS_IOC_STAT, objects16, "unknown field \"k\"");
  expectEinval(ACIDFS_IOC_STAT, objects17, "nested deeper than 16");
}

// ---- STAT ------------------------------------------------------------------------------------

TEST_F(IoctlDoor, StatAnswersExactlyTheDocumentedFields) {
  IoctlAnswer a = run(ACIDFS_IOC_STAT, R"({"path":"/a"})");
  ASSERT_EQ(a.result, 0) << a.data;
  json j = reply(a);
  std::set<std::string> keys;
  for (const auto& [key, value] : j.items()) keys.insert(key);
  EXPECT_EQ(keys, (std::set<std::string>{"path", "blobId", "size", "mode", "uid", "gid", "mtime", "ino", "version"}));
  EXPECT_EQ(j["path"], "/a");
  EXPECT_GT(j["version"].get<uint64_t>(), 0u) << "a file written has a content version";
  EXPECT_EQ(j["blobId"], blobOf("/a").hex());
  EXPECT_EQ(j["size"], 16);
  EXPECT_EQ(j["mode"], S_IFREG | 0644);
  // A directory has no blobId: null.
  IoctlAnswer root = run(ACIDFS_IOC_STAT, R"({"path":"/"})");
  ASSERT_EQ(root.result, 0) << root.data;
  EXPECT_TRUE(reply(root)["blobId"].is_null());
  EXPECT_TRUE(reply(root)["version"].is_null());
  EXPECT_EQ(reply(root)["ino"], kRootIno);
}

TEST_F(IoctlDoor, StatOfAMissingPathIsEnoentWithAnErrorMessage) {
  IoctlAnswer a = run(ACIDFS_IOC_STAT, R"({"path":"/nope"})");
  EXPECT_EQ(a.result, ENOENT);
  EXPECT_TRUE(reply(a)["error"].is_string()) << a.data;
}

TEST_F(IoctlDoor, StatRequestsOfTheWrongShapeAreEinvalNamingTheProblem) {
  expectEinval(ACIDFS_IOC_STAT, R"(["/a"])", "stat must be a JSON object");
  expectEinval(ACIDFS_IOC_STAT, R"("/a")", "stat must be a JSON object");
  expectEinval(ACIDFS_IOC_STAT, R"({})", "stat: missing field \"path\"");
  expectEinval(ACIDFS_IOC_STAT, R"({"path":"/a","blobId":null})", "stat: unknown field \"blobId\"");
  expectEinval(ACIDFS_IOC_STAT, R"({"path":1})", "stat.path must be a string");
  expectEinval(ACIDFS_IOC_STAT, R"({"path":null})", "stat.path must be a string");
}

TEST_F(IoctlDoor, PathsMustBeAbsoluteWithNoEmptyDotOrDotDotComponent) {
  for (const std::string path : {"", "a", "./a", "//a", "/a/", "/a//b", "/./a", "/a/.", "/a/..", "/../a"})
    expectEinval(ACIDFS_IOC_STAT, json{{"path", path}}.dump(), "stat.path: path");
  expectEinval(ACIDFS_IOC_STAT, json{{"path", std::string("/a\0b", 4)}}.dump(), "NUL");
  // Names are at most 255 bytes: 255 is a name (absent: ENOENT), 256 is not.
  EXPECT_EQ(run(ACIDFS_IOC_STAT, json{{"path", "/" + std::string(255, 'n')}}.dump()).result, ENOENT);
  IoctlAnswer tooLong = run(ACIDFS_IOC_STAT, json{{"path", "/" + std::string(256, 'n')}}.dump());
  EXPECT_NE(tooLong.result, 0);
  EXPECT_NE(reply(tooLong)["error"].get<std::string>().find("longer than 255 bytes"), std::string::npos)
      << tooLong.data;
}

// ---- TRANSACT -------------------------------------------------------------------------------

// SPEC §11: {"txnId", "ops"}, and txnId on COMMIT: malformed ones are
// EINVAL naming the field; a repeat answers byte for byte as the first.
TEST_F(IoctlDoor, ATxnIdIsCheckedAndARepeatAnswersExactlyAsTheFirst) {
  const std::string del = R"([{"op":"delete","source":{"path":"/a"}}])";
  expectEinval(ACIDFS_IOC_TRANSACT, R"({"txnId": 7, "ops": [{"op":"delete","source":{"path":"/a"}}]})",
               "transaction.txnId must be a string");
  expectEinval(ACIDFS_IOC_TRANSACT, R"({"txnId": "", "ops": [{"op":"delete","source":{"path":"/a"}}]})",
               "txnId must be 1 to 64 bytes");
  expectEinval(ACIDFS_IOC_TRANSACT, R"({"txnId": "x"})", "transaction: missing field \"ops\"");
  expectEinval(ACIDFS_IOC_TRANSACT, R"({"txnId": "x", "ops": [], "more": 1})", "unknown field \"more\"");
  expectEinval(ACIDFS_IOC_COMMIT, R"({"path": "/b", "blobId": "00000000000000000000000000000000", "txnId": "a\tb"})",
               "printable");
  expectUnchanged();
  const std::string once = R"({"txnId": "rm-a", "ops": )" + del + "}";
  IoctlAnswer first = run(ACIDFS_IOC_TRANSACT, once);
  ASSERT_EQ(first.result, 0) << first.data;
  makeFile(kRootIno, "a", "a again", 0644);
  IoctlAnswer repeat = run(ACIDFS_IOC_TRANSACT, once);
  EXPECT_EQ(repeat.result, first.result);
  EXPECT_EQ(repeat.data, first.data);
  EXPECT_EQ("a again", contentAt("/a")) << "the repeat deleted /a again";
  // A conflict's report comes back the same, though /c exists by then.
  const std::string toC = R"({"txnId": "c", "ops": [{"op":"copy","source":{"path":"/a"},)"
                          R"("dest":{"path":"/c","basis":"00000000000000000000000000000000"}}]})";
  IoctlAnswer conflict = run(ACIDFS_IOC_TRANSACT, toC);
  ASSERT_EQ(conflict.result, ENOENT) << conflict.data;
  makeFile(kRootIno, "c", "c", 0644);
  IoctlAnswer conflictAgain = run(ACIDFS_IOC_TRANSACT, toC);
  EXPECT_EQ(conflictAgain.result, ENOENT);
  EXPECT_EQ(conflictAgain.data, conflict.data);
}

TEST_F(IoctlDoor, ATransactionMustBeAnArrayOfOpObjects) {
  expectEinval(ACIDFS_IOC_TRANSACT, R"({"op":"delete","source":{"path":"/a"}})", "must be a JSON array of ops");
  expectEinval(ACIDFS_IOC_TRANSACT, R"("delete")", "must be a JSON array of ops");
  expectEinval(ACIDFS_IOC_TRANSACT, R"(["delete"])", "op 1 must be a JSON object");
  expectEinval(ACIDFS_IOC_TRANSACT, R"([{"op":"delete","source":{"path":"/a"}}, 7])", "op 2 must be a JSON object");
  expectUnchanged();
}

TEST_F(IoctlDoor, EachMalformedOpIsEinvalNamingTheOpAndTheField) {
  const std::string source = R"("source":{"path":"/a"})";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"source":{"path":"/a"}})", "op 1: missing field \"op\""},
      {R"({"op":"rename",)" + source + "}", "op 1: unknown op \"rename\" (move, copy, delete or commit)"},
      {R"({"op":"MOVE",)" + source + R"(,"dest":{"path":"/b"}})", "unknown op \"MOVE\""},
      {R"({"op":3,)" + source + "}", "op 1: unknown op a JSON number"},
      {R"({"op":"delete","extra":1,)" + source + "}", "op 1: unknown field \"extra\""},
      {R"({"op":"delete"})", "op 1: missing field \"source\""},
      {R"({"op":"delete","source":"/a"})", "op 1.source must be a JSON object"},
      {R"({"op":"delete","source":{}})", "op 1.source: missing field \"path\""},
      {R"({"op":"delete","source":{"path":"/a","basis":null}})", "op 1.source: unknown field \"basis\""},
      {R"({"op":"delete","source":{"path":"a"}})", "op 1.source.path: path"},
      {R"({"op":"delete","source":{"path":"/a","blobId":7}})", "op 1.source.blobId must be a blobId string"},
      {R"({"op":"delete","source":{"path":"/a","blobId":null}})", "op 1.source.blobId must be a blobId string"},
      {R"({"op":"delete","source":{"path":"/a","blobId":")" + std::string(31, '0') + R"("}})",
       "is not a blobId (32 hex digits)"},
      {R"({"op":"delete","source":{"path":"/a","blobId":")" + std::string(33, '0') + R"("}})",
       "is not a blobId (32 hex digits)"},
      {R"({"op":"delete","source":{"path":"/a","blobId":")" + std::string(31, '0') + R"(g"}})",
       "is not a blobId (32 hex digits)"},
      {R"({"op":"delete",)" + source + R"(,"dest":{"path":"/b"}})", "op 1: a delete has no \"dest\""},
      {R"({"op":"move",)" + source + "}", "op 1: missing field \"dest\""},
      {R"({"op":"copy",)" + source + "}", "op 1: missing field \"dest\""},
      {R"({"op":"move",)" + source + R"(,"dest":"/b"})", "op 1.dest must be a JSON object"},
      {R"({"op":"move",)" + source + R"(,"dest":{}})", "op 1.dest: missing field \"path\""},
      {R"({"op":"move",)" + source + R"(,"dest":{"path":"/b","blobId":null}})", "op 1.dest: unknown field \"blobId\""},
      {R"({"op":"move",)" + source + R"(,"dest":{"path":"/b/../c"}})", "op 1.dest.path: path"},
      {R"({"op":"move",)" + source + R"(,"dest":{"path":"/b","basis":0}})", "op 1.dest.basis must be a blobId string"},
      {R"({"op":"move",)" + source + R"(,"dest":{"path":"/b","basis":"absent"}})", "\"absent\" is not a blobId"},
  };
  for (const auto& [op, why] : cases) expectEinval(ACIDFS_IOC_TRANSACT, opJson(op), why);
  expectUnchanged();
}

TEST_F(IoctlDoor, AMalformedLaterOpMeansNothingIsApplied) {
  IoctlAnswer a = run(ACIDFS_IOC_TRANSACT, R"([{"op":"move","source":{"path":"/a"},"dest":{"path":"/b"}},)"
                                           R"({"op":"delete","source":{"path":"/b"},"dest":{"path":"/c"}}])");
  EXPECT_EQ(a.result, EINVAL);
  EXPECT_NE(reply(a)["error"].get<std::string>().find("op 2"), std::string::npos) << a.data;
  expectUnchanged();
  EXPECT_EQ(contentAt("/b").substr(0, 7), "<ENOENT") << "the valid first op was not applied";
}

TEST_F(IoctlDoor, WellFormedOpsAreAppliedAndCounted) {
  const std::string id = blobOf("/a").hex();
  std::string upper = id;
  for (char& c : upper) c = static_cast<char>(toupper(c));
  // Every optional field, both spellings of a blobId, and a null basis.
  IoctlAnswer a = run(ACIDFS_IOC_TRANSACT,
                      R"([{"op":"copy","source":{"path":"/a","blobId":")" + id + R"("},"dest":{"path":"/b","basis":null}},)"
                      R"({"op":"move","source":{"path":"/b","blobId":")" + upper + R"("},"dest":{"path":"/c","basis":null}},)"
                      R"({"op":"copy","source":{"path":"/c"},"dest":{"path":"/a","basis":")" + id + R"("}},)"
                      R"({"op":"delete","source":{"path":"/c","blobId":")" + id + R"("}}])");
  ASSERT_EQ(a.result, 0) << a.data;
  EXPECT_EQ(reply(a), (json{{"applied", 4}}));
  expectUnchanged();
  EXPECT_EQ(contentAt("/c").substr(0, 7), "<ENOENT");
  // The empty transaction is well formed too.
  IoctlAnswer none = run(ACIDFS_IOC_TRANSACT, "[]");
  EXPECT_EQ(none.result, 0) << none.data;
  EXPECT_EQ(reply(none), (json{{"applied", 0}}));
}

TEST_F(IoctlDoor, TenThousandOpsAreDecodedAndOneMoreIsNot) {
  std::string ops = "[";
  for (int i = 0; i < 10000; ++i) ops += R"({"op":"delete","source":{"path":"/nope"}},)";
  ops.back() = ']';
  // Decoded, run, and stopped by the first op's precondition: a conflict, not EINVAL.
  IoctlAnswer a = run(ACIDFS_IOC_TRANSACT, ops);
  EXPECT_EQ(a.result, ENOENT) << a.data.substr(0, 200);
  EXPECT_EQ(reply(a)["code"], "SOURCE_NOT_FOUND");
  EXPECT_EQ(reply(a)["operationIndex"], 1);
  ops.back() = ',';
  ops += R"({"op":"delete","source":{"path":"/nope"}}])";
  expectEinval(ACIDFS_IOC_TRANSACT, ops, "at most 10000 ops, not 10001");
}

TEST_F(IoctlDoor, AFailedPreconditionAnswersItsErrnoWithTheConflictReport) {
  const std::string wrong(32, 'f');
  IoctlAnswer a = run(ACIDFS_IOC_TRANSACT,
                      R"([{"op":"delete","source":{"path":"/nope"}},{"op":"delete","source":{"path":"/a","blobId":")" +
                          wrong + R"("}}])");
  EXPECT_EQ(a.result, ENOENT);
  EXPECT_EQ(reply(a), (json{{"code", "SOURCE_NOT_FOUND"}, {"path", "/nope"}, {"expected", nullptr},
                            {"found", nullptr}, {"operationIndex", 1}}));
  IoctlAnswer changed = run(ACIDFS_IOC_TRANSACT,
                            R"([{"op":"delete","source":{"path":"/a","blobId":")" + wrong + R"("}}])");
  EXPECT_EQ(changed.result, ECANCELED);
  EXPECT_EQ(reply(changed), (json{{"code", "SOURCE_CHANGED"}, {"path", "/a"}, {"expected", wrong},
                                  {"found", blobOf("/a").hex()}, {"operationIndex", 1}}));
  expectUnchanged();
}

// ---- PUT and COMMIT -----------------------------------------------------------------------

TEST_F(IoctlDoor, PutAnswersTheBlobIdAndSizeOfAnyBytes) {
  IoctlAnswer a = run(ACIDFS_IOC_PUT, "the content of a");
  ASSERT_EQ(a.result, 0) << a.data;
  EXPECT_EQ(reply(a), (json{{"blobId", blobOf("/a").hex()}, {"size", 16}})) << "the same bytes, the same blobId";
  // Raw bytes, not JSON: a NUL and bytes that are not UTF-8 are content.
  IoctlAnswer raw = run(ACIDFS_IOC_PUT, std::string("\0\xff{", 3));
  ASSERT_EQ(raw.result, 0) << raw.data;
  EXPECT_EQ(reply(raw)["size"], 3);
  IoctlAnswer empty = run(ACIDFS_IOC_PUT, "");
  ASSERT_EQ(empty.result, 0) << empty.data;
  EXPECT_EQ(reply(empty)["size"], 0);
  EXPECT_EQ(reply(empty)["blobId"].get<std::string>().size(), 32u);
}

TEST_F(IoctlDoor, CommitRequestsOfTheWrongShapeAreEinval) {
  const std::string id = blobOf("/a").hex();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"(["/a"])", "commit must be a JSON object"},
      {R"({"blobId":")" + id + R"("})", "commit: missing field \"path\""},
      {R"({"path":"/a"})", "commit: missing field \"blobId\""},
      {R"({"path":"/a","blobId":")" + id + R"(","size":16})", "commit: unknown field \"size\""},
      {R"({"path":"/a","blobId":null})", "commit.blobId must be a blobId string"},
      {R"({"path":"/a","blobId":"xyz"})", "commit.blobId: \"xyz\" is not a blobId"},
      {R"({"path":"/a","blobId":")" + id + R"(","basis":false})", "commit.basis must be a blobId string"},
      {R"({"path":"/a","blobId":")" + id + R"(","mode":4096})", "commit.mode must be 0 to 07777"},
      {R"({"path":"/a","blobId":")" + id + R"(","mode":"0644"})", "commit.mode must be 0 to 07777"},
      {R"({"path":"/a","blobId":")" + id + R"(","mode":420.0})", "commit.mode must be 0 to 07777"},
      {R"({"path":"/a","blobId":")" + id + R"(","mode":null})", "commit.mode must be 0 to 07777"},
      {R"({"path":"/a/","blobId":")" + id + R"("})", "commit.path: path"},
  };
  for (const auto& [request, why] : cases) expectEinval(ACIDFS_IOC_COMMIT, request, why);
  expectUnchanged();
}

// The history and clone requests (version 2) check their fields as the
// others do: EINVAL naming the field, nothing changed.
TEST_F(IoctlDoor, HistoryAndCloneRequestsOfTheWrongShapeAreEinval) {
  const std::pair<unsigned, const char*> bad[] = {
      {ACIDFS_IOC_LOG, R"({})"},
      {ACIDFS_IOC_LOG, R"({"path":"/a","skip":-1})"},
      {ACIDFS_IOC_LOG, R"({"path":"/a","extra":1})"},
      {ACIDFS_IOC_LOG, R"({"path":"relative"})"},
      {ACIDFS_IOC_UNDELETE, R"({"path":"/a","force":"yes"})"},
      {ACIDFS_IOC_UNDELETE, R"({"path":"/a","blobId":"xyz"})"},
      {ACIDFS_IOC_UNDELETE, R"({"path":"/a","id":"nothex"})"},
      {ACIDFS_IOC_UNDELETE, R"({"path":"/a","dest":"/../b"})"},
      {ACIDFS_IOC_GC, R"({"freeze":1})"},
      {ACIDFS_IOC_GC, R"({"thaw":true})"},
      {ACIDFS_IOC_CLONE, R"({"source":"/a"})"},
      {ACIDFS_IOC_CLONE, R"({"source":"/a","dest":"/b","readonly":"yes"})"},
      {ACIDFS_IOC_CLONE, R"({"source":"/a","dest":"/b","writable":true})"},
      {ACIDFS_IOC_CLONE, R"({"dest":7})"},
  };
  for (const auto& [cmd, request] : bad) {
    IoctlAnswer a = run(cmd, request);
    EXPECT_EQ(a.result, EINVAL) << request << ": " << a.data;
    EXPECT_TRUE(reply(a).contains("error")) << request;
  }
  expectUnchanged();
}

TEST_F(IoctlDoor, CommitTakesModesUpTo07777AndAnswersTheStatAfterwards) {
  IoctlAnswer put = run(ACIDFS_IOC_PUT, "new content");
  ASSERT_EQ(put.result, 0) << put.data;
  const std::string id = reply(put)["blobId"];
  IoctlAnswer a = run(ACIDFS_IOC_COMMIT, R"({"path":"/new","blobId":")" + id + R"(","basis":null,"mode":4095})");
  ASSERT_EQ(a.result, 0) << a.data;
  EXPECT_EQ(reply(a)["path"], "/new");
  EXPECT_EQ(reply(a)["blobId"], id);
  EXPECT_EQ(reply(a)["mode"], S_IFREG | 07777);
  EXPECT_EQ(contentAt("/new"), "new content");
  // The commit consumed the lease: the same blob needs a PUT again.
  IoctlAnswer consumed = run(ACIDFS_IOC_COMMIT, R"({"path":"/other","blobId":")" + id + R"("})");
  EXPECT_EQ(consumed.result, ENOENT) << consumed.data;
  ASSERT_EQ(run(ACIDFS_IOC_PUT, "new content").result, 0);
  // basis null: must not exist, and now it does (SPEC §4: a commit's basis is CAS_CONFLICT).
  IoctlAnswer again = run(ACIDFS_IOC_COMMIT, R"({"path":"/new","blobId":")" + id + R"(","basis":null})");
  EXPECT_EQ(again.result, ECANCELED) << again.data;
  EXPECT_EQ(reply(again), (json{{"code", "CAS_CONFLICT"}, {"path", "/new"}, {"expected", nullptr},
                                {"found", id}, {"operationIndex", 1}}));
}

// ---- STATUS and the failure answers -----------------------------------------------------------

TEST_F(IoctlDoor, StatusAnswersTheDaemonsCounters) {
  IoctlAnswer a = run(ACIDFS_IOC_STATUS, "");
  ASSERT_EQ(a.result, 0) << a.data;
  for (const char* key : {"commits", "conflicts", "retries", "transacts", "casCommits", "puts", "bytesStored",
                          "bytesReferenced", "dedupRatio", "chunks", "blobs", "inodes", "pendingLeases",
                          "pendingDrafts"})
    EXPECT_TRUE(reply(a).contains(key)) << key;
  EXPECT_EQ(reply(a)["puts"], 0);
  ASSERT_EQ(run(ACIDFS_IOC_PUT, "x").result, 0);
  EXPECT_EQ(reply(run(ACIDFS_IOC_STATUS, ""))["puts"], 1);
}

TEST(IoctlFailure, AnErrorIsItsErrnoWithTheMessageAndAConflictItsReport) {
  IoctlAnswer error = ioctlFailure(Status::Error(EACCES, "not yours"));
  EXPECT_EQ(error.result, EACCES);
  EXPECT_EQ(json::parse(error.data), (json{{"error", "not yours"}}));
  // A message that is not UTF-8 (a file name is bytes) still makes JSON.
  IoctlAnswer bytes = ioctlFailure(Status::Error(ENOENT, "no \xff file"));
  EXPECT_EQ(bytes.result, ENOENT);
  EXPECT_FALSE(json::parse(bytes.data, nullptr, false).is_discarded()) << bytes.data;
  ConflictReport report{ConflictCode::kDestChanged, "/x", Id128::zero(), std::nullopt, 3, false};
  IoctlAnswer conflict = ioctlFailure(Status::Conflict(report));
  EXPECT_EQ(conflict.result, ECANCELED);
  EXPECT_EQ(conflict.data, report.toJson());
}

// ---- requests in parts (IoctlParts) ---------------------------------------------------------

std::string bytes(size_t n, char c = 'p') { return std::string(n, c); }

TEST(IoctlPartsAssembly, ASinglePartRunsAtOnceAndIsHeldOnlyWhileItRuns) {
  IoctlParts parts;
  {
    IoctlParts::Step step = parts.add(1, 7, ACIDFS_IOC_STAT, R"({"path":"/a"})", false, 0);
    ASSERT_EQ(step.kind, Kind::kRun);
    EXPECT_EQ(step.payload.bytes(), R"({"path":"/a"})");
    EXPECT_EQ(parts.heldBy(7), 13u);
    EXPECT_EQ(parts.heldTotal(), 13u);
  }
  EXPECT_EQ(parts.heldBy(7), 0u);
  EXPECT_EQ(parts.heldTotal(), 0u);
}

TEST(IoctlPartsAssembly, PartsAreJoinedInTheOrderSentAcrossTheSmallBufferBound) {
  IoctlParts parts;
  std::string all;
  for (int i = 0; i < 5; ++i) {  // 5 × 40 KiB: past the 64 KiB kept in a string
    const std::string piece = bytes(40 << 10, static_cast<char>('a' + i));
    all += piece;
    IoctlParts::Step step = parts.add(1, 7, ACIDFS_IOC_PUT, piece, true, i);
    EXPECT_EQ(step.kind, Kind::kMore);
    EXPECT_EQ(parts.heldBy(7), all.size());
  }
  IoctlParts::Step last = parts.add(1, 7, ACIDFS_IOC_PUT, "end", false, 9);
  ASSERT_EQ(last.kind, Kind::kRun);
  EXPECT_EQ(last.payload.bytes(), all + "end");
}

TEST(IoctlPartsAssembly, DescriptorsAssembleTheirRequestsApart) {
  IoctlParts parts;
  EXPECT_EQ(parts.add(1, 7, ACIDFS_IOC_TRANSACT, "[1,", true, 0).kind, Kind::kMore);
  EXPECT_EQ(parts.add(2, 7, ACIDFS_IOC_TRANSACT, "[2,", true, 0).kind, Kind::kMore);
  EXPECT_EQ(parts.add(3, 8, ACIDFS_IOC_STAT, "{", true, 0).kind, Kind::kMore);
  IoctlParts::Step two = parts.add(2, 7, ACIDFS_IOC_TRANSACT, "22]", false, 0);
  IoctlParts::Step one = parts.add(1, 7, ACIDFS_IOC_TRANSACT, "11]", false, 0);
  IoctlParts::Step three = parts.add(3, 8, ACIDFS_IOC_STAT, "}", false, 0);
  EXPECT_EQ(one.payload.bytes(), "[1,11]");
  EXPECT_EQ(two.payload.bytes(), "[2,22]");
  EXPECT_EQ(three.payload.bytes(), "{}");
}

TEST(IoctlPartsAssembly, AJsonRequestOfExactly4MiBRunsAndOneByteMoreIsE2big) {
  IoctlParts parts;
  const std::string mib = bytes(1 << 20);
  for (int i = 0; i < 3; ++i) ASSERT_EQ(parts.add(1, 7, ACIDFS_IOC_COMMIT, mib, true, 0).kind, Kind::kMore);
  {
    IoctlParts::Step last = parts.add(1, 7, ACIDFS_IOC_COMMIT, mib, false, 0);
    ASSERT_EQ(last.kind, Kind::kRun);
    EXPECT_EQ(last.payload.bytes().size(), kMaxJsonRequest);
  }
  for (int i = 0; i < 4; ++i) ASSERT_EQ(parts.add(1, 7, ACIDFS_IOC_COMMIT, mib, true, 0).kind, Kind::kMore);
  IoctlParts::Step over = parts.add(1, 7, ACIDFS_IOC_COMMIT, "x", false, 0);
  EXPECT_EQ(over.kind, Kind::kRefused);
  EXPECT_EQ(over.refusal.errnum(), E2BIG);
  EXPECT_EQ(parts.heldBy(7), 0u);
  // That was the last part: the descriptor takes a new request.
  EXPECT_EQ(parts.add(1, 7, ACIDFS_IOC_COMMIT, "{}", false, 0).kind, Kind::kRun);
}

TEST(IoctlPartsAssembly, APutMayGrowPastTheJsonBound) {
  IoctlParts parts;
  ASSERT_EQ(parts.add(1, 7, ACIDFS_IOC_PUT, bytes(kMaxJsonRequest), true, 0).kind, Kind::kMore);
  IoctlParts::Step last = parts.add(1, 7, ACIDFS_IOC_PUT, "x", false, 0);
  ASSERT_EQ(last.kind, Kind::kRun);
  EXPECT_EQ(last.payload.bytes().size(), kMaxJsonRequest + 1);
}

TEST(IoctlPartsAssembly, AfterARefusalEveryPartIsRefusedUpToTheLastThenANewRequestRuns) {
  IoctlParts parts(IoctlParts::Limits{1000, 5000, kPartialIdleNs});
  EXPECT_EQ(parts.add(1, 7, ACIDFS_IOC_PUT, bytes(600), true, 0).kind, Kind::kMore);
  IoctlParts::Step over = parts.add(1, 7, ACIDFS_IOC_PUT, bytes(600), true, 0);
  EXPECT_EQ(over.refusal.errnum(), ENOBUFS);
  EXPECT_EQ(parts.heldBy(7), 0u) << "the refused request let go of its 600 bytes";
  // Small parts would fit now, but belong to the refused request.
  for (bool more : {true, true, false}) {
    IoctlParts::Step step = parts.add(1, 7, ACIDFS_IOC_PUT, "x", more, 0);
    EXPECT_EQ(step.kind, Kind::kRefused);
    EXPECT_EQ(step.refusal.errnum(), E2BIG) << "\"an earlier part of this request was refused\"";
    EXPECT_EQ(parts.heldBy(7), 0u);
  }
  IoctlParts::Step fresh = parts.add(1, 7, ACIDFS_IOC_PUT, "new", false, 0);
  ASSERT_EQ(fresh.kind, Kind::kRun);
  EXPECT_EQ(fresh.payload.bytes(), "new");
}

TEST(IoctlPartsAssembly, AnotherCommandOnTheDescriptorAbandonsThePartialRequestAndItsRefusal) {
  IoctlParts parts(IoctlParts::Limits{1000, 5000, kPartialIdleNs});
  parts.add(1, 7, ACIDFS_IOC_PUT, bytes(700), true, 0);
  IoctlParts::Step stat = parts.add(1, 7, ACIDFS_IOC_STAT, "{}", true, 0);
  EXPECT_EQ(stat.kind, Kind::kMore);
  EXPECT_EQ(parts.heldBy(7), 2u) << "the PUT's 700 bytes were let go";
  // A refused request is abandoned the same way.
  EXPECT_EQ(parts.add(1, 7, ACIDFS_IOC_STAT, bytes(1000), true, 0).refusal.errnum(), ENOBUFS);
  IoctlParts::Step put = parts.add(1, 7, ACIDFS_IOC_PUT, "p", false, 0);
  ASSERT_EQ(put.kind, Kind::kRun);
  EXPECT_EQ(put.payload.bytes(), "p");
}

TEST(IoctlPartsAssembly, ALastPartPastTheUidsShareIsEnobufsAndFreesTheRequest) {
  IoctlParts parts(IoctlParts::Limits{1000, 5000, kPartialIdleNs});
  parts.add(1, 7, ACIDFS_IOC_PUT, bytes(900), true, 0);
  IoctlParts::Step last = parts.add(1, 7, ACIDFS_IOC_PUT, bytes(101), false, 0);
  EXPECT_EQ(last.kind, Kind::kRefused);
  EXPECT_EQ(last.refusal.errnum(), ENOBUFS);
  EXPECT_EQ(parts.heldBy(7), 0u);
  EXPECT_EQ(parts.heldTotal(), 0u);
  EXPECT_EQ(parts.add(1, 7, ACIDFS_IOC_PUT, bytes(1000), false, 0).kind, Kind::kRun) << "exactly the share fits";
}

TEST(IoctlPartsAssembly, RootHasAShareOfItsOwnAndIsNotCountedInTheTotal) {
  IoctlParts parts(IoctlParts::Limits{1000, 1000, kPartialIdleNs});
  EXPECT_EQ(parts.add(1, 7, ACIDFS_IOC_PUT, bytes(1000), true, 0).kind, Kind::kMore);
  EXPECT_EQ(parts.add(2, 0, ACIDFS_IOC_PUT, bytes(1000), true, 0).kind, Kind::kMore) << "the total is full";
  EXPECT_EQ(parts.heldBy(0), 1000u);
  EXPECT_EQ(parts.heldTotal(), 1000u);
  EXPECT_EQ(parts.add(2, 0, ACIDFS_IOC_PUT, "x", true, 0).refusal.errnum(), ENOBUFS) << "root's own share is full";
}

TEST(IoctlPartsAssembly, IdlenessExpiresAPartialRequestAtExactlyTheIdleTime) {
  IoctlParts parts(IoctlParts::Limits{1000, 5000, 100});
  parts.add(1, 7, ACIDFS_IOC_PUT, bytes(10), true, 0);
  parts.add(1, 7, ACIDFS_IOC_PUT, bytes(10), true, 50);  // each part restarts the clock
  EXPECT_EQ(parts.expire(149), 0u);
  EXPECT_EQ(parts.heldBy(7), 20u);
  EXPECT_EQ(parts.expire(150), 1u);
  EXPECT_EQ(parts.heldBy(7), 0u);
  EXPECT_EQ(parts.expire(1000), 0u) << "nothing left to expire";
  // The descriptor's next part starts a new request.
  IoctlParts::Step next = parts.add(1, 7, ACIDFS_IOC_PUT, "n", false, 1000);
  ASSERT_EQ(next.kind, Kind::kRun);
  EXPECT_EQ(next.payload.bytes(), "n");
}

TEST(IoctlPartsAssembly, ExpiryAndCloseForgetARefusalToo) {
  IoctlParts parts(IoctlParts::Limits{1000, 5000, 100});
  for (uint64_t fh : {1, 2}) EXPECT_EQ(parts.add(fh, 7, ACIDFS_IOC_PUT, bytes(1001), true, 0).refusal.errnum(), ENOBUFS);
  EXPECT_EQ(parts.expire(100), 1u + 1u);
  EXPECT_EQ(parts.add(1, 7, ACIDFS_IOC_PUT, "a", false, 100).kind, Kind::kRun);
  EXPECT_EQ(parts.add(2, 7, ACIDFS_IOC_PUT, bytes(1001), true, 200).refusal.errnum(), ENOBUFS);
  parts.drop(2);
  EXPECT_EQ(parts.add(2, 7, ACIDFS_IOC_PUT, "b", false, 200).kind, Kind::kRun);
  parts.drop(99);  // never used: nothing happens
  EXPECT_EQ(parts.heldTotal(), 0u);
}

TEST(IoctlPartsAssembly, AMovedPayloadIsReleasedOnceByItsLastOwner) {
  IoctlParts parts;
  IoctlParts::Step step = parts.add(1, 7, ACIDFS_IOC_PUT, bytes(100), false, 0);
  {
    IoctlParts::Payload moved(std::move(step.payload));
    EXPECT_EQ(moved.bytes(), bytes(100));
    EXPECT_EQ(parts.heldBy(7), 100u);
  }
  EXPECT_EQ(parts.heldBy(7), 0u);
  EXPECT_EQ(parts.heldTotal(), 0u);
}

// A descriptor may pass to another process (fork, SCM_RIGHTS) of another
// uid. The last part's uid runs the request, and the whole of it counts
// against that uid until it is done.
TEST(IoctlPartsAssembly, TheUidOfTheLastPartHoldsTheWholeRequest) {
  IoctlParts parts(IoctlParts::Limits{1000, 5000, kPartialIdleNs});
  parts.add(1, 7, ACIDFS_IOC_PUT, bytes(300), true, 0);
  {
    IoctlParts::Step last = parts.add(1, 8, ACIDFS_IOC_PUT, bytes(10), false, 0);
    ASSERT_EQ(last.kind, Kind::kRun);
    EXPECT_EQ(last.payload.bytes().size(), 310u);
    EXPECT_EQ(parts.heldBy(7), 0u);
    EXPECT_EQ(parts.heldBy(8), 310u);
    EXPECT_EQ(parts.heldTotal(), 310u);
  }
  EXPECT_EQ(parts.heldBy(8), 0u);
  EXPECT_EQ(parts.heldTotal(), 0u);
  // When the last part's uid cannot hold it all: ENOBUFS, and nothing held.
  parts.add(2, 7, ACIDFS_IOC_PUT, bytes(600), true, 0);
  parts.add(3, 8, ACIDFS_IOC_PUT, bytes(500), true, 0);
  IoctlParts::Step refused = parts.add(2, 8, ACIDFS_IOC_PUT, bytes(10), false, 0);
  EXPECT_EQ(refused.kind, Kind::kRefused);
  EXPECT_EQ(refused.refusal.errnum(), ENOBUFS);
  EXPECT_EQ(parts.heldBy(7), 0u);
  EXPECT_EQ(parts.heldBy(8), 500u) << "only its own other request";
  parts.drop(3);
  EXPECT_EQ(parts.heldTotal(), 0u);
}

// Parts from two uids on one descriptor: whatever ends the request (its
// close, expiry, another command, its last part), every byte reserved for
// it is given back to the uid it was counted against.
TEST(IoctlPartsAssembly, PartsFromTwoUidsAreAllGivenBackWhenTheRequestEnds) {
  IoctlParts parts(IoctlParts::Limits{1000, 5000, 100});
  auto expectNothingHeld = [&](const char* how) {
    EXPECT_EQ(parts.heldBy(7), 0u) << how;
    EXPECT_EQ(parts.heldBy(8), 0u) << how;
    EXPECT_EQ(parts.heldTotal(), 0u) << how;
  };
  parts.add(1, 7, ACIDFS_IOC_PUT, bytes(100), true, 0);
  parts.add(1, 8, ACIDFS_IOC_PUT, bytes(50), true, 0);
  EXPECT_EQ(parts.heldBy(7) + parts.heldBy(8), 150u);
  EXPECT_EQ(parts.heldTotal(), 150u);
  parts.drop(1);
  expectNothingHeld("closed");

  parts.add(1, 7, ACIDFS_IOC_PUT, bytes(100), true, 0);
  parts.add(1, 8, ACIDFS_IOC_PUT, bytes(50), true, 0);
  EXPECT_EQ(parts.expire(100), 1u);
  expectNothingHeld("expired");

  parts.add(1, 7, ACIDFS_IOC_PUT, bytes(100), true, 0);
  parts.add(1, 8, ACIDFS_IOC_PUT, bytes(50), true, 0);
  { IoctlParts::Step stat = parts.add(1, 9, ACIDFS_IOC_STAT, "", false, 0); }
  expectNothingHeld("abandoned");

  parts.add(1, 7, ACIDFS_IOC_PUT, bytes(100), true, 0);
  parts.add(1, 8, ACIDFS_IOC_PUT, bytes(50), true, 0);
  { IoctlParts::Step last = parts.add(1, 8, ACIDFS_IOC_PUT, bytes(1), false, 0); ASSERT_EQ(last.kind, Kind::kRun); }
  expectNothingHeld("run");

  // A uid's share is intact afterwards.
  EXPECT_EQ(parts.add(2, 8, ACIDFS_IOC_PUT, bytes(1000), false, 0).kind, Kind::kRun);
}

// A middle part from another uid makes the request that uid's: what was
// sent so far counts against it from then on, or, when it cannot hold that,
// the part is ENOBUFS and the request holds nothing.
TEST(IoctlPartsAssembly, AMiddlePartFromAnotherUidMovesTheRequestToItOrIsEnobufs) {
  IoctlParts parts(IoctlParts::Limits{1000, 5000, kPartialIdleNs});
  parts.add(1, 7, ACIDFS_IOC_PUT, bytes(100), true, 0);
  EXPECT_EQ(parts.add(1, 8, ACIDFS_IOC_PUT, bytes(50), true, 0).kind, Kind::kMore);
  EXPECT_EQ(parts.heldBy(7), 0u);
  EXPECT_EQ(parts.heldBy(8), 150u);
  EXPECT_EQ(parts.heldTotal(), 150u);
  parts.drop(1);

  parts.add(1, 7, ACIDFS_IOC_PUT, bytes(600), true, 0);
  parts.add(2, 8, ACIDFS_IOC_PUT, bytes(500), true, 0);
  IoctlParts::Step refused = parts.add(1, 8, ACIDFS_IOC_PUT, bytes(10), true, 0);
  EXPECT_EQ(refused.kind, Kind::kRefused);
  EXPECT_EQ(refused.refusal.errnum(), ENOBUFS);
  EXPECT_EQ(parts.heldBy(7), 0u);
  EXPECT_EQ(parts.heldBy(8), 500u) << "only its own other request";
  EXPECT_EQ(parts.add(1, 8, ACIDFS_IOC_PUT, "x", false, 0).refusal.errnum(), E2BIG) << "refused up to the last part";
  parts.drop(2);
  EXPECT_EQ(parts.heldTotal(), 0u);
}

}  // namespace
}  // namespace acidfs
