// acidfsd's -o parsing: every option is ours, a kernel flag or a libfuse
// option passed on, one that mount(8)/systemd acts on, or refused by name.
//
// What reaches us from fstab: mount(8) (libmount) turns the fstab field into
// canonical flags (rw or ro first, then nosuid, nodev, noexec, noatime,
// relatime, sync, dirsync, lazytime, nodiratime, mand...), expands user and
// users into noexec,nosuid,nodev, drops defaults, auto, noauto, comment= and
// x-*, and runs mount.fuse3(8), which drops user, users, nouser, auto, noauto,
// nofail and _netdev and appends dev,suid unless nodev or nosuid was given.
// systemd reads x-systemd.*, nofail, _netdev and noauto from fstab itself.
// Someone may also run acidfsd by hand with an fstab line's options, so each
// of those is handled here too, as mount(8) would.
#include "daemon/mount_options.h"

#include <cstdlib>
#include <sstream>
#include <string_view>

namespace acidfs {
namespace {

bool startsWith(const std::string& s, std::string_view prefix) { return s.compare(0, prefix.size(), prefix) == 0; }

bool isOneOf(const std::string& s, std::initializer_list<std::string_view> names) {
  for (std::string_view name : names)
    if (s == name) return true;
  return false;
}

// Kernel mount flags that libfuse 3.14 sets in mount(2) itself
// (lib/mount.c, mount_flags[]): the kernel enforces them (MS_RDONLY refuses
// changes with EROFS, MS_NOEXEC refuses execve, ...) and statvfs(2) and
// /proc/mounts show them. libfuse starts from nosuid,nodev; suid and dev
// lift that (fusermount3 refuses them to users other than root).
// sync and async are libfuse's too but handled below: see there.
bool isKernelFlag(const std::string& o) {
  return isOneOf(o, {"ro", "rw", "suid", "nosuid", "dev", "nodev", "exec", "noexec", "atime", "noatime", "dirsync"});
}

// libfuse 3.14 mount options we pass on unchanged (lib/mount.c,
// fuse_mount_opts[]; lib/fuse_lowlevel.c, fuse_ll_opts[]): the source name,
// SELinux labels, the mtab's record of the mounting user (mount(8) adds
// user=NAME for a user mount), allow_root, auto_unmount and max_read.
// Others it knows (subtype=, blkdev, blksize=) would contradict how acidfsd
// mounts (type fuse.acidfsd, no block device) and are refused as unknown.
bool isLibfuseOption(const std::string& o) {
  return isOneOf(o, {"allow_root", "auto_unmount"}) || startsWith(o, "fsname=") || startsWith(o, "max_read=") ||
         startsWith(o, "context=") || startsWith(o, "fscontext=") || startsWith(o, "defcontext=") ||
         startsWith(o, "rootcontext=") || startsWith(o, "user=");
}

// Options that say when and by whom a mount is made, acted on by mount(8)
// and systemd before acidfsd runs, and meaningless to a running mount:
// accepted and consumed, as mount(8) consumes them.
//   auto, noauto: whether `mount -a` (and systemd's local-fs.target) mounts it;
//   nofail: a failed mount does not fail the boot (mount -a, systemd);
//   _netdev: mounted after the network is up (systemd, mount -a -O);
//   nouser, nousers, noowner, nogroup: only root may mount and unmount it
//   (mount(8)'s default);
//   helper=, uhelper=: which mount.TYPE and umount.TYPE helper mount(8)
//   runs (libmount records them and hands them on to the helper);
//   comment=..., x-... (x-systemd.automount, x-mount.mkdir...), X-...: fstab
//   notes for mount(8) and systemd; libmount never hands them to helpers.
bool isForMountOrSystemd(const std::string& o) {
  return isOneOf(o, {"auto", "noauto", "nofail", "_netdev", "nouser", "nousers", "noowner", "nogroup"}) ||
         startsWith(o, "helper=") || startsWith(o, "uhelper=") || startsWith(o, "comment=") || startsWith(o, "x-") ||
         startsWith(o, "X-");
}

// Generic options of Linux filesystems (libmount's linux_flags_map, and
// ext4's acl/noacl) that ask for what acidfs does anyway: accepted, and
// nothing more to do. libfuse 3.14 knows none of them.
//   noacl: acidfs has no POSIX ACLs (system.posix_acl_* are EOPNOTSUPP);
//   lazytime, nolazytime: lazytime lets a filesystem keep timestamp updates
//     in memory for a while; acidfs writes mtime and ctime in the
//     transaction of the change, and access times in batches (AccessTimes),
//     either way;
//   nomand: no mandatory locks (Linux has none since 5.15);
//   noiversion: no i_version counter (the kernel clears SB_I_VERSION for FUSE);
//   silent, loud: how much the kernel prints while mounting (MS_SILENT);
//   symfollow: symbolic links are followed (the default);
//   dax=never: no direct access to file pages (FUSE offers it on virtiofs only).
bool isAlreadySo(const std::string& o) {
  return isOneOf(o, {"noacl", "lazytime", "nolazytime", "nomand", "noiversion", "silent", "loud", "symfollow",
                     "dax=never"});
}

// Options acidfs cannot honour, with the reason given to the user.
const char* whyRefused(const std::string& o) {
  if (o == "diratime") return "acidfs does not update access times of directories";
  if (o == "mand") return "mandatory locks are not supported (Linux removed them in 5.15)";
  if (o == "acl") return "acidfs has no POSIX ACLs (permissions are the mode bits; noacl is accepted)";
  if (o == "iversion") return "acidfs keeps no i_version change counter (the kernel clears it for FUSE mounts)";
  if (o == "nosymfollow") return "libfuse 3.14 cannot set MS_NOSYMFOLLOW on a mount";
  if (o == "dax" || startsWith(o, "dax="))
    return "direct access maps a device's memory, which acidfs has none of (FUSE offers it on virtiofs only; "
           "dax=never is accepted)";
  if (o == "inlinecrypt") return "inline encryption is a block device's, for fscrypt: acidfs uses neither";
  if (o == "remount")
    return "acidfsd makes a new mount; to change a mount's options, unmount it and mount the store again";
  return nullptr;
}

// Ours with a value: commit_interval=, attr_timeout=, entry_timeout=,
// max_write=, readdirplus=, trash_days=, feed_days=, and a database store's chunks=, coherence_ms=,
// db_timeout=, session_timeout=.
bool isDatabaseOption(const std::string& o) {
  return startsWith(o, "chunks=") || startsWith(o, "coherence_ms=") || startsWith(o, "db_timeout=") ||
         startsWith(o, "session_timeout=");
}
bool isValueOption(const std::string& o) {
  return startsWith(o, "commit_interval=") || startsWith(o, "attr_timeout=") || startsWith(o, "entry_timeout=") ||
         startsWith(o, "max_write=") || startsWith(o, "readdirplus=") || startsWith(o, "trash_days=") ||
         startsWith(o, "feed_days=") || isDatabaseOption(o);
}

// A whole number in [low, high], or EINVAL naming the option and the range.
Result<long> wholeNumber(const std::string& option, const std::string& value, long low, long high, const char* unit) {
  char* end = nullptr;
  const long n = strtol(value.c_str(), &end, 10);
  if (value.empty() || *end != '\0' || n < low || n > high)
    return Status::Error(EINVAL, option.substr(0, option.find('=')) + " must be a whole number of " + unit + " from " +
                                     std::to_string(low) + " to " + std::to_string(high));
  return n;
}

Status parseDatabaseOption(const std::string& option, const std::string& value, MountOptions& options) {
  options.databaseOptionGiven = true;
  if (startsWith(option, "chunks=")) {
    if (value != "db" && !startsWith(value, "rados:"))
      return Status::Error(EINVAL, "chunks must be db or rados:POOL[,conf=FILE][,id=NAME]");
    options.chunks = value;
  } else if (startsWith(option, "coherence_ms=")) {
    ACIDFS_ASSIGN_OR_RETURN(long ms, wholeNumber(option, value, 0, 3600000, "milliseconds"));
    options.coherenceMs = static_cast<int>(ms);
  } else if (startsWith(option, "db_timeout=")) {
    ACIDFS_ASSIGN_OR_RETURN(long seconds, wholeNumber(option, value, 1, 86400, "seconds"));
    options.dbTimeoutSeconds = static_cast<int>(seconds);
  } else {
    ACIDFS_ASSIGN_OR_RETURN(long seconds, wholeNumber(option, value, 2, 86400, "seconds"));
    options.sessionTimeoutSeconds = static_cast<int>(seconds);
  }
  return Status::OK();
}

Status parseValueOption(const std::string& option, MountOptions& options) {
  const std::string value = option.substr(option.find('=') + 1);
  char* end = nullptr;
  if (isDatabaseOption(option)) return parseDatabaseOption(option, value, options);
  if (startsWith(option, "commit_interval=")) {
    long seconds = strtol(value.c_str(), &end, 10);
    if (value.empty() || *end != '\0' || seconds < 1 || seconds > 86400)
      return Status::Error(EINVAL, "commit_interval must be a whole number of seconds from 1 to 86400");
    options.commitIntervalSeconds = static_cast<int>(seconds);
  } else if (startsWith(option, "attr_timeout=") || startsWith(option, "entry_timeout=")) {
    double seconds = strtod(value.c_str(), &end);
    if (value.empty() || *end != '\0' || seconds < 0 || seconds > 3600)
      return Status::Error(EINVAL, option + ": timeout must be 0 to 3600 seconds");
    (option[0] == 'a' ? options.attrTimeout : options.entryTimeout) = seconds;
  } else if (startsWith(option, "max_write=")) {
    unsigned long bytes = strtoul(value.c_str(), &end, 10);
    if (value.empty() || *end != '\0' || bytes < 4096 || bytes > (1u << 20))
      return Status::Error(EINVAL, "max_write must be 4096 to 1048576 bytes");
    options.maxWrite = bytes;
  } else if (startsWith(option, "trash_days=")) {
    ACIDFS_ASSIGN_OR_RETURN(long days, wholeNumber(option, value, 0, 3650, "days"));
    options.trashDays = static_cast<int>(days);
  } else if (startsWith(option, "feed_days=")) {
    ACIDFS_ASSIGN_OR_RETURN(long days, wholeNumber(option, value, 0, 3650, "days"));
    options.feedDays = static_cast<int>(days);
  } else {
    if (value != "yes" && value != "no") return Status::Error(EINVAL, "readdirplus must be yes or no");
    options.readdirplus = value == "yes";
  }
  return Status::OK();
}

}  // namespace

Result<MountOptions> parseMountOptions(const std::vector<std::string>& lists) {
  MountOptions options;
  bool defaults = false;
  for (const std::string& list : lists) {
    std::stringstream in(list);
    std::string option;
    while (std::getline(in, option, ',')) {
      if (option.empty()) continue;
      if (option == "sync" || option == "async") {
        // Ours: with sync each write() is committed and durable before it
        // returns. Not passed on as MS_SYNCHRONOUS: on a FUSE mount the
        // kernel would only follow every write() with an FSYNC request, a
        // second WAL sync for a write already durable; ours gives all that
        // sync promises. async (the default) turns it off again.
        options.sync = option == "sync";
      } else if (option == "debug") {
        options.debug = true;
      } else if (option == "default_permissions") {
        // always on (main.cc)
      } else if (option == "allow_other") {
        options.allowOther = true;
        options.fuseOptions.push_back(option);
      } else if ((startsWith(option, "conf=") || startsWith(option, "id=")) && startsWith(options.chunks, "rados:")) {
        // SPEC §9 writes chunks=rados:POOL,conf=FILE,id=NAME, which the
        // commas of an option list split: the parts join it again here.
        options.chunks += "," + option;
      } else if (isValueOption(option)) {
        ACIDFS_RETURN_IF_ERROR(parseValueOption(option, options));
      } else if (isKernelFlag(option)) {
        if (option == "ro" || option == "rw") options.readOnly = option == "ro";
        // FUSE inodes are S_NOATIME: the kernel never moves access times
        // itself, the daemon does (relatime). MS_NOATIME shows in statvfs.
        if (option == "noatime" || option == "atime") options.atime = option == "atime";
        // The kernel does nothing more for a FUSE mount with MS_DIRSYNC (its
        // directory changes are requests answered when done): the store
        // makes every transaction durable before it answers (main.cc).
        if (option == "dirsync") options.dirsync = true;
        options.fuseOptions.push_back(option);
      } else if (option == "relatime" || option == "norelatime") {
        // Our access-time behaviour already (FuseFs::noteAccess). Like the
        // kernel's MS_RELATIME, relatime does not undo noatime; norelatime
        // alone leaves relatime, as on every Linux filesystem since 2.6.30
        // (the kernel's default unless strictatime is given).
      } else if (option == "strictatime" || option == "nostrictatime") {
        // The kernel cannot be told (libfuse 3.14 knows no MS_STRICTATIME),
        // nor need it be: FUSE leaves access times to the daemon. Reads
        // served from the kernel's page cache never reach us; the close of
        // a descriptor that read does, and moves atime too.
        options.strictAtime = option == "strictatime";
      } else if (isAlreadySo(option)) {
        // see isAlreadySo
      } else if (option == "nodiratime") {
        // Already so: acidfs never moves the access time of a directory.
      } else if (option == "defaults") {
        // mount(8): rw,suid,dev,exec,auto,nouser,async, the baseline that
        // the other options of the list change, wherever they stand.
        defaults = true;
      } else if (option == "user" || option == "users") {
        // mount(8) decides whether an ordinary user may mount (user) and
        // unmount (users); both imply noexec,nosuid,nodev, which a later
        // exec, suid or dev lifts. mount(8) has already written them out and
        // mount.fuse3 drops these two; given by hand, they take effect here.
        for (const char* implied : {"noexec", "nosuid", "nodev"}) options.fuseOptions.push_back(implied);
      } else if (option == "owner" || option == "group") {
        // mount(8): the owner (a member of the group) of the device may
        // mount it; both imply nosuid,nodev, which a later suid or dev lifts.
        for (const char* implied : {"nosuid", "nodev"}) options.fuseOptions.push_back(implied);
      } else if (isLibfuseOption(option)) {
        options.fuseOptions.push_back(option);
      } else if (isForMountOrSystemd(option)) {
        // acted on by mount(8) and systemd, see isForMountOrSystemd
      } else if (const char* why = whyRefused(option)) {
        return Status::Error(EINVAL, "mount option '" + option + "' is not supported: " + why);
      } else {
        return Status::Error(EINVAL, "unknown mount option '" + option + "' (acidfsd(8) lists the options)");
      }
    }
  }
  // First, so that every explicit flag overrides it: libfuse applies them in order.
  if (defaults) options.fuseOptions.insert(options.fuseOptions.begin(), {"rw", "suid", "dev", "exec"});
  // strictatime clears noatime wherever it stands, as MS_STRICTATIME clears
  // MNT_NOATIME in the kernel; so the mount does not show noatime either.
  if (options.strictAtime) {
    options.atime = true;
    options.fuseOptions.push_back("atime");
  }
  return options;
}

}  // namespace acidfs
