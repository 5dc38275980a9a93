#include "core/sessions.h"

#include <set>
#include <vector>

#include "core/hex.h"
#include "core/log.h"
#include "core/meta_engine.h"
#include "core/namespace.h"
#include "core/random_bytes.h"
#include "core/transaction.h"

namespace acidfs {

namespace {

std::string sessionKey(std::string_view id) { return std::string(Sessions::kPrefix) + std::string(id); }

}  // namespace

Sessions::Sessions(MetaEngine& engine, TransactionRunner& runner, Namespace& ns, std::chrono::milliseconds timeout)
    : engine_(engine), runner_(runner), ns_(ns), timeout_(timeout) {}

Result<std::string> Sessions::start() {
  MutexLock lock(mutex_);
  id_ = randomBytes(8);
  ACIDFS_RETURN_IF_ERROR(heartbeat());
  ACIDFS_LOG(kInfo, "session %s started", toHex(id_).c_str());
  return id_;
}

Status Sessions::heartbeat() {
  ++beats_;
  ACIDFS_RETURN_IF_ERROR(engine_.put(Column::kDefault, sessionKey(id_), std::to_string(beats_), /*sync=*/true));
  lastBeat_ = SteadyClock::now();  // only a beat that landed: a failed one is tried again at the next tick
  return Status::OK();
}

Status Sessions::tick(SteadyClock::time_point now) {
  MutexLock lock(mutex_);
  if (id_.empty()) return Status::OK();
  if (now - lastBeat_ >= timeout_ / 3) ACIDFS_RETURN_IF_ERROR(heartbeat().withContext("session heartbeat"));
  return reclaimLapsed(now);
}

Status Sessions::reclaimLapsed(SteadyClock::time_point now) {
  std::map<std::string, std::string> live;  // id → count
  {
    auto it = engine_.scan(Column::kDefault);
    const std::string prefix = kPrefix;
    for (it->seek(prefix); it->valid() && it->key().substr(0, prefix.size()) == prefix; it->next())
      live.emplace(MetaCursor::copyOut(it->key().substr(prefix.size())), MetaCursor::copyOut(it->value()));
    ACIDFS_RETURN_IF_ERROR(it->status().withContext("listing sessions"));
  }
  // A session is lapsed only when this daemon watched it stand still for the
  // whole timeout: after a gap in watching (the database unreachable, this
  // process stopped), the watch starts again.
  if (now - lastListed_ > timeout_ / 2)
    for (auto& [id, seen] : seen_) seen.since = now;
  lastListed_ = now;
  std::vector<std::pair<std::string, std::string>> lapsed;
  for (const auto& [id, count] : live) {
    if (id == id_) continue;
    auto seen = seen_.find(id);
    if (seen == seen_.end() || seen->second.count != count) {
      seen_[id] = Seen{count, now};
    } else if (now - seen->second.since >= timeout_) {
      lapsed.emplace_back(id, count);
    }
  }
  for (auto it = seen_.begin(); it != seen_.end();) it = live.count(it->first) ? std::next(it) : seen_.erase(it);
  for (const auto& [id, count] : lapsed) ACIDFS_RETURN_IF_ERROR(reclaim(id, count));

  // Orphans whose session has no record: a reclaimer that stopped half-way
  // left them. A session that starts now writes its record before any
  // orphan, but after the listing above: so an orphan is released only when
  // its session had no record at the previous tick either.
  std::set<std::string> recordless;
  {
    auto it = engine_.scan(Column::kOrphans);
    for (it->seekToFirst(); it->valid(); it->next())
      if (it->value().size() == 8 && !live.count(std::string(it->value())))
        recordless.insert(MetaCursor::copyOut(it->value()));
    ACIDFS_RETURN_IF_ERROR(it->status().withContext("listing orphans"));
  }
  std::set<std::string> release;
  for (const std::string& tag : recordless)
    if (recordless_.count(tag)) release.insert(tag);
  recordless_ = std::move(recordless);
  if (release.empty()) return Status::OK();
  return ns_.releaseOrphans([&](std::string_view tag) { return release.count(std::string(tag)) > 0; });
}

Status Sessions::reclaim(const std::string& id, const std::string& count) {
  ACIDFS_LOG(kInfo, "session %s lapsed (no heartbeat for %lld ms): releasing its open-unlinked files", toHex(id).c_str(),
             static_cast<long long>(timeout_.count()));
  ACIDFS_RETURN_IF_ERROR(ns_.releaseOrphans([&](std::string_view tag) { return tag == id; }));
  seen_.erase(id);
  return runner_.run([&](Txn& txn) -> Status {
    ACIDFS_ASSIGN_OR_RETURN(std::optional<std::string> now, txn.read(Column::kDefault, sessionKey(id), Txn::Lock::kExclusive));
    if (!now || *now != count) return Status::OK();  // gone already, or alive after all
    return txn.del(Column::kDefault, sessionKey(id));
  });
}

Status Sessions::end() {
  MutexLock lock(mutex_);
  if (id_.empty()) return Status::OK();
  const std::string id = id_;
  ACIDFS_RETURN_IF_ERROR(ns_.releaseOrphans([&](std::string_view tag) { return tag == id; }));
  Status s = runner_.run([&](Txn& txn) -> Status { return txn.del(Column::kDefault, sessionKey(id)); });
  id_.clear();
  return s;
}

}  // namespace acidfs
