#include "cmd/flags.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "core/registry.h"
#include "identity/identity_flags.h"
#include "identity/peer_crypto.h"
#include "ops/flag_file.h"
#include "seal/key.h"
#include "seal/layer.h"

DEFINE_string(role, "none",
              "server: share this host's network with the peers (forwarding + NAT); "
              "client: route through the tunnel; none: only bring up the interface");
DEFINE_bool(server, false, "alias of --role=server (the original demo's flag)");
DEFINE_bool(client, false, "alias of --role=client (the original demo's flag)");
DEFINE_string(transport, "fs", "transport that carries the frames (see --list_transports)");
DEFINE_string(ifname, "tun0", "name of the TUN interface to create (at most 15 characters)");
DEFINE_string(ip, "",
              "required: this end's tunnel address(es), ADDR/PREFIX[,ADDR/PREFIX...], "
              "IPv4 and/or IPv6, e.g. 192.0.2.1/24,2001:db8::1/64");
DEFINE_int32(mtu, 1500, "MTU of the tunnel interface (576..65535; 1280+ with IPv6)");
DEFINE_bool(offload, true,
            "TUN offloads (virtio-net header, TSO/USO super-packets up to 64 KiB) when the "
            "transport can carry them; --nooffload moves plain MTU-sized packets");
DEFINE_bool(list_transports, false, "list the available transports and exit");

namespace fstun {
namespace {

bool IsBoolFlag(const gflags::CommandLineFlagInfo& info) { return info.type == "bool"; }

}  // namespace

absl::Status CheckFlagsBeforeParsing(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--") break;
    if (!absl::StartsWith(arg, "-") || arg == "-") continue;  // positional
    arg.remove_prefix(absl::StartsWith(arg, "--") ? 2 : 1);
    size_t eq = arg.find('=');
    std::string name(arg.substr(0, eq));
    gflags::CommandLineFlagInfo info;
    if (!gflags::GetCommandLineFlagInfo(name.c_str(), &info)) {
      // --noFLAG for booleans.
      if (absl::StartsWith(name, "no") &&
          gflags::GetCommandLineFlagInfo(name.substr(2).c_str(), &info) && IsBoolFlag(info)) {
        continue;
      }
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name, " (see --help)"));
    }
    if (eq == absl::string_view::npos) {
      if (IsBoolFlag(info) || name == "help" || name == "helpfull") continue;
      if (i + 1 >= argc) {
        return absl::InvalidArgumentError(absl::StrCat("flag --", name, " needs a value"));
      }
      ++i;
    }
    // Flag files (the configuration format): unknown flags and bad lines
    // there are usage errors too, named by file and line (ops/flag_file.h).
    if (name == "flagfile") {
      absl::string_view value =
          eq == absl::string_view::npos ? absl::string_view(argv[i]) : arg.substr(eq + 1);
      if (absl::Status s = CheckFlagFiles(value); !s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<DaemonConfig> DaemonConfigFromFlags() {
  DaemonConfig c;
  c.role = FLAGS_role;
  if (FLAGS_server && FLAGS_client) {
    return absl::InvalidArgumentError("--server and --client cannot both be given");
  }
  if (FLAGS_server || FLAGS_client) {
    std::string alias = FLAGS_server ? "server" : "client";
    if (!gflags::GetCommandLineFlagInfoOrDie("role").is_default && c.role != alias) {
      return absl::InvalidArgumentError(
          absl::StrCat("--", alias, " conflicts with --role=", c.role));
    }
    c.role = alias;
  }
  if (c.role != "server" && c.role != "client" && c.role != "none") {
    return absl::InvalidArgumentError(
        absl::StrCat("--role must be server, client or none, not '", c.role, "'"));
  }
  if (FLAGS_ip.empty()) {
    return absl::InvalidArgumentError("--ip is required, e.g. --ip=192.0.2.1/24");
  }
  absl::StatusOr<std::vector<IpPrefix>> addresses = ParsePrefixList(FLAGS_ip);
  if (!addresses.ok())
    return absl::InvalidArgumentError(absl::StrCat("--ip: ", addresses.status().message()));
  c.addresses = *addresses;
  bool has_v6 = false;
  for (const IpPrefix& p : c.addresses) has_v6 |= p.address.is_v6();
  int min_mtu = has_v6 ? 1280 : 576;
  if (FLAGS_mtu < min_mtu || FLAGS_mtu > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("--mtu must be between ", min_mtu, " and 65535", has_v6 ? " with IPv6" : ""));
  }
  c.mtu = FLAGS_mtu;
  if (FLAGS_ifname.empty() || FLAGS_ifname.size() > 15 ||
      FLAGS_ifname.find_first_of("/ \t\n:") != std::string::npos || FLAGS_ifname == "." ||
      FLAGS_ifname == "..") {
    return absl::InvalidArgumentError(
        absl::StrCat("--ifname '", FLAGS_ifname,
                     "' is not a valid interface name (1-15 characters, no '/', ':' or spaces)"));
  }
  c.ifname = FLAGS_ifname;
  // --key_file: a bad key file is a usage error, found before the host is
  // touched (the daemon loads it again when it creates the transport).
  if (!FLAGS_key_file.empty()) {
    std::string fs_format;
    if (gflags::GetCommandLineOption("fs_format", &fs_format) && fs_format == "legacy") {
      return absl::InvalidArgumentError(
          "--key_file cannot be used with --fs_format=legacy: the original demo's format "
          "carries bare packets; use the default format to seal frames");
    }
    if (absl::StatusOr<Key> key = LoadKeyFile(FLAGS_key_file); !key.ok()) {
      return absl::InvalidArgumentError(key.status().message());
    }
  }
  // --private_key_file/--peer/--peers_file: per-peer identity (identity/).
  // Every error a user can make there (a bad key, a bad or duplicate peer,
  // one prefix given to two peers) is found here, before the host is
  // touched (the daemon loads them again when it creates the transport).
  absl::StatusOr<std::optional<IdentityConfig>> identity = IdentityConfigFromFlags();
  if (!identity.ok()) return absl::InvalidArgumentError(identity.status().message());
  if (identity->has_value()) {
    std::string fs_format;
    if (gflags::GetCommandLineOption("fs_format", &fs_format) && fs_format == "legacy") {
      return absl::InvalidArgumentError(
          "--private_key_file cannot be used with --fs_format=legacy: the original demo's "
          "format carries bare packets; use the default format");
    }
    PeerCryptoOptions check;
    check.peers = (*identity)->peers;
    absl::StatusOr<std::unique_ptr<PeerCrypto>> crypto =
        PeerCrypto::Create(std::move((*identity)->key), {}, std::move(check));
    if (!crypto.ok()) return absl::InvalidArgumentError(crypto.status().message());
  }
  c.transport = FLAGS_transport;
  c.offload = FLAGS_offload;
  bool known = false;
  std::string names;
  for (const auto& e : TransportRegistry::Global().List()) {
    known |= e.name == c.transport;
    absl::StrAppend(&names, names.empty() ? "" : ", ", e.name);
  }
  if (!known) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown transport '", c.transport, "'; known: ", names));
  }
  return c;
}

}  // namespace fstun
