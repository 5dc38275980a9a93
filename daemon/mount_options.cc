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
      } else if (option.rfind("attr_timeout=", 0) == 0 || option.rfind("entry_timeout=", 0) == 0) {
        const std::string value = option.substr(option.find('=') + 1);
        char* end = nullptr;
        double seconds = strtod(value.c_str(), &end);
        if (value.empty() || *end != '\0' || seconds < 0 || seconds > 3600)
          return Status::Error(EINVAL, option + ": timeout must be 0 to 3600 seconds");
        (option[0] == 'a' ? options.attrTimeout : options.entryTimeout) = seconds;
      } else if (option.rfind("max_write=", 0) == 0) {
        const std::string value = option.substr(10);
        char* end = nullptr;
        unsigned long bytes = strtoul(value.c_str(), &end, 10);
        if (value.empty() || *end != '\0' || bytes < 4096 || bytes > (1u << 20))
          return Status::Error(EINVAL, "max_write must be 4096 to 1048576 bytes");
        options.maxWrite = bytes;
      } else if (option == "readdirplus=yes" || option == "readdirplus=no") {
        options.readdirplus = option == "readdirplus=yes";
      } else if (option == "noatime") {
        options.atime = false;
        options.fuseOptions.push_back(option);  // shown in /proc/mounts too
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
