// How `fstun status` prints a DaemonStatus: a human-readable report in the
// spirit of `wg show`, and JSON with a stable schema (docs/operations.md,
// "schema": 1). Fields are only ever added to schema 1; a rename or removal
// would bump the number.
//
// Strings that come from peers (ids, addresses, sessions) are untrusted: the
// text form replaces non-printable bytes with '?', so a hostile peer id cannot
// send escape sequences to an operator's terminal. The JSON form is written
// by nlohmann-json: valid UTF-8 stays as it is, control characters are
// escaped (\u001b), and bytes that are not valid UTF-8 become U+FFFD, so the
// output is always valid JSON.
#ifndef FSTUN_OPS_STATUS_FORMAT_H_
#define FSTUN_OPS_STATUS_FORMAT_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "ops/daemon_status.h"

namespace fstun {

// 2: peers carry transport-specific "details" (was: fs-shaped "wakeup" and
// "poll_interval_seconds").
inline constexpr int kStatusJsonSchema = 2;

std::string FormatStatusText(const DaemonStatus& status);
std::string FormatStatusJson(const DaemonStatus& status);

// Helpers shared with the metrics output; exposed for tests.
std::string PrintableText(absl::string_view s);  // non-printables -> '?'
std::string HumanBytes(uint64_t bytes);          // "1.50 KiB"
std::string HumanDuration(absl::Duration d);     // "1 day, 2 h 3 min 4 s"

}  // namespace fstun

#endif  // FSTUN_OPS_STATUS_FORMAT_H_
