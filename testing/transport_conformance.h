// The transport conformance suite: behaviour every Transport must show.
//
// A transport package adds one test file that says how to make a connected
// pair, and instantiates the suite:
//
//   absl::StatusOr<TransportPair> MakePair(const ConformanceSetup& setup) {
//     auto [a, b] = MemoryTransport::CreatePair({.mtu = setup.mtu, ...});
//     return TransportPair{std::move(a), std::move(b)};
//   }
//   INSTANTIATE_TEST_SUITE_P(Memory, TransportConformanceTest,
//                            ::testing::Values(ConformanceParam{"memory", MakePair}),
//                            ConformanceParamName);
//
// The suite routes like the pump: each end gets a RoutingTable as its
// PeerObserver, and frames a->b go to the peer the sender's table picks
// for b's address. What it checks: the sender reports a peer for the
// receiver; frames arrive intact and in order, from a peer the receiver
// reported; batch boundaries do not matter; frames up to the MTU pass and
// larger ones are taken, dropped and counted ("oversize"); Close wakes a
// receiver blocked on wait_fds and later calls fail; counters match what
// was sent; a receiver that does not read makes the sender drop and count
// or take fewer frames (backpressure), never block.
#ifndef FSTUN_TESTING_TRANSPORT_CONFORMANCE_H_
#define FSTUN_TESTING_TRANSPORT_CONFORMANCE_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/ip_address.h"
#include "core/routing_table.h"
#include "core/transport.h"
#include "gtest/gtest.h"

namespace fstun::testing {

// How the suite wants the pair configured.
struct ConformanceSetup {
  size_t mtu = 1400;
  // Bound the transport's queue/backlog to about this many bytes, so the
  // "receiver does not read" test fills it quickly.
  size_t queue_bytes = 256 << 10;
  // Tunnel addresses of the two ends; frames from a to b are addressed
  // a_address -> b_address (transports that route by address need them).
  IpPrefix a_address = *IpPrefix::Parse("192.0.2.2/24");
  IpPrefix b_address = *IpPrefix::Parse("192.0.2.1/24");
};

struct TransportPair {
  std::unique_ptr<Transport> a;      // sends
  std::unique_ptr<Transport> b;      // receives; null: `a` receives what it sends (echo)
  std::shared_ptr<void> keep_alive;  // e.g. a temporary directory, freed last

  Transport& sender() { return *a; }
  Transport& receiver() { return b ? *b : *a; }
};

struct ConformanceParam {
  std::string name;
  std::function<absl::StatusOr<TransportPair>(const ConformanceSetup&)> make;
};

std::string ConformanceParamName(const ::testing::TestParamInfo<ConformanceParam>& info);

class TransportConformanceTest : public ::testing::TestWithParam<ConformanceParam> {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Offers `frames` to the sender for the receiver's peer until it took them
  // all (waiting on its wait_fds when it takes fewer). Fails the test on an
  // error or if it takes nothing for 10 s.
  void SendAll(absl::Span<const FrameView> frames);

  ConformanceSetup setup_;
  TransportPair pair_;
  RoutingTable a_table_;
  RoutingTable b_table_;
  PeerId to_b_;  // the peer a's table routes b's address to
};

// Waits (calling t.Receive to let it discover peers) until `table`, t's
// observer, has a route for `destination`; returns its peer.
absl::StatusOr<PeerId> WaitForRoute(Transport& t, const RoutingTable& table,
                                    const IpAddress& destination, absl::Duration timeout);

// Waits until one of t.wait_fds() is ready for what it asks, or `timeout`.
bool WaitForTransport(const Transport& t, absl::Duration timeout, bool readable_only = false);

// Receives until `count` frames arrived, `timeout` passed, or (if
// `idle_timeout` is finite) nothing arrived for that long. Waits on
// wait_fds and poll_interval, like the pump. With `from`, the sender of
// each frame is appended to it.
std::vector<std::vector<uint8_t>> ReceiveFrames(
    Transport& t, size_t count, absl::Duration timeout,
    absl::Duration idle_timeout = absl::InfiniteDuration(), size_t batch_capacity = 64,
    std::vector<PeerId>* from = nullptr);

}  // namespace fstun::testing

#endif  // FSTUN_TESTING_TRANSPORT_CONFORMANCE_H_
