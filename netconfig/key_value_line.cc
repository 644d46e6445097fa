#include "netconfig/key_value_line.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "sys/log_escape.h"

namespace fstun {

absl::StatusOr<std::map<std::string, std::string>> ParseKeyValues(
    absl::string_view text, std::initializer_list<absl::string_view> allowed) {
  std::map<std::string, std::string> fields;
  if (text.empty()) return fields;
  for (absl::string_view token : absl::StrSplit(text, ' ')) {
    size_t eq = token.find('=');
    if (eq == absl::string_view::npos || eq == 0 || eq + 1 == token.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("field '", EscapeForLog(token, 64), "' is not key=value"));
    }
    absl::string_view key = token.substr(0, eq);
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown field '", EscapeForLog(key, 64), "'"));
    }
    if (!fields.emplace(std::string(key), std::string(token.substr(eq + 1))).second) {
      return absl::InvalidArgumentError(absl::StrCat("field '", key, "' appears twice"));
    }
  }
  return fields;
}

}  // namespace fstun
