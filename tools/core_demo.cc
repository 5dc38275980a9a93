// acidfs-core-demo STORE: shows the core's compare-and-swap and atomic
// transactions on a store directory, printing each step and its result.
// (The mount, acidfsd, comes with the FUSE frontend.)
#include <cstdio>
#include <string>

#include "core/store.h"

using namespace acidfs;

namespace {
void show(const char* step, const Status& s) {
  if (s.ok())
    printf("%-58s ok\n", step);
  else if (s.isConflict())
    printf("%-58s conflict %s\n", step, s.conflict()->toJson().c_str());
  else
    printf("%-58s error %s\n", step, s.toString().c_str());
}
}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s STORE\n", argv[0]);
    return 2;
  }
  auto opened = Store::open(argv[1]);
  if (!opened.ok()) {
    fprintf(stderr, "acidfs-core-demo: %s\n", opened.status().toString().c_str());
    return 2;
  }
  Store& store = *opened.value();
  const Caller me = Caller::root();
  auto stats = store.stats();
  printf("store %s: %lu inodes, %lu blobs\n", argv[1], stats.ok() ? stats->inodeCount : 0,
         stats.ok() ? stats->blobCount : 0);

  // A balance file, updated by compare-and-swap.
  auto v1 = store.cas().put(me, "100\n");
  show("put \"100\"", v1.status());
  auto created = store.cas().commit(me, "/balance", *v1, Basis::absent());
  show("commit /balance (must not exist)", created.status());
  auto now = store.cas().stat(me, "/balance");
  if (!now.ok() || !now->blob) return 2;
  printf("  /balance blobId %s\n", now->blob->hex().c_str());
  auto v2 = store.cas().put(me, "90\n");
  show("commit /balance 90 if it still holds that blobId", store.cas().commit(me, "/balance", *v2, Basis::of(*now->blob)).status());
  auto v3 = store.cas().put(me, "80\n");
  show("commit /balance 80 against the old blobId (stale)", store.cas().commit(me, "/balance", *v3, Basis::of(*now->blob)).status());

  // Three ops, all or nothing: the last fails, so none happens.
  auto after = store.cas().stat(me, "/balance");
  std::vector<TransactOp> ops = {
      {TransactOp::Kind::kCopy, "/balance", after->blob, "/backup", Basis::any()},
      {TransactOp::Kind::kMove, "/balance", after->blob, "/archive", Basis::absent()},
      {TransactOp::Kind::kDelete, "/missing", std::nullopt, "", Basis::any()},
  };
  show("transact copy+move+delete(missing)", store.cas().transact(me, ops).status());
  show("  /backup after the failed transaction", store.cas().stat(me, "/backup").status());
  ops.pop_back();
  show("transact copy+move", store.cas().transact(me, ops).status());
  std::string text;
  auto archive = store.ns().lookup(1, "archive");
  if (archive.ok() && store.ns().read(archive->ino, 0, 100, text).ok()) printf("  /archive holds: %s", text.c_str());
  // Leave the store as we found it apart from the demo files, so it can run again.
  for (const char* name : {"backup", "archive", "balance"}) (void)store.ns().unlink(1, name);
  return 0;
}
