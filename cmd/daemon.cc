#include "cmd/daemon.h"

#include <linux/netlink.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <optional>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "cmd/version.h"
#include "core/pump.h"
#include "core/registry.h"
#include "core/syscalls.h"
#include "glog/logging.h"
#include "identity/identity_flags.h"
#include "identity/identity_transport.h"
#include "identity/link_keys.h"
#include "netconfig/role.h"
#include "netconfig/role_flags.h"
#include "ops/operations.h"
#include "seal/layer.h"
#include "seal/link_auth.h"
#include "security/harden.h"
#include "security/privileges.h"
#include "tun/tun_device.h"

namespace fstun {
namespace {

// The running pump, for the signal handler. Pump::Stop is async-signal-safe.
std::atomic<Pump*> g_pump{nullptr};
std::atomic<bool> g_stop_requested{false};

void OnStopSignal(int) {
  g_stop_requested.store(true);
  if (Pump* p = g_pump.load()) p->Stop();
}

void InstallStopHandlers() {
  struct sigaction sa = {};
  sa.sa_handler = OnStopSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  // A reader of our output going away must not kill us mid-teardown.
  signal(SIGPIPE, SIG_IGN);
}

// What the daemon's own parts call after set-up, besides the core, the
// device and the transport: the control socket (ops/control_server.cc:
// accept4 and the replies), sd_notify (ops/systemd_notify.cc: a unix datagram
// socket), and the teardown (netlink/ and netconfig/: rtnetlink for routes
// and addresses, nftables over NETLINK_NETFILTER for the NAT rules).
SyscallNeeds DaemonSyscalls() {
  SyscallNeeds n;
  n.syscalls = {"accept",      "accept4",    "listen",     "shutdown", "getpeername",
                "getsockname", "getsockopt", "setsockopt", "bind",     "connect",
                "sendto",      "sendmsg",    "recvfrom",   "recvmsg"};
  n.sockets = {{AF_NETLINK, -1, NETLINK_ROUTE},
               {AF_NETLINK, -1, NETLINK_NETFILTER},
               {AF_UNIX, SOCK_DGRAM, -1}};
  return n;
}

std::string AddressList(const std::vector<IpPrefix>& addresses) {
  return absl::StrJoin(addresses, ",", [](std::string* out, const IpPrefix& p) {
    absl::StrAppend(out, p.ToString());
  });
}

}  // namespace

absl::Status RunDaemon(const DaemonConfig& config) {
  InstallStopHandlers();

  // 0. What a killed fstun left is restored first; a live fstun for the same
  //    interface stops us here, before anything is created.
  absl::StatusOr<RoleConfig> role_config =
      RoleConfigFromFlags(config.role, config.ifname, config.addresses, config.mtu);
  if (!role_config.ok()) return role_config.status();
  if (absl::Status s = CleanupBeforeStart(config.ifname); !s.ok()) return s;

  // 1. The transport first: a bad folder or option fails before the host is
  //    touched.
  TransportConfig transport_config;
  transport_config.role = config.role;
  transport_config.ifname = config.ifname;
  transport_config.mtu = config.mtu;
  transport_config.addresses = config.addresses;
  transport_config.offload_frames = config.offload;
  //    With --user, what the transport creates now must be that user's (a
  //    typo in --user also fails here, before the host is touched).
  if (!FLAGS_user.empty()) {
    absl::StatusOr<UserIds> user = LookUpUser(FLAGS_user);
    if (!user.ok()) return user.status();
    transport_config.file_owner = TransportConfig::FileOwner{user->uid, user->gid};
  }
  //    With --private_key_file every frame is sealed per peer
  //    (identity/identity_transport.h), and --key_file is only the optional
  //    preshared key mixed into each handshake. Otherwise, with --key_file
  //    every frame is sealed with that one shared key (seal/layer.h).
  absl::StatusOr<std::optional<Key>> key = KeyFromFlags();
  if (!key.ok()) return key.status();
  absl::StatusOr<aead::Cipher> cipher = CipherFromFlags();
  if (!cipher.ok()) return cipher.status();
  const bool keyed = key->has_value();
  absl::StatusOr<std::optional<IdentityConfig>> identity = IdentityConfigFromFlags();
  if (!identity.ok()) return absl::InvalidArgumentError(identity.status().message());
  // The configured peers (public key -> allowed prefixes), for the routing
  // table below.
  std::vector<PeerConfig> configured_peers;
  absl::StatusOr<std::unique_ptr<Transport>> transport;
  //    Either way the transport also gets a LinkAuthenticator
  //    (core/link_auth.h) for its own control data: per pair of peers, or
  //    from the shared key.
  if (identity->has_value()) {
    configured_peers = (*identity)->peers;
    absl::Span<const uint8_t> psk;
    if (key->has_value()) psk = (*key)->bytes();
    std::vector<PublicKey> peer_keys;
    for (const PeerConfig& p : configured_peers) peer_keys.push_back(p.public_key);
    absl::StatusOr<std::shared_ptr<const LinkAuthenticator>> link_auth =
        MakeIdentityLinkAuth((*identity)->key, peer_keys, psk);
    if (!link_auth.ok()) return absl::InvalidArgumentError(link_auth.status().message());
    transport_config.link_auth = *std::move(link_auth);
    transport =
        CreateIdentityTransport(TransportRegistry::Global(), config.transport, transport_config,
                                std::move((*identity)->key), (*identity)->peers, psk, *cipher);
  } else {
    if (key->has_value()) {
      transport_config.link_auth = MakeSharedKeyLinkAuth(**key);
    } else {
      LogTrustedModeWarning();
    }
    transport = CreateTransport(TransportRegistry::Global(), config.transport, transport_config,
                                *std::move(key), *cipher);
  }
  if (!transport.ok()) return transport.status();
  if (keyed || identity->has_value()) {
    LOG(INFO) << "sealing frames with " << aead::CipherName(*cipher)
              << " (--cipher=" << FLAGS_cipher
              << (aead::HardwareAes() ? "; this CPU has AES instructions" : "; no AES instructions")
              << ")";
  }

  // 2. The TUN, configured and up. It disappears when the device is closed.
  TunOptions tun_options;
  tun_options.name = config.ifname;
  tun_options.mtu = config.mtu;
  tun_options.addresses = config.addresses;
  // Offloads only when the transport carries what they produce.
  tun_options.vnet_hdr = (*transport)->capabilities().carries_gso_frames;
  absl::StatusOr<std::unique_ptr<TunDevice>> tun = TunDevice::Create(tun_options);
  if (!tun.ok()) return tun.status();

  // 2b. The role's host changes (netconfig/role.h), each recorded in the
  //     state file first; undone below, or by the destructor on any early
  //     return, or by the next start / --cleanup after a crash.
  absl::StatusOr<std::unique_ptr<RoleSetup>> role = ApplyRole(*role_config);
  if (!role.ok()) return role.status();

  // 3. Pump until a signal. The pump's routing table learns the peers from
  //    the transport; a client sends what matches no peer to its server.
  PumpOptions pump_options;
  pump_options.device_format = (*tun)->vnet_hdr() ? FrameFormat::kVnet : FrameFormat::kIp;
  pump_options.client = config.role == "client";
  Pump pump(**tun, **transport, pump_options);
  //    Per-peer identity: each key's frames go by its allowed prefixes, and
  //    frames from it with a source outside them are dropped
  //    ("source_not_allowed"), as WireGuard's AllowedIPs.
  for (const PeerConfig& p : configured_peers) {
    pump.routing_table().ConfigurePeer(p.public_key.ToBase64(), p.allowed);
  }
  g_pump.store(&pump);
  absl::Cleanup forget_pump = [] { g_pump.store(nullptr); };
  if (g_stop_requested.load()) pump.Stop();

  // 3b. Operations (ops/operations.h): the control socket is bound now, while
  //     the daemon may still create /run/fstun; its thread starts just before
  //     the pump (after any privilege drop: capabilities are per thread) and
  //     tells systemd READY=1. Destroyed before the host is restored.
  DaemonInfo info;
  info.version = kVersion;
  info.ifname = config.ifname;
  info.role = config.role;
  info.transport = config.transport;
  for (const IpPrefix& p : config.addresses) info.addresses.push_back(p.ToString());
  info.mtu = config.mtu;
  info.started = absl::Now();
  info.pid = getpid();
  absl::StatusOr<std::unique_ptr<Operations>> ops =
      Operations::Prepare(info, **tun, **transport, pump);
  if (!ops.ok()) return ops.status();

  LOG(INFO) << "fstun " << kVersion << " up: role=" << config.role
            << " transport=" << config.transport << " interface=" << config.ifname
            << " addresses=" << AddressList(config.addresses) << " mtu=" << config.mtu
            << " offloads=" << ((*tun)->vnet_hdr() ? "on" : "off");
  // 3c. Least privilege from here on (security/harden.h): only
  //     CAP_NET_ADMIN (for the teardown below), --user, no_new_privs and the
  //     seccomp allow-list.
  //     On failure the role's destructor restores the host, as on any early
  //     return.
  SyscallNeeds needs = CoreSyscalls();
  needs.Add((*tun)->syscalls()).Add((*transport)->syscalls()).Add(DaemonSyscalls());
  if (absl::Status s = HardenAfterSetup(needs); !s.ok()) {
    ops->reset();
    return s;
  }
  (*ops)->Start();
  absl::Status status = pump.Run();
  ops->reset();
  (*transport)->Close();
  LOG(INFO) << "fstun stopping (" << (status.ok() ? "signal" : status.ToString())
            << "): " << pump.Summary();
  if (absl::Status restored = (*role)->Restore(); !restored.ok()) {
    LOG(ERROR) << "restoring the host: " << restored.message();
    if (status.ok()) status = restored;
  }
  return status;
}

}  // namespace fstun
