// Direct I/O beside buffered reads through a real mount (issue 18, xfstests
// generic/451). The kernel drops a file's cached pages before an O_DIRECT
// write, but a buffered reader can fetch the old bytes again while an
// asynchronous write is in flight, and for an asynchronous write nothing
// drops them after it completes. A reader must never see content older than
// a write that has completed.
#include <linux/aio_abi.h>
#include <sys/syscall.h>

#include <atomic>
#include <thread>

#include "tests/mount_fixture.h"

namespace acidfs::mounttest {
namespace {

using MountDirectIo = MountTest;

// Kernel AIO (io_submit), as libaio would issue it: glibc's aio_write runs a
// synchronous pwrite on a thread, after which the kernel does drop the pages.
class KernelAio {
 public:
  KernelAio() {
    if (syscall(SYS_io_setup, 4, &ctx_) != 0) ctx_ = 0;
  }
  ~KernelAio() {
    if (ctx_) syscall(SYS_io_destroy, ctx_);
  }
  bool ok() const { return ctx_ != 0; }
  // Submits one write and waits for it: the bytes written, or -errno.
  long writeAndWait(int fd, const void* buf, size_t size, off_t offset) {
    iocb cb;
    memset(&cb, 0, sizeof cb);
    cb.aio_lio_opcode = IOCB_CMD_PWRITE;
    cb.aio_fildes = static_cast<uint32_t>(fd);
    cb.aio_buf = reinterpret_cast<uint64_t>(buf);
    cb.aio_nbytes = size;
    cb.aio_offset = offset;
    iocb* list[1] = {&cb};
    if (syscall(SYS_io_submit, ctx_, 1, list) != 1) return -errno;
    io_event event;
    if (syscall(SYS_io_getevents, ctx_, 1, 1, &event, nullptr) != 1) return -errno;
    return static_cast<long>(event.res);
  }

 private:
  aio_context_t ctx_ = 0;
};

// xfstests generic/451 (src/aio-dio-regress/aio-dio-cycle-write.c): a file of
// 640 KiB rewritten whole by asynchronous direct writes, alternately 0x55 and
// 0xaa, while two readers read it through the page cache, each with a fresh
// descriptor; after each write completes, a fresh buffered read must return
// the bytes just written.
TEST_F(MountDirectIo, BufferedReadAfterAsyncDirectWriteSeesTheWrite) {
  constexpr size_t kSize = 655360;
  constexpr int kCycles = 150;
  const std::string file = path("aio-dio-cycle");
  KernelAio aio;
  ASSERT_TRUE(aio.ok()) << "io_setup: " << strerror(errno);
  void* patterns[2];
  for (int p = 0; p < 2; ++p) {
    ASSERT_EQ(0, posix_memalign(&patterns[p], 4096, kSize));
    memset(patterns[p], p == 0 ? 0x55 : 0xaa, kSize);
  }
  std::unique_ptr<void, decltype(&free)> keep0(patterns[0], free), keep1(patterns[1], free);
  {
    Fd fd(open(file.c_str(), O_CREAT | O_RDWR | O_DIRECT | O_CLOEXEC, 0600));
    ASSERT_TRUE(fd.ok()) << strerror(errno);
    ASSERT_EQ(static_cast<ssize_t>(kSize), pwrite(fd.get(), patterns[0], kSize, 0)) << strerror(errno);
    ASSERT_EQ(0, fsync(fd.get()));
  }

  std::atomic<bool> stop{false};
  std::vector<std::thread> readers;
  for (int r = 0; r < 2; ++r) {
    readers.emplace_back([&] {
      std::string buf(kSize, '\0');
      while (!stop.load()) {
        Fd fd(open(file.c_str(), O_RDONLY | O_CLOEXEC));
        if (fd.ok()) (void)!pread(fd.get(), buf.data(), kSize, 0);
      }
    });
  }

  std::string stale;
  {
    Fd writer(open(file.c_str(), O_RDWR | O_DIRECT | O_CLOEXEC));
    ASSERT_TRUE(writer.ok()) << strerror(errno);
    std::string seen(kSize, '\0');
    for (int cycle = 1; cycle <= kCycles && stale.empty(); ++cycle) {
      const void* pattern = patterns[cycle % 2];
      long written = aio.writeAndWait(writer.get(), pattern, kSize, 0);
      if (written != static_cast<long>(kSize)) {
        stale = "cycle " + std::to_string(cycle) + ": the write returned " + std::to_string(written);
        break;
      }
      Fd reader(open(file.c_str(), O_RDONLY | O_CLOEXEC));
      if (!reader.ok() || pread(reader.get(), seen.data(), kSize, 0) != static_cast<ssize_t>(kSize)) {
        stale = "cycle " + std::to_string(cycle) + ": reading back: " + strerror(errno);
        break;
      }
      if (memcmp(seen.data(), pattern, kSize) != 0) {
        size_t at = 0;
        while (seen[at] == static_cast<const char*>(pattern)[at]) ++at;
        char byte[8];
        snprintf(byte, sizeof byte, "0x%02x", static_cast<unsigned char>(seen[at]));
        stale = "cycle " + std::to_string(cycle) + ": a buffered read after the write completed found " + byte +
                " at offset " + std::to_string(at);
      }
    }
  }
  stop = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ("", stale);
}

}  // namespace
}  // namespace acidfs::mounttest
