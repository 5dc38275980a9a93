#include "core/clock.h"

#include <time.h>

namespace acidfs {

namespace {
class RealClock final : public Clock {
 public:
  int64_t nowNs() const override {
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
  }
};
}  // namespace

const Clock& Clock::real() {
  static const RealClock clock;
  return clock;
}

}  // namespace acidfs
