// Theory of operation: the journal is kept in memory (HostState) and the
// whole file is rewritten atomically (sys/atomic_write.h) for every new
// change, relative to a directory fd that was checked once
// (sys/trusted_file.h). Reading goes through the same directory checks and
// a strict parser: the text must be printable ASCII lines, each a known
// kind with exactly its fields, each value checked against what fstun
// itself writes (ValidateChange). Serialize and Parse are inverses for
// every valid HostState.
#include "netconfig/state_file.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "netconfig/interface_name.h"
#include "netconfig/key_value_line.h"
#include "sys/atomic_write.h"
#include "sys/log_escape.h"
#include "sys/trusted_file.h"

namespace fstun {
namespace {

constexpr absl::string_view kMagic = "fstun-state 1";

std::string ChangeLine(const HostChange& change) {
  struct Visitor {
    std::string operator()(const SysctlChange& c) const {
      return absl::StrCat("sysctl path=", c.path, " previous=", c.previous);
    }
    std::string operator()(const NftTableChange& c) const {
      return absl::StrCat("nft_table family=", c.family, " name=", c.name);
    }
    std::string operator()(const RouteChange& c) const {
      return absl::StrCat(c.kind == RouteChange::Kind::kAdded ? "route_added " : "route_removed ",
                          c.route.ToText());
    }
  };
  return std::visit(Visitor{}, change);
}

// net/ipv4/ip_forward, net/ipv6/conf/all/forwarding and
// net/ipv{4,6}/conf/<interface>/forwarding: what EnableForwarding writes.
bool IsForwardingSysctl(absl::string_view path) {
  if (path == "net/ipv4/ip_forward") return true;
  for (absl::string_view conf : {"net/ipv4/conf/", "net/ipv6/conf/"}) {
    absl::string_view rest = path;
    if (!absl::ConsumePrefix(&rest, conf) || !absl::ConsumeSuffix(&rest, "/forwarding")) continue;
    if (IsKernelInterfaceName(rest)) return true;
  }
  return false;
}

bool IsSysctlValue(absl::string_view value) {
  if (value.empty() || value.size() > 3) return false;
  for (char c : value) {
    if (!absl::ascii_isdigit(c)) return false;
  }
  return true;
}

bool IsFstunTableName(absl::string_view name) {
  if (!absl::ConsumePrefix(&name, "fstun_")) return false;
  if (name.empty() || name.size() > kMaxInterfaceNameLength) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(c) && c != '_') return false;
  }
  return true;
}

// "<dir>" and "<name>" of a state file path.
std::pair<std::string, std::string> SplitPath(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return {".", path};
  return {slash == 0 ? "/" : path.substr(0, slash), path.substr(slash + 1)};
}

absl::StatusOr<UniqueFd> OpenStateDirectory(const std::string& path, bool create) {
  std::pair<std::string, std::string> dir_name = SplitPath(path);
  if (dir_name.second.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("state file path '", path, "' has no name"));
  }
  return OpenTrustedDirectory(dir_name.first, "state directory",
                              {.create = create, .create_mode = 0700});
}

}  // namespace

std::string DescribeChange(const HostChange& change) {
  struct Visitor {
    std::string operator()(const SysctlChange& c) const {
      return absl::StrCat("sysctl ", c.path, " (was ", c.previous, ")");
    }
    std::string operator()(const NftTableChange& c) const {
      return absl::StrCat("nftables table ", c.family, " ", c.name);
    }
    std::string operator()(const RouteChange& c) const {
      return absl::StrCat(c.kind == RouteChange::Kind::kAdded ? "added route " : "removed route ",
                          c.route.Describe());
    }
  };
  return std::visit(Visitor{}, change);
}

absl::Status ValidateChange(const HostChange& change) {
  struct Visitor {
    absl::Status operator()(const SysctlChange& c) const {
      if (!IsForwardingSysctl(c.path)) {
        return absl::InvalidArgumentError(
            absl::StrCat("sysctl '", EscapeForLog(c.path, 100),
                         "' is not one fstun changes (only net/ipv4/ip_forward and "
                         "net/ipv{4,6}/conf/<interface>/forwarding)"));
      }
      if (!IsSysctlValue(c.previous)) {
        return absl::InvalidArgumentError(absl::StrCat("sysctl ", c.path, ": previous value '",
                                                       EscapeForLog(c.previous, 100),
                                                       "' is not a number"));
      }
      return absl::OkStatus();
    }
    absl::Status operator()(const NftTableChange& c) const {
      if (c.family != "inet") {
        return absl::InvalidArgumentError(
            absl::StrCat("nftables family '", EscapeForLog(c.family, 100), "' is not inet"));
      }
      if (!IsFstunTableName(c.name)) {
        return absl::InvalidArgumentError(
            absl::StrCat("nftables table '", EscapeForLog(c.name, 100),
                         "' is not one fstun creates (fstun_ and up to 15 letters, digits or _)"));
      }
      return absl::OkStatus();
    }
    absl::Status operator()(const RouteChange& c) const {
      if (!c.route.device.empty() && !IsKernelInterfaceName(c.route.device)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "route device '", EscapeForLog(c.route.device, 100), "' is not an interface name"));
      }
      if (c.route.destination.address.family != 4 && c.route.destination.address.family != 6) {
        return absl::InvalidArgumentError("route without a destination");
      }
      return absl::OkStatus();
    }
  };
  return std::visit(Visitor{}, change);
}

