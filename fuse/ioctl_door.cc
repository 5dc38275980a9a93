#include "fuse/ioctl_door.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <mutex>
#include <nlohmann/json.hpp>
#include <unordered_map>
#include <unordered_set>

#include "acidfs/ioctl.h"
#include "core/cas_ops.h"
#include "core/feed.h"
#include "core/history.h"
#include "core/log.h"
#include "core/paths.h"
#include "core/trash.h"
#include "fuse/fuse_fs.h"
#include "fuse/ioctl_parts.h"

namespace acidfs {
namespace {

using nlohmann::json;

// A request the caller got wrong: EINVAL naming the problem.
struct BadRequest {
  std::string why;
};

// Bounds on what one request may make the daemon do (see also ioctl_parts.h
// for its size): JSON nested deeper than any valid request is refused while
// parsing, and a transaction has at most kMaxTransactOps ops.
constexpr int kMaxJsonDepth = 16;
constexpr size_t kMaxTransactOps = 10000;
// JSON larger than this is parsed one request at a time: parsing costs some
// 30x the text, so this bounds the daemon's peak to one large parse.
constexpr size_t kLargeJson = 256u << 10;

// Text that is not UTF-8 (file names are bytes) is replaced, never thrown on.
std::string dumpJson(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

IoctlAnswer answer(const json& j) { return IoctlAnswer{0, dumpJson(j)}; }


// A caller's value named in an error message: its type, or for a string its
// first bytes — never a serialisation of the whole (untrusted, any size).
std::string describe(const json& value) {
  if (!value.is_string()) return std::string("a JSON ") + value.type_name();
  const std::string& text = value.get_ref<const std::string&>();
  constexpr size_t kShown = 64;
  return "\"" + text.substr(0, kShown) + (text.size() > kShown ? "...\"" : "\"");
}

// ---- decoding ------------------------------------------------------------------

void onlyKeys(const json& object, std::initializer_list<const char*> allowed, const std::string& where) {
  if (!object.is_object()) throw BadRequest{where + " must be a JSON object"};
  for (const auto& [key, value] : object.items()) {
    bool known = false;
    for (const char* k : allowed) known = known || key == k;
    if (!known) throw BadRequest{where + ": unknown field \"" + key + "\""};
  }
}

// The path in field `key` of `object` (`where` names the object in errors).
std::string pathField(const json& object, const std::string& where, const char* key = "path") {
  auto it = object.find(key);
  if (it == object.end()) throw BadRequest{where + ": missing field \"" + key + "\""};
  if (!it->is_string()) throw BadRequest{where + "." + key + " must be a string"};
  std::string path = it->get<std::string>();
  Status valid = validatePath(path);
  if (!valid.ok()) throw BadRequest{where + "." + key + ": " + valid.message()};
  return path;
}

Id128 blobIdValue(const json& value, const std::string& where) {
  if (!value.is_string()) throw BadRequest{where + " must be a blobId string"};
  auto id = Id128::parseHex(value.get<std::string>());
  if (!id) throw BadRequest{where + ": " + describe(value) + " is not a blobId (32 hex digits)"};
  return *id;
}

// "basis": absent key = anything, null = must not exist, a blobId = exactly it.
Basis basisField(const json& object, const std::string& where) {
  auto it = object.find("basis");
  if (it == object.end()) return Basis::any();
  if (it->is_null()) return Basis::absent();
  return Basis::of(blobIdValue(*it, where + ".basis"));
}

std::vector<TransactOp> decodeTransaction(const json& ops) {
  if (!ops.is_array())
    throw BadRequest{"a transaction must be a JSON array of ops (or {\"txnId\": ID, \"ops\": [...]})"};
  if (ops.size() > kMaxTransactOps)
    throw BadRequest{"a transaction has at most " + std::to_string(kMaxTransactOps) + " ops, not " +
                     std::to_string(ops.size())};
  std::vector<TransactOp> decoded;
  decoded.reserve(ops.size());
  for (size_t i = 0; i < ops.size(); ++i) {
    const std::string where = "op " + std::to_string(i + 1);
    const json& op = ops[i];
    if (!op.is_object()) throw BadRequest{where + " must be a JSON object"};
    auto kind = op.find("op");
    if (kind == op.end()) throw BadRequest{where + ": missing field \"op\""};
    TransactOp t;
    if (*kind == "move") t.kind = TransactOp::Kind::kMove;
    else if (*kind == "copy") t.kind = TransactOp::Kind::kCopy;
    else if (*kind == "delete") t.kind = TransactOp::Kind::kDelete;
    else if (*kind == "commit") t.kind = TransactOp::Kind::kCommit;
    else throw BadRequest{where + ": unknown op " + describe(*kind) + " (move, copy, delete or commit)"};
    if (t.kind == TransactOp::Kind::kCommit) {  // {"op":"commit","blobId":ID,"dest":{"path","basis"}}
      onlyKeys(op, {"op", "blobId", "dest"}, where);
      auto id = op.find("blobId");
      if (id == op.end()) throw BadRequest{where + ": missing field \"blobId\""};
      t.sourceBlob = blobIdValue(*id, where + ".blobId");
      auto dest = op.find("dest");
      if (dest == op.end()) throw BadRequest{where + ": missing field \"dest\""};
      onlyKeys(*dest, {"path", "basis"}, where + ".dest");
      t.destPath = pathField(*dest, where + ".dest");
      t.destBasis = basisField(*dest, where + ".dest");
      decoded.push_back(std::move(t));
      continue;
    }
    onlyKeys(op, {"op", "source", "dest"}, where);
    auto source = op.find("source");
    if (source == op.end()) throw BadRequest{where + ": missing field \"source\""};
    onlyKeys(*source, {"path", "blobId"}, where + ".source");
    t.sourcePath = pathField(*source, where + ".source");
    if (auto id = source->find("blobId"); id != source->end()) t.sourceBlob = blobIdValue(*id, where + ".source.blobId");
    auto dest = op.find("dest");
    if (t.kind == TransactOp::Kind::kDelete) {
      if (dest != op.end()) throw BadRequest{where + ": a delete has no \"dest\""};
    } else {
      if (dest == op.end()) throw BadRequest{where + ": missing field \"dest\""};
      onlyKeys(*dest, {"path", "basis"}, where + ".dest");
      t.destPath = pathField(*dest, where + ".dest");
      t.destBasis = basisField(*dest, where + ".dest");
    }
    decoded.push_back(std::move(t));
  }
  return decoded;
}

struct TooDeep {};

json parseJson(std::string_view payload) {
  static std::mutex largeParse;
  std::unique_lock<std::mutex> oneAtATime(largeParse, std::defer_lock);
  if (payload.size() > kLargeJson) oneAtATime.lock();
  // The depth limit is checked as each object or array opens, before any
  // deeper value exists; nothing recursive ever meets a deep value. `depth`
  // counts the containers around the one opening (0 for the outermost), so
  // the one opening is the (depth+1)-th level.
  const json::parser_callback_t depthLimit = [](int depth, json::parse_event_t event, json&) {
    if (depth >= kMaxJsonDepth && (event == json::parse_event_t::object_start || event == json::parse_event_t::array_start))
      throw TooDeep{};
    return true;
  };
  json j;
  try {
    j = json::parse(payload.begin(), payload.end(), depthLimit, /*allow_exceptions=*/false);
  } catch (const TooDeep&) {
    throw BadRequest{"the request is nested deeper than " + std::to_string(kMaxJsonDepth) + " levels"};
  }
  if (j.is_discarded()) throw BadRequest{"the request is not valid JSON (UTF-8)"};
  return j;
}

// ---- encoding ------------------------------------------------------------------

json statJson(const PathStat& st) {
  json j;
  j["path"] = st.path;
  j["blobId"] = st.blob ? json(st.blob->hex()) : json(nullptr);
  j["size"] = st.inode.size;
  j["mode"] = st.inode.mode;
  j["uid"] = st.inode.uid;
  j["gid"] = st.inode.gid;
  j["mtime"] = st.inode.mtimeNs;
  j["version"] = st.inode.isRegular() ? json(st.inode.contentVersion) : json(nullptr);
  j["ino"] = st.ino;
  return j;
}

// ---- the kernel's caches -------------------------------------------------------

// The inode at `path`, found without permission checks (for the daemon's
// own bookkeeping only), or 0. Like invalidatePath, for a path that passed
// validatePath (pathField): no empty, "." or ".." component.
uint64_t inodeAt(FuseFs& fs, const std::string& path) {
  uint64_t ino = kRootIno;
  for (std::string_view name : pathComponents(path)) {
    // Bookkeeping: committing a draft early is always allowed, so a path
    // another host changed a moment ago may be resolved as it was.
    auto next = fs.store.ns().lookup(ino, name, Freshness::kRecent);
    if (!next.ok()) return 0;
    ino = next->ino;
  }
  return ino;
}

// Pending writes of a file become its content before a precondition
// compares its blobId with what a read returns.
Status commitPendingWrites(FuseFs& fs, const std::string& path) {
  if (fs.drafts.draftCount() == 0) return Status::OK();
  const uint64_t ino = inodeAt(fs, path);
  return ino && fs.drafts.hasDraft(ino) ? fs.drafts.commit(ino) : Status::OK();
}

// Forgets what the kernel caches about `path`: its dentry (it may now name
// another inode, or none), and the attributes of its directory (mtime).
// `gone`, when not 0, is the inode the path named before and that has no
// link left: the kernel is told it was deleted, so that it lets go of it and
// the orphan is freed (InodeTable::isKnown).
void invalidatePath(FuseFs& fs, const std::string& path, uint64_t gone = 0) REQUIRES(fs.doorLocks) {
  const std::vector<std::string_view> parts = pathComponents(path);
  uint64_t dir = kRootIno;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    // After our own change: the cache holds what it committed.
    auto next = fs.store.ns().lookup(dir, parts[i], Freshness::kRecent);
    if (!next.ok()) return;  // the directory is gone: nothing of it is cached correctly anyway
    dir = next->ino;
  }
  const std::string_view name = parts.empty() ? std::string_view() : parts.back();
  if (gone) fs.notifyDeleted(dir, gone, name);
  else fs.invalidateEntry(dir, name);
  fs.invalidateInode(dir, /*data=*/false);
}

// ---- the requests --------------------------------------------------------------

// Tests only (FuseFs::doorPauseForTests): a change naming the chosen path
// waits here, holding its door locks, until the test has opened the FIFO for
// writing and closed it again.
void pauseForTests(FuseFs& fs, const std::vector<std::string>& paths) REQUIRES(fs.doorLocks) {
  if (!fs.doorPauseForTests) return;
  const FuseFs::DoorPause& pause = *fs.doorPauseForTests;
  if (std::find(paths.begin(), paths.end(), pause.path) == paths.end()) return;
  ACIDFS_LOG(kInfo, "door change of %s paused for a test", pause.path.c_str());
  int fd = open(pause.fifo.c_str(), O_RDONLY | O_CLOEXEC);  // waits for the writer
  if (fd < 0) return;
  char sink[64];
  for (;;) {
    const ssize_t n = read(fd, sink, sizeof sink);
    if (n == 0 || (n < 0 && errno != EINTR)) break;  // end of file: the test let go
  }
  close(fd);
}

// The stat of `path`, with its blobId, while no door change that would
// make it name content the kernel does not serve yet is under way.
Result<PathStat> revealStat(FuseFs& fs, const Caller& caller, const std::string& path) REQUIRES_SHARED(fs.doorLocks) {
  return fs.store.cas().stat(caller, path);
}

IoctlAnswer runStat(FuseFs& fs, const Caller& caller, const json& request) {
  onlyKeys(request, {"path"}, "stat");
  const std::string path = pathField(request, "stat");
  Status committed = commitPendingWrites(fs, path);  // the blobId names what a read returns now
  if (!committed.ok()) return ioctlFailure(committed);
  Result<PathStat> st = Status::Error(EIO, "stat did not run");
  {
    DoorRevealLock seen(fs.doorLocks, DoorLocks::prefixStripes(path));
    st = revealStat(fs, caller, path);
  }
  // A file with other names can be changed through any of them: again, as
  // the blob_id xattr does, with every stripe (door_locks.h).
  if (st.ok() && st->blob && st->inode.nlink > 1) {
    DoorRevealLock seen(fs.doorLocks, DoorLocks::kAll);
    st = revealStat(fs, caller, path);
  }
  if (!st.ok()) return ioctlFailure(st.status());
  return answer(statJson(*st));
}

// A request's "txnId" (SPEC §11), when it has one.
std::optional<Idempotence> idempotenceOf(const json& request, const char* what) {
  auto id = request.find("txnId");
  if (id == request.end()) return std::nullopt;
  if (!id->is_string()) throw BadRequest{std::string(what) + ".txnId must be a string, not " + describe(*id)};
  const std::string txnId = id->get<std::string>();
  if (Status valid = TxnIds::validate(txnId); !valid.ok()) throw BadRequest{std::string(what) + ": " + valid.message()};
  return Idempotence{txnId, nullptr, std::nullopt};
}

// The answer to a request that failed with `failure`: with a txnId, the
// failure is recorded (unless transient), or the first request's outcome
// answers instead (a concurrent repeat's).
IoctlAnswer failureOf(FuseFs& fs, const Caller& caller, const std::optional<Idempotence>& idem, const Status& failure) {
  IoctlAnswer mine = ioctlFailure(failure);
  if (!idem) return mine;
  Result<TxnOutcome> first = fs.store.cas().rememberFailure(caller, *idem, TxnOutcome{mine.result, mine.data});
  if (!first.ok()) {
    ACIDFS_LOG(kError, "recording the outcome of txnId %s: %s", idem->txnId.c_str(), first.status().toString().c_str());
    return mine;
  }
  return IoctlAnswer{first->errnum, first->answer};
}

IoctlAnswer runTransact(FuseFs& fs, const Caller& caller, const json& request) {
  // A bare array of ops, or {"txnId": ..., "ops": [...]}.
  std::optional<Idempotence> idem;
  const json* opsJson = &request;
  if (request.is_object() && (request.contains("ops") || request.contains("txnId"))) {
    onlyKeys(request, {"txnId", "ops"}, "transaction");
    auto found = request.find("ops");
    if (found == request.end()) throw BadRequest{"transaction: missing field \"ops\""};
    opsJson = &*found;
    idem = idempotenceOf(request, "transaction");
  }
  const std::vector<TransactOp> ops = decodeTransaction(*opsJson);
  const IoctlAnswer applied = answer(json{{"applied", ops.size()}});
  if (idem) idem->answerOnSuccess = [&](const PathStat*) { return applied.data; };
  DoorLocks::Stripes stripes = 0;
  for (const TransactOp& op : ops) {
    for (const std::string* path : {&op.sourcePath, &op.destPath}) {
      if (path->empty()) continue;
      Status committed = commitPendingWrites(fs, *path);
      if (!committed.ok()) return ioctlFailure(committed);
      stripes |= DoorLocks::stripesOf(*path);
    }
  }
  DoorChangeLock changing(fs.doorLocks, stripes);
  std::unordered_map<std::string, uint64_t> before;  // what each path named
  for (const TransactOp& op : ops)
    for (const std::string* path : {&op.sourcePath, &op.destPath})
      if (!path->empty() && !before.count(*path)) before[*path] = inodeAt(fs, *path);
  auto touched = fs.store.cas().transact(caller, ops, idem ? &*idem : nullptr);
  if (!touched.ok()) return failureOf(fs, caller, idem, touched.status());
  if (idem && idem->recalled) return IoctlAnswer{idem->recalled->errnum, idem->recalled->answer};
  pauseForTests(fs, *touched);
  std::unordered_set<std::string> copiedOnto;  // destinations of copies
  for (const TransactOp& op : ops)
    if (op.kind == TransactOp::Kind::kCopy || op.kind == TransactOp::Kind::kCommit) copiedOnto.insert(op.destPath);
  for (const std::string& path : *touched) {
    uint64_t gone = 0;
    if (auto it = before.find(path); it != before.end() && it->second) {
      auto now = fs.store.ns().getattr(it->second);
      if (!now.ok() || now->inode.nlink == 0) gone = it->second;
      // A copy onto an existing file gives that file new content: pages
      // cached for a descriptor opened before are the old content.
      else if (copiedOnto.count(path)) fs.invalidateInode(it->second, /*data=*/true);
      // A write that raced the copy onto this file lands on the new content.
      Status rebased = fs.drafts.rebase(it->second);
      if (!rebased.ok()) ACIDFS_LOG(kError, "rebasing pending writes of %s: %s", path.c_str(), rebased.toString().c_str());
    }
    invalidatePath(fs, path, gone);
  }
  return applied;
}

IoctlAnswer runPut(FuseFs& fs, const Caller& caller, std::string_view bytes) {
  auto blob = fs.store.cas().put(caller, bytes);
  if (!blob.ok()) return ioctlFailure(blob.status());
  return answer(json{{"blobId", blob->hex()}, {"size", bytes.size()}});
}

IoctlAnswer runCommit(FuseFs& fs, const Caller& caller, const json& request) {
  onlyKeys(request, {"path", "blobId", "basis", "mode", "txnId", "expiresAt"}, "commit");
  int64_t expiresNs = 0;
  if (auto at = request.find("expiresAt"); at != request.end()) {
    if (!at->is_number_unsigned() || at->get<uint64_t>() == 0 || at->get<uint64_t>() > kMaxExpirySeconds)
      throw BadRequest{"commit.expiresAt must be seconds since the epoch"};
    expiresNs = static_cast<int64_t>(at->get<uint64_t>()) * 1'000'000'000;
  }
  std::optional<Idempotence> idem = idempotenceOf(request, "commit");
  if (idem) idem->answerOnSuccess = [](const PathStat* committed) { return answer(statJson(*committed)).data; };
  const std::string path = pathField(request, "commit");
  auto id = request.find("blobId");
  if (id == request.end()) throw BadRequest{"commit: missing field \"blobId\""};
  const Id128 blob = blobIdValue(*id, "commit.blobId");
  const Basis basis = basisField(request, "commit");
  uint32_t mode = 0644;
  if (auto m = request.find("mode"); m != request.end()) {
    if (!m->is_number_unsigned() || m->get<uint64_t>() > 07777) throw BadRequest{"commit.mode must be 0 to 07777"};
    mode = m->get<uint32_t>();
  }
  // Pending writes first (the basis compares what a read returns), and no
  // write lands between them and the commit (FileDrafts::changeContent).
  Result<PathStat> st = Status::Error(EIO, "commit did not run");
  auto commit = [&] {
    st = fs.store.cas().commit(caller, path, blob, basis, mode, idem ? &*idem : nullptr, expiresNs);
    return st.status();
  };
  DoorChangeLock changing(fs.doorLocks, DoorLocks::stripesOf(path));
  const uint64_t ino = inodeAt(fs, path);
  Status done = ino ? fs.drafts.changeContent(ino, commit) : commit();
  if (!done.ok()) return failureOf(fs, caller, idem, done);
  if (idem && idem->recalled) return IoctlAnswer{idem->recalled->errnum, idem->recalled->answer};
  pauseForTests(fs, {path});
  if (st->ino != ino) {  // the path named another file by then
    Status rebased = fs.drafts.rebase(st->ino);
    if (!rebased.ok()) return ioctlFailure(rebased);
  }
  fs.invalidateInode(st->ino, /*data=*/true);
  // New content in the file the path named already: its name and its
  // directory are as the kernel has them (sparing every CAS update a
  // LOOKUP and a GETATTR of the directory on its next open).
  if (st->ino != ino) invalidatePath(fs, path);
  return answer(statJson(*st));
}

// ---- history (SPEC §10) ----------------------------------------------------------

json versionJson(FuseFs& fs, const PathVersion& version) {
  const TrashRecord& r = version.record;
  json j;
  j["id"] = version.id();
  j["blobId"] = S_ISREG(r.mode) ? json(r.blob.hex()) : json(nullptr);
  j["size"] = r.size;
  j["mode"] = r.mode;
  j["uid"] = r.uid;
  j["gid"] = r.gid;
  j["mtime"] = r.mtimeNs;
  j["time"] = r.droppedNs;
  j["cause"] = dropCauseName(r.cause);
  j["replacedBy"] = r.replacedBy == Id128() ? json(nullptr) : json(r.replacedBy.hex());
  // Whether the file it was a version of is still there (overwritten, not deleted).
  auto now = fs.store.ns().getattr(r.ino, Freshness::kRecent);
  j["exists"] = now.ok() && now->inode.nlink > 0;
  return j;
}

IoctlAnswer runLog(FuseFs& fs, const Caller& caller, const json& request) {
  onlyKeys(request, {"path", "skip"}, "log");
  const std::string path = pathField(request, "log");
  size_t skip = 0;
  if (auto it = request.find("skip"); it != request.end()) {
    if (!it->is_number_unsigned()) throw BadRequest{"log.skip must be a count"};
    skip = it->get<size_t>();
  }
  Status committed = commitPendingWrites(fs, path);  // what a read returns now is not a past version
  if (!committed.ok()) return ioctlFailure(committed);
  auto versions = fs.store.history().log(caller, path);
  if (!versions.ok()) return ioctlFailure(versions.status());
  // As many as fit one answer; the caller asks again for the rest.
  json list = json::array();
  bool more = false;
  size_t used = 32;  // {"versions":[],"more":false}
  for (size_t i = skip; i < versions->size(); ++i) {
    json v = versionJson(fs, (*versions)[i]);
    const size_t size = dumpJson(v).size() + 1;
    if (used + size > ACIDFS_IOC_DATA_MAX) {
      more = true;
      break;
    }
    used += size;
    list.push_back(std::move(v));
  }
  return answer(json{{"versions", std::move(list)}, {"more", more}});
}

// ---- the change feed (SPEC §11) --------------------------------------------------

// Readers that may block a FUSE worker thread at once: the others answer
// at once, so watchers can never take every thread of the mount.
constexpr int kMaxWaitingWatchers = 4;
std::atomic<int> waitingWatchers{0};

json changeJson(const FeedChange& c) {
  json j;
  j["seq"] = c.seq;
  j["op"] = feedOpName(c.record.op);
  j["path"] = c.record.path;
  if (!c.record.to.empty()) j["to"] = c.record.to;
  if (c.record.blob && c.blobVisible) j["blobId"] = c.record.blob->hex();
  j["uid"] = c.record.uid;
  j["time"] = c.record.timeNs;
  return j;
}

IoctlAnswer runFeed(FuseFs& fs, const Caller& caller, const json& request) {
  onlyKeys(request, {"path", "from", "index", "waitMs"}, "feed");
  std::string prefix = "/";
  if (request.contains("path")) prefix = pathField(request, "feed");
  auto count = [&](const char* key, uint64_t fallback) -> uint64_t {
    auto it = request.find(key);
    if (it == request.end()) return fallback;
    if (!it->is_number_unsigned()) throw BadRequest{std::string("feed.") + key + " must be a count"};
    return it->get<uint64_t>();
  };
  uint64_t from = 0;
  if (request.contains("from")) {
    from = count("from", 0);
  } else {
    auto end = fs.store.feed().end();  // no past asked for: from now on
    if (!end.ok()) return ioctlFailure(end.status());
    from = *end;
  }
  const uint64_t skipIndex = count("index", 0);  // records of `from` already had
  const auto wait = std::chrono::milliseconds(std::min<uint64_t>(count("waitMs", 0), 1000));
  Result<FeedPage> page = Status::Error(EIO, "feed did not run");
  if (wait.count() > 0 && waitingWatchers.fetch_add(1) < kMaxWaitingWatchers) {
    page = fs.store.feed().readOrWait(caller, prefix, from, 64, wait);
    waitingWatchers.fetch_sub(1);
  } else {
    if (wait.count() > 0) waitingWatchers.fetch_sub(1);
    page = fs.store.feed().read(caller, prefix, from, 64);
  }
  if (!page.ok()) return ioctlFailure(page.status());
  if (page->gone) return answer(json{{"changes", json::array()}, {"next", page->next}, {"index", 0}, {"gone", true}});
  // As many as fit one answer; the rest from (next, index) on.
  json list = json::array();
  uint64_t next = page->next, nextIndex = 0;
  size_t used = 64;
  for (const FeedChange& c : page->changes) {
    if (c.seq == from && c.index < skipIndex) continue;
    json j = changeJson(c);
    const size_t size = dumpJson(j).size() + 1;
    if (used + size > ACIDFS_IOC_DATA_MAX) {
      next = c.seq;
      nextIndex = c.index;
      break;
    }
    used += size;
    list.push_back(std::move(j));
  }
  return answer(json{{"changes", std::move(list)}, {"next", next}, {"index", nextIndex}, {"gone", false}});
}

IoctlAnswer runUndelete(FuseFs& fs, const Caller& caller, const json& request) {
  onlyKeys(request, {"path", "dest", "blobId", "id", "force"}, "undelete");
  const std::string path = pathField(request, "undelete");
  std::string dest = path;
  if (request.contains("dest")) dest = pathField(request, "undelete", "dest");
  std::optional<Id128> blob;
  if (auto it = request.find("blobId"); it != request.end()) blob = blobIdValue(*it, "undelete.blobId");
  std::optional<std::string> id;
  if (auto it = request.find("id"); it != request.end()) {
    if (!it->is_string() || it->get_ref<const std::string&>().size() != 32 || !Id128::parseHex(it->get<std::string>()))
      throw BadRequest{"undelete.id: " + describe(*it) + " is not a version id (32 hex digits, from log)"};
    id = it->get<std::string>();
  }
  bool force = false;
  if (auto it = request.find("force"); it != request.end()) {
    if (!it->is_boolean()) throw BadRequest{"undelete.force must be true or false"};
    force = it->get<bool>();
  }
  auto versions = fs.store.history().log(caller, path);
  if (!versions.ok()) return ioctlFailure(versions.status());
  // The newest version that matches.
  const PathVersion* chosen = nullptr;
  for (const PathVersion& v : *versions) {
    if (blob && !(S_ISREG(v.record.mode) && v.record.blob == *blob)) continue;
    if (id && v.id() != *id) continue;
    chosen = &v;
    break;
  }
  if (!chosen)
    return ioctlFailure(Status::Error(ENOENT, "no version of '" + path + "'" + (blob ? " with blobId " + blob->hex() : "") +
                                                  (id ? " with id " + *id : "") + " is in the trash (that you could read)"));
  Status committed = commitPendingWrites(fs, dest);  // --force replaces what a read returns now
  if (!committed.ok()) return ioctlFailure(committed);
  DoorChangeLock changing(fs.doorLocks, DoorLocks::stripesOf(dest));
  const uint64_t before = inodeAt(fs, dest);
  auto st = fs.store.cas().undelete(caller, chosen->key, dest, force);
  if (!st.ok()) return ioctlFailure(st.status());
  uint64_t gone = 0;
  if (before && before != st->ino) {
    auto now = fs.store.ns().getattr(before);
    if (!now.ok() || now->inode.nlink == 0) gone = before;
  }
  invalidatePath(fs, dest, gone);
  return answer(statJson(*st));
}

// ---- clones (SPEC §10) ------------------------------------------------------------

IoctlAnswer runClone(FuseFs& fs, const Caller& caller, const json& request) {
  onlyKeys(request, {"source", "dest", "readonly", "writable"}, "clone");
  const std::string dest = pathField(request, "clone", "dest");
  auto flag = [&](const char* name) {
    auto it = request.find(name);
    if (it == request.end()) return false;
    if (!it->is_boolean()) throw BadRequest{std::string("clone.") + name + " must be true or false"};
    return it->get<bool>();
  };
  const bool readOnly = flag("readonly"), writable = flag("writable");
  if (writable) {
    if (request.contains("source") || readOnly) throw BadRequest{"clone: \"writable\" takes only \"dest\""};
    auto changed = fs.store.cas().setCloneWritable(caller, dest);
    if (!changed.ok()) return ioctlFailure(changed.status());
    return answer(json{{"changed", *changed}});
  }
  const std::string source = pathField(request, "clone", "source");
  // What was written under SOURCE and not committed yet is part of it now.
  Status committed = fs.drafts.commitAll();
  if (!committed.ok()) return ioctlFailure(committed);
  DoorChangeLock changing(fs.doorLocks, DoorLocks::stripesOf(dest));
  auto made = fs.store.cas().clone(caller, source, dest, readOnly);
  if (!made.ok()) return ioctlFailure(made.status());
  invalidatePath(fs, dest);
  json j = statJson(made->stat);
  j["entries"] = made->entries;
  j["bytes"] = made->bytes;
  return answer(j);
}

// Freezing stops all reclaiming, for every user: root's or the mount
// owner's to decide. The status is anyone's to read.
IoctlAnswer runGc(FuseFs& fs, const Caller& caller, const json& request) {
  onlyKeys(request, {"freeze"}, "gc");
  if (auto it = request.find("freeze"); it != request.end()) {
    if (!it->is_boolean()) throw BadRequest{"gc.freeze must be true or false"};
    if (!caller.isRoot() && caller.uid != getuid())
      return ioctlFailure(Status::Error(EPERM, "only root or the mount's owner may freeze or thaw reclaiming"));
    if (fs.options.readOnly) return ioctlFailure(Status::Error(EROFS, "the mount is read-only"));
    Status set = fs.store.setGcFrozen(it->get<bool>());
    // Thawed: what expired while frozen goes now, not at the next sweep.
    if (set.ok() && !it->get<bool>()) set = fs.store.expireTrash();
    if (!set.ok()) return ioctlFailure(set);
  }
  auto frozen = fs.store.gcFrozen();
  if (!frozen.ok()) return ioctlFailure(frozen.status());
  auto held = fs.store.trash().count();
  if (!held.ok()) return ioctlFailure(held.status());
  constexpr int64_t kDayNs = 86400ll * 1000000000;
  json j;
  j["frozen"] = *frozen;
  j["trashDays"] = fs.store.trash().keepNs() / kDayNs;
  j["trashVersions"] = held->versions;
  j["trashBytes"] = held->bytes;
  return answer(j);
}

IoctlAnswer runStatus(FuseFs& fs) {
  auto stats = fs.store.stats();
  if (!stats.ok()) return ioctlFailure(stats.status());
  const CasCounters& cas = fs.store.cas().counters();
  json j;
  j["commits"] = stats->commits;
  j["conflicts"] = stats->conflicts;
  j["retries"] = stats->retries;
  j["transacts"] = cas.transacts.load();
  j["casCommits"] = cas.commits.load();
  j["puts"] = cas.puts.load();
  j["bytesStored"] = stats->bytesStored;
  j["bytesReferenced"] = stats->bytesReferenced;
  j["dedupRatio"] = stats->bytesStored ? static_cast<double>(stats->bytesReferenced) / static_cast<double>(stats->bytesStored) : 0.0;
  j["chunks"] = stats->chunkCount;
  j["blobs"] = stats->blobCount;
  j["inodes"] = stats->inodeCount;
  j["pendingLeases"] = stats->leaseCount;
  j["pendingDrafts"] = fs.drafts.draftCount();
  return answer(j);
}

}  // namespace

IoctlAnswer ioctlFailure(const Status& s) {
  if (s.isConflict()) return IoctlAnswer{s.errnum(), s.conflict()->toJson()};
  if (isStoreFailure(s)) ACIDFS_LOG(kError, "ioctl: %s", s.toString().c_str());
  return IoctlAnswer{s.errnum() ? s.errnum() : EIO, dumpJson(json{{"error", s.message()}})};
}

IoctlAnswer runIoctl(FuseFs& fs, const Caller& caller, unsigned cmd, std::string_view payload) {
  const bool changes =
      cmd == ACIDFS_IOC_TRANSACT || cmd == ACIDFS_IOC_PUT || cmd == ACIDFS_IOC_COMMIT || cmd == ACIDFS_IOC_UNDELETE ||
                       cmd == ACIDFS_IOC_CLONE;
  if (changes && fs.options.readOnly) return ioctlFailure(Status::Error(EROFS, "the mount is read-only"));
  if (payload.size() > maxRequestBytes(cmd))
    return ioctlFailure(Status::Error(E2BIG, "request larger than " + std::to_string(maxRequestBytes(cmd) >> 20) + " MiB"));
  try {
    switch (cmd) {
      case ACIDFS_IOC_STAT: return runStat(fs, caller, parseJson(payload));
      case ACIDFS_IOC_TRANSACT: return runTransact(fs, caller, parseJson(payload));
      case ACIDFS_IOC_PUT: return runPut(fs, caller, payload);
      case ACIDFS_IOC_COMMIT: return runCommit(fs, caller, parseJson(payload));
      case ACIDFS_IOC_STATUS: return runStatus(fs);
      case ACIDFS_IOC_LOG: return runLog(fs, caller, parseJson(payload));
      case ACIDFS_IOC_UNDELETE: return runUndelete(fs, caller, parseJson(payload));
      case ACIDFS_IOC_GC: return runGc(fs, caller, parseJson(payload));
      case ACIDFS_IOC_CLONE: return runClone(fs, caller, parseJson(payload));
      case ACIDFS_IOC_FEED: return runFeed(fs, caller, parseJson(payload));
      default: return ioctlFailure(Status::Error(ENOTTY, "unknown acidfs ioctl"));
    }
  } catch (const BadRequest& bad) {
    return ioctlFailure(Status::Error(EINVAL, bad.why));
  } catch (const json::exception& e) {  // a type mismatch get<>() did not expect
    return ioctlFailure(Status::Error(EINVAL, std::string("malformed request: ") + e.what()));
  } catch (const std::bad_alloc&) {
    return ioctlFailure(Status::Error(ENOMEM, "out of memory for this request"));
  }
}

}  // namespace acidfs
