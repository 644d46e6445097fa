// memory_bridge: the "fstun core limit" row of tools/bench. Two TUNs, each in
// its own network namespace, joined inside one process by the memory
// transport and two pumps (one thread each). Whatever it reaches is the
// ceiling of fstun's core and TUN I/O with a transport that costs nothing.
//
//   ip netns exec A memory_bridge --netns_a=/run/netns/A --netns_b=/run/netns/B \
//       --ip_a=192.0.2.1/24 --ip_b=192.0.2.2/24 [--offload] [--seal]
//
// With --seal each end of the memory transport is wrapped in the shared-key
// sealing layer (SealedTransport, a fresh random key): every frame is sealed
// and opened as with --key_file, and nothing else costs: the row then
// measures the crypto on the pumps' threads.
//
// Each TUN is created (and configured over rtnetlink) while the main thread
// is switched into its namespace with setns(); the TUN's fd stays bound to
// that namespace afterwards, so the pumps need no namespace of their own.
// The thread switches back to the namespace it started in before anything
// else runs. Runs until SIGINT/SIGTERM, then prints the pumps' counters.
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "core/ip_address.h"
#include "core/pump.h"
#include "gflags/gflags.h"
#include "seal/aead.h"
#include "seal/key.h"
#include "seal/sealed_frame.h"
#include "seal/sealed_transport.h"
#include "transports/memory/memory_transport.h"
#include "tun/tun_device.h"

DEFINE_string(netns_a, "", "network namespace of TUN A (a path, e.g. /run/netns/A)");
DEFINE_string(netns_b, "", "network namespace of TUN B (a path, e.g. /run/netns/B)");
DEFINE_string(ip_a, "192.0.2.1/24", "address of TUN A");
DEFINE_string(ip_b, "192.0.2.2/24", "address of TUN B");
DEFINE_string(ifname_a, "memA", "name of TUN A");
DEFINE_string(ifname_b, "memB", "name of TUN B");
DEFINE_int32(mtu, 1500, "MTU of both TUNs");
DEFINE_bool(offload, false,
            "TUN offloads (virtio_net_hdr, TSO/USO): 64 KiB super-packets pass through the "
            "memory transport unchanged");
DEFINE_bool(seal, false,
            "seal every frame as --key_file does (SealedTransport around each end, a random key)");
DEFINE_string(seal_aead, "auto",
              "with --seal: 'auto' (libcrypto from 512 bytes on, as fstun does) or 'libsodium' "
              "(every frame, as fstun did before seal/aead.h): one lever at a time");

