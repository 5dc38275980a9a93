#include "core/pg_connection.h"

#include "core/hex.h"
#include "core/log.h"

#include <poll.h>

#include <algorithm>
#include <cstring>
#include <thread>

namespace acidfs {

namespace {

// What every session of ours assumes, whatever the server's defaults:
// literals as appendByteaLiteral writes them, bytea output as
// decodeByteaHex reads it, and a lock wait that ends (as MetaDb's 2 s) so
// that a transaction waiting on a stuck one is retried rather than stuck
// too. A client that vanished mid-transaction holds its locks at most a
// minute (its backend ends the session then).
constexpr char kSessionSettings[] =
    "SET standard_conforming_strings = on; SET bytea_output = 'hex'; SET lock_timeout = '2s'; "
    "SET idle_in_transaction_session_timeout = '60s'; SET client_min_messages = warning";

// SQLSTATEs that mean "a concurrent transaction got in the way; run it
// again": serialization_failure, deadlock_detected, unique_violation (two
// inserts of one key), lock_not_available (lock_timeout).
bool isRetryState(const char* state) {
  return state && (!strcmp(state, "40001") || !strcmp(state, "40P01") || !strcmp(state, "23505") ||
                   !strcmp(state, "55P03"));
}

// libpq's messages run over lines (a HINT, a line per host of a multi-host
// URI); ours are one line each (a log line, the tool's stderr): the lines
// joined with "; ", their indentation dropped.
std::string oneLine(const char* message) {
  std::string out;
  std::string_view rest = message ? message : "";
  while (!rest.empty()) {
    const size_t end = rest.find('\n');
    std::string_view line = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r')) line.remove_suffix(1);
    if (line.empty()) continue;
    if (!out.empty()) out += "; ";
    out += line;
  }
  return out;
}

}  // namespace

void appendByteaLiteral(std::string& sql, std::string_view bytes) {
  sql += "'\\x";
  appendHex(sql, bytes);
  sql += "'::bytea";
}

std::optional<std::string> decodeByteaHex(std::string_view text) {
  if (text.size() < 2 || text[0] != '\\' || text[1] != 'x') return std::nullopt;
  return fromHex(text.substr(2));
}

Result<std::unique_ptr<PgConnection>> PgConnection::connect(const std::string& uri,
                                                            std::chrono::steady_clock::time_point deadline) {
  std::string lastError;
  // Backing off to a quarter second at most: a failover's new primary is
  // found that soon after its promotion (bench/failover_bench.py), and an
  // attempt costs the server little (a refused socket, a read-only session).
  for (auto pause = std::chrono::milliseconds(50);; pause = std::min(pause * 2, std::chrono::milliseconds(250))) {
    // connect_timeout bounds one attempt (libpq's TCP connect); the loop
    // bounds them all.
    const auto left = std::chrono::duration_cast<std::chrono::seconds>(deadline - std::chrono::steady_clock::now());
    const std::string timeout = std::to_string(std::max<int64_t>(2, left.count()));
    const char* keys[] = {"dbname", "connect_timeout", "fallback_application_name", nullptr};
    const char* values[] = {uri.c_str(), timeout.c_str(), "acidfsd", nullptr};
    PGconn* conn = PQconnectdbParams(keys, values, /*expand_dbname=*/1);
    if (conn && PQstatus(conn) == CONNECTION_OK) {
      // The server's notices (a WARNING as it shuts down, say) go to our
      // log, not to libpq's default of stderr.
      PQsetNoticeProcessor(
          conn, [](void*, const char* message) { ACIDFS_LOG(kDebug, "PostgreSQL: %s", oneLine(message).c_str()); },
          nullptr);
      std::unique_ptr<PgConnection> c(new PgConnection(conn));
      Result<std::vector<PgRows>> set = c->run(kSessionSettings);
      if (set.ok()) {
        // PostgreSQL finds a deadlock only after deadlock_timeout (1 s by
        // default) of waiting, and each one costs a transaction that long.
        // Only a superuser may lower it for a session; otherwise the
        // administrator sets it for our role (README), and we go on.
        (void)c->run("SET deadlock_timeout = '50ms'");
        return c;
      }
      lastError = set.status().message();
      if (!c->lost()) return Status::Error(EIO, "setting up a PostgreSQL session: " + lastError);
    } else {
      lastError = oneLine(conn ? PQerrorMessage(conn) : "out of memory");
      if (conn) PQfinish(conn);
      // A refusal the server will repeat (a bad password, no such
      // database) is not worth waiting for.
      if (lastError.find("authentication") != std::string::npos ||
          (lastError.find("database") != std::string::npos && lastError.find("does not exist") != std::string::npos))
        return Status::Error(EIO, "connecting to PostgreSQL: " + lastError);
    }
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return Status::Error(EIO, "PostgreSQL unreachable: " + lastError);
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(pause, deadline - now));
  }
}

