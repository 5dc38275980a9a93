#include "core/pg_listener.h"

#include "core/hex.h"
#include "core/log.h"

namespace acidfs {

namespace {

constexpr size_t kMaxPayload = 7900;  // PostgreSQL's limit is 8000 bytes

}  // namespace

std::string notifyPayload(const std::string& origin, const std::vector<std::pair<Column, std::string>>& keys) {
  std::string items;
  for (const auto& [column, key] : keys) {
    if (column != Column::kInodes && column != Column::kDentries) continue;
    if (!items.empty()) items.push_back(',');
    items.push_back(column == Column::kInodes ? 'i' : 'd');
    appendHex(items, key);
    if (origin.size() + 1 + items.size() > kMaxPayload) return origin + ":*";
  }
  return items.empty() ? "" : origin + ":" + items;
}

bool parseNotifyPayload(std::string_view payload, std::string& origin,
                        const std::function<void(const OthersChange&)>& each) {
  const size_t colon = payload.find(':');
  if (colon == std::string_view::npos) return false;
  origin = std::string(payload.substr(0, colon));
  std::string_view items = payload.substr(colon + 1);
  if (items == "*") {
    each(OthersChange{true, Column::kInodes, {}});
    return true;
  }
  while (!items.empty()) {
    const size_t comma = items.find(',');
    std::string_view item = items.substr(0, comma);
    items = comma == std::string_view::npos ? std::string_view() : items.substr(comma + 1);
    if (item.empty() || (item[0] != 'i' && item[0] != 'd')) return false;
    std::optional<std::string> key = fromHex(item.substr(1));
    if (!key) return false;
    each(OthersChange{false, item[0] == 'i' ? Column::kInodes : Column::kDentries, std::move(*key)});
  }
  return true;
}

PgListener::PgListener(std::string uri, std::string origin, std::function<void(const OthersChange&)> changed,
                       std::function<void(bool)> listening)
    : uri_(std::move(uri)), origin_(std::move(origin)), changed_(std::move(changed)), listening_(std::move(listening)),
      thread_([this] { loop(); }) {}

PgListener::~PgListener() {
  stopping_ = true;
  thread_.join();
  if (listening_) listening_(false);
}

void PgListener::loop() {
  bool heardAll = true;  // nothing can have been missed before the first LISTEN
  while (!stopping_) {
    auto conn = PgConnection::connect(uri_, std::chrono::steady_clock::now() + std::chrono::seconds(1));
    if (!conn.ok() || !(*conn)->run(std::string("LISTEN ") + kNotifyChannel).ok()) {
      heardAll = false;
      continue;  // connect() waited a second: try again
    }
    // Commits while we were not listening went unheard.
    if (!heardAll) changed_(OthersChange{true, Column::kInodes, {}});
    heardAll = true;
    if (listening_) listening_(true);
    while (!stopping_) {
      auto notes = (*conn)->awaitNotifications(std::chrono::milliseconds(200));
      if (!notes.ok()) {
        if (listening_) listening_(false);
        ACIDFS_LOG(kWarning, "listening for other hosts' changes: %s; reconnecting", notes.status().toString().c_str());
        heardAll = false;
        break;
      }
      for (const auto& note : *notes) {
        std::string origin;
        std::vector<OthersChange> changes;
        if (!parseNotifyPayload(note.payload, origin, [&](const OthersChange& c) { changes.push_back(c); })) {
          ACIDFS_LOG(kWarning, "ignoring a notification that is not ours: %.60s", note.payload.c_str());
          continue;
        }
        if (origin == origin_) continue;
        for (const auto& c : changes) changed_(c);
      }
    }
  }
}

}  // namespace acidfs
