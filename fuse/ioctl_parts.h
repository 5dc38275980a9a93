// The ioctl requests being sent in parts (ACIDFS_IOC_MORE, include/acidfs/
// ioctl.h), one per descriptor, held until their last part arrives — and
// what bounds the daemon's memory against callers who never send it.
//
// Bounds (a hostile local user may open many descriptors and send parts
// that never end):
//   - one request: kMaxJsonRequest bytes of JSON (STAT, TRANSACT, COMMIT:
//     parsing costs some 30x its size), kMaxPutRequest bytes of content;
//   - one uid: kMaxInFlightPerUid bytes of unfinished requests and requests
//     being run, over all its descriptors;
//   - everyone but root: kMaxInFlightTotal bytes together, so that other
//     users can never starve root;
//   - time: a request with no new part for kPartialIdleNs is dropped
//     (expire()), as is one whose descriptor is closed (drop()).
// Past a bound the caller gets a clear error (E2BIG for one request too
// large, ENOBUFS for too much in flight), and so does every further part
// of that request, up to its last; nobody else is affected.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/status.h"
#include "core/thread_annotations.h"

namespace acidfs {

inline constexpr size_t kMaxJsonRequest = 4u << 20;
inline constexpr size_t kMaxPutRequest = 64u << 20;
inline constexpr size_t kMaxInFlightPerUid = 64u << 20;
inline constexpr size_t kMaxInFlightTotal = 256u << 20;
inline constexpr int64_t kPartialIdleNs = 60ll * 1000000000;

// The largest payload request `cmd` may have.
size_t maxRequestBytes(unsigned cmd);

class IoctlParts {
 public:
  struct Limits {
    size_t perUid = kMaxInFlightPerUid;
    size_t total = kMaxInFlightTotal;
    int64_t idleNs = kPartialIdleNs;
  };
  IoctlParts() : IoctlParts(Limits{}) {}
  explicit IoctlParts(Limits limits);
  IoctlParts(const IoctlParts&) = delete;
  IoctlParts& operator=(const IoctlParts&) = delete;

  // Bytes that grow by appending. Past a few pages they live in an
  // anonymous mapping grown with mremap: no copy as it grows, resident
  // memory is exactly what was written, and it goes back to the system the
  // moment it is freed (malloc would keep it in its arenas).
  class Bytes {
   public:
    Bytes() = default;
    Bytes(Bytes&& other) noexcept;
    Bytes& operator=(Bytes&& other) noexcept;
    ~Bytes();
    // False when memory ran out (nothing appended).
    bool append(std::string_view data);
    std::string_view view() const;
    size_t size() const { return size_; }

   private:
    void release();
    std::string small_;        // while size_ <= kSmall
    char* mapped_ = nullptr;   // beyond: the mapping, of capacity_ bytes
    size_t capacity_ = 0;
    size_t size_ = 0;
  };

  // The bytes of a whole request, counted against its uid's budget until
  // this is destroyed (while the request runs).
  class Payload {
   public:
    Payload() = default;
    Payload(Payload&& other) noexcept;
    Payload& operator=(Payload&&) = delete;
    ~Payload();
    std::string_view bytes() const { return bytes_.view(); }

   private:
    friend class IoctlParts;
    IoctlParts* owner_ = nullptr;
    uint32_t uid_ = 0;
    Bytes bytes_;
  };

  // What to do with one part.
  struct Step {
    enum class Kind { kMore, kRun, kRefused } kind = Kind::kMore;
    Payload payload;      // kRun: the whole request
    Status refusal;       // kRefused: the error for the caller (E2BIG, ENOBUFS, ENOMEM)
  };

  // Takes one part of request `cmd` from `uid` on descriptor `fh`. `more`:
  // ACIDFS_IOC_MORE was set. A part of another request abandons the
  // descriptor's partial one.
  Step add(uint64_t fh, uint32_t uid, unsigned cmd, std::string_view data, bool more, int64_t nowNs);

  // The descriptor was closed: its partial request is dropped.
  void drop(uint64_t fh);
  // Drops partial requests with no part since `idleNs`. Returns how many.
  size_t expire(int64_t nowNs);

  // Bytes held for `uid`, and for everyone but root (for tests and status).
  size_t heldBy(uint32_t uid) const;
  size_t heldTotal() const;

 private:
  struct Partial {
    unsigned cmd = 0;
    uint32_t uid = 0;
    Bytes bytes;  // counted in the budget
    bool refused = false;  // refuse every further part, up to the last
    int64_t lastPartNs = 0;
  };
  bool reserveLocked(uint32_t uid, size_t bytes) REQUIRES(mutex_);
  void releaseLocked(uint32_t uid, size_t bytes) REQUIRES(mutex_);
  void release(uint32_t uid, size_t bytes) EXCLUDES(mutex_);

  const Limits limits_;
  mutable Mutex mutex_;
  std::unordered_map<uint64_t, Partial> partials_ GUARDED_BY(mutex_);  // by descriptor
  std::unordered_map<uint32_t, size_t> heldByUid_ GUARDED_BY(mutex_);  // no zero entries
  size_t heldTotal_ GUARDED_BY(mutex_) = 0;                            // root's excluded
};

}  // namespace acidfs
