// Registers "memory". Two transports created with the same `link` option
// (default "default") are the two ends of one pair: the first Create makes
// the pair and returns one end, the second returns the other.
#include <map>
#include <memory>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "core/registry.h"
#include "transports/memory/memory_transport.h"

namespace fstun {
namespace {

absl::Mutex pending_mu;
std::map<std::string, std::unique_ptr<MemoryTransport>>& Pending() {
  static auto* pending = new std::map<std::string, std::unique_ptr<MemoryTransport>>();
  return *pending;
}

absl::StatusOr<std::unique_ptr<Transport>> CreateMemory(const TransportConfig& config) {
  MemoryTransportOptions options;
  options.mtu = config.mtu;
  // Frames are opaque here: super-frames pass unchanged.
  options.carry_gso_frames = config.offload_frames;
  std::string frames = config.Option("queue_frames", "4096");
  if (!absl::SimpleAtoi(frames, &options.queue_frames) || options.queue_frames == 0) {
    return absl::InvalidArgumentError(absl::StrCat("memory: bad queue_frames '", frames, "'"));
  }
  std::string link = config.Option("link", "default");
  absl::MutexLock lock(&pending_mu);
  auto it = Pending().find(link);
  if (it != Pending().end()) {
    std::unique_ptr<Transport> second = std::move(it->second);
    Pending().erase(it);
    return second;
  }
  auto [a, b] = MemoryTransport::CreatePair(options);
  Pending()[link] = std::move(b);
  return std::unique_ptr<Transport>(std::move(a));
}

TransportRegistration kRegistration(
    "memory", "two endpoints in one process joined by bounded queues (tests, benchmarks)",
    CreateMemory);

}  // namespace
}  // namespace fstun
