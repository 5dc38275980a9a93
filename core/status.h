// The one result type of acidfs: a Status carries an errno, a message and,
// for a failed precondition, the full conflict report of SPEC §4, or marks a
// transient lock conflict that the transaction runner retries (Retry). The FUSE
// layer turns it into fuse_reply_err(errno()), the tool into an exit status
// (conflict → 1, anything else → 2); there is no second error vocabulary.
#pragma once

#include <cerrno>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "core/id128.h"

namespace acidfs {

// SPEC §4 conflict codes. Each maps to one errno (conflictErrno).
enum class ConflictCode {
  kSourceNotFound,  // ENOENT
  kSourceChanged,   // ECANCELED
  kDestExists,      // EEXIST
  kDestNotFound,    // ENOENT
  kDestChanged,     // ECANCELED
  kCasConflict,     // ECANCELED
};

const char* conflictCodeName(ConflictCode code);
int conflictErrno(ConflictCode code);

// "ENOENT" for ENOENT; "errno 4711" for a number with no name (glibc's
// strerrorname_np returns NULL for those).
std::string errnoName(int err);

// What a report shows as `found` when it is withheld (see foundWithheld).
inline constexpr char kFoundWithheld[] = "unreadable";

// The structured report of a failed precondition. `expected`/`found` are
// blobIds; nullopt is JSON null ("must not exist" / "does not exist").
struct ConflictReport {
  ConflictCode code;
  std::string path;  // absolute within the mount: "/a/b.txt"
  std::optional<Id128> expected;
  std::optional<Id128> found;
  int operationIndex = 1;  // counts from 1
  // The caller may not read what is at `path`: its blobId is not theirs to
  // learn (SPEC §6), so `found` is withheld and shows as "unreadable".
  // Invariant: foundWithheld implies !found.
  bool foundWithheld = false;

  // {"code":"DEST_CHANGED","path":"/a","expected":"<id>|null","found":...,"operationIndex":2}
  // Bytes of `path` that are not UTF-8 (file names are bytes) show as U+FFFD.
  std::string toJson() const;
};

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  static Status OK() { return Status(); }
  static Status Error(int err, std::string message) {
    Status s;
    s.errno_ = err;
    s.message_ = std::move(message);
    return s;
  }
  static Status Conflict(ConflictReport report);
  // A lock conflict, deadlock or lost race: the transaction runner runs the
  // body again. A kind of its own, so that no errno a body returns (EDEADLK
  // from somewhere else, say) is retried by mistake. Its errnum() is EDEADLK
  // should one ever escape; the runner answers EBUSY once it gives up.
  static Status Retry(std::string message) {
    Status s = Error(EDEADLK, std::move(message));
    s.retry_ = true;
    return s;
  }
  // The current errno, with "what: strerror" as the message. Read errno
  // right after the failing call.
  static Status FromErrno(const std::string& what);

  bool ok() const { return errno_ == 0; }
  int errnum() const { return errno_; }
  const std::string& message() const { return message_; }
  bool isConflict() const { return conflict_.has_value(); }
  const std::optional<ConflictReport>& conflict() const { return conflict_; }
  bool isRetry() const { return retry_; }

  // "ENOENT: no such file /a/b" — for logs and the tool's one-line errors.
  std::string toString() const;
  // The same status, its message led by what the caller was doing:
  // "listing a directory: <message>". OK stays OK.
  Status withContext(std::string_view what) const;

 private:
  int errno_ = 0;
  std::string message_;
  std::optional<ConflictReport> conflict_;
  bool retry_ = false;  // implies errno_ == EDEADLK
};

// A value or the Status that explains its absence.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}
  Result(Status status) : status_(std::move(status)) {}

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  T& value() { return *value_; }
  const T& value() const { return *value_; }
  T& operator*() { return *value_; }
  const T& operator*() const { return *value_; }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }

 private:
  Status status_;
  std::optional<T> value_;
};

// Early return on a failed Status / Result.
#define ACIDFS_RETURN_IF_ERROR(expr)          \
  do {                                        \
    ::acidfs::Status _st = (expr);            \
    if (!_st.ok()) return _st;                \
  } while (0)

#define ACIDFS_CONCAT_INNER(a, b) a##b
#define ACIDFS_CONCAT(a, b) ACIDFS_CONCAT_INNER(a, b)
#define ACIDFS_ASSIGN_OR_RETURN(lhs, expr) \
  ACIDFS_ASSIGN_OR_RETURN_IMPL(ACIDFS_CONCAT(_res_, __LINE__), lhs, expr)
#define ACIDFS_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) return tmp.status();                \
  lhs = std::move(tmp.value())

}  // namespace acidfs
