// The ioctl door against hostile input, in-process (no mount: the door is
// runIoctl over a FuseFs with no kernel session), so that thousands of bad
// requests run in seconds under ASan:
//   - pathological JSON: nesting 100,000 deep (it killed the daemon with a
//     recursive serialisation for the error message), huge arrays, bytes
//     that are not UTF-8, numbers beyond any type, NULs;
//   - seeded random mutations of valid requests (bounded count, fixed seeds);
// each must be answered — EINVAL or E2BIG or a conflict, never a crash — and
// leave the store serving and unchanged. And the bounds of ioctl_parts.h on
// what requests sent in parts may hold: per request, per uid, in all, in
// time.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>
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

const Caller kNobody = Caller::of(65534, 65534);

class IoctlFuzz : public StoreFixture {
 protected:
  void SetUp() override {
    StoreFixture::SetUp();
    if (HasFatalFailure()) return;
    makeFile(kRootIno, "a", "the content of a", 0666);
    fs_ = std::make_unique<FuseFs>(*store_, FuseOptions{});
  }
  void TearDown() override { fs_.reset(); }

  IoctlAnswer run(unsigned cmd, const std::string& payload, const Caller& who = kNobody) {
    return runIoctl(*fs_, who, cmd, payload);
  }
  // Answered with an error naming the problem; the store still serves.
  void expectRefused(unsigned cmd, const std::string& payload, const std::string& what) {
    IoctlAnswer a = run(cmd, payload);
    EXPECT_NE(a.result, 0) << what;
    json reply = json::parse(a.data, nullptr, false);
    EXPECT_FALSE(reply.is_discarded()) << what << ": the answer is not JSON: " << a.data.substr(0, 200);
    EXPECT_LE(a.data.size(), size_t{ACIDFS_IOC_DATA_MAX}) << what;
    expectStillServing();
  }
  void expectStillServing() {
    IoctlAnswer st = run(ACIDFS_IOC_STAT, R"({"path":"/a"})");
    ASSERT_EQ(st.result, 0) << st.data;
    EXPECT_EQ(json::parse(st.data)["blobId"], blobOf("/a").hex());
  }
  std::unique_ptr<FuseFs> fs_;
};

std::string nested(size_t depth, char open, char close, const std::string& core = "1") {
  return std::string(depth, open) + core + std::string(depth, close);
}

TEST_F(IoctlFuzz, DeepNestingIsRefusedWhileParsingNotByRecursion) {
  for (size_t depth : {17, 1000, 100000}) {
    SCOPED_TRACE(depth);
    // Where the issue found it: the value of "op", named in the error.
    const std::string deepOp = R"([{"op":)" + nested(depth, '[', ']') + R"(,"source":{"path":"/a"}}])";
    expectRefused(ACIDFS_IOC_TRANSACT, deepOp, "deep op");
    std::string deepObject;
    for (size_t i = 0; i < depth; ++i) deepObject += R"({"k":)";
    deepObject += "1" + std::string(depth, '}');
    expectRefused(ACIDFS_IOC_TRANSACT, deepObject, "deep object");
    expectRefused(ACIDFS_IOC_STAT, nested(depth, '[', ']'), "deep stat");
    expectRefused(ACIDFS_IOC_COMMIT, R"({"path":"/a","blobId":)" + nested(depth, '[', ']') + "}", "deep commit");
  }
  IoctlAnswer a = run(ACIDFS_IOC_TRANSACT, nested(100000, '[', ']'));
  EXPECT_EQ(a.result, EINVAL);
  EXPECT_NE(a.data.find("nested deeper"), std::string::npos) << a.data;
}

TEST_F(IoctlFuzz, HugeValuesAreAnsweredWithinOneBuffer) {
  // An unknown op that is a 1 MiB string: named, not echoed whole.
  expectRefused(ACIDFS_IOC_TRANSACT, R"([{"op":")" + std::string(1 << 20, 'x') + R"(","source":{"path":"/a"}}])",
                "long op name");
  expectRefused(ACIDFS_IOC_COMMIT, R"({"path":"/a","blobId":")" + std::string(1 << 20, 'f') + R"("})", "long blobId");
  // An array of a million numbers; a transaction of too many ops.
  std::string many = "[";
  for (int i = 0; i < 1000000; ++i) many += "0,";
  many += "0]";
  expectRefused(ACIDFS_IOC_TRANSACT, many, "a million numbers");
  std::string ops = "[";
  for (int i = 0; i < 10001; ++i) ops += R"({"op":"delete","source":{"path":"/nope"}},)";
  ops.back() = ']';
  IoctlAnswer tooMany = run(ACIDFS_IOC_TRANSACT, ops);
  EXPECT_EQ(tooMany.result, EINVAL);
  EXPECT_NE(tooMany.data.find("at most 10000 ops"), std::string::npos) << tooMany.data;
  // Over the size bound of a JSON request, before parsing.
  IoctlAnswer big = run(ACIDFS_IOC_TRANSACT, "[" + std::string(kMaxJsonRequest, ' ') + "]");
  EXPECT_EQ(big.result, E2BIG) << big.data;
  expectStillServing();
}

