// The PostgreSQL engine's cursors (core/pg_engine.h): one over a column's
// table, read a page of rows at a time, and one that lays a transaction's
// own unwritten writes over another cursor (what MetaTxn::scan promises:
// its puts seen, its deletes hidden).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/meta_engine.h"
#include "core/pg_connection.h"

namespace acidfs {

// A transaction's writes to one column: key → value, nullopt for a delete.
using PgWrites = std::map<std::string, std::optional<std::string>, std::less<>>;

// A column's rows in key order, fetched in pages (the first small, each
// next one larger) through `run`, which sends one statement on the
// connection the cursor reads through: in a REPEATABLE READ transaction all
// pages show one instant; in a READ COMMITTED one each page shows the
// commits made before it was fetched.
class PgTableCursor final : public MetaCursor {
 public:
  using Run = std::function<Result<std::vector<PgRows>>(const std::string& sql)>;
  PgTableCursor(Run run, std::string table) : run_(std::move(run)), table_(std::move(table)) {}

  void seek(std::string_view key) override { fetch(key, /*inclusive=*/true, kFirstPage); }
  void seekToFirst() override { fetch(std::nullopt, true, kFirstPage); }
  void seekToLast() override;
  bool valid() const override { return status_.ok() && pos_ < rows_.size(); }
  void next() override;
  std::string_view key() const override { return rows_[pos_].first; }
  std::string_view value() const override { return rows_[pos_].second; }
  Status status() const override { return status_; }

  // The column's largest key that `skip` does not reject (nullopt: none),
  // read without moving the cursor: for OverlayCursor::seekToLast.
  Result<std::optional<std::string>> lastKey(const std::function<bool(std::string_view)>& skip);

 private:
  static constexpr size_t kFirstPage = 16, kLargestPage = 1024;
  // Rows from `from` on (or from the start), at most `limit` of them.
  void fetch(const std::optional<std::string_view>& from, bool inclusive, size_t limit);

  Run run_;
  const std::string table_;
  std::vector<std::pair<std::string, std::string>> rows_;
  size_t pos_ = 0;
  size_t pageSize_ = kFirstPage;
  bool lastPage_ = true;  // rows_ holds the column's last row (or none)
  Status status_;
};

// `base` with `writes` laid over it. `writes` must not change while the
// cursor is used (MetaTxn::scan's rule).
class OverlayCursor final : public MetaCursor {
 public:
  OverlayCursor(std::unique_ptr<PgTableCursor> base, const PgWrites& writes)
      : base_(std::move(base)), writes_(writes), at_(writes.end()) {}

  void seek(std::string_view key) override;
  void seekToFirst() override;
  void seekToLast() override;
  bool valid() const override { return status_.ok() && current_ != Source::kNone; }
  void next() override;
  std::string_view key() const override;
  std::string_view value() const override;
  Status status() const override { return status_.ok() ? base_->status() : status_; }

 private:
  enum class Source { kNone, kBase, kWrites };
  // Moves both sides past deleted keys and picks the smaller key.
  void settle();

  std::unique_ptr<PgTableCursor> base_;
  const PgWrites& writes_;
  PgWrites::const_iterator at_;
  Source current_ = Source::kNone;
  Status status_;
};

// A cursor that is only an error (a connection that could not be had).
class FailedCursor final : public MetaCursor {
 public:
  explicit FailedCursor(Status why) : why_(std::move(why)) {}
  void seek(std::string_view) override {}
  void seekToFirst() override {}
  void seekToLast() override {}
  bool valid() const override { return false; }
  void next() override {}
  std::string_view key() const override { return {}; }
  std::string_view value() const override { return {}; }
  Status status() const override { return why_; }

 private:
  Status why_;
};

}  // namespace acidfs
