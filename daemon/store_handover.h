// Opening a store that the daemon before us may still be closing.
//
// umount(2) of a FUSE mount returns once the kernel has let go of the mount;
// the kernel asks nothing of the daemon first (FUSE_DESTROY is sent to
// fuseblk mounts only), so the daemon that served it learns of the unmount
// afterwards (ENODEV from /dev/fuse) and only then commits and closes the
// store, releasing STORE/LOCK some tens of milliseconds later. A mount
// straight after umount must not fail for that (issue 18), so acidfsd, and
// only acidfsd, waits for the lock — for a bounded time, saying so — instead
// of refusing at once as Store::open does for every other caller (tests,
// `acidfs fsck`). A store that is still mounted is refused at once: its
// daemon is serving, not closing (SPEC §1, one daemon per store).
// DESIGN.md, "Unmounting and the store's lock", has the reasoning.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "core/status.h"
#include "core/store.h"

namespace acidfs {

// How long acidfsd waits at most for the store's previous holder, and when it
// says that it is waiting (the previous daemon usually lets go within 100 ms).
constexpr std::chrono::milliseconds kHandoverBound{10000};
constexpr std::chrono::milliseconds kHandoverQuietWait{500};

// Store::open, but where the store is in use (EBUSY) and not mounted, tries
// again until `bound` has passed, with a line on stderr once `quiet` has
// passed. Errors: those of Store::open; EBUSY, as Store::open words it, for a
// store that is mounted or still held when the bound has passed.
Result<std::unique_ptr<Store>> openStoreAfterPreviousDaemon(const std::string& path, const StoreOptions& options,
                                                            std::chrono::milliseconds bound = kHandoverBound,
                                                            std::chrono::milliseconds quiet = kHandoverQuietWait);

// Whether a FUSE mount in our mount namespace (/proc/self/mountinfo) serves
// the store at `path`: an acidfsd mount whose source (fsname=, which acidfsd
// sets to the store's absolute path) names that directory, or whose mount
// point is the one the store's LOCK says its holder serves (recordUse: so a
// mount given another fsname= is recognised too).
bool storeIsMounted(const std::string& path);

// What acidfsd records in STORE/LOCK once mounted (Store::recordUse).
std::string mountedOnRecord(const std::string& mountpoint);

}  // namespace acidfs
