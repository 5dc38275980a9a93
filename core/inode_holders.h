// Who holds inodes besides their names: open descriptors and, on a mount,
// the kernel's references (fuse/inode_table.h). The namespace asks when an
// operation takes an inode's last name: a held inode lives on as an orphan
// until its holders let go; one nobody holds is deleted in that same
// transaction.
#pragma once

#include <cstdint>

#include "core/records.h"

namespace acidfs {

class InodeHolders {
 public:
  // How the last name went. kRemoved (unlink, rmdir, a transact delete): a
  // path walk that found the name just before may now find the inode gone,
  // which is the order "removed, then opened". kReplaced (a rename onto the
  // name): the name never stops existing, so a walk that found the old
  // inode must still be able to open it.
  enum class LastName { kRemoved, kReplaced };

  virtual ~InodeHolders() = default;

  // Asked inside the transaction that takes `ino`'s last name (again on
  // every retry). True: keep it as an orphan. False: it is deleted in that
  // transaction, and the holders admit no new holder of it until settled()
  // is called for that attempt, once it has committed or been abandoned.
  virtual bool keep(uint64_t ino, const InodeRecord& inode, LastName how) = 0;
  virtual void settled(uint64_t ino, const InodeRecord& inode, LastName how, bool committed) = 0;
  // Whether an orphan is still held: after an operation that made it, in
  // case its holders let go meanwhile.
  virtual bool holds(uint64_t ino) = 0;
};

}  // namespace acidfs
