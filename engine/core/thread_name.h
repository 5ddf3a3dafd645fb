// Names the calling thread (Linux: at most 15 characters are kept), so `top -H`, `perf` and
// /proc/PID/task/*/comm tell the engine's threads apart.
#pragma once

#include <pthread.h>

namespace dataflow {

inline void nameThisThread(const char* name) { pthread_setname_np(pthread_self(), name); }

}  // namespace dataflow
