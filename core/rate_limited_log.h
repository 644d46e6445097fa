// LogRateLimiter: keeps a warning that an outsider can trigger (a hostile or
// broken shared folder, a flood of bad frames) from flooding the log. At
// most `burst` lines pass per `period`; the next line that passes says how
// many were held back.
//
//   LogRateLimiter bad_record_log_;   // one per kind of warning
//   ...
//   if (uint64_t held_back; bad_record_log_.Allow(&held_back)) {
//     LOG(WARNING) << "fs: invalid record from " << peer << HeldBackNote(held_back);
//   }
//
// Counting what was dropped stays the job of the Counters; this only limits
// lines. Thread-safe; Allow() takes a mutex, so it is for warnings, not for
// per-frame logging of the healthy path.
#ifndef FSTUN_CORE_RATE_LIMITED_LOG_H_
#define FSTUN_CORE_RATE_LIMITED_LOG_H_

#include <cstdint>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace fstun {

class LogRateLimiter {
 public:
  explicit LogRateLimiter(int burst = 5, absl::Duration period = absl::Seconds(60))
      : burst_(burst), period_(period) {}

  // True if a line may be logged now. `held_back` (optional) receives how
  // many lines were refused since the last one allowed.
  bool Allow(uint64_t* held_back = nullptr) { return AllowAt(absl::Now(), held_back); }
  bool AllowAt(absl::Time now, uint64_t* held_back = nullptr);

 private:
  const int burst_;
  const absl::Duration period_;
  absl::Mutex mu_;
  absl::Time window_start_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  int allowed_in_window_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t held_back_ ABSL_GUARDED_BY(mu_) = 0;
};

// " (N similar lines held back)", or "" for 0: the tail of an allowed line.
std::string HeldBackNote(uint64_t held_back);

}  // namespace fstun

#endif  // FSTUN_CORE_RATE_LIMITED_LOG_H_
