#include "netconfig/host_route.h"

#include <map>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace fstun {

std::string HostRoute::ToText() const {
  std::string out = absl::StrCat("dst=", destination.ToString());
  if (gateway) absl::StrAppend(&out, " gateway=", gateway->ToString());
  if (!device.empty()) absl::StrAppend(&out, " dev=", device);
  absl::StrAppend(&out, " metric=", metric, " table=", table,
                  " protocol=", static_cast<int>(protocol));
  return out;
}

absl::StatusOr<HostRoute> HostRoute::FromText(absl::string_view text) {
  std::map<std::string, std::string> fields;
  for (absl::string_view token : absl::StrSplit(text, ' ', absl::SkipEmpty())) {
    std::pair<std::string, std::string> kv = absl::StrSplit(token, absl::MaxSplits('=', 1));
    fields[kv.first] = kv.second;
  }
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("bad route '", text, "': ", why));
  };
  HostRoute r;
  auto dst = IpPrefix::Parse(fields["dst"]);
  if (!dst.ok()) return bad("dst");
  r.destination = dst->Network();
  if (fields.count("gateway")) {
    auto gw = IpAddress::Parse(fields["gateway"]);
    if (!gw.ok()) return bad("gateway");
    r.gateway = *gw;
  }
  r.device = fields["dev"];
  if (!absl::SimpleAtoi(fields["metric"], &r.metric)) return bad("metric");
  if (!absl::SimpleAtoi(fields["table"], &r.table)) return bad("table");
  uint32_t protocol = 0;  // absent in files written before it was recorded
  if (fields.count("protocol") &&
      (!absl::SimpleAtoi(fields["protocol"], &protocol) || protocol > 255)) {
    return bad("protocol");
  }
  r.protocol = static_cast<uint8_t>(protocol);
  return r;
}

std::string HostRoute::Describe() const {
  std::string out = is_default() ? "default" : destination.ToString();
  if (gateway) absl::StrAppend(&out, " via ", gateway->ToString());
  if (!device.empty()) absl::StrAppend(&out, " dev ", device);
  if (metric != 0) absl::StrAppend(&out, " metric ", metric);
  if (table != 254) absl::StrAppend(&out, " table ", table);
  return out;
}

}  // namespace fstun
