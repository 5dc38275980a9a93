// PgEngine's transactions (core/pg_engine.h says how they work and why):
// writes buffered in the client, locks taken as the reads and the commit
// need them, and a commit whose connection was lost resolved by its id.
#include <algorithm>
#include <array>
#include <unordered_map>

#include "core/format.h"
#include "core/id128.h"
#include "core/pg_cursor.h"
#include "core/pg_engine.h"
#include "core/random_bytes.h"

namespace acidfs {

namespace {

void appendLockCall(std::string& sql, int64_t key, MetaTxn::Lock lock) {
  sql += lock == MetaTxn::Lock::kShared ? "pg_advisory_xact_lock_shared(" : "pg_advisory_xact_lock(";
  sql += std::to_string(key);
  sql += ")";
}

// SELECTs taking the locks of `keys` (sorted and made unique here), in key
// order, so that two transactions locking overlapping sets take them in one
// order and cannot deadlock; nothing for no keys. At most kLocksPerSelect
// to a SELECT: PostgreSQL refuses a target list of more than 1,664 entries
// (54011), which a commit writing thousands of keys reached.
constexpr size_t kLocksPerSelect = 1000;
void appendLockSelect(std::string& sql, std::vector<int64_t>& keys, MetaTxn::Lock lock) {
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  for (size_t i = 0; i < keys.size(); ++i) {
    sql += i % kLocksPerSelect == 0 ? "SELECT " : ", ";
    appendLockCall(sql, keys[i], lock);
    if ((i + 1) % kLocksPerSelect == 0 || i + 1 == keys.size()) sql += "; ";
  }
}

}  // namespace

class PgTxn final : public MetaTxn {
 public:
  PgTxn(PgEngine& engine, bool sync) : engine_(engine), sync_(sync) {}
  ~PgTxn() override {
    if (!ended_) rollback();
  }

  Result<std::optional<std::string>> read(Column c, std::string_view key, Lock lock) override {
    if (const auto* own = ownWrite(c, key)) return *own;
    const int64_t lockKey = pgLockKey(c, key);
    const bool held = holds(lockKey, lock);
    if (held)
      if (const auto* fetched = prefetched(c, key)) return *fetched;
    std::string sql;
    if (!held) {
      sql = "SELECT ";
      appendLockCall(sql, lockKey, lock);
      sql += "; ";
    }
    appendSelect(sql, c, key);
    ACIDFS_ASSIGN_OR_RETURN(std::optional<std::string> value, readOne(sql));
    if (!held) locks_[lockKey] = lock;  // new, or shared made exclusive
    return value;
  }

  Result<std::optional<std::string>> peek(Column c, std::string_view key) override {
    if (const auto* own = ownWrite(c, key)) return *own;
    if (const auto* fetched = prefetched(c, key)) return *fetched;  // locked: still current
    std::string sql;
    appendSelect(sql, c, key);
    return readOne(sql);
  }

  bool prefetches() const override { return true; }
  // One message: the locks not held yet (sorted, so that two prefetches
  // of overlapping keys take them in one order), then one SELECT of them all.
  Status prefetch(Column c, const std::vector<std::string>& keys, Lock lock) override {
    std::vector<int64_t> needed;
    std::string wanted;
    size_t asked = 0;
    for (const std::string& key : keys) {
      if (ownWrite(c, key) || prefetched(c, key)) continue;
      const int64_t lockKey = pgLockKey(c, key);
      if (!holds(lockKey, lock)) needed.push_back(lockKey);
      if (asked++) wanted += ", ";
      appendByteaLiteral(wanted, key);
    }
    if (asked == 0) return Status::OK();
    std::string sql;
    appendLockSelect(sql, needed, lock);
    sql += "SELECT key, value FROM " + PgEngine::table(c) + " WHERE key IN (" + wanted + ")";
    ACIDFS_ASSIGN_OR_RETURN(std::vector<PgRows> answers, send(sql));
    for (int64_t lockKey : needed) locks_[lockKey] = lock;
    auto& fetched = fetched_[static_cast<size_t>(c)];
    for (const std::string& key : keys)
      if (!ownWrite(c, key)) fetched.try_emplace(key, std::nullopt);  // absent unless a row says otherwise
    for (const auto& row : answers.back().rows) {
      std::optional<std::string> key = row[0] ? decodeByteaHex(*row[0]) : std::nullopt;
      std::optional<std::string> value = row[1] ? decodeByteaHex(*row[1]) : std::nullopt;
      if (!key || !value) return Status::Error(EIO, "PostgreSQL returned a bytea that is not in hex");
      fetched[*key] = std::move(value);
    }
    return Status::OK();
  }

