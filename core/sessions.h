// The daemons serving one database store, each a session (SPEC §9: "files
// it held open after unlink are reclaimed once its session lapses").
//
// A session is a record in the default column, "session/" + its 8-byte id,
// whose value is a count the daemon raises at every heartbeat. Its orphans
// (files unlinked while open on its host, format.h) carry its id. Another
// daemon calls a session lapsed once it has seen the count stand still for
// the session timeout, measured by its own steady clock: no two hosts'
// clocks are ever compared, and a gap in its own watching (the database
// unreachable, the process stopped) starts the watch again. It then releases the lapsed session's orphans
// and deletes its record, in that order, so that a reclaimer that dies
// half-way leaves the record for the next one. Orphans whose session record
// is gone (a reclaimer's leftovers) are released too, once seen so at two
// ticks in a row.
//
// A directory store has one process: it releases every orphan when it
// opens, and has no sessions.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <set>
#include <string>

#include "core/status.h"
#include "core/thread_annotations.h"

namespace acidfs {

class MetaEngine;
class Namespace;
class TransactionRunner;

class Sessions {
 public:
  using SteadyClock = std::chrono::steady_clock;
  Sessions(MetaEngine& engine, TransactionRunner& runner, Namespace& ns, std::chrono::milliseconds timeout);

  // Registers this daemon's session (a fresh id) and returns its tag, what
  // its orphan records hold.
  Result<std::string> start() EXCLUDES(mutex_);
  // Heartbeats when one is due (a third of the timeout since the last),
  // and reclaims the orphans of sessions seen lapsed. The store's
  // background loop calls it about every second; `now` is for tests.
  Status tick(SteadyClock::time_point now = SteadyClock::now()) EXCLUDES(mutex_);
  // A clean close: this session's orphans are released (the kernel let go
  // of every file when the mount went) and its record deleted.
  Status end() EXCLUDES(mutex_);

  static constexpr char kPrefix[] = "session/";

 private:
  Status heartbeat() REQUIRES(mutex_);
  Status reclaimLapsed(SteadyClock::time_point now) REQUIRES(mutex_);
  // Releases the orphans tagged `id`, then deletes the session's record if
  // its count is still `count` (else it came back to life: it stays).
  Status reclaim(const std::string& id, const std::string& count) REQUIRES(mutex_);

  MetaEngine& engine_;
  TransactionRunner& runner_;
  Namespace& ns_;
  const std::chrono::milliseconds timeout_;

  Mutex mutex_;
  std::string id_ GUARDED_BY(mutex_);  // 8 bytes once started
  uint64_t beats_ GUARDED_BY(mutex_) = 0;
  SteadyClock::time_point lastBeat_ GUARDED_BY(mutex_);
  // Every other session seen: its count, and since when it has stood still.
  struct Seen {
    std::string count;
    SteadyClock::time_point since;
  };
  std::map<std::string, Seen> seen_ GUARDED_BY(mutex_);
  SteadyClock::time_point lastListed_ GUARDED_BY(mutex_);  // the last listing of sessions that worked
  // Tags of orphans whose session had no record at the last tick.
  std::set<std::string> recordless_ GUARDED_BY(mutex_);
};

}  // namespace acidfs
