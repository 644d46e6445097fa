#include "ops/status_format.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"

namespace fstun {
namespace {

using Json = nlohmann::ordered_json;  // keeps the documented field order

// Seconds as a JSON number with millisecond precision (as the schema has
// always given them); null for "never".
Json Seconds(double seconds) { return std::round(seconds * 1000) / 1000; }
Json Unix(absl::Time t) { return Seconds(absl::ToDoubleSeconds(t - absl::UnixEpoch())); }
Json Seconds(absl::Duration d) { return Seconds(absl::ToDoubleSeconds(d)); }

Json CountersJson(const CounterSnapshot& c) {
  Json drops = Json::object();
  for (const auto& [reason, n] : c.drops) drops[reason] = n;
  return Json{{"tx_frames", c.tx_frames},
              {"tx_bytes", c.tx_bytes},
              {"rx_frames", c.rx_frames},
              {"rx_bytes", c.rx_bytes},
              {"drops", std::move(drops)}};
}

std::string PrintableList(const std::vector<std::string>& list) {
  if (list.empty()) return "(none)";
  return absl::StrJoin(list, ", ", [](std::string* out, const std::string& s) {
    absl::StrAppend(out, PrintableText(s));
  });
}

// "oversize=1, queue_full=3" with an optional component prefix per reason.
void AppendDrops(std::vector<std::string>& out, absl::string_view component,
                 const CounterSnapshot& c) {
  for (const auto& [reason, n] : c.drops) {
    if (n == 0) continue;
    out.push_back(
        absl::StrCat(component, component.empty() ? "" : " ", PrintableText(reason), "=", n));
  }
}

std::string DropsLine(std::vector<std::string> parts) {
  return parts.empty() ? "none" : absl::StrJoin(parts, ", ");
}

std::string Transfer(const CounterSnapshot& c) {
  return absl::StrFormat("%s received (%d frames), %s sent (%d frames)", HumanBytes(c.rx_bytes),
                         c.rx_frames, HumanBytes(c.tx_bytes), c.tx_frames);
}

std::string Ago(absl::Time then, absl::Time now) {
  if (then == absl::InfinitePast()) return "never";
  if (then > now) return "just now";
  return absl::StrCat(HumanDuration(now - then), " ago");
}

}  // namespace

std::string PrintableText(absl::string_view s) {
  std::string out(s);
  for (char& c : out) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f) c = '?';
  }
  return out;
}

std::string HumanBytes(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (bytes < 1024) return absl::StrCat(bytes, " B");
  double v = static_cast<double>(bytes) / 1024;
  int unit = 0;
  while (v >= 1024 && unit < 5) {
    v /= 1024;
    ++unit;
  }
  return absl::StrFormat("%.2f %s", v, kUnits[unit]);
}

std::string HumanDuration(absl::Duration d) {
  if (d < absl::Seconds(1)) return absl::StrCat(absl::ToInt64Milliseconds(d), " ms");
  int64_t s = absl::ToInt64Seconds(d);
  int64_t days = s / 86400, hours = s / 3600 % 24, minutes = s / 60 % 60, seconds = s % 60;
  std::vector<std::string> parts;
  if (days > 0) parts.push_back(absl::StrCat(days, days == 1 ? " day" : " days"));
  if (hours > 0) parts.push_back(absl::StrCat(hours, " h"));
  if (minutes > 0) parts.push_back(absl::StrCat(minutes, " min"));
  if (seconds > 0 || parts.empty()) parts.push_back(absl::StrCat(seconds, " s"));
  return absl::StrJoin(parts, " ");
}