PgConnection::~PgConnection() { PQfinish(conn_); }

bool PgConnection::lost() const { return broken_ || PQstatus(conn_) != CONNECTION_OK; }

Status PgConnection::errorOf(const PGresult* result, const std::string& sql) {
  const char* state = result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  // Class 08 (connection exception) and 57 (operator intervention: the
  // server shutting down, crashed, or not yet taking connections) end the
  // session, though libpq may not have noticed yet.
  // An error without a SQLSTATE is libpq's own: the server could not be
  // reached or answered nothing (a send that hit a closed socket, say).
  if (!state || !strncmp(state, "08", 2) || !strncmp(state, "57", 2)) broken_ = true;
  std::string message = oneLine(result ? PQresultErrorMessage(result) : PQerrorMessage(conn_));
  if (message.empty()) message = oneLine(PQerrorMessage(conn_));
  if (isRetryState(state)) return Status::Retry(std::string("PostgreSQL ") + state + ": " + message);
  if (lost()) return Status::Error(EIO, "connection to PostgreSQL lost: " + message);
  std::string shown = sql.size() > 200 ? sql.substr(0, 200) + "..." : sql;
  return Status::Error(EIO, "PostgreSQL " + std::string(state ? state : "?") + ": " + message + " (in: " + shown + ")");
}

namespace {

PgRows rowsOf(const PGresult* r) {
  PgRows rows;
  const int n = PQntuples(r), fields = PQnfields(r);
  rows.rows.resize(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    auto& row = rows.rows[static_cast<size_t>(i)];
    row.reserve(static_cast<size_t>(fields));
    for (int f = 0; f < fields; ++f)
      row.push_back(PQgetisnull(r, i, f) ? std::nullopt
                                         : std::optional<std::string>(std::string(
                                               PQgetvalue(r, i, f), static_cast<size_t>(PQgetlength(r, i, f)))));
  }
  return rows;
}

}  // namespace

Result<std::vector<PgRows>> PgConnection::run(const std::string& sql) {
  if (!PQsendQuery(conn_, sql.c_str())) return errorOf(nullptr, sql);
  std::vector<PgRows> answers;
  Status failed;
  // Every result must be read, the failed one too, before the connection
  // takes the next message.
  while (PGresult* r = PQgetResult(conn_)) {
    const ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
      answers.push_back(rowsOf(r));
    } else if (failed.ok()) {
      failed = errorOf(r, sql);
    }
    PQclear(r);
  }
  if (failed.ok() && lost()) failed = errorOf(nullptr, sql);
  if (!failed.ok()) return failed;
  return answers;
}

Result<std::vector<PgConnection::Notification>> PgConnection::awaitNotifications(std::chrono::milliseconds timeout) {
  pollfd waiting{PQsocket(conn_), POLLIN, 0};
  if (poll(&waiting, 1, static_cast<int>(timeout.count())) < 0 && errno != EINTR) return Status::FromErrno("poll");
  if (!PQconsumeInput(conn_)) return Status::Error(EIO, "connection to PostgreSQL lost: " + oneLine(PQerrorMessage(conn_)));
  std::vector<Notification> out;
  while (PGnotify* n = PQnotifies(conn_)) {
    out.push_back(Notification{n->be_pid, n->extra ? n->extra : ""});
    PQfreemem(n);
  }
  return out;
}

Result<std::optional<std::string>> PgConnection::queryBytes(const std::string& sql) {
  ACIDFS_ASSIGN_OR_RETURN(PgRows found, queryBinaryRows(sql));
  if (found.rows.empty() || found.rows[0].empty()) return std::optional<std::string>();
  return std::move(found.rows[0][0]);
}

Result<PgRows> PgConnection::queryBinaryRows(const std::string& sql) {
  PGresult* r = PQexecParams(conn_, sql.c_str(), 0, nullptr, nullptr, nullptr, nullptr, /*resultFormat=*/1);
  if (PQresultStatus(r) != PGRES_TUPLES_OK) {
    Status s = errorOf(r, sql);
    PQclear(r);
    return s;
  }
  PgRows rows = rowsOf(r);
  PQclear(r);
  return rows;
}

}  // namespace acidfs
