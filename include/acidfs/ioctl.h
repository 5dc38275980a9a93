/*
 * acidfs/ioctl.h — the ioctl interface of an acidfs mount (SPEC §4.3).
 * Public, stable ABI; C and C++. Version 2: version 1 and LOG, UNDELETE,
 * GC and CLONE. The daemon answers every version from ACIDFS_IOCTL_OLDEST_VERSION
 * to ACIDFS_IOCTL_VERSION alike: a client built for version 1 still works.
 *
 * Every request is an ioctl(2) on a descriptor opened anywhere inside the
 * mount (a file or a directory, O_RDONLY is enough: each operation checks
 * the caller's own permissions, SPEC §6). Every request passes one
 * struct acidfs_ioc_msg, read and written by the daemon:
 *
 *   version  in:  ACIDFS_IOCTL_VERSION
 *   flags    in:  0, or ACIDFS_IOC_MORE (below)
 *   length   in:  bytes of data sent; out: bytes of data returned
 *   result   out: 0 on success, else a positive errno:
 *                   ECANCELED, EEXIST, ENOENT for a conflict (data: the
 *                   conflict report of SPEC §4, one JSON object);
 *                   anything else for an error (data: {"error": "..."}).
 *   data     in and out: UTF-8 JSON text (raw bytes for PUT), not
 *            NUL-terminated.
 *
 * ioctl() itself returns 0 once the daemon has answered, whatever `result`
 * says; it returns -1 only when the request never reached acidfs (ENOTTY:
 * not an acidfs mount; EPROTO: another version; EINVAL: a bad length).
 *
 * Longer payloads (a transaction of thousands of ops, the bytes of a PUT)
 * go in several calls on the SAME descriptor: every call but the last sets
 * ACIDFS_IOC_MORE, and the daemon only appends its data (result 0, length
 * 0 out). The last call, without the flag, runs the request on everything
 * sent. Nothing is applied before that call; closing the descriptor drops a
 * partial request, and so does 60 s with no new part. One partial request
 * per descriptor at a time.
 *
 * Bounds (the daemon's memory against callers who never finish): a STAT,
 * TRANSACT or COMMIT request is at most 4 MiB of JSON, nested at most 16
 * deep, a TRANSACT at most 10,000 ops (E2BIG past the size, EINVAL past the
 * rest); a PUT is at most 64 MiB. One uid's unfinished and running
 * requests together hold at most 64 MiB, all users' but root's 256 MiB: a
 * part past either bound is answered ENOBUFS (try again once your other
 * requests are done). Once a part is refused, so is every further part of
 * that request, up to its last. A mount with -o ro answers TRANSACT, PUT,
 * COMMIT, UNDELETE, CLONE and a GC freeze or thaw with EROFS.
 *
 * In a conflict report, "found" is "unreadable" (not a blobId) where the
 * caller may not read the file at that path: a blobId tells about content.
 *
 * Requests and their JSON (paths are absolute within the mount: "/a/b.txt"
 * is MOUNTPOINT/a/b.txt; a blobId is 32 lowercase hex digits):
 *
 *   ACIDFS_IOC_STAT      in  {"path": "/a"}
 *                        out {"path","blobId"(null for non-files),"size",
 *                             "mode","uid","gid","mtime"(ns),"ino", and
 *                             (version 2) "version" (user.acidfs.version;
 *                             null for non-files)}
 *   ACIDFS_IOC_TRANSACT  in  the transaction array of SPEC §5:
 *                        [{"op":"move"|"copy"|"delete",
 *                          "source":{"path":..., "blobId": optional},
 *                          "dest":{"path":..., "basis": optional,
 *                                  null (must not exist) or a blobId}}]
 *                        and (version 2) {"op":"commit","blobId": a blob the
 *                        caller PUT, "dest":{"path":...,"basis":...}}: that
 *                        blob becomes dest's content as COMMIT would make it
 *                        (CAS_CONFLICT when the basis fails), so several
 *                        files' new contents land together or not at all;
 *                        (version 2) or {"txnId": ID, "ops": [...]}: see
 *                        txnId below
 *                        out {"applied": N}
 *   ACIDFS_IOC_PUT       in  the bytes of the content (any length, by MORE)
 *                        out {"blobId": ..., "size": N}; the blob is held
 *                            by a lease of the caller's until COMMIT
 *                            consumes it or the lease expires
 *   ACIDFS_IOC_COMMIT    in  {"path":..., "blobId":..., "basis": absent key =
 *                             anything, null = must not exist, or a blobId,
 *                             "mode": optional, for a new file (default 0644),
 *                             "txnId": optional (version 2),
 *                             "expiresAt": optional (version 2), seconds since
 *                             the epoch: user.acidfs.expires_at set in the
 *                             same transaction}
 *                        out the STAT object of the path afterwards
 *
 *   txnId (SPEC §11): 1-64 printable ASCII bytes. A TRANSACT or COMMIT
 *   whose txnId the same uid used within 24 h applies nothing and answers
 *   exactly as the first did (result and JSON), across a daemon restart
 *   too: a client that lost a reply retries safely. A first request that
 *   failed transiently (EIO, ENOSPC, EBUSY, ...) left no outcome, and a
 *   repeat runs; a conflict or a refusal is an outcome and is repeated.
 *   ACIDFS_IOC_STATUS    in  nothing (length 0)
 *                        out the daemon's counters, one JSON object
 *
 * History (SPEC §10; version 2):
 *
 *   ACIDFS_IOC_LOG       in  {"path": "/a", "skip": optional count}
 *                        out {"versions": [VERSION...], "more": bool}: the
 *                            versions the path has had (it need not exist
 *                            now), newest first, from the skip-th on, as
 *                            many as fit one answer; "more": ask again with
 *                            skip + the number returned. Only versions the
 *                            caller could read when they were replaced.
 *                        VERSION {"id" (32 hex digits), "blobId" (null: not
 *                            a file), "size","mode","uid","gid","mtime"(ns),
 *                            "time" (ns, when it was replaced), "cause":
 *                            "unlink"|"rmdir"|"rename"|"truncate"|"write",
 *                            "replacedBy" (a blobId or null), "exists" (the
 *                            file it was a version of still exists)}
 *   ACIDFS_IOC_UNDELETE  in  {"path": "/a", "dest": optional (default path),
 *                             "blobId": optional, "id": optional,
 *                             "force": optional bool}
 *                        Brings back the newest version of path (with that
 *                        blobId, or that id, when given) at dest, in one
 *                        transaction: dest must not exist (else the
 *                        DEST_EXISTS conflict) unless force, which replaces
 *                        a file. A directory comes back with its tree.
 *                        out the STAT object of dest
 *   ACIDFS_IOC_GC        in  {} for the status, {"freeze": true|false} to
 *                            stop or resume all reclaiming (root or the
 *                            mount's owner only, else EPERM)
 *                        out {"frozen","trashDays","trashVersions","trashBytes"}
 *   ACIDFS_IOC_CLONE     in  {"source": "/a", "dest": "/b", "readonly": optional bool}
 *                        Makes dest a copy of the tree at source as it is at
 *                        one instant, sharing all content, in one
 *                        transaction: dest must not exist (else DEST_EXISTS).
 *                        readonly: every change under dest is refused with
 *                        EROFS, through every door, until
 *                        in  {"dest": "/b", "writable": true}
 *                        out for a clone: the STAT object of dest, and
 *                            "entries" (names made), "bytes" (content shared);
 *                            for writable: {"changed": inodes}
 *
 * Coordination (SPEC §11; version 2):
 *
 *   ACIDFS_IOC_FEED      in  {"path": optional prefix (default "/"),
 *                             "from": optional seq (absent: from now on),
 *                             "index": optional, records of `from` already
 *                             had, "waitMs": optional, up to 1000: with
 *                             nothing to show, wait that long for a commit}
 *                        out {"changes": [{"seq","op","path","to"(renames),
 *                             "blobId"(when there is one the caller may
 *                             read),"uid","time"(ns)}...], "next": seq,
 *                             "index": n — ask again from there —, "gone":
 *                             true when `from` is older than the feed keeps
 *                             (nothing else is answered then)}
 *                        op: create, mkdir, symlink, write, delete, rmdir,
 *                        rename, exchange, link, attr. Changes in commit order;
 *                        only those under directories the caller may list.
 *
 * From Python (see examples/acidfs_ioctl.py):
 *   import fcntl, os, struct, json
 *   msg = bytearray(ACIDFS_IOC_MSG_SIZE)           # mutable: no size limit
 *   struct.pack_into("<IIIi", msg, 0, 1, 0, len(payload), 0)
 *   msg[16:16 + len(payload)] = payload
 *   fcntl.ioctl(fd, ACIDFS_IOC_STAT, msg)          # fills msg in place
 *   version, flags, length, result = struct.unpack_from("<IIIi", msg, 0)
 *   reply = json.loads(msg[16:16 + length])
 */