std::string FormatStatusText(const DaemonStatus& st) {
  const DaemonInfo& i = st.info;
  std::string out;
  absl::StrAppend(&out, "interface: ", PrintableText(i.ifname), "\n");
  absl::StrAppend(&out, "  role: ", i.role, "\n");
  absl::StrAppend(&out, "  transport: ", i.transport, "\n");
  absl::StrAppend(&out, "  addresses: ", PrintableList(i.addresses), "\n");
  absl::StrAppend(&out, "  mtu: ", i.mtu, "\n");
  absl::StrAppend(&out, "  uptime: ", HumanDuration(st.uptime()), "\n");
  absl::StrAppend(&out, "  daemon: fstun ", i.version, ", pid ", i.pid, "\n");
  absl::StrAppend(&out, "  transfer: ", Transfer(st.transport), "\n");
  absl::StrAppend(&out, "  tun: ", st.device.rx_frames, " packets read (",
                  HumanBytes(st.device.rx_bytes), "), ", st.device.tx_frames, " written (",
                  HumanBytes(st.device.tx_bytes), ")\n");
  std::vector<std::string> drops;
  AppendDrops(drops, "tun", st.device);
  AppendDrops(drops, "transport", st.transport);
  AppendDrops(drops, "pump", st.pump);
  absl::StrAppend(&out, "  drops: ", DropsLine(drops), "\n");
  absl::StrAppend(&out, "  peers: ", st.peers.size(), "\n");
  for (const PeerStatus& p : st.peers) {
    absl::StrAppend(&out, "\npeer: ", PrintableText(p.id), "\n");
    absl::StrAppend(&out, "  addresses: ", PrintableList(p.addresses), "\n");
    absl::StrAppend(&out, "  session: ", p.session.empty() ? "(none)" : PrintableText(p.session),
                    "\n");
    absl::StrAppend(&out, "  last seen: ", Ago(p.last_seen, st.now), "\n");
    // Whatever the transport reports about the peer, as it reports it.
    for (const auto& [key, value] : p.details) {
      absl::StrAppend(&out, "  ", PrintableText(key), ": ", PrintableText(value), "\n");
    }
    absl::StrAppend(&out, "  transfer: ", Transfer(p.counters), "\n");
    std::vector<std::string> peer_drops;
    AppendDrops(peer_drops, "", p.counters);
    absl::StrAppend(&out, "  drops: ", DropsLine(peer_drops), "\n");
    absl::StrAppend(&out, "  backlog: ", HumanBytes(p.backlog_bytes), "\n");
  }
  return out;
}

std::string FormatStatusJson(const DaemonStatus& st) {
  const DaemonInfo& i = st.info;
  Json peers = Json::array();
  for (const PeerStatus& p : st.peers) {
    bool seen = p.last_seen != absl::InfinitePast();
    Json details = Json::object();
    for (const auto& [key, value] : p.details) details[key] = value;
    peers.push_back(Json{
        {"id", p.id},
        {"addresses", p.addresses},
        {"session", p.session},
        {"last_seen_unix", seen ? Unix(p.last_seen) : Json(nullptr)},
        {"last_seen_seconds_ago",
         seen ? Seconds(std::max(absl::ZeroDuration(), st.now - p.last_seen)) : Json(nullptr)},
        {"details", std::move(details)},
        {"backlog_bytes", p.backlog_bytes},
        {"counters", CountersJson(p.counters)},
    });
  }
  Json status = {
      {"schema", kStatusJsonSchema},
      {"version", i.version},
      {"pid", i.pid},
      {"interface", i.ifname},
      {"role", i.role},
      {"transport", i.transport},
      {"addresses", i.addresses},
      {"mtu", i.mtu},
      {"now_unix", Unix(st.now)},
      {"started_unix", Unix(i.started)},
      {"uptime_seconds", Seconds(st.uptime())},
      {"totals",
       {{"tx_frames", st.transport.tx_frames},
        {"tx_bytes", st.transport.tx_bytes},
        {"rx_frames", st.transport.rx_frames},
        {"rx_bytes", st.transport.rx_bytes},
        {"drops", st.total_drops()}}},
      {"counters",
       {{"device", CountersJson(st.device)},
        {"transport", CountersJson(st.transport)},
        {"pump", CountersJson(st.pump)}}},
      {"peers", std::move(peers)},
  };
  // Compact, UTF-8 as is (ensure_ascii = false), control characters escaped
  // by the library; bytes that are not valid UTF-8 (a hostile peer id)
  // become U+FFFD instead of making the output invalid JSON.
  return status.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n";
}

}  // namespace fstun