  Status put(Column c, std::string_view key, std::string_view value) override {
    writes_[static_cast<size_t>(c)].insert_or_assign(std::string(key), std::string(value));
    return Status::OK();
  }
  Status del(Column c, std::string_view key) override {
    writes_[static_cast<size_t>(c)].insert_or_assign(std::string(key), std::nullopt);
    deletes_ = true;
    return Status::OK();
  }

  std::unique_ptr<MetaCursor> scan(Column c) override {
    // Its pages go through send(): a connection that cannot be had shows as
    // the cursor's status.
    auto base = std::make_unique<PgTableCursor>([this](const std::string& sql) { return send(sql); },
                                                PgEngine::table(c));
    return std::make_unique<OverlayCursor>(std::move(base), writes_[static_cast<size_t>(c)]);
  }

  bool deletes() const override { return deletes_; }
  void appendFeed(std::string value) override { feed_.push_back(std::move(value)); }

  CommitResult commit() override {
    RecentCache* recent = engine_.recentCache();
    const uint64_t generation = recent ? recent->generation() : 0;
    CommitResult result = commitOnServer();
    if (recent) recent->afterCommit(cachedWrites(), result.status.ok(), generation);
    return result;
  }

  CommitResult commitOnServer() {
    ended_ = true;
    bool writes = !feed_.empty();
    for (const PgWrites& w : writes_) writes = writes || !w.empty();
    if (!writes) {  // only reads: end it to free the locks
      Status s = conn_ && begun_ ? conn_->run("COMMIT").status() : Status::OK();
      // Lost at COMMIT: nothing was to be applied. Retry, as a connection
      // lost at any statement is (send()): the runner runs the body again
      // on a new connection, never EIO.
      if (!s.ok() && conn_->lost()) s = Status::Retry(s.message());
      release();
      return {s, false};
    }
    const std::string commitId = randomBytes(16);
    std::string sql = begun_ ? "" : "BEGIN; ";
    appendWriteLocks(sql, commitId);
    appendWrites(sql);
    appendNotify(sql);
    appendFeedInsert(sql);
    sql += "INSERT INTO acidfs.commits (id) VALUES (";
    appendByteaLiteral(sql, commitId);
    // Not durable when COMMIT returns, but at the next syncLog(): as a
    // directory store's commits are between its log syncs (SPEC §3). The
    // WAL is one sequence, so a server crash loses a suffix of commits,
    // never one without those after it. Except on a server with
    // synchronous standbys: there the administrator asked that a failover
    // lose no commit that returned (SPEC §9), which only waiting for them
    // gives. The server decides, at this commit, so that a promoted
    // standby without standbys of its own commits at full speed again.
    sql += sync_ ? "); COMMIT"
                 : "); SELECT set_config('synchronous_commit', 'off', true) "
                   "WHERE current_setting('synchronous_standby_names') = ''; COMMIT";
    if (Status connected = ensureConnection(); !connected.ok()) return {connected, false};
    Result<std::vector<PgRows>> done = conn_->run(sql);
    if (done.ok()) {
      release();
      engine_.noteCommitted();
      return {Status::OK(), false};
    }
    if (!conn_->lost()) {
      (void)conn_->run("ROLLBACK");
      release();
      return {done.status(), false};
    }
    conn_.reset();
    return resolve(commitId, done.status());
  }

  void rollback() override {
    ended_ = true;
    if (conn_ && begun_ && !conn_->run("ROLLBACK").ok()) conn_.reset();
    release();
  }

 private:
  // Whether this transaction holds the lock of `lockKey` at `lock` or stronger.
  bool holds(int64_t lockKey, Lock lock) const {
    auto held = locks_.find(lockKey);
    return held != locks_.end() && (held->second == Lock::kExclusive || lock == Lock::kShared);
  }

