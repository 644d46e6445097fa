// StreamTransport beyond the conformance suite: the peer and its offload
// setting reported from its hello, garbage on the line, sockets that listen, connect and reconnect,
// the end of a stdio stream, and backpressure.
#include "transports/stream/stream_transport.h"

#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/event_fd.h"
#include "core/routing_table.h"
#include "gtest/gtest.h"
#include "testing/packet_builder.h"
#include "testing/transport_conformance.h"
#include "transports/stream/endpoint.h"
#include "transports/stream/wire_format.h"
#include "vnet/header.h"

// This file uses the suite's ReceiveFrames helper, not the suite itself.
namespace fstun::testing {
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(TransportConformanceTest);
}  // namespace fstun::testing

namespace fstun::stream {
namespace {

using testing::PacketBuilder;
using testing::ReceiveFrames;
using testing::WaitForTransport;

const IpAddress kA = *IpAddress::Parse("192.0.2.1");
const IpAddress kB = *IpAddress::Parse("192.0.2.2");

std::vector<uint8_t> Packet(uint32_t tag, size_t size = 200) {
  return PacketBuilder::TaggedUdp(kA, kB, tag, size);
}

// A 10-byte virtio_net_hdr (flags, gso_type, rest zero) + packet.
std::vector<uint8_t> Vnet(uint8_t flags, uint8_t gso_type, const std::vector<uint8_t>& packet) {
  std::vector<uint8_t> f(kVirtioNetHdrSize, 0);
  f[0] = flags;
  f[1] = gso_type;
  f.insert(f.end(), packet.begin(), packet.end());
  return f;
}

// $TEST_TMPDIR is too deep for a Unix socket path (107 characters).
std::string ShortSocketPath(const char* what) {
  return absl::StrCat("/tmp/fstun_stream_test_", getpid(), "_", what, ".sock");
}

struct Pair {
  std::unique_ptr<StreamTransport> a, b;
};

Pair MakePair(StreamTransportOptions oa, StreamTransportOptions ob) {
  signal(SIGPIPE, SIG_IGN);
  int fds[2];
  EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
  Pair p;
  p.a = *StreamTransport::Create(EndpointFromFds(fds[0], fds[0], "a"), oa);
  p.b = *StreamTransport::Create(EndpointFromFds(fds[1], fds[1], "b"), ob);
  return p;
}

// Sends `frames` to the stream's one peer; all must be taken.
void SendNow(StreamTransport& t, std::vector<FrameView> frames) {
  absl::StatusOr<size_t> n = t.Send(kStreamPeer, frames);
  ASSERT_TRUE(n.ok()) << n.status();
  ASSERT_EQ(*n, frames.size());
}

// Lets both ends read their hellos.
void ExchangeHellos(Pair& p) {
  FrameBatch scratch(8, kMaxFrameSize);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(p.a->Receive(scratch).ok());
    ASSERT_TRUE(p.b->Receive(scratch).ok());
  }
  ASSERT_EQ(scratch.size(), 0u) << "hellos are not frames";
}

TEST(StreamTransportTest, OffloadFramesCrossWholeWhenBothEndsTakeThem) {
  StreamTransportOptions vnet{.mtu = 1400, .vnet_frames = true};
  Pair p = MakePair(vnet, vnet);
  ExchangeHellos(p);
  std::vector<uint8_t> super = Vnet(1, /*GSO_TCPV4=*/1, Packet(1, 30000));
  SendNow(*p.a, {FrameView(super)});
  auto got = ReceiveFrames(*p.b, 1, absl::Seconds(5));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], super);
  EXPECT_TRUE(p.a->capabilities().carries_gso_frames);
}

