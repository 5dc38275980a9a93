// acidfsd's -o options. Every option a user may write is either
//  - ours, taken out and recorded here (sync, commit_interval=SECS, debug,
//    attr_timeout=SECS, entry_timeout=SECS, max_write=BYTES, readdirplus=...,
//    strictatime),
//  - a generic option of Linux filesystems that asks for what acidfs does
//    anyway (relatime, norelatime, noacl, lazytime, ...), accepted,
//  - a kernel mount flag passed to libfuse, which sets it in mount(2) so the
//    kernel enforces it (ro, rw, suid, nosuid, dev, nodev, exec, noexec,
//    atime, noatime, dirsync), some also recorded here (ro, noatime),
//  - a libfuse mount option (allow_other, fsname=, ...), passed through,
//  - an option only mount(8) or systemd acts on (auto, nofail, x-*, ...),
//    accepted and consumed,
//  - or refused: EINVAL with a message naming the option. Nothing is dropped
//    unsaid, and no option we have not checked reaches libfuse.
// Later options override earlier ones (ro,rw is read-write), as with mount(8).
// mount_options.cc has the table, with who acts on each option.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"

namespace acidfs {

struct MountOptions {
  bool sync = false;     // sync: every change durable when its call returns (async: off)
  bool dirsync = false;  // dirsync: every transaction durable when it returns
  int commitIntervalSeconds = 5;
  int trashDays = 1;  // trash_days=: how long dropped versions are kept (SPEC §10); 0 = off
  int feedDays = 1;   // feed_days=: how long the change feed keeps changes (SPEC §11); 0 = off
  bool debug = false;
  bool allowOther = false;
  // ro: a read-only mount. The kernel refuses POSIX changes itself (EROFS,
  // MS_RDONLY); the daemon refuses ioctl changes and writes no access times.
  bool readOnly = false;
  // Kernel caching and transfer size (each measured in bench/README.md).
  double attrTimeout = 60.0;
  double entryTimeout = 60.0;
  size_t maxWrite = 1 << 20;
  bool readdirplus = true;
  bool atime = true;  // relatime; "noatime" turns access-time updates off
  // strictatime: every read that reaches the daemon, and every close of a
  // descriptor open for reading, moves atime. Implies atime (as the kernel's
  // MS_STRICTATIME clears MNT_NOATIME, wherever it stands).
  bool strictAtime = false;
  // A database store (SPEC §9); main.cc refuses them for a directory store.
  // chunks=: where file contents go, "db" (the default) or
  // "rados:POOL[,conf=FILE][,id=NAME]" (its parts rejoined); coherence_ms=:
  // how soon another host's commits show in stat and readdir; db_timeout=: how long a call waits for an unreachable
  // database before EIO; session_timeout=: how long after a daemon stopped
  // heartbeating its open-unlinked files are reclaimed.
  std::string chunks;  // empty: not given
  int coherenceMs = 1000;
  int dbTimeoutSeconds = 30;
  int sessionTimeoutSeconds = 30;
  bool databaseOptionGiven = false;  // any of the four
  // For libfuse (fuse_session_new), in order; default_permissions, fsname
  // and subtype are added by main.cc.
  std::vector<std::string> fuseOptions;
};

// Parses the comma-separated lists given with -o (each may hold several).
// Errors: EINVAL for a bad value, an unknown option or one acidfs refuses,
// with a message naming the option.
Result<MountOptions> parseMountOptions(const std::vector<std::string>& lists);

}  // namespace acidfs
