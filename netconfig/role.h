// Role: what `--role=server` and `--role=client` change on the host, applied
// as one step with rollback, and undone on the way out or after a crash.
//
//   server: IP forwarding on (IPv6 too if the tunnel has an IPv6 address),
//           the nftables table fstun_<ifname> (masquerade + MSS clamp).
//   client: default route(s) through the tunnel, or only --routes; host
//           routes kept outside the tunnel for --keep_route.
//
// Every change is first written to the state file (netconfig/state_file.h).
// Restore() undoes the changes in reverse order; so does
// CleanupFromStateFile() for a process that died without restoring.
//
//   absl::Status stale = CleanupFromStateFile(path);  // before opening the TUN
//   ... open the TUN, set addresses, bring it up ...
//   auto setup = ApplyRole(config);                   // after the TUN is up
//   ... run ...
//   (*setup)->Restore();                              // SIGINT/SIGTERM/error
#ifndef FSTUN_NETCONFIG_ROLE_H_
#define FSTUN_NETCONFIG_ROLE_H_

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/ip_address.h"
#include "netconfig/state_file.h"

namespace fstun {

struct RoleConfig {
  std::string role;                       // "server", "client", or "none"/"" (nothing to do)
  std::string ifname;                     // the TUN, up and addressed already
  std::vector<IpPrefix> tunnel_prefixes;  // its addresses
  size_t mtu = 1500;
  std::vector<IpPrefix> split_routes;     // client: --routes (empty: default route)
  std::vector<IpAddress> keep_routes;     // client: --keep_route
  std::string state_path;                 // empty: DefaultStatePath(ifname)
  std::string sysctl_root = "/proc/sys";  // tests may point elsewhere
};

// InvalidArgument for a configuration that cannot work (unknown role, a
// split route of a family the tunnel lacks, an interface name nft or the
// state file cannot hold). Changes nothing.
absl::Status ValidateRoleConfig(const RoleConfig& config);

class RoleSetup {
 public:
  ~RoleSetup();  // Restore() if not done yet
  RoleSetup(const RoleSetup&) = delete;
  RoleSetup& operator=(const RoleSetup&) = delete;

  // Undoes every change in reverse order and removes the state file. Keeps
  // going past a failed step and returns the first error (the state file then
  // stays, so `fstun --cleanup` can retry). Idempotent.
  absl::Status Restore();

  // What was changed, one line per change, for the start-up log.
  std::vector<std::string> Changes() const;
  const std::string& state_path() const { return state_path_; }

 private:
  friend absl::StatusOr<std::unique_ptr<RoleSetup>> ApplyRole(const RoleConfig& config);
  RoleSetup(std::string sysctl_root, std::unique_ptr<StateFile> journal)
      : sysctl_root_(std::move(sysctl_root)),
        state_path_(journal ? journal->path() : ""),
        journal_(std::move(journal)) {}

  std::string sysctl_root_;
  std::string state_path_;
  std::unique_ptr<StateFile> journal_;  // null once restored
};

// Applies the role. On failure everything already changed is undone before
// returning the error. AlreadyExists (changing nothing) if a live fstun owns
// the state file; a file a dead fstun left is cleaned up first.
absl::StatusOr<std::unique_ptr<RoleSetup>> ApplyRole(const RoleConfig& config);

// Undoes what the state file at `path` lists and removes it: `fstun
// --cleanup`, and the start of a new fstun after one was killed. OK if there
// is no file. AlreadyExists if its owner is still running (changes nothing).
// `sysctl_root` is for tests.
absl::Status CleanupFromStateFile(const std::string& path,
                                  const std::string& sysctl_root = "/proc/sys");

}  // namespace fstun

#endif  // FSTUN_NETCONFIG_ROLE_H_