namespace fstun {
namespace {

Pump* g_pumps[2] = {nullptr, nullptr};

void OnSignal(int) {
  for (Pump* p : g_pumps) {
    if (p != nullptr) p->Stop();
  }
}

// An fd of the calling thread's current network namespace.
absl::StatusOr<int> CurrentNetns() {
  int fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::InternalError(absl::StrCat("open own netns: ", strerror(errno)));
  return fd;
}

absl::Status EnterNetns(int fd, const std::string& what) {
  if (setns(fd, CLONE_NEWNET) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot enter network namespace ", what, ": ", strerror(errno)));
  }
  return absl::OkStatus();
}

// Creates a TUN inside the namespace at `netns_path`, then returns to
// `home_fd`'s namespace.
absl::StatusOr<std::unique_ptr<TunDevice>> CreateTunIn(const std::string& netns_path, int home_fd,
                                                       const TunOptions& options) {
  int fd = open(netns_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::NotFoundError(
        absl::StrCat("cannot open network namespace ", netns_path, ": ", strerror(errno)));
  }
  absl::Status entered = EnterNetns(fd, netns_path);
  close(fd);
  if (!entered.ok()) return entered;
  absl::StatusOr<std::unique_ptr<TunDevice>> tun = TunDevice::Create(options);
  absl::Status back = EnterNetns(home_fd, "of this process");
  if (!back.ok()) return back;  // never keep running in the wrong namespace
  return tun;
}

absl::StatusOr<TunOptions> Options(const std::string& name, const std::string& ip,
                                   const char* flag) {
  TunOptions options;
  options.name = name;
  options.mtu = FLAGS_mtu;
  options.vnet_hdr = FLAGS_offload;
  absl::StatusOr<IpPrefix> prefix = IpPrefix::Parse(ip);
  if (!prefix.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(flag, ": ", prefix.status().message()));
  }
  options.addresses = {*prefix};
  return options;
}

int Main() {
  if (FLAGS_netns_a.empty() || FLAGS_netns_b.empty()) {
    std::cerr << "memory_bridge: --netns_a and --netns_b are required\n";
    return 2;
  }
  absl::StatusOr<TunOptions> options_a = Options(FLAGS_ifname_a, FLAGS_ip_a, "--ip_a");
  absl::StatusOr<TunOptions> options_b = Options(FLAGS_ifname_b, FLAGS_ip_b, "--ip_b");
  if (!options_a.ok() || !options_b.ok()) {
    std::cerr << "memory_bridge: "
              << (options_a.ok() ? options_b.status() : options_a.status()).message() << "\n";
    return 2;
  }
  absl::StatusOr<int> home = CurrentNetns();
  if (!home.ok()) {
    std::cerr << "memory_bridge: " << home.status().message() << "\n";
    return 1;
  }
  absl::StatusOr<std::unique_ptr<TunDevice>> tun_a = CreateTunIn(FLAGS_netns_a, *home, *options_a);
  absl::StatusOr<std::unique_ptr<TunDevice>> tun_b =
      tun_a.ok() ? CreateTunIn(FLAGS_netns_b, *home, *options_b) : tun_a.status();
  close(*home);
  if (!tun_a.ok() || !tun_b.ok()) {
    std::cerr << "memory_bridge: " << (tun_a.ok() ? tun_b.status() : tun_a.status()).message()
              << "\n";
    return 1;
  }

  MemoryTransportOptions transport_options;
  transport_options.mtu = FLAGS_mtu + (FLAGS_seal ? kSealOverhead : 0);
  transport_options.carry_gso_frames = FLAGS_offload;
  auto [memory_a, memory_b] = MemoryTransport::CreatePair(transport_options);
  std::unique_ptr<Transport> end_a = std::move(memory_a);
  std::unique_ptr<Transport> end_b = std::move(memory_b);
  if (FLAGS_seal) {
    if (FLAGS_seal_aead != "auto" && FLAGS_seal_aead != "libsodium") {
      std::cerr << "memory_bridge: --seal_aead must be auto or libsodium\n";
      return 2;
    }
    aead::InitAead();
    if (FLAGS_seal_aead == "libsodium") aead::SetBackendForTest(aead::Backend::kLibsodium);
    Key key = Key::Generate();
    absl::StatusOr<Key> copy = Key::FromBase64(key.ToBase64());
    const size_t mtu = static_cast<size_t>(FLAGS_mtu);
    absl::StatusOr<std::unique_ptr<SealedTransport>> sealed_a =
        SealedTransport::Create(std::move(end_a), std::move(key), {mtu, 1, 0});
    absl::StatusOr<std::unique_ptr<SealedTransport>> sealed_b =
        SealedTransport::Create(std::move(end_b), *std::move(copy), {mtu, 2, 0});
    if (!sealed_a.ok() || !sealed_b.ok()) {
      std::cerr << "memory_bridge: "
                << (sealed_a.ok() ? sealed_b.status() : sealed_a.status()).message() << "\n";
      return 1;
    }
    end_a = *std::move(sealed_a);
    end_b = *std::move(sealed_b);
  }
  Pump pump_a(**tun_a, *end_a);
  Pump pump_b(**tun_b, *end_b);
  g_pumps[0] = &pump_a;
  g_pumps[1] = &pump_b;
  struct sigaction action = {};
  action.sa_handler = OnSignal;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);

  std::cerr << "memory_bridge: " << (*tun_a)->name() << " <-> " << (*tun_b)->name()
            << (FLAGS_offload ? absl::StrCat(" with offloads (flags 0x",
                                             absl::Hex((*tun_a)->offload_flags()), ")")
                              : std::string(" without offloads"))
            << (FLAGS_seal ? absl::StrCat(", sealed (aead ", FLAGS_seal_aead, ")") : "")
            << ", running\n";
  absl::Status status_b;
  std::thread thread_b([&] { status_b = pump_b.Run(); });
  absl::Status status_a = pump_a.Run();
  pump_b.Stop();
  thread_b.join();
  g_pumps[0] = g_pumps[1] = nullptr;

  std::cerr << "A: " << pump_a.Summary() << "\nB: " << pump_b.Summary() << "\n";
  if (!status_a.ok() || !status_b.ok()) {
    std::cerr << "memory_bridge: " << (status_a.ok() ? status_b : status_a).message() << "\n";
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace fstun

int main(int argc, char** argv) {
  gflags::SetUsageMessage("two TUNs in two network namespaces joined by the memory transport");
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  return fstun::Main();
}
