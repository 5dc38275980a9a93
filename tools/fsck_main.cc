// acidfs-fsck STORE [--repair]: the offline check behind `acidfs fsck`
// (core/fsck.h). Exit 0 clean, 1 findings (after --repair: findings left), 2
// error with one line on stderr.
#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <string>

#include "core/fsck.h"
#include "core/store.h"

namespace acidfs {
namespace {

constexpr int kExitFindings = 1;
constexpr int kExitError = 2;

struct FsckError {
  std::string message;
};

int runFsck(const std::string& storePath, bool repair) {
  struct stat st;
  if (::stat((storePath + "/ACIDFS").c_str(), &st) != 0) throw FsckError{storePath + " is not an acidfs store"};
  auto store = Store::open(storePath);
  if (!store.ok()) throw FsckError{storePath + ": " + store.status().message()};
  auto report = fsckStore(**store, repair);
  if (!report.ok()) throw FsckError{storePath + ": " + report.status().message()};
  for (const std::string& f : report->findings) std::cout << "finding: " << f << "\n";
  for (const std::string& r : report->repairs) std::cout << "repaired: " << r << "\n";
  FsckReport after = *report;
  if (repair && !report->repairs.empty()) {
    auto again = fsckStore(**store, false);
    if (!again.ok()) throw FsckError{storePath + ": " + again.status().message()};
    after = *again;
    for (const std::string& f : after.findings) std::cout << "still: " << f << "\n";
  }
  std::cout << (after.clean() ? "clean" : std::to_string(after.findings.size()) + " finding(s)") << ": " << after.inodes
            << " inodes, " << after.entries << " entries, " << after.blobs << " blobs, " << after.pages << " pages, "
            << after.chunks << " chunks (" << after.chunkBytes << " bytes hashed)\n";
  return after.clean() ? 0 : kExitFindings;
}


}  // namespace
}  // namespace acidfs

int main(int argc, char** argv) {
  CLI::App app{"acidfs-fsck: check a store no daemon has open (run as `acidfs fsck`).\n"
               "  example: acidfs fsck /var/lib/acidfs/mnt-data --repair"};
  app.set_version_flag("--version", std::string("acidfs-fsck ") + ACIDFS_VERSION);
  std::string store;
  bool repair = false;
  app.add_option("STORE", store, "the store directory")->required();
  app.add_flag("--repair", repair, "fix reference counts, link counts and dangling entries (not corrupted chunks)");
  try {
    app.parse(argc, argv);
    return acidfs::runFsck(store, repair);
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