std::string HostState::Serialize() const {
  std::string out = absl::StrCat(kMagic, "\n");
  absl::StrAppend(&out, "owner pid=", pid, " start_time=", start_time, " ifname=", ifname,
                  " role=", role.empty() ? "-" : role, "\n");
  for (const HostChange& c : changes) absl::StrAppend(&out, ChangeLine(c), "\n");
  return out;
}

absl::StatusOr<HostState> HostState::Parse(absl::string_view text) {
  for (char c : text) {
    if ((c < ' ' || c > '~') && c != '\n') {
      return absl::DataLossError(
          "state file contains control or non-ASCII characters; fstun never writes those");
    }
  }
  HostState state;
  bool saw_magic = false, saw_owner = false;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    ++line_number;
    auto bad = [&](absl::string_view why) {
      return absl::DataLossError(absl::StrCat("state file line ", line_number, " ('",
                                              EscapeForLog(line, 120), "'): ", why));
    };
    if (!saw_magic) {
      if (line != kMagic) return bad("not an fstun state file (version 1)");
      saw_magic = true;
      continue;
    }
    std::pair<absl::string_view, absl::string_view> kind_rest =
        absl::StrSplit(line, absl::MaxSplits(' ', 1));
    absl::string_view kind = kind_rest.first;
    absl::string_view rest = kind_rest.second;
    if (kind == "route_added" || kind == "route_removed") {
      if (!saw_owner) return bad("a change before the owner line");
      absl::StatusOr<HostRoute> route = HostRoute::FromText(rest);
      if (!route.ok()) return bad(route.status().message());
      RouteChange change{
          kind == "route_added" ? RouteChange::Kind::kAdded : RouteChange::Kind::kRemoved, *route};
      if (absl::Status v = ValidateChange(change); !v.ok()) return bad(v.message());
      state.changes.push_back(change);
      continue;
    }
    absl::StatusOr<std::map<std::string, std::string>> fields;
    if (kind == "owner") {
      if (saw_owner) return bad("a second owner line");
      fields = ParseKeyValues(rest, {"pid", "start_time", "ifname", "role"});
      if (!fields.ok()) return bad(fields.status().message());
      std::map<std::string, std::string>& f = *fields;
      int32_t pid = 0;
      if (!absl::SimpleAtoi(f["pid"], &pid) || pid <= 0 ||
          !absl::SimpleAtoi(f["start_time"], &state.start_time)) {
        return bad("bad pid or start_time");
      }
      if (!IsFstunInterfaceName(f["ifname"])) return bad("bad ifname");
      if (f["role"] != "server" && f["role"] != "client" && f["role"] != "-") {
        return bad("role is not server, client or -");
      }
      state.pid = static_cast<pid_t>(pid);
      state.ifname = f["ifname"];
      state.role = f["role"] == "-" ? "" : f["role"];
      saw_owner = true;
      continue;
    }
    if (!saw_owner)
      return bad(kind == "sysctl" || kind == "nft_table" ? "a change before the owner line"
                                                         : "unknown entry");
    HostChange change;
    if (kind == "sysctl") {
      fields = ParseKeyValues(rest, {"path", "previous"});
      if (!fields.ok()) return bad(fields.status().message());
      if (!fields->count("path") || !fields->count("previous")) {
        return bad("missing path or previous");
      }
      change = SysctlChange{(*fields)["path"], (*fields)["previous"]};
    } else if (kind == "nft_table") {
      fields = ParseKeyValues(rest, {"family", "name"});
      if (!fields.ok()) return bad(fields.status().message());
      if (!fields->count("family") || !fields->count("name")) {
        return bad("missing family or name");
      }
      change = NftTableChange{(*fields)["family"], (*fields)["name"]};
    } else {
      return bad("unknown entry");
    }
    if (absl::Status v = ValidateChange(change); !v.ok()) return bad(v.message());
    state.changes.push_back(std::move(change));
  }
  if (!saw_magic || !saw_owner) {
    return absl::DataLossError("state file is incomplete (no header or owner line)");
  }
  return state;
}

uint64_t ProcessStartTime(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return 0;
  // After "pid (comm)": field 3 (state) onwards; start time is field 22.
  std::vector<absl::string_view> rest =
      absl::StrSplit(absl::string_view(stat).substr(paren + 1), ' ', absl::SkipEmpty());
  uint64_t start = 0;
  if (rest.size() < 20 || !absl::SimpleAtoi(rest[19], &start)) return 0;
  return start;
}

bool ProcessIsAlive(pid_t pid, uint64_t start_time) {
  if (pid <= 0) return false;
  if (kill(pid, 0) != 0 && errno != EPERM) return false;
  if (start_time == 0) return true;
  uint64_t now = ProcessStartTime(pid);
  return now == 0 || now == start_time;
}

