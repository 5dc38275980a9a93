// The PostgreSQL server the database-store tests start for themselves
// (tests/postgres_instance.h): it answers on its own socket, two run side by
// side without meeting, and a crash (stop -m immediate) followed by a start
// keeps every committed row — what the fault tests of issue 13 rest on.
#include "tests/postgres_instance.h"

#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <memory>
#include <string>

namespace acidfs::testing {
namespace {

using Connection = std::unique_ptr<PGconn, decltype(&PQfinish)>;

Connection connect(const PostgresInstance& pg) { return Connection(PQconnectdb(pg.uri().c_str()), &PQfinish); }

// Runs `sql`; the first column of the first row, or "ERROR: ..." / "".
std::string query(PGconn* c, const std::string& sql) {
  std::unique_ptr<PGresult, decltype(&PQclear)> r(PQexec(c, sql.c_str()), &PQclear);
  const ExecStatusType status = PQresultStatus(r.get());
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) return std::string("ERROR: ") + PQerrorMessage(c);
  return PQntuples(r.get()) > 0 ? PQgetvalue(r.get(), 0, 0) : "";
}

TEST(PostgresInstance, AnswersOnItsOwnSocketAsPostgresql15) {
  PostgresInstance pg;
  ASSERT_TRUE(pg.ok()) << pg.why();
  Connection c = connect(pg);
  ASSERT_EQ(CONNECTION_OK, PQstatus(c.get())) << PQerrorMessage(c.get());
  EXPECT_EQ(15, PQserverVersion(c.get()) / 10000);
  EXPECT_EQ(pg.socketDir(), query(c.get(), "SHOW unix_socket_directories"));
  EXPECT_EQ("", query(c.get(), "SHOW listen_addresses")) << "no TCP: tests running at once must not meet";
}

TEST(PostgresInstance, TwoInstancesAreSeparateServers) {
  PostgresInstance a, b;
  ASSERT_TRUE(a.ok()) << a.why();
  ASSERT_TRUE(b.ok()) << b.why();
  Connection ca = connect(a), cb = connect(b);
  ASSERT_EQ("", query(ca.get(), "CREATE TABLE only_in_a (x int)"));
  EXPECT_EQ("1", query(ca.get(), "SELECT count(*) FROM pg_tables WHERE tablename = 'only_in_a'"));
  EXPECT_EQ("0", query(cb.get(), "SELECT count(*) FROM pg_tables WHERE tablename = 'only_in_a'"));
}

TEST(PostgresInstance, ACrashAndARestartKeepCommittedRowsAndConnectionsFailMeanwhile) {
  PostgresInstance pg;
  ASSERT_TRUE(pg.ok()) << pg.why();
  {
    Connection c = connect(pg);
    ASSERT_EQ("", query(c.get(), "CREATE TABLE t (x int); INSERT INTO t VALUES (1), (2), (3)"));
    ASSERT_TRUE(pg.stop("immediate")) << pg.why();
    EXPECT_NE("3", query(c.get(), "SELECT count(*) FROM t")) << "the server is down";
    Connection refused = connect(pg);
    EXPECT_NE(CONNECTION_OK, PQstatus(refused.get()));
  }
  ASSERT_TRUE(pg.start()) << pg.why();
  Connection again = connect(pg);
  ASSERT_EQ(CONNECTION_OK, PQstatus(again.get())) << PQerrorMessage(again.get());
  EXPECT_EQ("3", query(again.get(), "SELECT count(*) FROM t"));
}

}  // namespace
}  // namespace acidfs::testing
