#include "core/rate_limited_log.h"

#include "absl/strings/str_cat.h"

namespace fstun {

bool LogRateLimiter::AllowAt(absl::Time now, uint64_t* held_back) {
  absl::MutexLock lock(&mu_);
  if (now - window_start_ >= period_) {
    window_start_ = now;
    allowed_in_window_ = 0;
  }
  if (allowed_in_window_ >= burst_) {
    ++held_back_;
    return false;
  }
  ++allowed_in_window_;
  if (held_back != nullptr) *held_back = held_back_;
  held_back_ = 0;
  return true;
}

std::string HeldBackNote(uint64_t held_back) {
  if (held_back == 0) return "";
  return absl::StrCat(" (", held_back, " similar line", held_back == 1 ? "" : "s", " held back)");
}

}  // namespace fstun
