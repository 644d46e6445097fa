#include "core/send_checks.h"

#include "absl/strings/str_cat.h"

namespace fstun {

bool AcceptForSend(FrameView frame, size_t mtu, bool carries_gso, Counters& counters) {
  if (frame.empty()) {
    counters.AddDrop(kDropEmpty);
    return false;
  }
  size_t limit = carries_gso ? kMaxFrameSize : mtu;
  if (frame.size() > limit) {
    counters.AddDrop(kDropOversize);
    return false;
  }
  return true;
}

absl::Status RefusedStatus(size_t refused, size_t mtu) {
  return absl::InvalidArgumentError(
      absl::StrCat(refused, " frame(s) refused: empty or larger than the MTU (", mtu, " bytes)"));
}

}  // namespace fstun