#ifndef ACIDFS_IOCTL_H
#define ACIDFS_IOCTL_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define ACIDFS_IOCTL_VERSION 2
#define ACIDFS_IOCTL_OLDEST_VERSION 1

/* _IOC_SIZE allows at most 16383 bytes per request: header + data. */
#define ACIDFS_IOC_DATA_MAX 16352
#define ACIDFS_IOC_MSG_SIZE (16 + ACIDFS_IOC_DATA_MAX)

/* flags */
#define ACIDFS_IOC_MORE 0x1u /* more data follows in the next call */

struct acidfs_ioc_msg {
  __u32 version;
  __u32 flags;
  __u32 length;
  __s32 result;
  char data[ACIDFS_IOC_DATA_MAX];
};

#define ACIDFS_IOC_MAGIC 0xAF
#define ACIDFS_IOC_STAT _IOWR(ACIDFS_IOC_MAGIC, 1, struct acidfs_ioc_msg)
#define ACIDFS_IOC_TRANSACT _IOWR(ACIDFS_IOC_MAGIC, 2, struct acidfs_ioc_msg)
#define ACIDFS_IOC_PUT _IOWR(ACIDFS_IOC_MAGIC, 3, struct acidfs_ioc_msg)
#define ACIDFS_IOC_COMMIT _IOWR(ACIDFS_IOC_MAGIC, 4, struct acidfs_ioc_msg)
#define ACIDFS_IOC_STATUS _IOWR(ACIDFS_IOC_MAGIC, 5, struct acidfs_ioc_msg)
#define ACIDFS_IOC_LOG _IOWR(ACIDFS_IOC_MAGIC, 6, struct acidfs_ioc_msg)
#define ACIDFS_IOC_UNDELETE _IOWR(ACIDFS_IOC_MAGIC, 7, struct acidfs_ioc_msg)
#define ACIDFS_IOC_GC _IOWR(ACIDFS_IOC_MAGIC, 8, struct acidfs_ioc_msg)
#define ACIDFS_IOC_CLONE _IOWR(ACIDFS_IOC_MAGIC, 9, struct acidfs_ioc_msg)
#define ACIDFS_IOC_FEED _IOWR(ACIDFS_IOC_MAGIC, 10, struct acidfs_ioc_msg)

#ifdef __cplusplus
static_assert(sizeof(struct acidfs_ioc_msg) == ACIDFS_IOC_MSG_SIZE, "acidfs_ioc_msg layout");
static_assert(ACIDFS_IOC_MSG_SIZE < (1 << _IOC_SIZEBITS), "an ioctl carries at most 16383 bytes");
#endif

#endif /* ACIDFS_IOCTL_H */
