// EscapeForLog: text that came from outside (a shared folder's file names,
// a peer's announced id or role, a state file line) made safe to put in a
// log line. Control characters (newlines that would forge a log line,
// terminal escape sequences), quotes, backslashes and every non-ASCII byte
// become C escapes (absl::CHexEscape), and anything longer than `max_bytes`
// is cut with "...".
//
//   LOG(WARNING) << "peer '" << EscapeForLog(announced_id) << "' ...";
//
// Printable ASCII comes out unchanged, so ordinary names stay readable.
#ifndef FSTUN_SYS_LOG_ESCAPE_H_
#define FSTUN_SYS_LOG_ESCAPE_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace fstun {

std::string EscapeForLog(absl::string_view untrusted, size_t max_bytes = 256);

}  // namespace fstun

#endif  // FSTUN_SYS_LOG_ESCAPE_H_
