// Exit codes of the fstun command, and the mapping from a Status to one.
#ifndef FSTUN_CMD_EXIT_CODES_H_
#define FSTUN_CMD_EXIT_CODES_H_

#include "absl/status/status.h"

namespace fstun {

inline constexpr int kExitOk = 0;       // clean stop (SIGINT/SIGTERM) or success
inline constexpr int kExitRuntime = 1;  // something failed while running
inline constexpr int kExitUsage = 2;    // bad flags or configuration

// InvalidArgument / NotFound-of-a-name / FailedPrecondition of configuration
// are the user's to fix: usage. Everything else: runtime.
inline int ExitCodeFor(const absl::Status& s) {
  if (s.ok()) return kExitOk;
  switch (s.code()) {
    case absl::StatusCode::kInvalidArgument:
      return kExitUsage;
    default:
      return kExitRuntime;
  }
}

}  // namespace fstun

#endif  // FSTUN_CMD_EXIT_CODES_H_
