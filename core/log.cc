#include "core/log.h"

#include <atomic>
#include <cstdarg>
#include <ctime>
#include <syslog.h>

namespace acidfs {

static std::atomic<LogLevel> gLevel{LogLevel::kInfo};
static std::atomic<bool> gSyslog{false};

void setLogToSyslog(bool toSyslog) {
  if (toSyslog) openlog("acidfsd", LOG_PID, LOG_DAEMON);
  gSyslog = toSyslog;
}

void setLogLevel(LogLevel level) { gLevel = level; }
bool logEnabled(LogLevel level) { return level >= gLevel.load(std::memory_order_relaxed); }

void logLine(LogLevel level, const char* format, ...) {
  static const char* kNames[] = {"debug", "info", "warning", "error"};
  char message[1024];
  va_list args;
  va_start(args, format);
  vsnprintf(message, sizeof message, format, args);
  va_end(args);
  // One line per event (SPEC §8), whatever a library's message holds.
  for (char* c = message; *c; ++c)
    if (*c == '\n' || *c == '\r') *c = ' ';
  if (gSyslog.load(std::memory_order_relaxed)) {
    static const int kPriorities[] = {LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR};
    syslog(kPriorities[static_cast<int>(level)], "%s", message);
    return;
  }
  // One fprintf per line so that lines from different threads do not interleave.
  fprintf(stderr, "acidfs %s: %s\n", kNames[static_cast<int>(level)], message);
}

}  // namespace acidfs
