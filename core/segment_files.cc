#include "core/segment_files.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

namespace acidfs {

namespace {

class PosixSegmentFile final : public SegmentFile {
 public:
  PosixSegmentFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~PosixSegmentFile() override { close(fd_); }

  Status write(uint64_t offset, std::string_view data) override {
    for (size_t done = 0; done < data.size();) {
      ssize_t n = pwrite(fd_, data.data() + done, data.size() - done, static_cast<off_t>(offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Status::FromErrno("writing segment " + path_);
      if (n == 0) return Status::Error(EIO, "writing segment " + path_ + ": nothing written");
      done += static_cast<size_t>(n);
    }
    return Status::OK();
  }

  Status read(uint64_t offset, char* out, size_t length) const override {
    for (size_t done = 0; done < length;) {
      ssize_t n = pread(fd_, out + done, length - done, static_cast<off_t>(offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Status::FromErrno("reading segment " + path_);
      if (n == 0) return Status::Error(EIO, "segment " + path_ + " is truncated");
      done += static_cast<size_t>(n);
    }
    return Status::OK();
  }

  Status syncData() override {
    return fdatasync(fd_) == 0 ? Status::OK() : Status::FromErrno("fdatasync " + path_);
  }

  Status punchHole(uint64_t offset, uint64_t length) override {
    if (length == 0) return Status::OK();
    if (fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset),
                  static_cast<off_t>(length)) != 0)
      return Status::FromErrno("punching " + std::to_string(length) + " bytes at " + std::to_string(offset) +
                               " of " + path_);
    return Status::OK();
  }

  Result<uint64_t> size() const override {
    struct stat st;
    if (fstat(fd_, &st) != 0) return Status::FromErrno("fstat " + path_);
    return static_cast<uint64_t>(st.st_size);
  }

  uint64_t allocatedBytes() const override {
    struct stat st;
    return fstat(fd_, &st) == 0 ? static_cast<uint64_t>(st.st_blocks) * 512 : 0;
  }

 private:
  const int fd_;
  const std::string path_;
};

class PosixSegmentFiles final : public SegmentFiles {
 public:
  Result<bool> createDirectory(const std::string& path) override {
    if (mkdir(path.c_str(), 0700) == 0) return true;
    if (errno == EEXIST) return false;
    return Status::FromErrno("mkdir " + path);
  }

  Result<std::vector<std::string>> list(const std::string& dir) override {
    DIR* d = opendir(dir.c_str());
    if (!d) return Status::FromErrno("reading " + dir);
    std::vector<std::string> names;
    while (dirent* e = readdir(d))
      if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) names.emplace_back(e->d_name);
    closedir(d);
    return names;
  }

  Result<std::unique_ptr<SegmentFile>> open(const std::string& path, bool create) override {
    int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC | (create ? O_CREAT | O_EXCL : 0), 0600);
    if (fd < 0) return Status::FromErrno("open " + path);
    return std::unique_ptr<SegmentFile>(new PosixSegmentFile(fd, path));
  }

  Status remove(const std::string& path) override {
    return unlink(path.c_str()) == 0 ? Status::OK() : Status::FromErrno("unlink " + path);
  }

  Status syncDirectory(const std::string& dir) override { return acidfs::syncDirectory(dir); }
};

}  // namespace

std::shared_ptr<SegmentFiles> posixSegmentFiles() {
  static const std::shared_ptr<SegmentFiles> files = std::make_shared<PosixSegmentFiles>();
  return files;
}

Status syncDirectory(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno("opening " + dir);
  Status s = fsync(fd) == 0 ? Status::OK() : Status::FromErrno("fsync " + dir);
  close(fd);
  return s;
}

}  // namespace acidfs
