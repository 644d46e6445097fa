#include "netconfig/interface_name.h"

#include "absl/strings/ascii.h"

namespace fstun {

bool IsKernelInterfaceName(absl::string_view name) {
  if (name.empty() || name.size() > kMaxInterfaceNameLength || name == "." || name == "..") {
    return false;
  }
  for (char c : name) {
    if (c <= ' ' || c > '~' || c == '/' || c == ':') return false;
  }
  return true;
}

bool IsFstunInterfaceName(absl::string_view name) {
  if (!IsKernelInterfaceName(name)) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(c) && c != '_' && c != '-' && c != '.') return false;
  }
  return true;
}

}  // namespace fstun
