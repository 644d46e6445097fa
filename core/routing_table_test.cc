// The routing table picks peers the way a user expects: their own address,
// their subnet when unambiguous, the server for a client, the only peer;
// never one of two peers claiming the same subnet; and configured peers may
// only send from their prefixes.
#include "core/routing_table.h"

#include "gtest/gtest.h"

namespace fstun {
namespace {

IpAddress A(const char* text) { return *IpAddress::Parse(text); }
IpPrefix P(const char* text) { return *IpPrefix::Parse(text); }

PeerInfo Peer(const char* id, std::vector<IpPrefix> prefixes, bool server = false) {
  PeerInfo p;
  p.id = id;
  p.prefixes = std::move(prefixes);
  p.is_server = server;
  return p;
}

std::string RouteTo(const RoutingTable& t, const char* dst) {
  std::optional<Route> r = t.Lookup(A(dst));
  return r ? r->peer : "(none)";
}

TEST(RoutingTableTest, ExactAddressThenUnambiguousPrefixElseNone) {
  RoutingTable t;
  t.PeerUp(Peer("c1", {P("192.0.2.2/24")}));
  t.PeerUp(Peer("c2", {P("192.0.2.3/24"), P("198.51.100.0/24")}));
  EXPECT_EQ(RouteTo(t, "192.0.2.2"), "c1");
  EXPECT_EQ(RouteTo(t, "192.0.2.3"), "c2");
  EXPECT_EQ(RouteTo(t, "198.51.100.9"), "c2");
  // Inside both clients' /24: neither may get it.
  EXPECT_EQ(RouteTo(t, "192.0.2.99"), "(none)");
  EXPECT_EQ(RouteTo(t, "203.0.113.5"), "(none)");
  EXPECT_FALSE(t.Lookup(std::nullopt).has_value());
}

TEST(RoutingTableTest, LongerPrefixWins) {
  RoutingTable t;
  t.PeerUp(Peer("wide", {P("198.51.100.0/24")}));
  t.PeerUp(Peer("narrow", {P("198.51.100.128/25")}));
  EXPECT_EQ(RouteTo(t, "198.51.100.200"), "narrow");
  EXPECT_EQ(RouteTo(t, "198.51.100.20"), "wide");
}

TEST(RoutingTableTest, AClientSendsWhatMatchesNothingToItsServer) {
  RoutingTable client({.client = true});
  client.PeerUp(Peer("other-client", {P("192.0.2.3/24")}));
  client.PeerUp(Peer("server", {P("192.0.2.1/24")}, /*server=*/true));
  EXPECT_EQ(RouteTo(client, "203.0.113.5"), "server");
  EXPECT_EQ(RouteTo(client, "192.0.2.3"), "other-client");
  RoutingTable server;  // not a client: no default
  server.PeerUp(Peer("s2", {}, /*server=*/true));
  server.PeerUp(Peer("c1", {P("192.0.2.2/32")}));
  EXPECT_EQ(RouteTo(server, "203.0.113.5"), "(none)");
}

TEST(RoutingTableTest, TheOnlyPeerTakesEverythingAndGoneMeansGone) {
  RoutingTable t;
  t.PeerUp(Peer("p2p", {}));
  EXPECT_EQ(RouteTo(t, "203.0.113.5"), "p2p");
  t.PeerDown("p2p");
  EXPECT_EQ(RouteTo(t, "203.0.113.5"), "(none)");
  EXPECT_FALSE(t.Find("p2p").has_value());
}

TEST(RoutingTableTest, PeerUpReplacesWhatWasKnown) {
  RoutingTable t;
  t.PeerUp(Peer("a", {P("192.0.2.2/32")}));
  t.PeerUp(Peer("b", {P("192.0.2.3/32")}));
  PeerInfo moved = Peer("a", {P("192.0.2.9/32")});
  moved.takes_vnet = true;
  moved.mtu = 1400;
  t.PeerUp(moved);
  EXPECT_EQ(RouteTo(t, "192.0.2.9"), "a");
  EXPECT_EQ(RouteTo(t, "192.0.2.2"), "(none)");
  EXPECT_TRUE(t.Find("a")->takes_vnet);
  EXPECT_EQ(t.Find("a")->mtu, 1400u);
  EXPECT_EQ(t.Snapshot().size(), 2u);
}

TEST(RoutingTableTest, ConfiguredPrefixesRouteAndLimitSources) {
  RoutingTable t;
  t.ConfigurePeer("key-a", {P("192.0.2.2/32"), P("198.51.100.0/24")});
  // Configured but not up: no route yet.
  EXPECT_EQ(RouteTo(t, "192.0.2.2"), "(none)");
  // It announces something else; the configuration wins.
  t.PeerUp(Peer("key-a", {P("203.0.113.0/24")}));
  t.PeerUp(Peer("unconfigured", {P("192.0.2.3/32")}));
  EXPECT_EQ(RouteTo(t, "198.51.100.7"), "key-a");
  EXPECT_EQ(RouteTo(t, "203.0.113.1"), "(none)");
  EXPECT_TRUE(t.CheckSource("key-a", A("192.0.2.2")));
  EXPECT_TRUE(t.CheckSource("key-a", A("198.51.100.200")));
  EXPECT_FALSE(t.CheckSource("key-a", A("192.0.2.3")));  // spoofing another peer
  EXPECT_FALSE(t.CheckSource("key-a", std::nullopt));
  // Peers without configured prefixes are not checked.
  EXPECT_TRUE(t.CheckSource("unconfigured", A("203.0.113.9")));
  // Down and up again: the configuration stays.
  t.PeerDown("key-a");
  EXPECT_EQ(RouteTo(t, "198.51.100.7"), "(none)");
  EXPECT_FALSE(t.CheckSource("key-a", A("192.0.2.3")));
  t.PeerUp(Peer("key-a", {}));
  EXPECT_EQ(RouteTo(t, "198.51.100.7"), "key-a");
}

}  // namespace
}  // namespace fstun