  // What prefetch() found for `key`, or null. Current while its lock is
  // held, which is until the transaction ends; own writes come first.
  const std::optional<std::string>* prefetched(Column c, std::string_view key) const {
    const PgWrites& f = fetched_[static_cast<size_t>(c)];
    auto it = f.find(key);
    return it == f.end() ? nullptr : &it->second;
  }

  const std::optional<std::string>* ownWrite(Column c, std::string_view key) const {
    const PgWrites& w = writes_[static_cast<size_t>(c)];
    auto it = w.find(key);
    return it == w.end() ? nullptr : &it->second;
  }

  static void appendSelect(std::string& sql, Column c, std::string_view key) {
    sql += "SELECT value FROM " + PgEngine::table(c) + " WHERE key = ";
    appendByteaLiteral(sql, key);
  }

  // This transaction's connection, taken from the pool at its first use.
  // (BEGIN goes with the first statement: see send().)
  Status ensureConnection() {
    if (!conn_) {
      ACIDFS_ASSIGN_OR_RETURN(conn_, engine_.acquire());
    }
    return Status::OK();
  }

  // Sends `sql` inside the transaction: BEGIN goes first with the first
  // message, in the same round trip. A conflict or error ends the server's
  // transaction (it is aborted): the caller's Status::Retry or EIO makes the
  // runner roll back. A lost connection is Status::Retry: nothing was
  // committed, and the next attempt connects again (or fails with EIO after
  // dbTimeout).
  Result<std::vector<PgRows>> send(const std::string& sql) {
    ACIDFS_RETURN_IF_ERROR(ensureConnection());
    Result<std::vector<PgRows>> answers = begun_ ? conn_->run(sql) : conn_->run("BEGIN; " + sql);
    if (!answers.ok() && conn_->lost()) {
      conn_.reset();
      begun_ = false;
      return Status::Retry(answers.status().message());
    }
    begun_ = true;
    return answers;
  }

  // The value the last statement of `sql` (a SELECT value ...) found.
  Result<std::optional<std::string>> readOne(const std::string& sql) {
    ACIDFS_ASSIGN_OR_RETURN(std::vector<PgRows> answers, send(sql));
    const auto& rows = answers.back().rows;
    if (rows.empty() || !rows[0][0]) return std::optional<std::string>();
    std::optional<std::string> value = decodeByteaHex(*rows[0][0]);
    if (!value) return Status::Error(EIO, "PostgreSQL returned a bytea that is not in hex");
    return value;
  }

  // The exclusive locks the writes need that this transaction does not
  // hold yet, and the commit id's (appendLockSelect).
  void appendWriteLocks(std::string& sql, const std::string& commitId) {
    std::vector<int64_t> needed = {pgLockKey(Column::kDefault, commitId)};
    for (int c = 0; c < kColumnCount; ++c)
      for (const auto& [key, value] : writes_[static_cast<size_t>(c)]) {
        const int64_t lockKey = pgLockKey(static_cast<Column>(c), key);
        if (!holds(lockKey, Lock::kExclusive)) needed.push_back(lockKey);
      }
    appendLockSelect(sql, needed, Lock::kExclusive);
  }

  // Per column: one INSERT ... ON CONFLICT for the puts, one DELETE.
  void appendWrites(std::string& sql) const {
    for (int c = 0; c < kColumnCount; ++c) {
      const PgWrites& w = writes_[static_cast<size_t>(c)];
      const std::string& table = PgEngine::table(static_cast<Column>(c));
      std::string puts, dels;
      for (const auto& [key, value] : w) {
        std::string& list = value ? puts : dels;
        if (!list.empty()) list += ", ";
        if (value) {
          list += "(";
          appendByteaLiteral(list, key);
          list += ", ";
          appendByteaLiteral(list, *value);
          list += ")";
        } else {
          appendByteaLiteral(list, key);
        }
      }
      if (!puts.empty())
        sql += "INSERT INTO " + table + " (key, value) VALUES " + puts +
               " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value; ";
      if (!dels.empty()) sql += "DELETE FROM " + table + " WHERE key IN (" + dels + "); ";
    }
  }

  // The writes a RecentCache keeps (inodes and entries), for afterCommit.
  std::vector<RecentCache::Write> cachedWrites() const {
    std::vector<RecentCache::Write> out;
    for (Column c : {Column::kInodes, Column::kDentries})
      for (const auto& [key, value] : writes_[static_cast<size_t>(c)]) out.push_back({c, key, &value});
    return out;
  }

