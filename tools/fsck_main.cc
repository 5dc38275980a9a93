// acidfs-fsck STORE [--repair] [--chunks SPEC]: the offline check behind `acidfs fsck`
// (core/fsck.h). Exit 0 clean, 1 findings (after --repair: findings left), 2
// error with one line on stderr. Without --repair it changes nothing in the
// store.
#include <CLI/CLI.hpp>
#include <iostream>
#include <string>

#include "core/fsck.h"
#include "core/store_location.h"

namespace acidfs {
namespace {

constexpr int kExitFindings = 1;
constexpr int kExitError = 2;

struct FsckError {
  std::string message;
};

int runFsck(const std::string& storePath, bool repair, const std::string& chunks) {
  auto report = fsckStore(storePath, FsckOptions{.repair = repair, .chunks = chunks});
  if (!report.ok()) throw FsckError{shownStore(storePath) + ": " + report.status().message()};
  for (const std::string& f : report->findings) std::cout << "finding: " << f << "\n";
  for (const std::string& n : report->notes) std::cout << "note: " << n << "\n";
  for (const std::string& r : report->repairs) std::cout << "repaired: " << r << "\n";
  if (report->afterRepair)
    for (const std::string& f : *report->afterRepair) std::cout << "still: " << f << "\n";
  const size_t left = report->afterRepair ? report->afterRepair->size() : report->findings.size();
  std::cout << (left == 0 ? "clean" : std::to_string(left) + " finding(s)") << ": " << report->inodes << " inodes, "
            << report->entries << " entries, " << report->blobs << " blobs, " << report->pages << " pages, "
            << report->chunks << " chunks (" << report->chunkBytes << " bytes hashed)";
  if (const auto& o = report->objects)
    std::cout << ", " << o->named + o->pending + o->orphans + o->foreign << " RADOS objects (" << o->named << " named, "
              << o->pending << " pending, " << o->orphans << " orphans, " << o->foreign << " foreign)";
  std::cout << "\n";
  return report->cleanAfterRepair() ? 0 : kExitFindings;
}

}  // namespace
}  // namespace acidfs

int main(int argc, char** argv) {
  CLI::App app{"acidfs-fsck: check a store no daemon has open (run as `acidfs fsck`).\n"
               "  example: acidfs fsck /var/lib/acidfs/mnt-data --repair"};
  app.set_version_flag("--version", std::string("acidfs-fsck ") + ACIDFS_VERSION);
  std::string store, chunks;
  bool repair = false;
  app.add_option("STORE", store, "the store: a directory, or a database (postgresql://...)")->required();
  app.add_flag("--repair", repair,
               "fix reference counts, link counts and dangling entries, delete orphan RADOS objects\n"
               "(not corrupted chunks)");
  app.add_option("--chunks", chunks,
                 "a database store's chunks as in acidfsd's -o chunks= (rados:POOL,conf=FILE,id=NAME);\n"
                 "default: where the store says they are, with Ceph's default configuration");
  try {
    app.parse(argc, argv);
    return acidfs::runFsck(store, repair, chunks);
  } catch (const CLI::Success& e) {  // --help, --version
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "acidfs fsck: " << e.what() << "\n";
    return acidfs::kExitError;
  } catch (const acidfs::FsckError& e) {
    std::cerr << "acidfs fsck: " << e.message << "\n";
    return acidfs::kExitError;
  }
}
