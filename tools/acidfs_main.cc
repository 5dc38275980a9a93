// acidfs: compare-and-swap on an acidfs mount from the command line (SPEC
// §5). Every command but fsck is a client of the ioctl interface
// (include/acidfs/ioctl.h) and of nothing private; fsck works offline on a
// store, through the core, in acidfs-fsck (tools/fsck_main.cc).
//
// Exit status: 0 success; 1 a precondition failed (nothing changed; the
// conflict report, one JSON object, on stdout); 2 anything else, with one
// line on stderr.
#include <string.h>
#include <limits.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "acidfs/ioctl.h"
#include "tools/mount_client.h"

namespace acidfs::tool {
namespace {

using json = nlohmann::ordered_json;

constexpr int kExitConflict = 1;
constexpr int kExitError = 2;
constexpr int kExitGone = 3;  // watch --from: what was asked for is no longer kept

// The answer of a request: JSON on success; a conflict report printed and
// exit 1; an error raised as a ToolError (exit 2).
struct Conflict {
  json report;
};

// The errno's name; glibc has none for some numbers (NULL), and the result
// comes from the daemon. (The tool links no core: core/status.h has its twin.)
std::string errnoName(int err) {
  const char* name = strerrorname_np(err);
  return name ? name : "errno " + std::to_string(err);
}

json check(const IoctlResult& r) {
  if (r.result == 0) return r.data;
  if (r.isConflict()) throw Conflict{r.data};
  std::string why = r.data.is_object() && r.data.contains("error") && r.data["error"].is_string()
                        ? r.data["error"].get<std::string>()
                        : "failed";
  throw ToolError{why + " (" + errnoName(r.result) + ")"};
}

bool isBlobId(const std::string& s) {
  if (s.size() != 32) return false;
  for (char c : s)
    if (!isxdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

// CLI11 validator: 32 hex digits.
const auto BlobId = CLI::Validator(
    [](std::string& s) { return isBlobId(s) ? std::string() : "'" + s + "' is not a blobId (32 hex digits)"; }, "BLOBID");

std::string readAll(const std::string& file) {
  if (file == "-") {
    std::ostringstream all;
    all << std::cin.rdbuf();
    return all.str();
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) throw ToolError{file + ": " + strerror(errno)};
  return std::string(std::istreambuf_iterator<char>(in), {});
}

json statOf(const MountClient& mount, const std::string& path) {
  return check(mount.request(ACIDFS_IOC_STAT, json{{"path", mount.inMountPath(path)}}.dump()));
}

// mv and cp: one op with its preconditions.
int moveOrCopy(const char* op, const std::string& src, const std::string& dst, const std::string& ifSource,
               const std::string& ifDest, bool absent) {
  MountClient mount = MountClient::forPath(src);
  json source{{"path", mount.inMountPath(src)}};
  if (!ifSource.empty()) source["blobId"] = ifSource;
  json dest{{"path", mount.inMountPath(dst)}};
  if (absent) dest["basis"] = nullptr;
  if (!ifDest.empty()) dest["basis"] = ifDest;
  check(mount.request(ACIDFS_IOC_TRANSACT, json::array({{{"op", op}, {"source", source}, {"dest", dest}}}).dump()));
  return 0;
}

// fsck runs in its own program, acidfs-fsck: it links the whole core
// (RocksDB), which would make every other command start slower. It sits
// beside this binary in a build tree, and in ../libexec/acidfs/ once
// installed (the Debian package puts it in /usr/libexec/acidfs/).
std::string findFsckHelper() {
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) throw ToolError{std::string("cannot find acidfs-fsck: ") + strerror(errno)};
  self[n] = '\0';
  std::filesystem::path dir = std::filesystem::path(self).parent_path();
  std::filesystem::path installed = dir.parent_path() / "libexec" / "acidfs" / "acidfs-fsck";
  for (const auto& candidate : {dir / "acidfs-fsck", installed})
    if (access(candidate.c_str(), X_OK) == 0) return candidate.string();
  throw ToolError{"cannot find acidfs-fsck beside " + dir.string() + " or at " + installed.string()};
}

[[noreturn]] void execFsck(const std::string& storePath, bool repair, const std::string& chunks) {
  std::string helper = findFsckHelper();
  std::vector<const char*> args = {helper.c_str(), storePath.c_str()};
  if (repair) args.push_back("--repair");
  if (!chunks.empty()) {
    args.push_back("--chunks");
    args.push_back(chunks.c_str());
  }
  args.push_back(nullptr);
  execv(helper.c_str(), const_cast<char* const*>(args.data()));
  throw ToolError{helper + ": " + strerror(errno)};
}

mode_t currentUmask() {
  const mode_t mask = umask(0);  // the only way to read it (Linux 4.7+ also shows it in /proc/self/status)
  umask(mask);
  return mask;
}

int run(int argc, char** argv) {
  CLI::App app{"acidfs: compare-and-swap on an acidfs mount.\n"
               "Exit status: 0 done; 1 a precondition failed (nothing changed, the conflict report on stdout);\n"
               "2 any other error (one line on stderr)."};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("acidfs ") + ACIDFS_VERSION + " (ioctl interface v" + std::to_string(ACIDFS_IOCTL_VERSION) + ")");
  int status = 0;

  // stat
  std::vector<std::string> statPaths;
  auto* stat = app.add_subcommand("stat", "print path, blobId, size, mode, uid, gid, mtime (ns), version as one JSON object per line\n"
                                          "  example: acidfs stat notes.txt");
  stat->add_option("PATH", statPaths, "files or directories inside a mount")->required();
  stat->callback([&] {
    for (const std::string& p : statPaths) {
      json st = statOf(MountClient::forPath(p), p);
      json out;
      out["path"] = p;
      for (const char* k : {"blobId", "size", "mode", "uid", "gid", "mtime", "version"}) out[k] = st[k];
      std::cout << out.dump() << "\n";
    }
  });

  // blob-id
  std::string blobPath;
  auto* blob = app.add_subcommand("blob-id", "print a file's blobId\n  example: b=$(acidfs blob-id photo.jpg)");
  blob->add_option("PATH", blobPath, "a regular file inside a mount")->required();
  blob->callback([&] {
    json st = statOf(MountClient::forPath(blobPath), blobPath);
    if (st["blobId"].is_null()) throw ToolError{blobPath + " is not a regular file: it has no blobId"};
    std::cout << st["blobId"].get<std::string>() << "\n";
  });

  // mv and cp
  struct TwoPaths {
    std::string src, dst, ifSource, ifDest;
    bool absent = false;
  } mv, cp;
  auto addTwoPaths = [&](const char* name, const char* help, TwoPaths& t) {
    auto* c = app.add_subcommand(name, help);
    c->add_option("SRC", t.src, "source path")->required();
    c->add_option("DST", t.dst, "destination path")->required();
    c->add_option("--if-source", t.ifSource, "only if SRC holds this blobId")->check(BlobId);
    auto* ifDest = c->add_option("--if-dest", t.ifDest, "only if DST holds this blobId")->check(BlobId);
    c->add_flag("--absent", t.absent, "only if DST does not exist")->excludes(ifDest);
    return c;
  };
  addTwoPaths("mv", "move SRC to DST in one transaction, if the preconditions hold\n"
                    "  example: acidfs mv draft.txt final.txt --if-source \"$b\" --absent", mv)
      ->callback([&] { status = moveOrCopy("move", mv.src, mv.dst, mv.ifSource, mv.ifDest, mv.absent); });
  addTwoPaths("cp", "copy SRC to DST in O(1) (the content is shared), if the preconditions hold\n"
                    "  example: acidfs cp base.img work.img --absent", cp)
      ->callback([&] { status = moveOrCopy("copy", cp.src, cp.dst, cp.ifSource, cp.ifDest, cp.absent); });

  // rm
  std::string rmPath, rmIf;
  auto* rm = app.add_subcommand("rm", "delete PATH only if it still holds blobId ID\n"
                                      "  example: acidfs rm old.log --if \"$b\"");
  rm->add_option("PATH", rmPath, "the file to delete")->required();
  rm->add_option("--if", rmIf, "the blobId PATH must hold")->required()->check(BlobId);
  rm->callback([&] {
    MountClient mount = MountClient::forPath(rmPath);
    json op{{"op", "delete"}, {"source", {{"path", mount.inMountPath(rmPath)}, {"blobId", rmIf}}}};
    check(mount.request(ACIDFS_IOC_TRANSACT, json::array({op}).dump()));
  });

  // cas
  std::string casPath, casExpect, casFrom = "-";
  bool casAbsent = false;
  auto* cas = app.add_subcommand("cas", "replace PATH's content with FILE (default: stdin) only if PATH still holds ID,\n"
                                        "or, with --absent, does not exist\n"
                                        "  example: b=$(acidfs blob-id n.txt); echo $(( $(cat n.txt) + 1 )) | acidfs cas n.txt --expect \"$b\"");
  cas->add_option("PATH", casPath, "the file to replace or create")->required();
  auto* expect = cas->add_option("--expect", casExpect, "the blobId PATH must hold")->check(BlobId);
  auto* absentFlag = cas->add_flag("--absent", casAbsent, "PATH must not exist");
  expect->excludes(absentFlag);
  cas->add_option("--from", casFrom, "the new content (default: standard input)");
  uint64_t casExpiresAt = 0;
  cas->add_option("--expires-at", casExpiresAt,
                  "seconds since the epoch: the file is deleted then, unless changed or moved (user.acidfs.expires_at),\n"
                  "set in the same transaction");
  std::string casTxnId;
  auto* casTxnIdOption = cas->add_option("--txn-id", casTxnId,
                  "1-64 printable bytes: a repeat with the same ID within 24 h changes nothing and gets the first's outcome");
  cas->callback([&] {
    if (casExpect.empty() && !casAbsent) throw CLI::ValidationError("cas", "one of --expect ID or --absent is required");
    MountClient mount = MountClient::forPath(casPath);
    const std::string path = mount.inMountPath(casPath);
    const std::string content = readAll(casFrom);
    json put = check(mount.request(ACIDFS_IOC_PUT, content));
    json commit{{"path", path}, {"blobId", put["blobId"]}};
    commit["basis"] = casAbsent ? json(nullptr) : json(casExpect);
    commit["mode"] = 0666 & ~currentUmask();  // a new file: as a shell's `>` would make it
    if (casTxnIdOption->count()) commit["txnId"] = casTxnId;
    if (casExpiresAt) commit["expiresAt"] = casExpiresAt;
    check(mount.request(ACIDFS_IOC_COMMIT, commit.dump()));
  });

  // put (SPEC §11)
  std::string putFrom = "-", putMount = ".";
  auto* put = app.add_subcommand("put", "store FILE's bytes (default: stdin) and print their blobId, held for your uid for\n"
                                        "an hour, for a transaction's commit op\n"
                                        "  example: b=$(acidfs put new-config.json --mount /mnt/data)");
  put->add_option("FILE", putFrom, "the content (default: standard input)");
  put->add_option("--mount", putMount, "a directory of the mount (default: the current one)");
  put->callback([&] {
    const std::string content = readAll(putFrom);
    MountClient mount = MountClient::forDirectory(putMount);
    json answer = check(mount.request(ACIDFS_IOC_PUT, content));
    std::cout << answer["blobId"].get<std::string>() << "\n";
  });

  // transact
  std::string txnFile = "-", txnMount = ".";
  auto* transact = app.add_subcommand("transact", "run the JSON transaction in FILE (default: stdin): all ops or none\n"
                                                  "  example: acidfs transact swap.json --mount /mnt/data");
  transact->add_option("FILE", txnFile, "a JSON array of move/copy/delete/commit ops (SPEC §5, §11)");
  transact->add_option("--mount", txnMount, "a directory of the mount the paths are in (default: the current one)");
  std::string txnId;
  auto* txnIdOption = transact->add_option("--txn-id", txnId,
                       "1-64 printable bytes: a repeat with the same ID within 24 h changes nothing and gets the first's "
                       "outcome (or {\"txnId\": ID, \"ops\": [...]} in FILE)");
  transact->callback([&] {
    std::string text = readAll(txnFile);
    if (!json::accept(text)) throw ToolError{(txnFile == "-" ? std::string("stdin") : txnFile) + ": not valid JSON"};
    if (txnIdOption->count()) {
      json parsed = json::parse(text);
      json request = parsed.is_object() ? parsed : json{{"ops", parsed}};
      request["txnId"] = txnId;
      text = request.dump();
    }
    MountClient mount = MountClient::forDirectory(txnMount);
    json answer = check(mount.request(ACIDFS_IOC_TRANSACT, text));
    std::cout << answer.dump() << "\n";
  });

  // status
  std::string statusMount;
  auto* statusCmd = app.add_subcommand("status", "print the daemon's counters as one JSON object\n"
                                                 "  example: acidfs status /mnt/data");
  statusCmd->add_option("MOUNTPOINT", statusMount, "the mount (or any directory in it)")->required();
  statusCmd->callback([&] {
    MountClient mount = MountClient::forDirectory(statusMount);
    std::cout << check(mount.request(ACIDFS_IOC_STATUS, "")).dump() << "\n";
  });

  // watch (SPEC §11)
  std::string watchMount, watchPath = "/";
  uint64_t watchFrom = 0;
  auto* watch = app.add_subcommand("watch", "print every change under PATH (default: all of it) as it commits, one JSON\n"
                                            "object per line in commit order: seq, op, path, to, blobId, uid, time (ns);\n"
                                            "--from SEQ starts at change SEQ (resume after the last seq seen, plus one);\n"
                                            "exit 3 when SEQ is older than the mount keeps (-o feed_days=)\n"
                                            "  example: acidfs watch /mnt/data /reports --from 1200");
  watch->add_option("MOUNTPOINT", watchMount, "the mount")->required();
  watch->add_option("PATH", watchPath, "a path within the mount, \"/reports\" or MOUNTPOINT/reports (default: /)");
  auto* fromOption = watch->add_option("--from", watchFrom, "the first change to print (default: the next to commit)");
  watch->callback([&] {
    MountClient mount = MountClient::forDirectory(watchMount);
    std::string prefix = watchPath;
    const std::string root = std::filesystem::weakly_canonical(watchMount).string();
    if (prefix.rfind(root + "/", 0) == 0 || prefix == root) prefix = prefix.substr(root.size());
    if (prefix.empty() || prefix[0] != '/') prefix = "/" + prefix;
    while (prefix.size() > 1 && prefix.back() == '/') prefix.pop_back();
    json request{{"path", prefix}, {"waitMs", 1000}};
    if (fromOption->count()) request["from"] = watchFrom;
    for (;;) {
      json page = check(mount.request(ACIDFS_IOC_FEED, request.dump()));
      if (page["gone"].get<bool>()) {
        std::cerr << "acidfs: change " << request["from"] << " is no longer kept; the oldest kept is " << page["next"]
                  << "\n";
        status = kExitGone;
        return;
      }
      for (const json& change : page["changes"]) {
        json line;  // SPEC §11's order: seq first, so that `sed` and `cut` find it
        for (const char* key : {"seq", "op", "path", "to", "blobId", "uid", "time"})
          if (change.contains(key)) line[key] = change[key];
        std::cout << line.dump() << "\n";
      }
      std::cout.flush();
      // The reader went (`acidfs watch | head`): stop, even with nothing
      // to write (a pipe whose reader closed polls as an error).
      pollfd out{STDOUT_FILENO, 0, 0};
      if (!std::cout || (poll(&out, 1, 0) == 1 && (out.revents & (POLLERR | POLLHUP)))) return;
      request["from"] = page["next"];
      request["index"] = page["index"];
    }
  });

  // log (SPEC §10)
  std::string logPath;
  auto* logCmd = app.add_subcommand("log", "list the versions PATH has had, newest first, one JSON object per line\n"
                                           "(PATH need not exist now): id, blobId, size, mode, uid, gid, mtime, time\n"
                                           "(when it was replaced), cause, replacedBy, exists\n"
                                           "  example: acidfs log report.txt");
  logCmd->add_option("PATH", logPath, "a path inside a mount, now or in the past")->required();
  logCmd->callback([&] {
    auto [mount, path] = MountClient::forHistoricPath(logPath);
    for (size_t skip = 0;;) {
      json page = check(mount.request(ACIDFS_IOC_LOG, json{{"path", path}, {"skip", skip}}.dump()));
      for (json& version : page["versions"]) {
        json out;
        out["path"] = logPath;
        for (auto& [key, value] : version.items()) out[key] = value;
        std::cout << out.dump() << "\n";
      }
      skip += page["versions"].size();
      if (!page["more"].get<bool>() || page["versions"].empty()) break;
    }
  });

  // undelete (SPEC §10)
  std::string undeletePath, undeleteTo, undeleteBlob, undeleteId;
  bool undeleteForce = false;
  auto* undelete = app.add_subcommand("undelete", "bring back PATH's newest version (or the one --blob or --id names) at PATH or\n"
                                                  "--to DEST, in one transaction; DEST must not exist unless --force.\n"
                                                  "A directory comes back with the tree it held.\n"
                                                  "  example: acidfs undelete project/ --to project.restored");
  undelete->add_option("PATH", undeletePath, "the path the version had")->required();
  undelete->add_option("--to", undeleteTo, "where to restore it (default: PATH)");
  undelete->add_option("--blob", undeleteBlob, "the newest version with this blobId")->check(BlobId);
  undelete->add_option("--id", undeleteId, "the version with this id (acidfs log)");
  undelete->add_flag("--force", undeleteForce, "replace the file at DEST (it goes to the trash)");
  undelete->callback([&] {
    auto [mount, path] = MountClient::forHistoricPath(undeletePath);
    json request{{"path", path}};
    if (!undeleteTo.empty()) {
      auto [destMount, dest] = MountClient::forHistoricPath(undeleteTo);
      if (destMount.root() != mount.root()) throw ToolError{undeleteTo + " is not on the acidfs mount at " + mount.root()};
      request["dest"] = dest;
    }
    if (!undeleteBlob.empty()) request["blobId"] = undeleteBlob;
    if (!undeleteId.empty()) request["id"] = undeleteId;
    if (undeleteForce) request["force"] = true;
    json st = check(mount.request(ACIDFS_IOC_UNDELETE, request.dump()));
    json out;
    out["path"] = undeleteTo.empty() ? undeletePath : undeleteTo;
    for (const char* k : {"blobId", "size", "mode", "uid", "gid", "mtime"}) out[k] = st[k];
    std::cout << out.dump() << "\n";
  });

  // gc (SPEC §10)
  std::string gcMount;
  bool gcFreeze = false, gcThaw = false, gcStatus = false;
  auto* gc = app.add_subcommand("gc", "stop (--freeze) or resume (--thaw) all reclaiming of deleted content, for an\n"
                                      "incident; --status prints whether it is frozen and what the trash holds\n"
                                      "  example: acidfs gc --freeze /mnt/data");
  gc->add_option("MOUNTPOINT", gcMount, "the mount (or any directory in it)")->required();
  auto* freeze = gc->add_flag("--freeze", gcFreeze, "stop reclaiming (root or the mount's owner)");
  auto* thaw = gc->add_flag("--thaw", gcThaw, "resume reclaiming (root or the mount's owner)");
  auto* gcStatusFlag = gc->add_flag("--status", gcStatus, "print {frozen, trashDays, trashVersions, trashBytes}");
  freeze->excludes(thaw)->excludes(gcStatusFlag);
  thaw->excludes(gcStatusFlag);
  gc->callback([&] {
    if (!gcFreeze && !gcThaw && !gcStatus) throw CLI::ValidationError("gc", "one of --freeze, --thaw or --status is required");
    MountClient mount = MountClient::forDirectory(gcMount);
    json request = json::object();
    if (gcFreeze || gcThaw) request["freeze"] = gcFreeze;
    json state = check(mount.request(ACIDFS_IOC_GC, request.dump()));
    if (gcStatus) std::cout << state.dump() << "\n";
  });

  // clone (SPEC §10)
  std::vector<std::string> clonePaths;
  bool cloneReadOnly = false, cloneWritable = false;
  auto* clone = app.add_subcommand("clone", "make DST a copy of the tree at SRC as it is at one instant, sharing all content\n"
                                            "(no data is copied); DST appears whole or not at all and must not exist.\n"
                                            "--readonly: the copy refuses every change (EROFS) until clone --writable DST\n"
                                            "  example: acidfs clone project project@monday --readonly");
  clone->add_option("PATHS", clonePaths, "SRC DST, or with --writable only DST")->required()->expected(1, 2);
  auto* readOnlyFlag = clone->add_flag("--readonly", cloneReadOnly, "the copy refuses every change");
  clone->add_flag("--writable", cloneWritable, "make the read-only clone DST writable")->excludes(readOnlyFlag);
  clone->callback([&] {
    if (cloneWritable != (clonePaths.size() == 1))
      throw CLI::ValidationError("clone", cloneWritable ? "--writable takes DST only" : "SRC and DST are required");
    if (cloneWritable) {
      MountClient mount = MountClient::forPath(clonePaths[0]);
      json request{{"dest", mount.inMountPath(clonePaths[0])}, {"writable", true}};
      check(mount.request(ACIDFS_IOC_CLONE, request.dump()));
      return;
    }
    MountClient mount = MountClient::forPath(clonePaths[0]);
    json request{{"source", mount.inMountPath(clonePaths[0])}, {"dest", mount.inMountPath(clonePaths[1])}};
    if (cloneReadOnly) request["readonly"] = true;
    json made = check(mount.request(ACIDFS_IOC_CLONE, request.dump()));
    std::cout << json{{"path", clonePaths[1]}, {"entries", made["entries"]}, {"bytes", made["bytes"]}}.dump() << "\n";
  });

  // fsck: offline, on the store itself (the one command that is not an ioctl client).
  std::string fsckStorePath, fsckChunks;
  bool fsckRepair = false;
  auto* fsck = app.add_subcommand("fsck", "check a store that no daemon has open: every entry, link count, reference\n"
                                          "count and chunk hash; exit 0 clean, 1 findings, 2 error\n"
                                          "  example: acidfs fsck /var/lib/acidfs/mnt-data --repair");
  fsck->add_option("STORE", fsckStorePath, "the store: a directory, or a database (postgresql://...)")->required();
  fsck->add_flag("--repair", fsckRepair,
                 "fix reference counts, link counts and dangling entries, delete orphan RADOS objects\n"
                 "(not corrupted chunks)");
  fsck->add_option("--chunks", fsckChunks,
                   "a database store's chunks as in acidfsd's -o chunks= (rados:POOL,conf=FILE,id=NAME);\n"
                   "default: where the store says they are, with Ceph's default configuration");
  fsck->callback([&] { execFsck(fsckStorePath, fsckRepair, fsckChunks); });

  if (argc > 1 && argv[1][0] != '-') {
    bool known = false;
    for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) known = known || sub->get_name() == argv[1];
    if (!known) {
      std::cerr << "acidfs: unknown command '" << argv[1] << "' (see acidfs --help)\n";
      return kExitError;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "acidfs: " << e.what() << " (see acidfs --help)\n";
    return kExitError;
  } catch (const Conflict& c) {
    std::cout << c.report.dump() << "\n";
    return kExitConflict;
  } catch (const ToolError& e) {
    // One line (SPEC §5), whatever a library's message holds.
    std::string message = e.message;
    std::replace(message.begin(), message.end(), '\n', ' ');
    std::cerr << "acidfs: " << message << "\n";
    return kExitError;
  } catch (const json::type_error& e) {  // 316: a path that is not UTF-8 has no JSON spelling
    std::cerr << "acidfs: a path is not valid UTF-8, which the ioctl interface (JSON) cannot carry\n";
    return kExitError;
  } catch (const std::exception& e) {
    std::cerr << "acidfs: " << e.what() << "\n";
    return kExitError;
  }
  return status;
}

}  // namespace
}  // namespace acidfs::tool

int main(int argc, char** argv) { return acidfs::tool::run(argc, argv); }
