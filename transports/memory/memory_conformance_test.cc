// The memory transport passes the transport conformance suite.
#include "testing/transport_conformance.h"
#include "transports/memory/memory_transport.h"

namespace fstun {
namespace {

using testing::ConformanceParam;
using testing::ConformanceSetup;
using testing::TransportConformanceTest;
using testing::TransportPair;

absl::StatusOr<TransportPair> MakeMemoryPair(const ConformanceSetup& setup) {
  MemoryTransportOptions options;
  options.mtu = setup.mtu;
  options.queue_bytes = setup.queue_bytes;
  auto [a, b] = MemoryTransport::CreatePair(options);
  return TransportPair{std::move(a), std::move(b), nullptr};
}

INSTANTIATE_TEST_SUITE_P(Memory, TransportConformanceTest,
                         ::testing::Values(ConformanceParam{"memory", MakeMemoryPair}),
                         testing::ConformanceParamName);

}  // namespace
}  // namespace fstun