TEST(StreamTransportTest, EachEndReportsThePeerWithItsOffloadSettingFromItsHello) {
  // The core adapts frames to what the peer takes (it cuts super-packets
  // for an end without offloads, core/router.h); the stream reports that
  // from the hello and carries plain packets both ways unchanged.
  Pair p = MakePair({.mtu = 1400, .vnet_frames = true}, {.mtu = 1400, .vnet_frames = false});
  RoutingTable ta, tb;
  p.a->SetPeerObserver(&ta);
  p.b->SetPeerObserver(&tb);
  EXPECT_FALSE(ta.Find(kStreamPeer).has_value()) << "no peer before its hello";
  ExchangeHellos(p);
  ASSERT_TRUE(ta.Find(kStreamPeer).has_value());
  ASSERT_TRUE(tb.Find(kStreamPeer).has_value());
  EXPECT_FALSE(ta.Find(kStreamPeer)->takes_vnet);
  EXPECT_TRUE(tb.Find(kStreamPeer)->takes_vnet);
  std::vector<uint8_t> plain = Packet(1);
  SendNow(*p.a, {FrameView(plain)});
  auto got = ReceiveFrames(*p.b, 1, absl::Seconds(5));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], plain);
  SendNow(*p.b, {FrameView(plain)});
  got = ReceiveFrames(*p.a, 1, absl::Seconds(5));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], plain) << "the core, not the stream, adds the header a's TUN wants";
  EXPECT_EQ(p.a->counters().total_drops() + p.b->counters().total_drops(), 0u);
  // The connection ends: the peer is reported gone.
  p.b.reset();
  FrameBatch scratch(4, kMaxFrameSize);
  for (int i = 0; i < 3; ++i) (void)p.a->Receive(scratch);
  EXPECT_FALSE(ta.Find(kStreamPeer).has_value());
}

TEST(StreamTransportTest, AVnetRecordForAnEndWithoutOffloadsIsDroppedAndCounted) {
  signal(SIGPIPE, SIG_IGN);
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
  auto t = *StreamTransport::Create(EndpointFromFds(fds[0], fds[0], "line"), {.mtu = 1400});
  // A peer that ignores our hello: it says hello, then sends a super-packet.
  HelloRecord hello;
  hello.session = 42;
  std::array<uint8_t, HelloRecord::kSize> hb = hello.Encode();
  std::vector<uint8_t> super = Vnet(1, 1, Packet(2, 30000));
  std::string line;
  for (auto [type, payload] :
       {std::pair{RecordType::kHello, absl::Span<const uint8_t>(hb)},
        std::pair{RecordType::kVnetFrame, absl::Span<const uint8_t>(super)}}) {
    std::array<uint8_t, kHeaderSize> h;
    EncodeHeader(type, payload, h);
    line += std::string(h.begin(), h.end()) + std::string(payload.begin(), payload.end());
  }
  ASSERT_EQ(write(fds[1], line.data(), line.size()), static_cast<ssize_t>(line.size()));
  EXPECT_TRUE(ReceiveFrames(*t, 1, absl::Milliseconds(300)).empty());
  EXPECT_EQ(t->counters().drops_for("offload_mismatch"), 1u);
  close(fds[1]);
}

TEST(StreamTransportTest, GarbageOnTheLineIsSkippedCountedAndTrafficSurvives) {
  signal(SIGPIPE, SIG_IGN);
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
  auto t = *StreamTransport::Create(EndpointFromFds(fds[0], fds[0], "line"), {.mtu = 1400});
  // The far end of the "line", written by hand: record, noise, record,
  // a record cut by noise, record.
  std::string line;
  auto record = [&](const std::vector<uint8_t>& payload) {
    std::array<uint8_t, kHeaderSize> h;
    EncodeHeader(RecordType::kFrame, payload, h);
    return std::string(h.begin(), h.end()) + std::string(payload.begin(), payload.end());
  };
  line += record(Packet(1));
  line += "\r\n[   12.345] serial console noise\r\n";
  line += record(Packet(2));
  std::string cut = record(Packet(3));
  line += cut.substr(0, 100) + "NOISE" + cut.substr(100);
  line += record(Packet(4));
  ASSERT_EQ(write(fds[1], line.data(), line.size()), static_cast<ssize_t>(line.size()));
  auto got = ReceiveFrames(*t, 3, absl::Seconds(5));
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0], Packet(1));
  EXPECT_EQ(got[1], Packet(2));
  EXPECT_EQ(got[2], Packet(4));
  CounterSnapshot c = t->counters();
  EXPECT_EQ(c.drops_for("bad_checksum"), 1u);
  EXPECT_EQ(c.drops_for("garbage"), 2u);
  EXPECT_GT(t->decoder_stats().garbage_bytes, 30u);
  close(fds[1]);
}

TEST(StreamTransportTest, EndOfAStdioStreamEndsTheTransportWithAClearError) {
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
  auto t = *StreamTransport::Create(EndpointFromFds(fds[0], fds[0], "stdio"), {.mtu = 1400});
  close(fds[1]);
  FrameBatch batch(8, kMaxFrameSize);
  absl::StatusOr<Transport::Received> n = t->Receive(batch);
  for (int i = 0; i < 3 && n.ok(); ++i) n = t->Receive(batch);
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(n.status().message().find("stdio"), std::string::npos) << n.status();
}

