// A Unix-socket proxy between libpq and a test's PostgreSQL server that can
// cut a connection at the worst moment: right after a message containing a
// given text went to the server (the server ran it, its answer is dropped),
// or instead of sending it (the server never saw it). How the tests prove
// that a commit whose connection was lost is neither lost nor applied twice.
//
// libpq finds a server on a Unix socket as HOST/.s.PGSQL.PORT: the proxy
// listens on its own directory's, and uri() names it.
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace acidfs::testing {

class PgProxy {
 public:
  enum class Cut { kNone, kAfterSending, kInsteadOfSending };

  // Forwards to the server whose socket is in `serverSocketDir`.
  explicit PgProxy(const std::string& serverSocketDir) : upstream_(serverSocketDir + "/.s.PGSQL.5432") {
    char tmpl[] = "/tmp/acidfs-pgproxy-XXXXXX";
    dir_ = mkdtemp(tmpl) ? tmpl : "";
    listener_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr = address(dir_ + "/.s.PGSQL.5432");
    if (bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(listener_, 64) != 0) abort();
    acceptor_ = std::thread([this] { acceptLoop(); });
  }
  ~PgProxy() {
    stopping_ = true;
    shutdown(listener_, SHUT_RDWR);
    acceptor_.join();
    close(listener_);
    // Joined without the lock, which a pump takes to look at what it
    // forwards (a client closing its connection sends one last message).
    std::vector<std::thread> pumps;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      pumps.swap(pumps_);
    }
    for (auto& t : pumps) t.join();
    unlink((dir_ + "/.s.PGSQL.5432").c_str());
    rmdir(dir_.c_str());
  }

  std::string uri(const std::string& database) const {
    return "postgresql:///" + database + "?host=" + dir_ + "&user=postgres";
  }

  // The next client message containing `text` cuts its connection as `cut`
  // says; once only.
  void arm(const std::string& text, Cut cut) {
    std::lock_guard<std::mutex> lock(mutex_);
    trigger_ = text;
    cut_ = cut;
  }
  // How many connections were cut so far.
  int cuts() const { return cuts_.load(); }

 private:
  static sockaddr_un address(const std::string& path) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    return addr;
  }

  void acceptLoop() {
    while (!stopping_) {
      int client = accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) return;
      int server = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_un addr = address(upstream_);
      if (connect(server, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        close(client);
        close(server);
        continue;
      }
      std::lock_guard<std::mutex> lock(mutex_);
      pumps_.emplace_back([this, client, server] { pump(client, server); });
    }
  }

  // Whether `bytes` (from the client) trip the armed cut; disarms it.
  Cut check(const char* bytes, size_t n) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (cut_ == Cut::kNone || std::string_view(bytes, n).find(trigger_) == std::string_view::npos) return Cut::kNone;
    Cut c = cut_;
    cut_ = Cut::kNone;
    return c;
  }

  void pump(int client, int server) {
    pollfd fds[2] = {{client, POLLIN, 0}, {server, POLLIN, 0}};
    std::vector<char> buf(1 << 20);
    bool dropNextAnswer = false;
    while (!stopping_) {
      if (poll(fds, 2, 100) < 0) break;
      if (fds[0].revents) {
        ssize_t n = read(client, buf.data(), buf.size());
        if (n <= 0) break;
        Cut c = check(buf.data(), static_cast<size_t>(n));
        if (c == Cut::kInsteadOfSending) {
          ++cuts_;
          break;
        }
        if (!writeAll(server, buf.data(), static_cast<size_t>(n))) break;
        if (c == Cut::kAfterSending) dropNextAnswer = true;
      }
      if (fds[1].revents) {
        ssize_t n = read(server, buf.data(), buf.size());
        if (n <= 0) break;
        if (dropNextAnswer) {
          // Let the server finish what it was sent, then go: its answer is lost.
          ++cuts_;
          usleep(200000);
          break;
        }
        if (!writeAll(client, buf.data(), static_cast<size_t>(n))) break;
      }
    }
    close(client);
    close(server);
  }

  static bool writeAll(int fd, const char* p, size_t n) {
    while (n > 0) {
      ssize_t w = write(fd, p, n);
      if (w <= 0) return false;
      p += w;
      n -= static_cast<size_t>(w);
    }
    return true;
  }

  const std::string upstream_;
  std::string dir_;
  int listener_ = -1;
  std::atomic<bool> stopping_{false};
  std::atomic<int> cuts_{0};
  std::thread acceptor_;
  std::mutex mutex_;
  std::vector<std::thread> pumps_;
  std::string trigger_;
  Cut cut_ = Cut::kNone;
};

}  // namespace acidfs::testing
