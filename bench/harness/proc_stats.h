// A process's CPU time and memory, read from /proc (Linux).
#pragma once

#include <sys/types.h>

namespace dataflow::bench {

// User + system CPU seconds the process has used so far; -1 when it cannot be read.
double cpuSeconds(pid_t pid);
// Resident set size now (VmRSS) and its peak since start (VmHWM), in KiB; -1 when unreadable.
long rssKiB(pid_t pid);
long peakRssKiB(pid_t pid);

}  // namespace dataflow::bench
