#include "daemon/mount_options.h"

#include <sstream>

namespace acidfs {

Result<MountOptions> parseMountOptions(const std::vector<std::string>& lists) {
  MountOptions options;
  for (const std::string& list : lists) {
    std::stringstream in(list);
    std::string option;
    while (std::getline(in, option, ',')) {
      if (option.empty()) continue;
      if (option == "sync") {
        options.sync = true;
      } else if (option.rfind("commit_interval=", 0) == 0) {
        const std::string value = option.substr(16);
        char* end = nullptr;
        long seconds = strtol(value.c_str(), &end, 10);
        if (value.empty() || *end != '\0' || seconds < 1 || seconds > 86400)
          return Status::Error(EINVAL, "commit_interval must be a whole number of seconds from 1 to 86400");
        options.commitIntervalSeconds = static_cast<int>(seconds);
      } else if (option == "debug") {
        options.debug = true;
      } else if (option == "default_permissions") {
        // always on
      } else if (option == "allow_other") {
        options.allowOther = true;
        options.fuseOptions.push_back(option);
      } else if (option == "rw" || option == "nosuid" || option == "nodev" || option == "noexec" ||
                 option == "suid" || option == "dev" || option == "exec" || option == "auto" ||
                 option == "noauto" || option == "_netdev" || option == "nofail" || option == "user" ||
                 option == "users" || option.rfind("x-", 0) == 0 || option.rfind("comment=", 0) == 0) {
        // fstab/mount(8) options that libfuse does not want; harmless to drop
        // (fusermount3 applies nosuid,nodev for non-root mounts itself).
      } else {
        options.fuseOptions.push_back(option);
      }
    }
  }
  return options;
}

}  // namespace acidfs
