#include "core/recent_cache.h"

namespace acidfs {

RecentCache::RecentCache(std::chrono::milliseconds maxAge, size_t capacity) : maxAge_(maxAge), capacity_(capacity) {}

std::string RecentCache::keyOf(Column c, std::string_view key) {
  std::string k;
  k.reserve(1 + key.size());
  k.push_back(static_cast<char>(c));
  k.append(key);
  return k;
}

std::optional<std::optional<std::string>> RecentCache::find(Column c, std::string_view key) {
  const std::string k = keyOf(c, key);
  MutexLock lock(mutex_);
  auto it = entries_.find(k);
  if (it == entries_.end()) return std::nullopt;
  if (std::chrono::steady_clock::now() - it->second.taken > maxAge_) {
    entries_.erase(it);
    return std::nullopt;
  }
  return it->second.value;
}

uint64_t RecentCache::generation() const {
  MutexLock lock(mutex_);
  return generation_;
}

void RecentCache::put(std::string key, std::optional<std::string> value) {
  if (entries_.size() >= capacity_ && !entries_.contains(key)) entries_.clear();
  entries_.insert_or_assign(std::move(key), Entry{std::move(value), std::chrono::steady_clock::now()});
}

void RecentCache::store(Column c, std::string_view key, std::optional<std::string> value, uint64_t generationBeforeRead) {
  std::string k = keyOf(c, key);
  MutexLock lock(mutex_);
  if (generation_ == generationBeforeRead) put(std::move(k), std::move(value));
}

void RecentCache::afterCommit(const std::vector<Write>& writes, bool committed, uint64_t generationBeforeCommit) {
  MutexLock lock(mutex_);
  // Unchanged since before the commit: no notification of a later commit
  // of these keys can have been heard, so ours are their latest values.
  const bool keep = committed && generation_ == generationBeforeCommit;
  for (const Write& w : writes) {
    if (!keeps(w.column)) continue;
    if (keep)
      put(keyOf(w.column, w.key), *w.value);
    else
      entries_.erase(keyOf(w.column, w.key));
  }
  ++generation_;  // reads that began before the commit must not store what they found
}

void RecentCache::invalidate(Column c, std::string_view key) {
  const std::string k = keyOf(c, key);
  MutexLock lock(mutex_);
  entries_.erase(k);
  ++generation_;
}

void RecentCache::invalidateAll() {
  MutexLock lock(mutex_);
  entries_.clear();
  ++generation_;
}

}  // namespace acidfs
