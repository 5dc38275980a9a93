#include "fuse/ioctl_parts.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "acidfs/ioctl.h"

namespace acidfs {

namespace {

std::string mib(size_t bytes) { return std::to_string(bytes >> 20) + " MiB"; }

}  // namespace

size_t maxRequestBytes(unsigned cmd) { return cmd == ACIDFS_IOC_PUT ? kMaxPutRequest : kMaxJsonRequest; }

IoctlParts::IoctlParts(Limits limits) : limits_(limits) {}

IoctlParts::Payload::Payload(Payload&& other) noexcept
    : owner_(other.owner_), uid_(other.uid_), bytes_(std::move(other.bytes_)) {
  other.owner_ = nullptr;
}

IoctlParts::Payload::~Payload() {
  if (owner_) owner_->release(uid_, bytes_.size());
}

bool IoctlParts::reserveLocked(uint32_t uid, size_t bytes) {
  size_t& mine = heldByUid_[uid];
  const bool fits = mine + bytes <= limits_.perUid && (uid == 0 || heldTotal_ + bytes <= limits_.total);
  if (fits) {
    mine += bytes;
    if (uid != 0) heldTotal_ += bytes;
  } else if (mine == 0) {
    heldByUid_.erase(uid);
  }
  return fits;
}

void IoctlParts::releaseLocked(uint32_t uid, size_t bytes) {
  auto it = heldByUid_.find(uid);
  if (it == heldByUid_.end()) return;
  it->second -= std::min(bytes, it->second);
  if (it->second == 0) heldByUid_.erase(it);
  if (uid != 0) heldTotal_ -= std::min(bytes, heldTotal_);
}

void IoctlParts::release(uint32_t uid, size_t bytes) {
  MutexLock lock(mutex_);
  releaseLocked(uid, bytes);
}

// ---- Bytes ---------------------------------------------------------------------

namespace {
constexpr size_t kSmall = 64u << 10;
}

IoctlParts::Bytes::Bytes(Bytes&& other) noexcept { *this = std::move(other); }

IoctlParts::Bytes& IoctlParts::Bytes::operator=(Bytes&& other) noexcept {
  if (this == &other) return *this;
  release();
  small_ = std::move(other.small_);
  mapped_ = std::exchange(other.mapped_, nullptr);
  capacity_ = std::exchange(other.capacity_, 0);
  size_ = std::exchange(other.size_, 0);
  other.small_.clear();
  return *this;
}

IoctlParts::Bytes::~Bytes() { release(); }

void IoctlParts::Bytes::release() {
  if (mapped_) munmap(mapped_, capacity_);
  mapped_ = nullptr;
  capacity_ = size_ = 0;
  std::string().swap(small_);
}

bool IoctlParts::Bytes::append(std::string_view data) {
  const size_t need = size_ + data.size();
  if (!mapped_ && need <= kSmall) {
    small_.append(data);
    size_ = need;
    return true;
  }
  if (need > capacity_) {
    // Doubling costs only address space: pages count once written.
    size_t grown = std::max(need, std::max(capacity_ * 2, 2 * kSmall));
    grown = (grown + 4095) & ~size_t{4095};
    void* at = mapped_ ? mremap(mapped_, capacity_, grown, MREMAP_MAYMOVE)
                       : mmap(nullptr, grown, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (at == MAP_FAILED) return false;
    if (!mapped_) memcpy(at, small_.data(), size_);
    std::string().swap(small_);
    mapped_ = static_cast<char*>(at);
    capacity_ = grown;
  }
  memcpy(mapped_ + size_, data.data(), data.size());
  size_ = need;
  return true;
}

std::string_view IoctlParts::Bytes::view() const {
  return mapped_ ? std::string_view(mapped_, size_) : std::string_view(small_);
}

IoctlParts::Step IoctlParts::add(uint64_t fh, uint32_t uid, unsigned cmd, std::string_view data, bool more,
                                 int64_t nowNs) {
  Step step;
  {
    MutexLock lock(mutex_);
    auto it = partials_.find(fh);
    if (it != partials_.end() && it->second.cmd != cmd) {  // another request abandons this one
      releaseLocked(it->second.uid, it->second.bytes.size());
      partials_.erase(it);
      it = partials_.end();
    }
    Partial* partial = it == partials_.end() ? nullptr : &it->second;
    const size_t held = partial ? partial->bytes.size() : 0;
    auto refuse = [&](Status answer) REQUIRES(mutex_) {
      if (partial) releaseLocked(partial->uid, partial->bytes.size());
      if (more) {  // refuse every further part too, up to the last
        Partial& r = partials_[fh];
        r.bytes = Bytes();
        r.cmd = cmd;
        r.uid = uid;
        r.refused = true;
        r.lastPartNs = nowNs;
      } else {
        partials_.erase(fh);
      }
      step.kind = Step::Kind::kRefused;
      step.refusal = std::move(answer);
    };

    if (partial && partial->refused) {
      refuse(Status::Error(E2BIG, "an earlier part of this request was refused"));
    } else if (held + data.size() > maxRequestBytes(cmd)) {
      refuse(Status::Error(E2BIG, "request larger than " + mib(maxRequestBytes(cmd))));
    } else if (!reserveLocked(uid, data.size())) {
      const bool mine = heldByUid_.count(uid) && heldByUid_[uid] + data.size() > limits_.perUid;
      refuse(Status::Error(ENOBUFS, mine ? "this user has " + mib(limits_.perUid) + " of requests in flight already"
                                   : "the daemon holds " + mib(limits_.total) + " of unfinished requests"));
    } else if (more) {
      bool counted = true;
      if (!partial) {
        partial = &partials_[fh];
        partial->cmd = cmd;
        partial->uid = uid;
      } else if (partial->uid != uid) {
        // The descriptor passed to another uid (as for the last part below):
        // the request is now that uid's, and so are the bytes held for it,
        // which are then given back to the uid they are counted against.
        releaseLocked(partial->uid, held);
        partial->uid = uid;
        counted = reserveLocked(uid, held);
        if (!counted) {
          releaseLocked(uid, data.size());
          partial->bytes = Bytes();  // counted against nobody now
          refuse(Status::Error(ENOBUFS, "this user has " + mib(limits_.perUid) + " of requests in flight already"));
        }
      }
      if (counted) {
        partial->lastPartNs = nowNs;
        if (partial->bytes.append(data)) {
          step.kind = Step::Kind::kMore;
        } else {
          releaseLocked(uid, data.size());
          refuse(Status::Error(ENOMEM, "out of memory for this request"));
        }
      }
    } else {
      step.kind = Step::Kind::kRun;
      step.payload.owner_ = this;
      step.payload.uid_ = uid;
      if (partial) {
        // The partial's uid owns the bytes so far (the descriptor may have
        // passed to another process); the whole request counts against the
        // uid that runs it.
        if (partial->uid != uid) {
          releaseLocked(partial->uid, held);
          if (!reserveLocked(uid, held)) {
            releaseLocked(uid, data.size());
            partials_.erase(fh);
            step.payload.owner_ = nullptr;
            step.kind = Step::Kind::kRefused;
            step.refusal = Status::Error(ENOBUFS, "this user has " + mib(limits_.perUid) + " of requests in flight already");
          }
        }
        if (step.kind == Step::Kind::kRun) {
          step.payload.bytes_ = std::move(partial->bytes);
          partials_.erase(fh);
        }
      }
      if (step.kind == Step::Kind::kRun && !step.payload.bytes_.append(data)) {
        step.payload.owner_ = nullptr;
        releaseLocked(uid, step.payload.bytes_.size() + data.size());
        step.kind = Step::Kind::kRefused;
        step.refusal = Status::Error(ENOMEM, "out of memory for this request");
      }
    }
  }
  return step;
}

void IoctlParts::drop(uint64_t fh) {
  MutexLock lock(mutex_);
  auto it = partials_.find(fh);
  if (it == partials_.end()) return;
  releaseLocked(it->second.uid, it->second.bytes.size());
  partials_.erase(it);
}

size_t IoctlParts::expire(int64_t nowNs) {
  size_t dropped = 0;
  MutexLock lock(mutex_);
  for (auto it = partials_.begin(); it != partials_.end();) {
    if (nowNs - it->second.lastPartNs < limits_.idleNs) {
      ++it;
      continue;
    }
    releaseLocked(it->second.uid, it->second.bytes.size());
    it = partials_.erase(it);
    ++dropped;
  }
  return dropped;
}

size_t IoctlParts::heldBy(uint32_t uid) const {
  MutexLock lock(mutex_);
  auto it = heldByUid_.find(uid);
  return it == heldByUid_.end() ? 0 : it->second;
}

size_t IoctlParts::heldTotal() const {
  MutexLock lock(mutex_);
  return heldTotal_;
}

}  // namespace acidfs
