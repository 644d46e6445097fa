#include "ops/metrics.h"

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"

namespace fstun {
namespace {

// A label value: printable ASCII only (peer ids are untrusted), with the
// format's three escapes.
std::string LabelValue(absl::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c < 0x20 || c >= 0x7f) {
      out += '?';
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

class Writer {
 public:
  explicit Writer(std::string ifname)
      : interface_(absl::StrCat("interface=\"", LabelValue(ifname), "\"")) {}

  // Starts a family: HELP and TYPE lines.
  void Family(absl::string_view name, absl::string_view type, absl::string_view help) {
    absl::StrAppend(&out_, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n");
  }
  // One sample; `labels` are extra `k="v"` pairs (values already escaped).
  void Sample(absl::string_view name, const std::vector<std::string>& labels,
              absl::string_view value) {
    absl::StrAppend(&out_, name, "{", interface_);
    for (const std::string& l : labels) absl::StrAppend(&out_, ",", l);
    absl::StrAppend(&out_, "} ", value, "\n");
  }
  void Sample(absl::string_view name, const std::vector<std::string>& labels, uint64_t value) {
    Sample(name, labels, absl::StrCat(value));
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string interface_;
  std::string out_;
};

std::string Label(absl::string_view key, absl::string_view value) {
  return absl::StrCat(key, "=\"", LabelValue(value), "\"");
}

std::string Float(double v) { return absl::StrFormat("%.3f", v); }

double UnixSeconds(absl::Time t) { return absl::ToDoubleSeconds(t - absl::UnixEpoch()); }

// One row of counters with its labels.
struct Labelled {
  std::vector<std::string> labels;
  const CounterSnapshot* counters;
};

// tx/rx frames/bytes families, one sample per row.
void TrafficFamilies(Writer& w, absl::string_view prefix, absl::string_view tx_what,
                     absl::string_view rx_what, const std::vector<Labelled>& rows) {
  struct Field {
    const char* suffix;
    const char* unit;
    bool tx;
    uint64_t CounterSnapshot::*member;
  };
  static constexpr Field kFields[] = {
      {"tx_frames_total", "frames", true, &CounterSnapshot::tx_frames},
      {"tx_bytes_total", "bytes", true, &CounterSnapshot::tx_bytes},
      {"rx_frames_total", "frames", false, &CounterSnapshot::rx_frames},
      {"rx_bytes_total", "bytes", false, &CounterSnapshot::rx_bytes},
  };
  for (const Field& f : kFields) {
    std::string name = absl::StrCat(prefix, f.suffix);
    w.Family(name, "counter", absl::StrCat(f.unit, " ", f.tx ? tx_what : rx_what));
    for (const Labelled& r : rows) w.Sample(name, r.labels, r.counters->*f.member);
  }
}

}  // namespace

std::string FormatMetrics(const DaemonStatus& st, bool up) {
  const DaemonInfo& i = st.info;
  Writer w(i.ifname);
  w.Family("fstun_up", "gauge", "1 while the daemon runs, 0 after a clean stop");
  w.Sample("fstun_up", {}, up ? 1 : 0);
  w.Family("fstun_info", "gauge", "always 1; the labels describe the daemon");
  w.Sample("fstun_info",
           {Label("version", i.version), Label("role", i.role), Label("transport", i.transport)},
           1);
  w.Family("fstun_start_time_seconds", "gauge",
           "when the daemon started, seconds since the Unix epoch");
  w.Sample("fstun_start_time_seconds", {}, Float(UnixSeconds(i.started)));
  w.Family("fstun_uptime_seconds", "gauge", "seconds since the daemon started");
  w.Sample("fstun_uptime_seconds", {}, Float(absl::ToDoubleSeconds(st.uptime())));
  w.Family("fstun_mtu_bytes", "gauge", "MTU of the tunnel interface");
  w.Sample("fstun_mtu_bytes", {}, i.mtu);

  TrafficFamilies(w, "fstun_transport_", "sent to peers (all together)",
                  "received from peers (all together)", {{{}, &st.transport}});
  TrafficFamilies(w, "fstun_tun_", "written to the kernel through the TUN interface",
                  "read from the kernel through the TUN interface", {{{}, &st.device}});

  w.Family("fstun_drops_total", "counter", "frames dropped, by component and reason");
  struct Component {
    const char* name;
    const CounterSnapshot* counters;
  };
  for (const Component& c : {Component{"tun", &st.device}, Component{"transport", &st.transport},
                             Component{"pump", &st.pump}}) {
    for (const auto& [reason, n] : c.counters->drops) {
      w.Sample("fstun_drops_total", {Label("component", c.name), Label("reason", reason)}, n);
    }
  }

  w.Family("fstun_peers", "gauge", "peers the transport knows of");
  w.Sample("fstun_peers", {}, st.peers.size());
  if (st.peers.empty()) return w.Take();

  std::vector<Labelled> peers;
  for (const PeerStatus& p : st.peers) peers.push_back({{Label("peer", p.id)}, &p.counters});
  TrafficFamilies(w, "fstun_peer_", "sent to this peer", "received from this peer", peers);
  w.Family("fstun_peer_drops_total", "counter", "frames to/from this peer dropped, by reason");
  for (const PeerStatus& p : st.peers) {
    for (const auto& [reason, n] : p.counters.drops) {
      w.Sample("fstun_peer_drops_total", {Label("peer", p.id), Label("reason", reason)}, n);
    }
  }
  w.Family("fstun_peer_last_seen_timestamp_seconds", "gauge",
           "when the peer was last heard from, seconds since the Unix epoch (0: never)");
  for (const PeerStatus& p : st.peers) {
    double t = p.last_seen == absl::InfinitePast() ? 0 : UnixSeconds(p.last_seen);
    w.Sample("fstun_peer_last_seen_timestamp_seconds", {Label("peer", p.id)}, Float(t));
  }
  w.Family("fstun_peer_backlog_bytes", "gauge", "bytes waiting in the folder for this peer");
  for (const PeerStatus& p : st.peers) {
    w.Sample("fstun_peer_backlog_bytes", {Label("peer", p.id)}, p.backlog_bytes);
  }
  w.Family("fstun_peer_info", "gauge", "always 1; the labels name the peer's session");
  for (const PeerStatus& p : st.peers) {
    w.Sample("fstun_peer_info", {Label("peer", p.id), Label("session", p.session)}, 1);
  }
  w.Family("fstun_peer_detail", "gauge",
           "always 1; a transport-specific fact about the peer (key, value)");
  for (const PeerStatus& p : st.peers) {
    for (const auto& [key, value] : p.details) {
      w.Sample("fstun_peer_detail", {Label("peer", p.id), Label("key", key), Label("value", value)},
               1);
    }
  }
  return w.Take();
}

}  // namespace fstun
