// ParseKeyValues: the strict reader of the state file's "key=value
// key=value" lines (netconfig/state_file.h, netconfig/host_route.h).
// Fields are separated by exactly one space; every field is key=value with
// a non-empty value; each key appears at most once and must be one of
// `allowed`. Anything else is an error naming the field, so a damaged or
// crafted line is refused rather than half-understood.
//
//   auto f = ParseKeyValues("path=net/ipv4/ip_forward previous=0",
//                           {"path", "previous"});
//   (*f)["path"] == "net/ipv4/ip_forward"
#ifndef FSTUN_NETCONFIG_KEY_VALUE_LINE_H_
#define FSTUN_NETCONFIG_KEY_VALUE_LINE_H_

#include <initializer_list>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace fstun {

absl::StatusOr<std::map<std::string, std::string>> ParseKeyValues(
    absl::string_view text, std::initializer_list<absl::string_view> allowed);

}  // namespace fstun

#endif  // FSTUN_NETCONFIG_KEY_VALUE_LINE_H_
