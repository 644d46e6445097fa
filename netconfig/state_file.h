// StateFile: the journal of everything fstun changes on the host, written
// BEFORE each change is made, so that a later `fstun --cleanup` (or the next
// start after a crash or kill -9) can put back exactly what was there.
//
//   auto file = StateFile::Create("/run/fstun/tun0.state", owner);
//   (*file)->Record(SysctlChange{"net/ipv4/ip_forward", "0"});  // durable now
//   ... write 1 to ip_forward ...
//
// Every write goes to a temporary file that is fsync'ed and renamed over the
// old one (and the directory fsync'ed), so the file on disk is always a
// complete journal: at worst it lists one change that was never made, and
// undoing a change that was not made is harmless (each undo is idempotent).
//
// Create() claims the path exclusively (link(2) of the first version), so
// two instances for the same interface cannot both start.
//
// The file tells a root process which sysctls to write and which nftables
// tables to delete, so it is trusted only as far as it deserves
// (docs/security.md, "The state file"): its directory must be writable by
// root only (every component from "/" down, sys/trusted_file.h), the file
// must be a regular file (no symlink, FIFO, device) owned by root, not
// writable by others, at most kMaxStateFileBytes; and every line is parsed
// strictly: known kinds and fields only, sysctl paths from the short list
// fstun writes (net/ipv4/ip_forward, net/ipv6/conf/all/forwarding,
// net/ipv{4,6}/conf/<interface>/forwarding), nftables tables named
// fstun_<letters, digits, _>. Anything else is refused with a one-line
// error and nothing is restored. The same checks run before a change is
// recorded, so fstun never writes a line it would refuse to read.
//
// The format is line-based text meant to be read by people too:
//   fstun-state 1
//   owner pid=1234 start_time=5678 ifname=tun0 role=server
//   sysctl path=net/ipv4/ip_forward previous=0
//   nft_table family=inet name=fstun_tun0
//   route_removed dst=0.0.0.0/0 gateway=192.0.2.1 dev=eth0 metric=0 ...
//   route_added dst=0.0.0.0/0 dev=tun0 ...
#ifndef FSTUN_NETCONFIG_STATE_FILE_H_
#define FSTUN_NETCONFIG_STATE_FILE_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "netconfig/host_route.h"
#include "sys/unique_fd.h"

namespace fstun {

// A sysctl fstun wrote; `path` is relative to /proc/sys.
struct SysctlChange {
  std::string path;
  std::string previous;
};
// An nftables table fstun created (and owns entirely).
struct NftTableChange {
  std::string family;
  std::string name;
};
// A route fstun added (undo: delete it) or removed (undo: add it back).
struct RouteChange {
  enum class Kind { kAdded, kRemoved };
  Kind kind;
  HostRoute route;
};
using HostChange = std::variant<SysctlChange, NftTableChange, RouteChange>;

// One line describing a change for logs and errors.
std::string DescribeChange(const HostChange& change);

// No state file fstun writes comes near this (a server with a thousand
// interfaces writes ~120 KiB); a larger one is refused unread.
inline constexpr size_t kMaxStateFileBytes = 1 << 20;

// InvalidArgument unless `change` is one fstun makes: a sysctl path from the
// allow-list with a numeric previous value, an nftables table "inet
// fstun_<name>", a route whose device is a valid interface name.
absl::Status ValidateChange(const HostChange& change);

struct HostState {
  pid_t pid = 0;
  uint64_t start_time = 0;  // of `pid`, from /proc/PID/stat: detects pid reuse
  std::string ifname;
  std::string role;
  std::vector<HostChange> changes;  // in the order they were made

  std::string Serialize() const;
  static absl::StatusOr<HostState> Parse(absl::string_view text);
};

// The process start time (field 22 of /proc/PID/stat), 0 if unknown.
uint64_t ProcessStartTime(pid_t pid);
// True if `pid` runs and (when start_time != 0) is the same process.
bool ProcessIsAlive(pid_t pid, uint64_t start_time);
// The owner record for this process.
HostState OwnerForThisProcess(absl::string_view ifname, absl::string_view role);

// Where the state of an fstun for `ifname` lives by default:
// "<dir>/<ifname>.net<inode>.state", where <inode> identifies the calling
// thread's network namespace. Everything fstun changes (routes, nftables,
// forwarding) belongs to one network namespace, and two fstuns in two
// namespaces may both call their TUN "tun0", so the namespace is part of the
// name. `dir` defaults to /run/fstun (cleared at boot, like the changes).
std::string DefaultStatePath(absl::string_view ifname, absl::string_view dir = "/run/fstun");

class StateFile {
 public:
  // Claims `path` (creating its directory, mode 0700) with `owner` and no
  // changes yet. AlreadyExists if a state file is there already.
  static absl::StatusOr<std::unique_ptr<StateFile>> Create(std::string path, HostState owner);
  // Reads a state file. NotFound if there is none or it is empty (see
  // Remove); FailedPrecondition if it or its directory is not trustworthy
  // (see above); DataLoss if a line does not parse.
  static absl::StatusOr<HostState> Read(const std::string& path);
  // Removes the state file at `path` (after a successful clean-up, or an
  // empty one), through its checked directory. OK if there is none.
  static absl::Status Delete(const std::string& path);

  StateFile(const StateFile&) = delete;
  StateFile& operator=(const StateFile&) = delete;

  // Appends `change` and makes it durable before returning.
  absl::Status Record(HostChange change);
  // Deletes the file: the host is back as it was. Idempotent. If the
  // process may no longer unlink it (it dropped to another user after
  // set-up), the file is emptied through a descriptor opened earlier
  // instead: an empty state file means "nothing to restore".
  absl::Status Remove();

  ~StateFile();

  const HostState& state() const { return state_; }
  const std::string& path() const { return path_; }

 private:
  StateFile(std::string path, HostState state) : path_(std::move(path)), state_(std::move(state)) {}
  absl::Status Write();  // and re-opens fd_ on the new file

  // The directory, opened and checked once while root: every later write,
  // rename and unlink is relative to it.
  UniqueFd dir_fd_;
  std::string name_;  // of the file in dir_fd_
  UniqueFd fd_;       // the current file, opened while we could, for Remove()

  std::string path_;
  HostState state_;
  bool removed_ = false;
};

}  // namespace fstun

#endif  // FSTUN_NETCONFIG_STATE_FILE_H_