  // The feed's records (feed.h) under one number of acidfs.feed_seq, taken
  // in this statement, after the locks at its start: a transaction that
  // waited for another's locks takes a larger number. Key: keys::feed.
  void appendFeedInsert(std::string& sql) const {
    if (feed_.empty()) return;
    sql += "INSERT INTO acidfs.feed (key, value) SELECT int8send(s.n) || v.i, v.v "
           "FROM (SELECT nextval('acidfs.feed_seq') AS n) s, (VALUES ";
    for (size_t i = 0; i < feed_.size(); ++i) {
      if (i) sql += ", ";
      sql += "(";
      appendByteaLiteral(sql, keys::feed(0, static_cast<uint32_t>(i)).substr(8));  // the index part
      sql += "::bytea, ";
      appendByteaLiteral(sql, feed_[i]);
      sql += "::bytea)";
    }
    sql += ") AS v(i, v); ";
  }

  // The other daemons hear what this commit changes (core/pg_listener.h):
  // NOTIFY is transactional, sent only if the commit is.
  void appendNotify(std::string& sql) const {
    std::vector<std::pair<Column, std::string>> changed;
    for (Column c : {Column::kInodes, Column::kDentries})
      for (const auto& [key, value] : writes_[static_cast<size_t>(c)]) changed.emplace_back(c, key);
    const std::string payload = notifyPayload(engine_.origin(), changed);
    if (!payload.empty()) sql += std::string("SELECT pg_notify('") + kNotifyChannel + "', '" + payload + "'); ";
  }

  // The connection went during COMMIT: did it take effect? Waits on the
  // commit id's lock, which the old session holds until its transaction
  // has ended, then looks for the id.
  CommitResult resolve(const std::string& commitId, const Status& lostWith) {
    const auto deadline = std::chrono::steady_clock::now() + engine_.options().dbTimeout;
    std::string sql = "BEGIN; SELECT ";
    appendLockCall(sql, pgLockKey(Column::kDefault, commitId), Lock::kExclusive);
    sql += "; SELECT id FROM acidfs.commits WHERE id = ";
    appendByteaLiteral(sql, commitId);
    sql += "; ROLLBACK";
    Status last = lostWith;
    while (std::chrono::steady_clock::now() < deadline) {
      Result<std::unique_ptr<PgConnection>> conn = PgConnection::connect(engine_.options().uri, deadline);
      if (!conn.ok()) {
        last = conn.status();
        break;
      }
      Result<std::vector<PgRows>> answers = (*conn)->run(sql);
      if (answers.ok()) {
        const bool committed = !answers.value()[2].rows.empty();
        engine_.recycle(std::move(*conn));
        release();
        if (committed) {
          engine_.noteCommitted();
          return {Status::OK(), false};
        }
        return {Status::Retry("the connection to PostgreSQL was lost during COMMIT, which did not take effect"), false};
      }
      last = answers.status();
      if (!(*conn)->lost()) (void)(*conn)->run("ROLLBACK");
    }
    release();
    return {Status::Error(EIO, "the connection to PostgreSQL was lost during COMMIT and the outcome cannot be asked: " +
                                   last.message()),
            true};
  }

  // The transaction is over: the connection back to the pool.
  void release() {
    begun_ = false;
    locks_.clear();
    for (PgWrites& f : fetched_) f.clear();
    engine_.recycle(std::move(conn_));
  }

  PgEngine& engine_;
  const bool sync_;                     // durable when commit() returns
  std::unique_ptr<PgConnection> conn_;  // from the first statement to the end
  bool begun_ = false;                  // BEGIN went to the server
  bool ended_ = false;
  bool deletes_ = false;
  std::array<PgWrites, kColumnCount> writes_;
  std::vector<std::string> feed_;  // appendFeed's records, inserted by the commit
  std::array<PgWrites, kColumnCount> fetched_;  // by prefetch(), under locks held
  std::unordered_map<int64_t, Lock> locks_;  // advisory locks held, by key
};

std::unique_ptr<MetaTxn> PgEngine::begin(bool sync) { return std::make_unique<PgTxn>(*this, sync); }

}  // namespace acidfs
