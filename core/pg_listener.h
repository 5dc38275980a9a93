// How one daemon of a database store hears of the others' commits (SPEC §9,
// coherence_ms): every writing commit of PgEngine sends, in its own
// transaction (so only if it commits), a NOTIFY on channel "acidfs" naming
// the inodes and directory entries it wrote; a PgListener of every other
// engine LISTENs on a connection of its own and hands each change to the
// engine's watcher.
//
// Payload: "ORIGIN:ITEM,ITEM,..." in text (NOTIFY payloads are text, under
// 8000 bytes). ORIGIN is the sending engine's id (its own are skipped); ITEM
// is "i" + the inodes key in hex, or "d" + the dentries key in hex. A commit
// with more than fits sends "ORIGIN:*": everything may have changed. While
// the listening connection is down nothing is heard: once it is back, the
// watcher is told "everything".
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <thread>

#include "core/meta_engine.h"
#include "core/pg_connection.h"

namespace acidfs {

inline constexpr char kNotifyChannel[] = "acidfs";

// The NOTIFY payload for a commit of `origin` writing these keys (writes of
// other columns say nothing). Empty when there is nothing to say.
std::string notifyPayload(const std::string& origin, const std::vector<std::pair<Column, std::string>>& keys);

// Parses a payload; false when it is not one (then nothing is called).
bool parseNotifyPayload(std::string_view payload, std::string& origin,
                        const std::function<void(const OthersChange&)>& each);

class PgListener {
 public:
  // Starts listening at once, on a connection to `uri` of its own.
  // `listening(true)` once it LISTENs (every commit of another engine from
  // then on is heard), `listening(false)` when it found the connection lost
  // (up to 200 ms after it broke) or stops.
  PgListener(std::string uri, std::string origin, std::function<void(const OthersChange&)> changed,
             std::function<void(bool)> listening = nullptr);
  ~PgListener();

 private:
  void loop();

  const std::string uri_;
  const std::string origin_;
  const std::function<void(const OthersChange&)> changed_;
  const std::function<void(bool)> listening_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace acidfs
