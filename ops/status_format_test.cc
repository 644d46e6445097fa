#include "ops/status_format.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ops/metrics.h"

namespace fstun {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

DaemonStatus Example() {
  DaemonStatus s;
  s.info.version = "0.1.0";
  s.info.ifname = "tun0";
  s.info.role = "server";
  s.info.transport = "fs";
  s.info.addresses = {"192.0.2.1/24", "2001:db8::1/64"};
  s.info.mtu = 1400;
  s.info.pid = 42;
  s.info.started = absl::FromUnixSeconds(1700000000);
  s.now = s.info.started + absl::Seconds(3725);
  s.transport.tx_frames = 10;
  s.transport.tx_bytes = 1536;
  s.transport.rx_frames = 12;
  s.transport.rx_bytes = 2048;
  s.transport.drops["oversize"] = 1;
  s.device.drops["tun_full"] = 3;
  PeerStatus p;
  p.id = "hostb";
  p.addresses = {"192.0.2.2/24"};
  p.session = "00c0ffee";
  p.last_seen = s.now - absl::Seconds(2);
  p.details = {{"wakeup", "polling"}, {"poll_interval", "200ms"}};
  p.backlog_bytes = 4096;
  p.counters.rx_frames = 12;
  p.counters.rx_bytes = 2048;
  p.counters.tx_frames = 10;
  p.counters.tx_bytes = 1536;
  s.peers.push_back(p);
  return s;
}

TEST(StatusTextTest, ShowsInterfacePeersAndCounters) {
  std::string text = FormatStatusText(Example());
  EXPECT_THAT(text, HasSubstr("interface: tun0\n"));
  EXPECT_THAT(text, HasSubstr("  role: server\n"));
  EXPECT_THAT(text, HasSubstr("  addresses: 192.0.2.1/24, 2001:db8::1/64\n"));
  EXPECT_THAT(text, HasSubstr("  mtu: 1400\n"));
  EXPECT_THAT(text, HasSubstr("  uptime: 1 h 2 min 5 s\n"));
  EXPECT_THAT(text,
              HasSubstr("  transfer: 2.00 KiB received (12 frames), 1.50 KiB sent (10 frames)\n"));
  EXPECT_THAT(text, HasSubstr("  drops: tun tun_full=3, transport oversize=1\n"));
  EXPECT_THAT(text, HasSubstr("\npeer: hostb\n"));
  EXPECT_THAT(text, HasSubstr("  session: 00c0ffee\n"));
  EXPECT_THAT(text, HasSubstr("  last seen: 2 s ago\n"));
  EXPECT_THAT(text, HasSubstr("  wakeup: polling\n  poll_interval: 200ms\n"));
  EXPECT_THAT(text, HasSubstr("  backlog: 4.00 KiB\n"));
}

TEST(StatusTextTest, NeverSeenPeerAndNoDrops) {
  DaemonStatus s = Example();
  s.transport.drops.clear();
  s.device.drops.clear();
  s.peers[0].last_seen = absl::InfinitePast();
  std::string text = FormatStatusText(s);
  EXPECT_THAT(text, HasSubstr("  drops: none\n"));
  EXPECT_THAT(text, HasSubstr("  last seen: never\n"));
}

TEST(StatusTextTest, HostilePeerIdCannotReachTheTerminal) {
  DaemonStatus s = Example();
  s.peers[0].id = "evil\x1b[2J\npeer: fake";
  std::string text = FormatStatusText(s);
  EXPECT_THAT(text, Not(HasSubstr("\x1b")));
  EXPECT_THAT(text, HasSubstr("peer: evil?[2J?peer: fake\n"));
}

TEST(StatusJsonTest, SchemaFields) {
  std::string json = FormatStatusJson(Example());
  EXPECT_THAT(json,
              HasSubstr("{\"schema\":2,\"version\":\"0.1.0\",\"pid\":42,\"interface\":\"tun0\""));
  EXPECT_THAT(json, HasSubstr("\"addresses\":[\"192.0.2.1/24\",\"2001:db8::1/64\"]"));
  EXPECT_THAT(json, HasSubstr("\"uptime_seconds\":3725.0,"));
  EXPECT_THAT(json, HasSubstr("\"totals\":{\"tx_frames\":10,\"tx_bytes\":1536,\"rx_frames\":12,"
                              "\"rx_bytes\":2048,\"drops\":4}"));
  EXPECT_THAT(json,
              HasSubstr("\"device\":{\"tx_frames\":0,\"tx_bytes\":0,\"rx_frames\":0,\"rx_bytes\":0,"
                        "\"drops\":{\"tun_full\":3}}"));
  EXPECT_THAT(json, HasSubstr("\"last_seen_seconds_ago\":2.0,"));
  EXPECT_THAT(json, HasSubstr("\"details\":{\"wakeup\":\"polling\",\"poll_interval\":\"200ms\"}"));
  EXPECT_THAT(json, HasSubstr("\"backlog_bytes\":4096"));
}

TEST(StatusJsonTest, KeepsUtf8AndEscapesControlsAndBrokenBytes) {
  DaemonStatus u = Example();
  u.peers[0].id = "caf\xc3\xa9-\xe2\x82\xac";  // café-€ : UTF-8 stays as is (was \u00c3\u00a9)
  EXPECT_THAT(FormatStatusJson(u), HasSubstr("\"id\":\"caf\xc3\xa9-\xe2\x82\xac\""));
  u.peers[0].id = "a\"b\\c\n\x01\x1b[2J";
  EXPECT_THAT(FormatStatusJson(u), HasSubstr("\"id\":\"a\\\"b\\\\c\\n\\u0001\\u001b[2J\""));
  u.peers[0].id = "bad\xff\xc3";  // not UTF-8: replaced, the output stays valid JSON
  EXPECT_THAT(FormatStatusJson(u), HasSubstr("\"id\":\"bad\xef\xbf\xbd\xef\xbf\xbd\""));

  DaemonStatus s = Example();
  s.peers[0].last_seen = absl::InfinitePast();
  std::string json = FormatStatusJson(s);
  EXPECT_THAT(json, HasSubstr("\"last_seen_unix\":null,\"last_seen_seconds_ago\":null"));
}

TEST(HumanTest, BytesAndDurations) {
  EXPECT_EQ(HumanBytes(0), "0 B");
  EXPECT_EQ(HumanBytes(1023), "1023 B");
  EXPECT_EQ(HumanBytes(1536), "1.50 KiB");
  EXPECT_EQ(HumanBytes(5ull << 30), "5.00 GiB");
  EXPECT_EQ(HumanDuration(absl::Milliseconds(250)), "250 ms");
  EXPECT_EQ(HumanDuration(absl::Seconds(60)), "1 min");
  EXPECT_EQ(HumanDuration(absl::Hours(49) + absl::Seconds(1)), "2 days 1 h 1 s");
}

TEST(MetricsTest, PrometheusFamiliesAndLabels) {
  std::string m = FormatMetrics(Example());
  EXPECT_THAT(m, HasSubstr("# TYPE fstun_up gauge\nfstun_up{interface=\"tun0\"} 1\n"));
  EXPECT_THAT(
      m,
      HasSubstr(
          "fstun_info{interface=\"tun0\",version=\"0.1.0\",role=\"server\",transport=\"fs\"} 1\n"));
  EXPECT_THAT(m, HasSubstr("# TYPE fstun_transport_rx_frames_total counter\n"
                           "fstun_transport_rx_frames_total{interface=\"tun0\"} 12\n"));
  EXPECT_THAT(
      m,
      HasSubstr(
          "fstun_drops_total{interface=\"tun0\",component=\"transport\",reason=\"oversize\"} 1\n"));
  EXPECT_THAT(
      m,
      HasSubstr("fstun_drops_total{interface=\"tun0\",component=\"tun\",reason=\"tun_full\"} 3\n"));
  EXPECT_THAT(m, HasSubstr("fstun_peer_tx_bytes_total{interface=\"tun0\",peer=\"hostb\"} 1536\n"));
  EXPECT_THAT(m, HasSubstr("fstun_peer_last_seen_timestamp_seconds{interface=\"tun0\",peer="
                           "\"hostb\"} 1700003723.000\n"));
  EXPECT_THAT(m, HasSubstr("fstun_peer_backlog_bytes{interface=\"tun0\",peer=\"hostb\"} 4096\n"));
  EXPECT_THAT(FormatMetrics(Example(), /*up=*/false),
              HasSubstr("fstun_up{interface=\"tun0\"} 0\n"));
}

TEST(MetricsTest, HostileLabelValuesAreEscaped) {
  DaemonStatus s = Example();
  s.peers[0].id = "a\"b\\c\nd\xff";
  std::string m = FormatMetrics(s);
  EXPECT_THAT(m, HasSubstr("peer=\"a\\\"b\\\\c?d?\""));
}

TEST(MetricsTest, NoPeerFamiliesWithoutPeers) {
  DaemonStatus s = Example();
  s.peers.clear();
  std::string m = FormatMetrics(s);
  EXPECT_THAT(m, HasSubstr("fstun_peers{interface=\"tun0\"} 0\n"));
  EXPECT_THAT(m, Not(HasSubstr("fstun_peer_")));
}

}  // namespace
}  // namespace fstun
