// One libpq connection to a PostgreSQL server, in the words the PostgreSQL
// metadata engine (core/pg_engine.h) needs: several SQL statements sent as
// one message (one round trip), their answers, and PostgreSQL's errors as
// our Status. Bytes travel as hex literals ('\x0a0b'::bytea) and come back
// in bytea's hex output: both are fixed by the session settings connect()
// makes, whatever the server's defaults.
//
// Errors: a statement PostgreSQL refused because of a concurrent
// transaction — serialization failure 40001, deadlock 40P01, unique
// violation 23505, lock wait timeout 55P03 — is Status::Retry; a lost
// connection is EIO with lost() true; anything else is EIO with
// PostgreSQL's message and SQLSTATE.
#pragma once

#include <libpq-fe.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace acidfs {

// One statement's answer: its rows, each a row of text fields (NULL:
// nullopt). Commands without rows have none.
struct PgRows {
  std::vector<std::vector<std::optional<std::string>>> rows;
};

class PgConnection {
 public:
  // Connects to `uri` (a libpq connection string or URI), retrying while
  // the server cannot be reached, until `deadline`: then EIO naming the
  // server's last answer. Passwords come through libpq's own means
  // (PGPASSFILE, ~/.pgpass), never through us.
  static Result<std::unique_ptr<PgConnection>> connect(const std::string& uri,
                                                       std::chrono::steady_clock::time_point deadline);
  ~PgConnection();
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  // Sends `sql` (one or more statements, ';'-separated) as one message and
  // returns each statement's answer, in order. PostgreSQL stops at the
  // first statement that fails; its error is the result. Inside a
  // transaction the session is then in the aborted state until ROLLBACK.
  Result<std::vector<PgRows>> run(const std::string& sql);
  // One statement with binary results and text parameters: the value of the
  // first column of the first row, as raw bytes (a bytea comes back as its
  // bytes, not hex); nullopt when there is no row or it is NULL.
  Result<std::optional<std::string>> queryBytes(const std::string& sql);
  // One statement with binary results: every row, each field as raw bytes
  // (NULL: nullopt).
  Result<PgRows> queryBinaryRows(const std::string& sql);

  // LISTEN's side (core/pg_listener.h): waits up to `timeout` for the server
  // to send something, then the payloads of the notifications on `channel`
  // that arrived, with the backend pid of each sender. EIO when the
  // connection was lost.
  struct Notification {
    int senderPid = 0;
    std::string payload;
  };
  Result<std::vector<Notification>> awaitNotifications(std::chrono::milliseconds timeout);

  // Whether the connection was lost (the server went away, or a network
  // error): it cannot be used again.
  bool lost() const;

 private:
  explicit PgConnection(PGconn* conn) : conn_(conn) {}
  Status errorOf(const PGresult* result, const std::string& sql);
  PGconn* conn_;
  bool broken_ = false;  // an error that ends the session (class 08, 57)
};

// SQL text for bytes: '\x0a0b'::bytea.
void appendByteaLiteral(std::string& sql, std::string_view bytes);
// Bytes from bytea's hex output ("\x0a0b"); nullopt when it is not that.
std::optional<std::string> decodeByteaHex(std::string_view text);

}  // namespace acidfs
