// The kernel's readahead for the mount, raised to the largest read request.
//
// A FUSE mount's readahead starts at the kernel's default of 128 KiB (the
// mount's backing device info, /sys/class/bdi/MAJ:MIN), however large the
// requests the daemon accepts (max_read, max_pages). A sequential read of
// a file whose pages are not cached then comes as 128-256 KiB requests, and
// each pays the per-request work again: the inode, blob and page records,
// a reply. Raised to the largest request (1 MiB by default), a cold 1 GiB
// read sends a quarter of the requests (bench/README.md, issue 12).
#pragma once

#include <sys/types.h>

#include <cstddef>

namespace acidfs {

// Sets the readahead of the mount on device `mountDevice` (st_dev of the
// mount point) to `bytes`, when it is lower. Only root may: for anyone else,
// and where sysfs is missing, the kernel's default stays and a debug line
// says so. Nothing here can fail the mount.
void raiseReadahead(dev_t mountDevice, size_t bytes);

}  // namespace acidfs
