// The loopback transport passes the transport conformance suite (as an echo:
// the sender receives its own frames).
#include "testing/transport_conformance.h"
#include "transports/loopback/loopback_transport.h"

namespace fstun {
namespace {

using testing::ConformanceParam;
using testing::ConformanceSetup;
using testing::TransportConformanceTest;
using testing::TransportPair;

absl::StatusOr<TransportPair> MakeLoopback(const ConformanceSetup& setup) {
  LoopbackTransportOptions options;
  options.mtu = setup.mtu;
  options.queue_bytes = setup.queue_bytes;
  return TransportPair{std::make_unique<LoopbackTransport>(options), nullptr, nullptr};
}

INSTANTIATE_TEST_SUITE_P(Loopback, TransportConformanceTest,
                         ::testing::Values(ConformanceParam{"loopback", MakeLoopback}),
                         testing::ConformanceParamName);

}  // namespace
}  // namespace fstun
