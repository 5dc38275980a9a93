// Where the core reads the time of day: file timestamps, lease expiry and
// (later) trash and expiry deadlines. Tests inject a ManualClock to move
// time; everything else uses Clock::real(). Durations the core waits for
// (background intervals, space checks) use std::chrono::steady_clock, not
// this: moving a test's clock must not make a daemon spin or sleep.
#pragma once

#include <atomic>
#include <cstdint>

namespace acidfs {

class Clock {
 public:
  virtual ~Clock() = default;
  // Nanoseconds since the Unix epoch (CLOCK_REALTIME).
  virtual int64_t nowNs() const = 0;
  // The system's clock; lives for the whole process.
  static const Clock& real();
};

// A clock that stands still until told to move. Thread-safe.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t startNs) : nowNs_(startNs) {}
  int64_t nowNs() const override { return nowNs_.load(std::memory_order_relaxed); }
  void set(int64_t ns) { nowNs_.store(ns, std::memory_order_relaxed); }
  void advance(int64_t ns) { nowNs_.fetch_add(ns, std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> nowNs_;
};

}  // namespace acidfs