TEST_F(IoctlFuzz, BadBytesAndBadNumbersAreEinval) {
  const std::vector<std::string> cases = {
      std::string(R"({"path":"/a)") + "\xff\xfe" + R"("})",                // not UTF-8
      std::string(R"({"path":"/a)") + "\xc0\xaf" + R"("})",                // overlong encoding of '/'
      std::string(R"({"path":"/a)") + "\xed\xa0\x80" + R"("})",            // a lone surrogate
      std::string(R"({"path":"/a)") + std::string(1, '\0') + R"(b"})",     // NUL inside the text
      R"({"path":"/a\u0000b"})",                                             // NUL escaped: a bad path
      R"({"path":"/a","blobId":"00000000000000000000000000000000","mode":1e400})",
      R"({"path":"/a","blobId":"00000000000000000000000000000000","mode":-1})",
      R"({"path":"/a","blobId":"00000000000000000000000000000000","mode":18446744073709551616})",
      R"({"path":"/a","blobId":"00000000000000000000000000000000","mode":4294967297})",
      R"({"path":12345678901234567890123456789})",
      "", "\xef\xbb\xbf{}", "nul", "[", "{\"path\":", "\"\\ud800\"",
  };
  for (const std::string& bad : cases) {
    SCOPED_TRACE(json(bad).dump(-1, ' ', true, json::error_handler_t::replace));
    for (unsigned cmd : {ACIDFS_IOC_STAT, ACIDFS_IOC_TRANSACT, ACIDFS_IOC_COMMIT}) expectRefused(cmd, bad, "bad bytes");
  }
}

// Random edits of valid requests: every answer is JSON within one buffer,
// nothing outside /fuzz-* may change, and the store keeps serving.
TEST_F(IoctlFuzz, MutatedRequestsNeverCrashTheDoor) {
  const Id128 a = blobOf("/a");
  const std::vector<std::pair<unsigned, std::string>> seeds = {
      {ACIDFS_IOC_STAT, R"({"path":"/a"})"},
      {ACIDFS_IOC_TRANSACT,
       R"([{"op":"copy","source":{"path":"/a","blobId":")" + a.hex() + R"("},"dest":{"path":"/fuzz-b","basis":null}},)"
       R"({"op":"move","source":{"path":"/fuzz-b"},"dest":{"path":"/fuzz-c"}},)"
       R"({"op":"delete","source":{"path":"/fuzz-c"}}])"},
      {ACIDFS_IOC_COMMIT, R"({"path":"/fuzz-d","blobId":")" + a.hex() + R"(","basis":null,"mode":420})"},
  };
  const std::string alphabet = "{}[]\":,\\/0123456789abcdefnulltrue-+.eE \x80\xff\xc3\xa9";
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    std::mt19937_64 rng(seed);
    SCOPED_TRACE("seed " + std::to_string(seed));
    for (int i = 0; i < 10000; ++i) {
      auto [cmd, text] = seeds[rng() % seeds.size()];
      for (int edits = 1 + static_cast<int>(rng() % 4); edits > 0; --edits) {
        const size_t at = text.empty() ? 0 : rng() % text.size();
        switch (rng() % 4) {
          case 0: if (!text.empty()) text[at] = alphabet[rng() % alphabet.size()]; break;
          case 1: text.insert(at, 1, alphabet[rng() % alphabet.size()]); break;
          case 2: if (!text.empty()) text.erase(at, 1 + rng() % 8); break;
          case 3: text.insert(at, text.substr(at, rng() % 32)); break;  // repeat a piece
        }
      }
      IoctlAnswer answer = run(cmd, text, Caller::root());
      ASSERT_LE(answer.data.size(), size_t{ACIDFS_IOC_DATA_MAX});
      ASSERT_FALSE(json::parse(answer.data, nullptr, false).is_discarded()) << answer.data.substr(0, 200);
    }
  }
  EXPECT_EQ(blobOf("/a"), a);
  expectStillServing();
}

// ---- the bounds on requests in parts (fuse/ioctl_parts.h) ----------------------------

std::string part(size_t n) { return std::string(n, 'p'); }

TEST(IoctlParts, OneUidMayHoldOnlyItsShareAndGetsENOBUFSPastIt) {
  IoctlParts parts(IoctlParts::Limits{1000, 1500, kPartialIdleNs});
  // Two descriptors of uid 7: 600 + 400 fit, the next byte does not.
  EXPECT_EQ(parts.add(1, 7, ACIDFS_IOC_PUT, part(600), true, 0).kind, IoctlParts::Step::Kind::kMore);
  EXPECT_EQ(parts.add(2, 7, ACIDFS_IOC_PUT, part(400), true, 0).kind, IoctlParts::Step::Kind::kMore);
  IoctlParts::Step over = parts.add(2, 7, ACIDFS_IOC_PUT, part(1), true, 0);
  EXPECT_EQ(over.kind, IoctlParts::Step::Kind::kRefused);
  EXPECT_EQ(over.refusal.errnum(), ENOBUFS);
  // The refused request let go of what it held, and its further parts, up
  // to the last, are refused too.
  EXPECT_EQ(parts.heldBy(7), 600u);
  EXPECT_EQ(parts.add(2, 7, ACIDFS_IOC_PUT, part(1), true, 0).kind, IoctlParts::Step::Kind::kRefused);
  EXPECT_EQ(parts.add(2, 7, ACIDFS_IOC_PUT, part(1), false, 0).kind, IoctlParts::Step::Kind::kRefused);
  // Another uid is not affected until the total is reached.
  EXPECT_EQ(parts.add(3, 8, ACIDFS_IOC_PUT, part(900), true, 0).kind, IoctlParts::Step::Kind::kMore);
  EXPECT_EQ(parts.add(4, 9, ACIDFS_IOC_PUT, part(1), true, 0).refusal.errnum(), ENOBUFS);  // 600 + 900 = total
  // Root is never starved by others: only its own share counts.
  EXPECT_EQ(parts.add(5, 0, ACIDFS_IOC_PUT, part(1000), true, 0).kind, IoctlParts::Step::Kind::kMore);
  EXPECT_EQ(parts.heldTotal(), 1500u);
}

TEST(IoctlParts, TheWholeRequestIsHeldUntilItHasRunAndCloseOrIdlenessFreesTheRest) {
  IoctlParts parts(IoctlParts::Limits{1000, 1500, 100});
  parts.add(1, 7, ACIDFS_IOC_PUT, part(300), true, 0);
  {
    IoctlParts::Step run = parts.add(1, 7, ACIDFS_IOC_PUT, part(5), false, 0);
    ASSERT_EQ(run.kind, IoctlParts::Step::Kind::kRun);
    EXPECT_EQ(run.payload.bytes(), part(305));
    EXPECT_EQ(parts.heldBy(7), 305u) << "a running request still counts";
  }
  EXPECT_EQ(parts.heldBy(7), 0u);
  // Closing the descriptor drops a partial request.
  parts.add(2, 7, ACIDFS_IOC_PUT, part(300), true, 0);
  parts.drop(2);
  EXPECT_EQ(parts.heldBy(7), 0u);
  // So does silence: no part for `idleNs`.
  parts.add(3, 7, ACIDFS_IOC_PUT, part(300), true, 0);
  parts.add(4, 7, ACIDFS_IOC_PUT, part(300), true, 90);
  EXPECT_EQ(parts.expire(150), 1u);
  EXPECT_EQ(parts.heldBy(7), 300u);
  EXPECT_EQ(parts.heldTotal(), 300u);
  // A part of another request abandons the partial one.
  IoctlParts::Step stat = parts.add(4, 7, ACIDFS_IOC_STAT, "{}", false, 160);
  EXPECT_EQ(stat.payload.bytes(), "{}");
}

TEST(IoctlParts, ARequestPastItsSizeIsE2big) {
  IoctlParts parts(IoctlParts::Limits{kMaxPutRequest * 2, kMaxPutRequest * 2, kPartialIdleNs});
  const std::string mib(1 << 20, 'j');
  for (size_t sent = 0; sent < kMaxJsonRequest; sent += mib.size())
    ASSERT_EQ(parts.add(1, 7, ACIDFS_IOC_TRANSACT, mib, true, 0).kind, IoctlParts::Step::Kind::kMore);
  IoctlParts::Step over = parts.add(1, 7, ACIDFS_IOC_TRANSACT, "x", true, 0);
  EXPECT_EQ(over.refusal.errnum(), E2BIG);
  EXPECT_EQ(parts.heldBy(7), 0u);
}

}  // namespace
}  // namespace acidfs
