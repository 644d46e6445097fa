// Registers "loopback": every frame sent comes back to the sender.
#include <memory>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/registry.h"
#include "transports/loopback/loopback_transport.h"

namespace fstun {
namespace {

absl::StatusOr<std::unique_ptr<Transport>> CreateLoopback(const TransportConfig& config) {
  LoopbackTransportOptions options;
  options.mtu = config.mtu;
  // Frames are opaque here: super-frames pass unchanged.
  options.carry_gso_frames = config.offload_frames;
  std::string frames = config.Option("queue_frames", "4096");
  if (!absl::SimpleAtoi(frames, &options.queue_frames) || options.queue_frames == 0) {
    return absl::InvalidArgumentError(absl::StrCat("loopback: bad queue_frames '", frames, "'"));
  }
  return std::unique_ptr<Transport>(new LoopbackTransport(options));
}

TransportRegistration kRegistration(
    "loopback", "echo: every frame sent comes back to the sender (tests, benchmarks)",
    CreateLoopback);

}  // namespace
}  // namespace fstun
