// Logging to stderr, one line per event, with a level (SPEC §8).
#pragma once

#include <cstdio>

namespace acidfs {

enum class LogLevel { kDebug, kInfo, kWarning, kError };
void setLogLevel(LogLevel level);
// Background daemons have no stderr to write to: log to syslog instead.
void setLogToSyslog(bool toSyslog);
bool logEnabled(LogLevel level);
void logLine(LogLevel level, const char* format, ...) __attribute__((format(printf, 2, 3)));

#define ACIDFS_LOG(level, ...)                                                          \
  do {                                                                                  \
    if (::acidfs::logEnabled(::acidfs::LogLevel::level)) ::acidfs::logLine(::acidfs::LogLevel::level, __VA_ARGS__); \
  } while (0)

}  // namespace acidfs
