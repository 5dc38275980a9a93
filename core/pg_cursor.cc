#include "core/pg_cursor.h"

namespace acidfs {

namespace {

// A row's key and value from bytea hex output; EIO when one is not that.
Result<std::pair<std::string, std::string>> decodeRow(const std::vector<std::optional<std::string>>& row) {
  if (row.size() < 2 || !row[0] || !row[1]) return Status::Error(EIO, "PostgreSQL returned a row with NULLs");
  std::optional<std::string> key = decodeByteaHex(*row[0]), value = decodeByteaHex(*row[1]);
  if (!key || !value) return Status::Error(EIO, "PostgreSQL returned a bytea that is not in hex");
  return std::make_pair(std::move(*key), std::move(*value));
}

}  // namespace

void PgTableCursor::fetch(const std::optional<std::string_view>& from, bool inclusive, size_t limit) {
  rows_.clear();
  pos_ = 0;
  lastPage_ = true;
  std::string sql = "SELECT key, value FROM " + table_;
  if (from) {
    sql += inclusive ? " WHERE key >= " : " WHERE key > ";
    appendByteaLiteral(sql, *from);
  }
  sql += " ORDER BY key LIMIT " + std::to_string(limit);
  Result<std::vector<PgRows>> answers = run_(sql);
  if (!answers.ok()) {
    status_ = answers.status();
    return;
  }
  for (const auto& row : answers->back().rows) {
    Result<std::pair<std::string, std::string>> decoded = decodeRow(row);
    if (!decoded.ok()) {
      status_ = decoded.status();
      rows_.clear();
      return;
    }
    rows_.push_back(std::move(*decoded));
  }
  lastPage_ = rows_.size() < limit;
}

void PgTableCursor::next() {
  ++pos_;
  if (pos_ < rows_.size() || lastPage_) return;
  const std::string last = rows_.back().first;
  pageSize_ = std::min(pageSize_ * 4, kLargestPage);
  fetch(std::string_view(last), /*inclusive=*/false, pageSize_);
}

void PgTableCursor::seekToLast() {
  rows_.clear();
  pos_ = 0;
  lastPage_ = true;
  Result<std::optional<std::string>> last = lastKey([](std::string_view) { return false; });
  if (!last.ok()) {
    status_ = last.status();
    return;
  }
  if (!*last) return;
  fetch(std::string_view(**last), /*inclusive=*/true, 1);
  lastPage_ = true;
}

Result<std::optional<std::string>> PgTableCursor::lastKey(const std::function<bool(std::string_view)>& skip) {
  constexpr size_t kPage = 64;
  std::optional<std::string> below;
  for (;;) {
    std::string sql = "SELECT key, key FROM " + table_;
    if (below) {
      sql += " WHERE key < ";
      appendByteaLiteral(sql, *below);
    }
    sql += " ORDER BY key DESC LIMIT " + std::to_string(kPage);
    ACIDFS_ASSIGN_OR_RETURN(std::vector<PgRows> answers, run_(sql));
    const auto& rows = answers.back().rows;
    for (const auto& row : rows) {
      ACIDFS_ASSIGN_OR_RETURN(auto decoded, decodeRow(row));
      if (!skip(decoded.first)) return std::optional<std::string>(std::move(decoded.first));
      below = std::move(decoded.first);
    }
    if (rows.size() < kPage) return std::optional<std::string>();
  }
}

void OverlayCursor::seek(std::string_view key) {
  base_->seek(key);
  at_ = writes_.lower_bound(key);
  settle();
}

void OverlayCursor::seekToFirst() {
  base_->seekToFirst();
  at_ = writes_.begin();
  settle();
}

void OverlayCursor::seekToLast() {
  std::optional<std::string> last;
  for (auto it = writes_.rbegin(); it != writes_.rend(); ++it)
    if (it->second) {
      last = it->first;
      break;
    }
  // The base's last key that the writes neither delete nor replace.
  Result<std::optional<std::string>> baseLast =
      base_->lastKey([this](std::string_view key) { return writes_.find(key) != writes_.end(); });
  if (!baseLast.ok()) {
    status_ = baseLast.status();
    current_ = Source::kNone;
    return;
  }
  if (*baseLast && (!last || **baseLast > *last)) last = std::move(**baseLast);
  if (!last) {
    at_ = writes_.end();
    current_ = Source::kNone;
    return;
  }
  seek(*last);
}

void OverlayCursor::settle() {
  current_ = Source::kNone;
  for (;;) {
    if (!base_->status().ok()) return;
    const bool inBase = base_->valid(), inWrites = at_ != writes_.end();
    if (!inBase && !inWrites) return;
    if (inBase && inWrites) {
      const int order = base_->key().compare(at_->first);
      if (order == 0) {  // the transaction's write replaces or deletes it
        base_->next();
        continue;
      }
      if (order < 0) {
        current_ = Source::kBase;
        return;
      }
    }
    if (!inWrites) {
      current_ = Source::kBase;
      return;
    }
    if (!at_->second) {  // a delete of a key the base does not have (any more)
      ++at_;
      continue;
    }
    current_ = Source::kWrites;
    return;
  }
}

void OverlayCursor::next() {
  if (current_ == Source::kBase)
    base_->next();
  else
    ++at_;
  settle();
}

std::string_view OverlayCursor::key() const {
  return current_ == Source::kBase ? base_->key() : std::string_view(at_->first);
}

std::string_view OverlayCursor::value() const {
  return current_ == Source::kBase ? base_->value() : std::string_view(*at_->second);
}

}  // namespace acidfs