HostState OwnerForThisProcess(absl::string_view ifname, absl::string_view role) {
  HostState s;
  s.pid = getpid();
  s.start_time = ProcessStartTime(s.pid);
  s.ifname = std::string(ifname);
  s.role = std::string(role);
  return s;
}

std::string DefaultStatePath(absl::string_view ifname, absl::string_view dir) {
  struct stat st = {};
  std::string netns =
      stat("/proc/thread-self/ns/net", &st) == 0 ? absl::StrCat(".net", st.st_ino) : "";
  return absl::StrCat(dir, "/", ifname, netns, ".state");
}

absl::StatusOr<std::unique_ptr<StateFile>> StateFile::Create(std::string path, HostState owner) {
  owner.changes.clear();
  absl::StatusOr<UniqueFd> dir = OpenStateDirectory(path, /*create=*/true);
  if (!dir.ok()) return dir.status();
  std::string name = SplitPath(path).second;
  absl::Status written = WriteFileAtomically(dir->get(), name, owner.Serialize(),
                                             {.mode = 0600, .replace = false, .durable = true});
  if (absl::IsAlreadyExists(written)) {
    return absl::AlreadyExistsError(absl::StrCat("state file ", path, " exists"));
  }
  if (!written.ok()) {
    return absl::Status(written.code(),
                        absl::StrCat("cannot create state file ", path, ": ", written.message()));
  }
  std::unique_ptr<StateFile> file(new StateFile(std::move(path), std::move(owner)));
  file->fd_.reset(openat(dir->get(), name.c_str(), O_WRONLY | O_NOFOLLOW | O_CLOEXEC));
  file->dir_fd_ = std::move(*dir);
  file->name_ = std::move(name);
  return file;
}

absl::StatusOr<HostState> StateFile::Read(const std::string& path) {
  absl::StatusOr<UniqueFd> dir = OpenStateDirectory(path, /*create=*/false);
  if (absl::IsNotFound(dir.status())) {
    return absl::NotFoundError(absl::StrCat("no state file ", path));
  }
  if (!dir.ok()) return dir.status();
  absl::StatusOr<std::string> text =
      ReadTrustedFile(dir->get(), SplitPath(path).second, kMaxStateFileBytes, "state file", path);
  if (!text.ok()) return text.status();
  if (text->empty()) {
    return absl::NotFoundError(absl::StrCat("state file ", path, " is empty: nothing to restore"));
  }
  absl::StatusOr<HostState> state = HostState::Parse(*text);
  if (!state.ok()) {
    return absl::DataLossError(
        absl::StrCat(path, ": ", state.status().message(), "; nothing was restored"));
  }
  return state;
}

absl::Status StateFile::Delete(const std::string& path) {
  absl::StatusOr<UniqueFd> dir = OpenStateDirectory(path, /*create=*/false);
  if (absl::IsNotFound(dir.status())) return absl::OkStatus();
  if (!dir.ok()) return dir.status();
  const std::string name = SplitPath(path).second;
  struct stat st = {};
  if (fstatat(dir->get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 && errno == ENOENT) {
    return absl::OkStatus();  // (unlinkat would say EROFS first on a read-only /run)
  }
  if (unlinkat(dir->get(), name.c_str(), 0) != 0 && errno != ENOENT) {
    return absl::InternalError(
        absl::StrCat("cannot remove state file ", path, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::Status StateFile::Record(HostChange change) {
  if (removed_) return absl::FailedPreconditionError("state file already removed");
  if (absl::Status v = ValidateChange(change); !v.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("not recording (and not making) a change: ", v.message()));
  }
  state_.changes.push_back(std::move(change));
  absl::Status s = Write();
  if (!s.ok()) state_.changes.pop_back();  // not durable: the caller must not make the change
  return s;
}

absl::Status StateFile::Write() {
  absl::Status s = WriteFileAtomically(dir_fd_.get(), name_, state_.Serialize(),
                                       {.mode = 0600, .replace = true, .durable = true});
  if (!s.ok()) {
    return absl::Status(s.code(),
                        absl::StrCat("cannot write state file ", path_, ": ", s.message()));
  }
  UniqueFd fd(openat(dir_fd_.get(), name_.c_str(), O_WRONLY | O_NOFOLLOW | O_CLOEXEC));
  if (fd.valid()) fd_ = std::move(fd);
  return absl::OkStatus();
}

StateFile::~StateFile() = default;

absl::Status StateFile::Remove() {
  if (removed_) return absl::OkStatus();
  if (unlinkat(dir_fd_.get(), name_.c_str(), 0) != 0 && errno != ENOENT) {
    int err = errno;
    bool emptied = (err == EACCES || err == EPERM) && fd_.valid() && ftruncate(fd_.get(), 0) == 0 &&
                   fsync(fd_.get()) == 0;
    if (!emptied) {
      return absl::InternalError(
          absl::StrCat("cannot remove state file ", path_, ": ", std::strerror(err)));
    }
  }
  fd_.reset();
  dir_fd_.reset();
  removed_ = true;
  return absl::OkStatus();
}

}  // namespace fstun