TEST(StreamTransportTest, UnixSocketListensConnectsAndReconnects) {
  signal(SIGPIPE, SIG_IGN);
  std::string path = ShortSocketPath("listen");
  EndpointOptions fast{.min_backoff = absl::Milliseconds(10),
                       .max_backoff = absl::Milliseconds(50)};
  auto server_ep = OpenEndpoint(*ParseStreamAddress("listen:unix:" + path), fast);
  ASSERT_TRUE(server_ep.ok()) << server_ep.status();
  auto server = *StreamTransport::Create(*std::move(server_ep), {.mtu = 1400});
  // A second listener on the same path is refused while the first lives.
  auto again = OpenEndpoint(*ParseStreamAddress("listen:unix:" + path), fast);
  EXPECT_FALSE(again.ok());

  for (int round = 0; round < 2; ++round) {
    auto client = *StreamTransport::Create(*OpenEndpoint(*ParseStreamAddress("unix:" + path), fast),
                                           {.mtu = 1400});
    // Until the server accepted and both said hello, frames may be
    // dropped: retry a bounded number of times, as ping would.
    std::vector<std::vector<uint8_t>> got;
    for (int i = 0; i < 100 && got.empty(); ++i) {
      std::vector<uint8_t> f = Packet(round * 1000 + i);
      ASSERT_TRUE(client->Send(kStreamPeer, {FrameView(f)}).ok());
      got = ReceiveFrames(*server, 1, absl::Milliseconds(50));
      FrameBatch scratch(4, kMaxFrameSize);
      ASSERT_TRUE(client->Receive(scratch).ok());
    }
    ASSERT_EQ(got.size(), 1u) << "round " << round;
    // And back.
    std::vector<uint8_t> reply = Packet(77);
    SendNow(*server, {FrameView(reply)});
    auto back = ReceiveFrames(*client, 1, absl::Seconds(5));
    ASSERT_EQ(back.size(), 1u);
    EXPECT_EQ(back[0], reply);
    ASSERT_EQ(server->peers().size(), 1u);
    EXPECT_FALSE(server->peers()[0].session.empty()) << "the peer's hello was heard";
    client->Close();
  }
  // The client is gone: the server notices, keeps listening, and drops
  // (counted) while nobody is connected.
  FrameBatch scratch(4, kMaxFrameSize);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(server->Receive(scratch).ok());
  EXPECT_TRUE(server->peers().empty());
  std::vector<uint8_t> f = Packet(1);
  SendNow(*server, {FrameView(f)});
  EXPECT_EQ(server->counters().drops_for("not_connected"), 1u);
}

TEST(StreamTransportTest, TcpOnLoopbackCarriesFramesBothWays) {
  signal(SIGPIPE, SIG_IGN);
  EndpointOptions fast{.min_backoff = absl::Milliseconds(10),
                       .max_backoff = absl::Milliseconds(40)};
  // A port of our own: try a few from a pid-derived start.
  absl::StatusOr<std::unique_ptr<Endpoint>> listener;
  std::string port;
  for (int i = 0; i < 20 && !listener.ok(); ++i) {
    port = absl::StrCat(20000 + (getpid() * 7 + i * 131) % 40000);
    listener = OpenEndpoint(*ParseStreamAddress("listen:tcp:127.0.0.1:" + port), fast);
  }
  ASSERT_TRUE(listener.ok()) << listener.status();
  auto server = *StreamTransport::Create(*std::move(listener), {.mtu = 1400});
  auto client = *StreamTransport::Create(
      *OpenEndpoint(*ParseStreamAddress("tcp:127.0.0.1:" + port), fast), {.mtu = 1400});
  std::vector<std::vector<uint8_t>> got;
  for (int i = 0; i < 100 && got.empty(); ++i) {
    FrameBatch scratch(4, kMaxFrameSize);
    ASSERT_TRUE(client->Receive(scratch).ok());
    std::vector<uint8_t> f = Packet(i);
    ASSERT_TRUE(client->Send(kStreamPeer, {FrameView(f)}).ok());
    got = ReceiveFrames(*server, 1, absl::Milliseconds(20));
  }
  ASSERT_EQ(got.size(), 1u);
  std::vector<uint8_t> reply = Packet(99, 1400);
  SendNow(*server, {FrameView(reply)});
  auto back = ReceiveFrames(*client, 1, absl::Seconds(5));
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0], reply);
  ASSERT_EQ(server->peers().size(), 1u);
  PeerStatus peer = server->peers()[0];
  EXPECT_EQ(peer.id, kStreamPeer);
  ASSERT_FALSE(peer.details.empty());
  EXPECT_EQ(peer.details[0].first, "endpoint");
  EXPECT_NE(peer.details[0].second.find("127.0.0.1:"), std::string::npos) << peer.details[0].second;
}

