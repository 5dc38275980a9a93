// PgEngine's schema, connection pool and reads outside transactions; its
// transactions are in core/pg_engine_txn.cc.
#include "core/pg_engine.h"

#include <xxhash.h>

#include <array>
#include <unordered_map>

#include "core/format.h"
#include "core/hex.h"
#include "core/log.h"
#include "core/pg_cursor.h"
#include "core/random_bytes.h"

namespace acidfs {

namespace {

std::chrono::steady_clock::time_point deadlineFor(const PgEngineOptions& options) {
  return std::chrono::steady_clock::now() + options.dbTimeout;
}

// Held (session-level) while one daemon checks or creates the schema, so
// that two first mounts of an empty database do not both create it.
constexpr int64_t kSchemaLockKey = 0x61636964667321;  // "acidfs!"
// The sequence of content versions (nextVersion), and the change feed's
// (PgTxn's commit takes one number of it per transaction with records).
constexpr char kVersionsSequence[] = "versions";
constexpr char kFeedSequence[] = "feed_seq";
bool isSequence(const std::string& name) { return name == kVersionsSequence || name == kFeedSequence; }

// A cursor over one instant of a column (MetaReader::scan): a REPEATABLE
// READ transaction on a connection of its own, ended when the cursor goes.
class SnapshotCursor final : public MetaCursor {
 public:
  SnapshotCursor(PgEngine& engine, std::unique_ptr<PgConnection> conn, Column c)
      : engine_(engine), conn_(std::move(conn)),
        cursor_([conn = conn_.get()](const std::string& sql) { return conn->run(sql); }, PgEngine::table(c)) {}
  ~SnapshotCursor() override {
    if (!conn_->run("ROLLBACK").ok()) return;  // a lost connection goes with us
    engine_.recycle(std::move(conn_));
  }
  void seek(std::string_view key) override { cursor_.seek(key); }
  void seekToFirst() override { cursor_.seekToFirst(); }
  void seekToLast() override { cursor_.seekToLast(); }
  bool valid() const override { return cursor_.valid(); }
  void next() override { cursor_.next(); }
  std::string_view key() const override { return cursor_.key(); }
  std::string_view value() const override { return cursor_.value(); }
  Status status() const override { return cursor_.status(); }

