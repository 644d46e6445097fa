#include "netconfig/state_file.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace fstun {
namespace {

constexpr absl::string_view kMagic = "fstun-state 1";

std::map<std::string, std::string> Fields(absl::string_view rest) {
  std::map<std::string, std::string> fields;
  for (absl::string_view token : absl::StrSplit(rest, ' ', absl::SkipEmpty())) {
    std::pair<std::string, std::string> kv = absl::StrSplit(token, absl::MaxSplits('=', 1));
    fields[kv.first] = kv.second;
  }
  return fields;
}

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

std::string ErrnoText(int err) { return std::strerror(err); }

// Writes `contents` to `path` atomically: tmp file, fsync, then `publish`
// (rename, or link for an exclusive create), then fsync of the directory.
absl::Status WriteDurably(const std::string& path, const std::string& contents, bool exclusive) {
  std::string tmp = absl::StrCat(path, ".tmp.", getpid());
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot write state file ", tmp, ": ", ErrnoText(errno)));
  }
  size_t done = 0;
  while (done < contents.size()) {
    ssize_t n = write(fd, contents.data() + done, contents.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      close(fd);
      unlink(tmp.c_str());
      return absl::InternalError(
          absl::StrCat("cannot write state file ", tmp, ": ", ErrnoText(err)));
    }
    done += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0) {
    int err = errno;
    close(fd);
    unlink(tmp.c_str());
    return absl::InternalError(absl::StrCat("cannot fsync state file ", tmp, ": ", ErrnoText(err)));
  }
  close(fd);
  if (exclusive) {
    int rc = link(tmp.c_str(), path.c_str());
    int err = errno;
    unlink(tmp.c_str());
    if (rc != 0 && err == EEXIST) {
      return absl::AlreadyExistsError(absl::StrCat("state file ", path, " exists"));
    }
    if (rc != 0) {
      return absl::InternalError(
          absl::StrCat("cannot create state file ", path, ": ", ErrnoText(err)));
    }
  } else if (rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    unlink(tmp.c_str());
    return absl::InternalError(
        absl::StrCat("cannot replace state file ", path, ": ", ErrnoText(err)));
  }
  std::string dir =
      path.substr(0, path.find_last_of('/') == std::string::npos ? 0 : path.find_last_of('/'));
  if (dir.empty()) dir = ".";
  int dfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
  return absl::OkStatus();
}

absl::Status MakeParentDirectory(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos || slash == 0) return absl::OkStatus();
  std::string dir = path.substr(0, slash);
  if (mkdir(dir.c_str(), 0700) == 0 || errno == EEXIST) return absl::OkStatus();
  if (errno == ENOENT) {  // one level up (e.g. /run exists, /run/fstun not)
    absl::Status up = MakeParentDirectory(dir);
    if (!up.ok()) return up;
    if (mkdir(dir.c_str(), 0700) == 0 || errno == EEXIST) return absl::OkStatus();
  }
  return absl::PermissionDeniedError(
      absl::StrCat("cannot create state directory ", dir, ": ", ErrnoText(errno)));
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

std::string HostState::Serialize() const {
  std::string out = absl::StrCat(kMagic, "\n");
  absl::StrAppend(&out, "owner pid=", pid, " start_time=", start_time, " ifname=", ifname,
                  " role=", role.empty() ? "-" : role, "\n");
  for (const HostChange& c : changes) absl::StrAppend(&out, ChangeLine(c), "\n");
  return out;
}