TEST(StreamTransportTest, ConnectingEndRetriesUntilTheServerAppears) {
  signal(SIGPIPE, SIG_IGN);
  std::string path = ShortSocketPath("late");
  EndpointOptions fast{.min_backoff = absl::Milliseconds(10),
                       .max_backoff = absl::Milliseconds(40)};
  auto client = *StreamTransport::Create(*OpenEndpoint(*ParseStreamAddress("unix:" + path), fast),
                                         {.mtu = 1400});
  EXPECT_TRUE(client->peers().empty());
  EXPECT_LT(client->poll_interval(), absl::Seconds(1)) << "a retry is due: the pump must wake";
  absl::SleepFor(absl::Milliseconds(50));
  auto server = *StreamTransport::Create(
      *OpenEndpoint(*ParseStreamAddress("listen:unix:" + path), fast), {.mtu = 1400});
  std::vector<std::vector<uint8_t>> got;
  for (int i = 0; i < 200 && got.empty(); ++i) {
    FrameBatch scratch(4, kMaxFrameSize);
    WaitForTransport(*client, std::min(client->poll_interval(), absl::Milliseconds(20)));
    ASSERT_TRUE(client->Receive(scratch).ok());
    std::vector<uint8_t> f = Packet(i);
    ASSERT_TRUE(client->Send(kStreamPeer, {FrameView(f)}).ok());
    got = ReceiveFrames(*server, 1, absl::Milliseconds(20));
  }
  EXPECT_EQ(got.size(), 1u);
}

TEST(StreamTransportTest, SendTakesWhatTheStreamTakesAndNeverBlocks) {
  Pair p = MakePair({.mtu = 1400, .send_buffer_bytes = 0}, {.mtu = 1400});
  ExchangeHellos(p);
  std::vector<std::vector<uint8_t>> frames;
  for (uint32_t i = 0; i < 2000; ++i) frames.push_back(Packet(i, 1400));
  std::vector<FrameView> views(frames.begin(), frames.end());
  absl::Time start = absl::Now();
  absl::StatusOr<size_t> taken = p.a->Send(kStreamPeer, views);
  ASSERT_TRUE(taken.ok());
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
  EXPECT_GT(*taken, 0u);
  EXPECT_LT(*taken, frames.size()) << "2.8 MB cannot fit the socket plus a 2.8 KB buffer";
  EXPECT_EQ(p.a->counters().total_drops(), 0u) << "Send leaves the rest with the caller";
  // The stream wants to be told when it is writable again.
  bool waits_for_pollout = false;
  for (const fstun::WaitFd& w : p.a->wait_fds()) waits_for_pollout |= (w.events & POLLOUT) != 0;
  EXPECT_TRUE(waits_for_pollout);
  // Once b reads, a takes the rest (the pump's loop: wait, offer again).
  size_t sent = *taken;
  std::vector<std::vector<uint8_t>> got;
  for (int i = 0; i < 2000 && got.size() < frames.size(); ++i) {
    WaitForTransport(*p.a, absl::Milliseconds(5));
    absl::StatusOr<size_t> more = p.a->Send(kStreamPeer, absl::MakeSpan(views).subspan(sent));
    ASSERT_TRUE(more.ok());
    sent += *more;
    auto part = ReceiveFrames(*p.b, frames.size() - got.size(), absl::Milliseconds(5));
    got.insert(got.end(), part.begin(), part.end());
  }
  ASSERT_EQ(got.size(), frames.size());
  EXPECT_EQ(got.back(), frames.back());
  EXPECT_EQ(p.a->counters().total_drops() + p.b->counters().total_drops(), 0u);
}

}  // namespace
}  // namespace fstun::stream