 private:
  PgEngine& engine_;
  std::unique_ptr<PgConnection> conn_;
  PgTableCursor cursor_;
};

}  // namespace

int64_t pgLockKey(Column c, std::string_view key) {
  // The column is the seed: equal keys of two columns are two locks.
  return static_cast<int64_t>(XXH3_64bits_withSeed(key.data(), key.size(), static_cast<XXH64_hash_t>(c) + 1));
}

const std::string& PgEngine::table(Column c) {
  static const std::array<std::string, kColumnCount> kTables = [] {
    std::array<std::string, kColumnCount> names;
    for (int i = 0; i < kColumnCount; ++i) names[static_cast<size_t>(i)] = std::string("acidfs.") + columnName(static_cast<Column>(i));
    return names;
  }();
  return kTables[static_cast<size_t>(c)];
}

namespace {
constexpr size_t kRecentCapacity = 65536;  // entries of a few hundred bytes
}  // namespace

PgEngine::PgEngine(PgEngineOptions options)
    : options_(std::move(options)), origin_(toHex(randomBytes(8))),
      recent_(options_.recentFor.count() > 0 ? std::make_unique<RecentCache>(options_.recentFor, kRecentCapacity)
                                             : nullptr) {}

void PgEngine::watchOthers(std::function<void(const OthersChange&)> changed) {
  listener_.reset();  // joins its thread (which says it stopped listening): no call runs past this
  if (!changed) return;
  auto heard = [this, changed = std::move(changed)](const OthersChange& change) {
    if (recent_) {
      if (change.everything)
        recent_->invalidateAll();
      else
        recent_->invalidate(change.column, change.key);
    }
    changed(change);
  };
  auto listening = [this](bool on) {
    // Nothing kept from before is trusted: while not listening, changes went unheard.
    if (!on) hearing_ = false;
    if (recent_) recent_->invalidateAll();
    if (on) hearing_ = true;
  };
  listener_ = std::make_unique<PgListener>(options_.uri, origin_, std::move(heard), std::move(listening));
}

Result<std::unique_ptr<PgEngine>> PgEngine::open(PgEngineOptions options) {
  std::unique_ptr<PgEngine> engine(new PgEngine(std::move(options)));
  ACIDFS_ASSIGN_OR_RETURN(std::unique_ptr<PgConnection> conn, engine->acquire());
  ACIDFS_RETURN_IF_ERROR(engine->prepareSchema(*conn));
  engine->recycle(std::move(conn));
  ACIDFS_RETURN_IF_ERROR(engine->pruneCommits());
  return engine;
}

PgEngine::~PgEngine() = default;

Status PgEngine::prepareSchema(PgConnection& conn) {
  const std::string lock = std::to_string(kSchemaLockKey);
  ACIDFS_RETURN_IF_ERROR(conn.run("SELECT pg_advisory_lock(" + lock + ")").status());
  auto unlock = [&] { (void)conn.run("SELECT pg_advisory_unlock(" + lock + ")"); };
  // Ours: the acidfs schema with exactly our tables. Empty: no table, view or
  // sequence outside the system's schemas. Anything else is refused.
  Result<std::vector<PgRows>> found = conn.run(
      "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
      "WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
      "AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'");
  if (!found.ok()) {
    unlock();
    return found.status();
  }
  std::vector<std::string> ours = {"commits", "counters", kVersionsSequence, kFeedSequence}, foreign;
  for (int i = 0; i < kColumnCount; ++i) ours.push_back(columnName(static_cast<Column>(i)));
  size_t oursFound = 0;
  std::vector<std::string> missing = ours;
  for (const auto& row : found->back().rows) {
    const std::string schema = row[0].value_or(""), name = row[1].value_or("");
    if (schema == "acidfs" && std::find(ours.begin(), ours.end(), name) != ours.end()) {
      ++oursFound;
      missing.erase(std::find(missing.begin(), missing.end(), name));
    } else {
      foreign.push_back(schema + "." + name);
    }
  }
  // Tables later versions added, made for a store formatted before them.
  const std::vector<std::string> addedLater = {columnName(Column::kTrash), kVersionsSequence,
                                               columnName(Column::kFeed), kFeedSequence};
  Status result;
  if (!foreign.empty()) {
    result = Status::Error(EINVAL, "the database holds " + foreign.front() +
                                       (foreign.size() > 1 ? " and " + std::to_string(foreign.size() - 1) + " more" : "") +
                                       ", which acidfs did not make: it is not an acidfs store; refusing to touch it");
  } else if (oursFound == 0) {
    std::string sql = "BEGIN; CREATE SCHEMA IF NOT EXISTS acidfs; ";
    for (int i = 0; i < kColumnCount; ++i)
      sql += "CREATE TABLE " + table(static_cast<Column>(i)) + " (key bytea PRIMARY KEY, value bytea NOT NULL); ";
    sql += "CREATE TABLE acidfs.commits (id bytea PRIMARY KEY, at timestamptz NOT NULL DEFAULT now()); ";
    sql += "CREATE TABLE acidfs.counters (name text PRIMARY KEY, next bigint NOT NULL); ";
    sql += std::string("CREATE SEQUENCE acidfs.") + kVersionsSequence + "; ";
    sql += std::string("CREATE SEQUENCE acidfs.") + kFeedSequence + "; COMMIT";
    result = conn.run(sql).status();
    if (result.ok()) ACIDFS_LOG(kInfo, "created the acidfs schema in an empty database");
  } else if (!missing.empty() && oursFound > 0 &&
             std::all_of(missing.begin(), missing.end(), [&](const std::string& name) {
               return std::find(addedLater.begin(), addedLater.end(), name) != addedLater.end();
             })) {
    std::string sql = "BEGIN; ";
    for (const std::string& name : missing)
      sql += isSequence(name)
                 ? "CREATE SEQUENCE IF NOT EXISTS acidfs." + name + "; "
                 : "CREATE TABLE IF NOT EXISTS acidfs." + name + " (key bytea PRIMARY KEY, value bytea NOT NULL); ";
    sql += "COMMIT";
    result = conn.run(sql).status();
    if (result.ok()) ACIDFS_LOG(kInfo, "added the acidfs tables this version needs to the store's schema");
  } else if (oursFound != ours.size()) {
    result = Status::Error(EINVAL, "the database's acidfs schema lacks tables (" + std::to_string(oursFound) + " of " +
                                       std::to_string(ours.size()) + "): not a store this acidfs made");
  }
  unlock();
  return result;
}

Status PgEngine::syncLog() {
  std::string sql = "INSERT INTO acidfs.commits (id) VALUES (";
  appendByteaLiteral(sql, "sync " + origin_ + " " + std::to_string(commits_.fetch_add(1)));
  sql += ")";  // autocommit, with the session's synchronous_commit (on)
  return runRepeatable(sql).status().withContext("syncing PostgreSQL's log");
}

Status PgEngine::pruneCommits() {
  return runRepeatable("DELETE FROM acidfs.commits WHERE at < now() - interval '1 hour'").status();
}

template <typename T>
Result<T> PgEngine::repeatable(const std::function<Result<T>(PgConnection&)>& query) {
  const auto deadline = deadlineFor(options_);
  for (;;) {
    ACIDFS_ASSIGN_OR_RETURN(std::unique_ptr<PgConnection> conn, acquire());
    Result<T> answer = query(*conn);
    if (answer.ok() || !conn->lost() || std::chrono::steady_clock::now() >= deadline) {
      recycle(std::move(conn));
      return answer;
    }
  }
}

Result<std::vector<PgRows>> PgEngine::runRepeatable(const std::string& sql) {
  return repeatable<std::vector<PgRows>>([&](PgConnection& conn) { return conn.run(sql); });
}

void PgEngine::noteCommitted() {
  if (commits_.fetch_add(1) % 4096 != 4095) return;
  Status s = pruneCommits();
  if (!s.ok()) ACIDFS_LOG(kWarning, "pruning acidfs.commits: %s", s.toString().c_str());
}

Result<std::unique_ptr<PgConnection>> PgEngine::acquire() {
  {
    MutexLock lock(idleMutex_);
    if (!idle_.empty()) {
      std::unique_ptr<PgConnection> conn = std::move(idle_.back());
      idle_.pop_back();
      return conn;
    }
  }
  return PgConnection::connect(options_.uri, deadlineFor(options_));
}

void PgEngine::recycle(std::unique_ptr<PgConnection> conn) {
  if (!conn || conn->lost()) return;
  MutexLock lock(idleMutex_);
  if (idle_.size() < kMaxIdle) idle_.push_back(std::move(conn));
}

Result<std::optional<std::string>> PgEngine::get(Column c, std::string_view key) {
  std::string sql = "SELECT value FROM " + table(c) + " WHERE key = ";
  appendByteaLiteral(sql, key);
  const bool cached = recent_ && RecentCache::keeps(c);
  const uint64_t generation = cached ? recent_->generation() : 0;
  Result<std::optional<std::string>> value =
      repeatable<std::optional<std::string>>([&](PgConnection& conn) { return conn.queryBytes(sql); });
  // The latest value refreshes the cache (an open() makes a file's next
  // reads and stats current: close-to-open).
  if (value.ok() && cached && hearing_) recent_->store(c, key, *value, generation);
  return value;
}

Result<std::optional<std::string>> PgEngine::getRecent(Column c, std::string_view key) {
  if (recent_ && hearing_ && RecentCache::keeps(c)) {
    if (auto kept = recent_->find(c, key)) return std::move(*kept);
  }
  return get(c, key);
}

Result<std::vector<std::optional<std::string>>> PgEngine::getMany(Column c, const std::vector<std::string>& keys) {
  std::vector<std::optional<std::string>> values(keys.size());
  if (keys.empty()) return values;
  std::string sql = "SELECT key, value FROM " + table(c) + " WHERE key IN (";
  for (size_t i = 0; i < keys.size(); ++i) {
    if (i) sql += ", ";
    appendByteaLiteral(sql, keys[i]);
  }
  sql += ")";
  ACIDFS_ASSIGN_OR_RETURN(PgRows found,
                          repeatable<PgRows>([&](PgConnection& conn) { return conn.queryBinaryRows(sql); }));
  std::unordered_map<std::string_view, size_t> indexOf;  // a key asked twice gets its value twice
  for (size_t i = 0; i < keys.size(); ++i) indexOf.emplace(keys[i], i);
  for (auto& row : found.rows) {
    if (row.size() != 2 || !row[0] || !row[1]) return Status::Error(EIO, "PostgreSQL answered a row without key or value");
    auto it = indexOf.find(*row[0]);
    if (it == indexOf.end()) return Status::Error(EIO, "PostgreSQL answered a key that was not asked for");
    values[it->second] = std::move(row[1]);
  }
  for (size_t i = 0; i < keys.size(); ++i)
    if (!values[i]) {
      auto it = indexOf.find(keys[i]);
      if (it->second != i) values[i] = values[it->second];
    }
  return values;
}

std::unique_ptr<MetaCursor> PgEngine::scan(Column c) {
  const auto deadline = deadlineFor(options_);
  for (;;) {
    Result<std::unique_ptr<PgConnection>> conn = acquire();
    if (!conn.ok()) return std::make_unique<FailedCursor>(conn.status());
    Status begun = (*conn)->run("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").status();
    if (begun.ok()) return std::make_unique<SnapshotCursor>(*this, std::move(*conn), c);
    if (!(*conn)->lost() || std::chrono::steady_clock::now() >= deadline) return std::make_unique<FailedCursor>(begun);
  }
}

Result<uint64_t> PgEngine::nextVersion() {
  // nextval is outside every transaction: no lock, no conflict, and never
  // the same number twice (the server logs the sequence ahead of what it
  // hands out, in the WAL before any commit that stores one).
  Result<std::vector<PgRows>> answers = runRepeatable(std::string("SELECT nextval('acidfs.") + kVersionsSequence + "')");
  if (!answers.ok()) return answers.status().withContext("taking a content version");
  const auto& rows = answers->back().rows;
  if (rows.size() != 1 || rows[0].empty() || !rows[0][0]) return Status::Error(EIO, "taking a content version: no row");
  return std::stoull(*rows[0][0]);
}

Result<std::vector<FeedEntry>> PgEngine::readFeed(uint64_t from, size_t max) {
  std::string start;
  appendBigEndian64(start, from);
  std::string sql = "SELECT key, value FROM acidfs.feed WHERE key >= ";
  appendByteaLiteral(sql, start);
  sql += " ORDER BY key LIMIT " + std::to_string(max + 256);
  ACIDFS_ASSIGN_OR_RETURN(PgRows rows, repeatable<PgRows>([&](PgConnection& conn) { return conn.queryBinaryRows(sql); }));
  std::vector<FeedEntry> out;
  const auto now = std::chrono::steady_clock::now();
  MutexLock lock(gapsMutex_);
  // `from` itself may be in flight: a gap before the first record counts
  // (the caller passes no `from` below the feed's floor, feed.h).
  uint64_t previous = from ? from - 1 : 0;
  for (auto& row : rows.rows) {
    if (row.size() != 2 || !row[0] || !row[1] || row[0]->size() != keys::kFeedKeySize)
      return Status::Error(EIO, "PostgreSQL answered a change feed row that is not one");
    const std::string_view key = *row[0];
    const uint64_t seq = keys::feedSeq(key);
    if (seq > previous + 1 && (previous || from)) {
      // A gap: wait it out (dbTimeout from when first met), then pass it.
      bool young = false;
      for (uint64_t missing = previous + 1; missing < seq && !young; ++missing) {
        auto [it, first] = gapsSeen_.emplace(missing, now);
        young = now - it->second < options_.dbTimeout;
      }
      if (young) break;
    }
    if (out.size() >= max && seq != out.back().seq) break;
    out.push_back(FeedEntry{seq, keys::feedIndex(key), std::move(*row[1])});
    previous = seq;
  }
  // Gaps behind every reader now are forgotten.
  if (!out.empty()) gapsSeen_.erase(gapsSeen_.begin(), gapsSeen_.lower_bound(out.front().seq));
  return out;
}

Result<uint64_t> PgEngine::feedEnd() {
  // Past every number handed out: a commit that took one and has not
  // ended yet is missed by a watcher starting here (DESIGN.md).
  ACIDFS_ASSIGN_OR_RETURN(std::vector<PgRows> answers,
                          runRepeatable("SELECT last_value, is_called FROM acidfs.feed_seq"));
  const auto& rows = answers.back().rows;
  if (rows.size() != 1 || rows[0].size() != 2 || !rows[0][0] || !rows[0][1])
    return Status::Error(EIO, "reading acidfs.feed_seq: no row");
  const uint64_t last = std::stoull(*rows[0][0]);
  return *rows[0][1] == "t" ? last + 1 : last;
}

Status PgEngine::trimFeed(uint64_t before) {
  std::string end;
  appendBigEndian64(end, before);
  std::string sql = "DELETE FROM acidfs.feed WHERE key < ";
  appendByteaLiteral(sql, end);
  return runRepeatable(sql).status().withContext("trimming the change feed");
}

Status PgEngine::put(Column c, std::string_view key, std::string_view value, bool /*sync: always*/) {
  std::string sql = "INSERT INTO " + table(c) + " (key, value) VALUES (";
  appendByteaLiteral(sql, key);
  sql += ", ";
  appendByteaLiteral(sql, value);
  sql += ") ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value";
  Status s = runRepeatable(sql).status();
  if (recent_ && RecentCache::keeps(c)) recent_->invalidate(c, key);
  return s;
}

Result<uint64_t> PgEngine::allocate(const std::string& name, uint64_t count, uint64_t floor) {
  // One statement: the row's update is atomic under its row lock, and an
  // absent row is created by whichever caller gets there first.
  std::string sql = "INSERT INTO acidfs.counters (name, next) VALUES ('" + name + "', " +
                    std::to_string(floor + count) + ") ON CONFLICT (name) DO UPDATE SET next = GREATEST(acidfs.counters.next, " +
                    std::to_string(floor) + ") + " + std::to_string(count) + " RETURNING next";
  // Repeated after a lost answer, a batch may be handed out twice: the
  // first is skipped, never used twice.
  Result<std::vector<PgRows>> answers = runRepeatable(sql);
  if (!answers.ok()) return answers.status();
  const auto& rows = answers->back().rows;
  if (rows.size() != 1 || !rows[0][0]) return Status::Error(EIO, "allocating from counter " + name + ": no row");
  return std::stoull(*rows[0][0]) - count;
}

}  // namespace acidfs
