// StreamTransport beyond the conformance suite: offload negotiation by
// hello, garbage on the line, sockets that listen, connect and reconnect,
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
  ASSERT_TRUE(p.a->Send({FrameView(super)}).ok());
  auto got = ReceiveFrames(*p.b, 1, absl::Seconds(5));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], super);
  EXPECT_TRUE(p.a->capabilities().carries_gso_frames);
}

TEST(StreamTransportTest, AnEndWithoutOffloadsGetsPlainPacketsAndNoSuperPackets) {
  Pair p = MakePair({.mtu = 1400, .vnet_frames = true}, {.mtu = 1400, .vnet_frames = false});
  ExchangeHellos(p);
  std::vector<uint8_t> plain = Packet(1);
  std::vector<uint8_t> super = Vnet(1, 1, Packet(2, 30000));
  ASSERT_TRUE(p.a->Send({FrameView(Vnet(0, 0, plain)), FrameView(super)}).ok());
  auto got = ReceiveFrames(*p.b, 2, absl::Seconds(2), absl::Milliseconds(300));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], plain) << "the zeroed header is stripped for a peer without offloads";
  EXPECT_EQ(p.a->counters().drops_for("peer_takes_no_offloads"), 1u);
  // The other way: b's plain packet reaches a with a zeroed header.
  ASSERT_TRUE(p.b->Send({FrameView(plain)}).ok());
  got = ReceiveFrames(*p.a, 1, absl::Seconds(5));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], Vnet(0, 0, plain));
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
  absl::StatusOr<size_t> n = t->Receive(batch);
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
    // Until the server accepted, frames may be dropped: retry a bounded
    // number of times, as ping would.
    std::vector<std::vector<uint8_t>> got;
    for (int i = 0; i < 100 && got.empty(); ++i) {
      std::vector<uint8_t> f = Packet(round * 1000 + i);
      ASSERT_TRUE(client->Send({FrameView(f)}).ok());
      got = ReceiveFrames(*server, 1, absl::Milliseconds(50));
      FrameBatch scratch(4, kMaxFrameSize);
      ASSERT_TRUE(client->Receive(scratch).ok());
    }
    ASSERT_EQ(got.size(), 1u) << "round " << round;
    // And back.
    std::vector<uint8_t> reply = Packet(77);
    ASSERT_TRUE(server->Send({FrameView(reply)}).ok());
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
  ASSERT_TRUE(server->Send({FrameView(f)}).ok());
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
    ASSERT_TRUE(client->Send({FrameView(f)}).ok());
    got = ReceiveFrames(*server, 1, absl::Milliseconds(20));
  }
  ASSERT_EQ(got.size(), 1u);
  std::vector<uint8_t> reply = Packet(99, 1400);
  ASSERT_TRUE(server->Send({FrameView(reply)}).ok());
  auto back = ReceiveFrames(*client, 1, absl::Seconds(5));
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0], reply);
  ASSERT_EQ(server->peers().size(), 1u);
  EXPECT_NE(server->peers()[0].id.find("127.0.0.1:"), std::string::npos) << server->peers()[0].id;
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
    WaitReadable(client->readiness_fd(), std::min(client->poll_interval(), absl::Milliseconds(20)));
    ASSERT_TRUE(client->Receive(scratch).ok());
    std::vector<uint8_t> f = Packet(i);
    ASSERT_TRUE(client->Send({FrameView(f)}).ok());
    got = ReceiveFrames(*server, 1, absl::Milliseconds(20));
  }
  EXPECT_EQ(got.size(), 1u);
}

TEST(StreamTransportTest, OfferTakesWhatTheStreamTakesAndNeverBlocks) {
  Pair p = MakePair({.mtu = 1400, .send_buffer_bytes = 0}, {.mtu = 1400});
  std::vector<std::vector<uint8_t>> frames;
  for (uint32_t i = 0; i < 2000; ++i) frames.push_back(Packet(i, 1400));
  std::vector<FrameView> views(frames.begin(), frames.end());
  absl::Time start = absl::Now();
  absl::StatusOr<size_t> taken = p.a->Offer(views);
  ASSERT_TRUE(taken.ok());
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
  EXPECT_GT(*taken, 0u);
  EXPECT_LT(*taken, frames.size()) << "2.8 MB cannot fit the socket plus a 2.8 KB buffer";
  EXPECT_EQ(p.a->counters().total_drops(), 0u) << "Offer keeps the rest with the caller";
  // The stream wants to be told when it is writable again.
  bool waits_for_pollout = false;
  for (const WaitFd& w : p.a->WaitFds()) waits_for_pollout |= (w.events & POLLOUT) != 0;
  EXPECT_TRUE(waits_for_pollout);
}

}  // namespace
}  // namespace fstun::stream
