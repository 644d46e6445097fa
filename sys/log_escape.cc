#include "sys/log_escape.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace fstun {

std::string EscapeForLog(absl::string_view untrusted, size_t max_bytes) {
  if (untrusted.size() <= max_bytes) return absl::CHexEscape(untrusted);
  return absl::StrCat(absl::CHexEscape(untrusted.substr(0, max_bytes)), "...");
}

}  // namespace fstun
