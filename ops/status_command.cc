#include "ops/status_command.h"

#include <dirent.h>

#include <set>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "ops/control_client.h"
#include "ops/control_protocol.h"
#include "ops/unix_socket.h"

namespace fstun {
namespace {

// Interfaces whose daemon answers in `dir` for this network namespace.
std::set<std::string> RunningInterfaces(const std::string& dir) {
  std::set<std::string> names;
  absl::StatusOr<std::string> probe = ControlSocketPath(dir, "");
  if (!probe.ok()) return names;
  std::string suffix = probe->substr(dir.size() + 1);  // ".net<inode>.sock"
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return names;
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name.size() <= suffix.size() || !absl::EndsWith(name, suffix)) continue;
    if (ConnectUnix(absl::StrCat(dir, "/", name)).ok()) {
      names.insert(name.substr(0, name.size() - suffix.size()));
    }
  }
  closedir(d);
  return names;
}

}  // namespace

int RunStatusCommand(const StatusCommand& command, std::ostream& out, std::ostream& err) {
  if (command.control_dir.empty()) {
    err << "fstun: --control_dir is empty: no control socket to ask\n";
    return 2;
  }
  absl::StatusOr<std::string> path = ControlSocketPath(command.control_dir, command.ifname);
  if (!path.ok()) {
    err << "fstun: " << path.status().message() << "\n";
    return 1;
  }
  absl::StatusOr<std::string> reply = QueryDaemon(*path, command.request);
  if (reply.ok()) {
    out << *reply;
    out.flush();
    return out.good() ? 0 : 1;
  }
  const absl::Status& s = reply.status();
  if (absl::IsNotFound(s) || absl::IsUnavailable(s)) {
    std::set<std::string> running = RunningInterfaces(command.control_dir);
    err << "fstun: no fstun daemon runs for interface " << command.ifname
        << " in this network namespace (no one answers on " << *path << ")";
    if (!running.empty()) err << "; daemons run for: " << absl::StrJoin(running, ", ");
    err << "\n";
  } else if (absl::IsPermissionDenied(s)) {
    err << "fstun: permission denied on " << *path << " (the control socket is root's: try sudo)\n";
  } else {
    err << "fstun: " << s.message() << "\n";
  }
  return 1;
}

}  // namespace fstun
