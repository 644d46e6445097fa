#include "netconfig/host_route.h"

#include <map>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "netconfig/interface_name.h"
#include "netconfig/key_value_line.h"
#include "sys/log_escape.h"

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
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad route '", EscapeForLog(text, 200), "': ", why));
  };
  absl::StatusOr<std::map<std::string, std::string>> parsed =
      ParseKeyValues(text, {"dst", "gateway", "dev", "metric", "table", "protocol"});
  if (!parsed.ok()) return bad(parsed.status().message());
  std::map<std::string, std::string>& fields = *parsed;
  HostRoute r;
  auto dst = IpPrefix::Parse(fields["dst"]);
  if (!dst.ok()) return bad("dst");
  r.destination = dst->Network();
  if (fields.count("gateway")) {
    auto gw = IpAddress::Parse(fields["gateway"]);
    if (!gw.ok()) return bad("gateway");
    r.gateway = *gw;
  }
  if (fields.count("dev")) {
    if (!IsKernelInterfaceName(fields["dev"])) return bad("dev");
    r.device = fields["dev"];
  }
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