absl::StatusOr<HostState> HostState::Parse(absl::string_view text) {
  HostState state;
  bool saw_magic = false, saw_owner = false;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    ++line_number;
    auto bad = [&](absl::string_view why) {
      return absl::DataLossError(
          absl::StrCat("state file line ", line_number, " ('", line, "'): ", why));
    };
    if (!saw_magic) {
      if (line != kMagic) return bad("not an fstun state file (version 1)");
      saw_magic = true;
      continue;
    }
    std::pair<absl::string_view, absl::string_view> kind_rest =
        absl::StrSplit(line, absl::MaxSplits(' ', 1));
    absl::string_view kind = kind_rest.first;
    std::map<std::string, std::string> f = Fields(kind_rest.second);
    if (kind == "owner") {
      int64_t pid = 0;
      if (!absl::SimpleAtoi(f["pid"], &pid) ||
          !absl::SimpleAtoi(f["start_time"], &state.start_time)) {
        return bad("bad pid or start_time");
      }
      state.pid = static_cast<pid_t>(pid);
      state.ifname = f["ifname"];
      state.role = f["role"] == "-" ? "" : f["role"];
      saw_owner = true;
    } else if (kind == "sysctl") {
      if (f["path"].empty() || f["previous"].empty()) return bad("missing path or previous");
      state.changes.push_back(SysctlChange{f["path"], f["previous"]});
    } else if (kind == "nft_table") {
      if (f["family"].empty() || f["name"].empty()) return bad("missing family or name");
      state.changes.push_back(NftTableChange{f["family"], f["name"]});
    } else if (kind == "route_added" || kind == "route_removed") {
      absl::StatusOr<HostRoute> route = HostRoute::FromText(kind_rest.second);
      if (!route.ok()) return bad(route.status().message());
      state.changes.push_back(RouteChange{
          kind == "route_added" ? RouteChange::Kind::kAdded : RouteChange::Kind::kRemoved, *route});
    } else {
      return bad("unknown entry");
    }
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
  absl::Status dir = MakeParentDirectory(path);
  if (!dir.ok()) return dir;
  absl::Status written = WriteDurably(path, owner.Serialize(), /*exclusive=*/true);
  if (!written.ok()) return written;
  std::unique_ptr<StateFile> file(new StateFile(std::move(path), std::move(owner)));
  file->fd_ = open(file->path_.c_str(), O_WRONLY | O_CLOEXEC);
  return file;
}

absl::StatusOr<HostState> StateFile::Read(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    if (errno == ENOENT) return absl::NotFoundError(absl::StrCat("no state file ", path));
    return absl::PermissionDeniedError(
        absl::StrCat("cannot read state file ", path, ": ", ErrnoText(errno)));
  }
  std::stringstream text;
  text << in.rdbuf();
  if (text.str().empty()) {
    return absl::NotFoundError(absl::StrCat("state file ", path, " is empty: nothing to restore"));
  }
  absl::StatusOr<HostState> state = HostState::Parse(text.str());
  if (!state.ok()) {
    return absl::DataLossError(absl::StrCat(path, ": ", state.status().message()));
  }
  return state;
}

absl::Status StateFile::Record(HostChange change) {
  if (removed_) return absl::FailedPreconditionError("state file already removed");
  state_.changes.push_back(std::move(change));
  absl::Status s = Write();
  if (!s.ok()) state_.changes.pop_back();  // not durable: the caller must not make the change
  return s;
}

absl::Status StateFile::Write() {
  absl::Status s = WriteDurably(path_, state_.Serialize(), false);
  if (!s.ok()) return s;
  int fd = open(path_.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd >= 0) {
    if (fd_ >= 0) close(fd_);
    fd_ = fd;
  }
  return absl::OkStatus();
}

StateFile::~StateFile() {
  if (fd_ >= 0) close(fd_);
}

absl::Status StateFile::Remove() {
  if (removed_) return absl::OkStatus();
  if (unlink(path_.c_str()) != 0 && errno != ENOENT) {
    int err = errno;
    bool emptied =
        (err == EACCES || err == EPERM) && fd_ >= 0 && ftruncate(fd_, 0) == 0 && fsync(fd_) == 0;
    if (!emptied) {
      return absl::InternalError(
          absl::StrCat("cannot remove state file ", path_, ": ", ErrnoText(err)));
    }
  }
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
  removed_ = true;
  return absl::OkStatus();
}

}  // namespace fstun
