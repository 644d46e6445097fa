// Nat: the server role's nftables table. fstun owns one table per tunnel,
// `table inet fstun_<ifname>`, and touches no other table, so one
// `nft delete table inet fstun_<ifname>` undoes everything:
//
//   table inet fstun_tun0 {
//     chain forward {      # filter hook, policy accept
//       iifname "tun0" ... tcp option maxseg size set <mtu-40>   # MSS clamp
//       oifname "tun0" ... tcp option maxseg size set <mtu-40>   # (v6: mtu-60)
//       iifname "tun0" counter accept
//       oifname "tun0" ct state established,related counter accept
//     }
//     chain postrouting {  # nat hook
//       oifname != "tun0" ip saddr 192.0.2.0/24 counter masquerade
//     }
//   }
//
// The accepts cannot override a drop in another table (nftables evaluates
// every base chain); a host whose own firewall drops forwarded traffic must
// allow the tunnel there (docs/roles.md).
//
// Commands go through libnftables (the library behind nft(8)), applied as
// one transaction: either the whole table appears or nothing does.
#ifndef FSTUN_NETCONFIG_NAT_H_
#define FSTUN_NETCONFIG_NAT_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/ip_address.h"
#include "netconfig/state_file.h"

namespace fstun {

struct NatConfig {
  std::string ifname;                     // the TUN
  std::vector<IpPrefix> tunnel_prefixes;  // masqueraded source networks
  size_t mtu = 1500;                      // TUN MTU: MSS clamp = mtu - 40 (v4) / - 60 (v6)
};

// "fstun_<ifname>" with characters nft identifiers do not allow mapped to '_'.
std::string NftTableName(absl::string_view ifname);

// The nft script that (re)creates the table atomically.
std::string NatRuleset(const NatConfig& config);

// Runs nft-syntax commands through libnftables; returns nft's output.
// Unavailable (with a hint) if nf_tables is missing from the kernel,
// PermissionDenied without CAP_NET_ADMIN.
absl::StatusOr<std::string> RunNft(absl::string_view commands);

// Records the table in `journal`, then creates it.
absl::Status InstallNat(const NatConfig& config, StateFile& journal);

// Whether fstun's table exists.
absl::StatusOr<bool> NftTableExists(const NftTableChange& table);
// Deletes the table; OK if it is already gone.
absl::Status DeleteNftTable(const NftTableChange& table);

}  // namespace fstun

#endif  // FSTUN_NETCONFIG_NAT_H_
