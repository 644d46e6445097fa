// fstun: joins a TUN interface to a transport (by default, files in a
// shared folder). See README.md and docs/architecture.md.
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "cmd/daemon.h"
#include "cmd/exit_codes.h"
#include "cmd/flags.h"
#include "cmd/version.h"
#include "core/registry.h"
#include "gflags/gflags.h"
#include "glog/logging.h"
#include "identity/keys.h"
#include "netconfig/role_flags.h"
#include "ops/control_protocol.h"
#include "ops/flags.h"
#include "ops/status_command.h"
#include "seal/key.h"
#include "sodium.h"

namespace fstun {
namespace {

constexpr char kUsage[] =
    "joins a TUN interface to a transport, e.g. files in a shared folder.\n\n"
    "  fstun --role=server --transport=fs --dirpath=/share --ip=192.0.2.1/24\n"
    "  fstun --role=client --transport=fs --dirpath=/share --ip=192.0.2.2/24\n"
    "  fstun --list_transports\n"
    "  fstun genkey > /etc/fstun/private && chmod 600 /etc/fstun/private   (this peer's key: "
    "--private_key_file)\n"
    "  fstun pubkey < /etc/fstun/private                   (its public key: the others' "
    "--peer=PUBKEY,PREFIX)\n"
    "  fstun genpsk > /etc/fstun/psk                       (optional preshared key: "
    "--key_file)\n"
    "  fstun --flagfile=/etc/fstun/tun0.flags                      (configuration file)\n"
    "  fstun status [--ifname=tun0] [--json]                       (ask the running daemon)\n"
    "  fstun metrics [--ifname=tun0]                               (Prometheus text)\n\n"
    "Exit codes: 0 clean stop, 1 runtime error, 2 usage error.";

int Fail(int code, absl::string_view message) {
  std::cerr << "fstun: " << message << "\n";
  return code;
}

// --help: fstun's own flags (every linked package's), plus glog's --v and
// the flag-file flag; --helpfull shows everything gflags knows.
int ShowHelp(const char* argv0) {
  std::cout << "fstun: " << gflags::ProgramUsage() << "\n\nFlags:\n";
  std::vector<gflags::CommandLineFlagInfo> flags;
  gflags::GetAllFlags(&flags);
  for (const auto& f : flags) {
    bool library = f.filename.find("glog") != std::string::npos ||
                   f.filename.find("gflags") != std::string::npos ||
                   f.filename.find("./src/") == 0 || f.filename.find("/build/") == 0;
    if (library && f.name != "v" && f.name != "flagfile") continue;
    std::cout << absl::StrFormat(
        "  --%s (%s) default: %s\n      %s\n", f.name, f.type,
        f.type == "string" ? "\"" + f.default_value + "\"" : f.default_value, f.description);
  }
  std::cout << "\nSee README.md and docs/ for more; --helpfull lists every flag.\n";
  return kExitOk;
}

bool WantsHelp(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    absl::string_view a = argv[i];
    if (a == "--") break;
    if (a == "--help" || a == "-help" || a == "-h" || a == "--help=true") return true;
  }
  return false;
}

int ListTransports() {
  for (const auto& e : TransportRegistry::Global().List()) {
    std::cout << absl::StrFormat("%-10s %s\n", e.name, e.description);
  }
  return kExitOk;
}

int Main(int argc, char** argv) {
  gflags::SetUsageMessage(kUsage);
  gflags::SetVersionString(kVersion);
  FLAGS_logtostderr = true;  // a daemon's log goes to stderr (journald), not /tmp
  if (WantsHelp(argc, argv)) return ShowHelp(argv[0]);
  if (absl::Status s = CheckFlagsBeforeParsing(argc, argv); !s.ok()) {
    return Fail(kExitUsage, s.message());
  }
  gflags::ParseCommandLineFlags(&argc, &argv, /*remove_flags=*/true);
  google::InitGoogleLogging(argv[0]);

  if (FLAGS_list_transports) return ListTransports();
  if (argc > 1) {
    // `fstun status [--json]` / `fstun metrics`: ask the running daemon (ops/).
    absl::string_view command = argv[1];
    if ((command == "status" || command == "metrics") && argc == 2) {
      StatusCommand status_command;
      status_command.ifname = FLAGS_ifname;
      status_command.control_dir = FLAGS_control_dir;
      status_command.request = command == "metrics" ? kRequestMetrics
                               : FLAGS_json         ? kRequestStatusJson
                                                    : kRequestStatus;
      return RunStatusCommand(status_command, std::cout, std::cerr);
    }
    if (command == "status" || command == "metrics") {
      return Fail(kExitUsage, absl::StrCat("unexpected argument '", argv[2], "' after ", command));
    }
    // `fstun genkey > FILE`: a new X25519 private key (identity/keys.h), as
    // `wg genkey`; also usable as a --key_file key. `fstun genpsk`: 32
    // random bytes for --key_file (seal/key.h). `fstun pubkey < FILE`.
    if (command == "genkey" && argc == 2) {
      std::cout << PrivateKey::Generate().ToBase64() << "\n";
      return kExitOk;
    }
    if (command == "genpsk" && argc == 2) {
      std::cout << Key::Generate().ToBase64() << "\n";
      return kExitOk;
    }
    if (command == "pubkey" && argc == 2) {
      char buf[256];
      size_t used = fread(buf, 1, sizeof(buf), stdin);
      absl::StatusOr<std::string> pub =
          used == sizeof(buf) ? absl::InvalidArgumentError(
                                    "stdin does not hold a private key: too long (usage: "
                                    "fstun pubkey < private-key-file)")
                              : PublicKeyOfPrivateText(absl::string_view(buf, used));
      sodium_memzero(buf, sizeof(buf));
      if (!pub.ok()) return Fail(kExitUsage, pub.status().message());
      std::cout << *pub << "\n";
      return kExitOk;
    }
    if (command == "genkey" || command == "genpsk" || command == "pubkey") {
      return Fail(kExitUsage, absl::StrCat("unexpected argument '", argv[2], "' after ", command));
    }
    return Fail(kExitUsage, absl::StrCat("unknown command '", argv[1], "' (see --help)"));
  }
  if (FLAGS_cleanup) {
    absl::Status s = RunCleanupCommand(FLAGS_ifname);
    return s.ok() ? kExitOk : Fail(ExitCodeFor(s), s.message());
  }
  absl::StatusOr<DaemonConfig> config = DaemonConfigFromFlags();
  if (!config.ok()) return Fail(kExitUsage, config.status().message());
  absl::Status status = RunDaemon(*config);
  if (!status.ok()) return Fail(ExitCodeFor(status), status.message());
  return kExitOk;
}

}  // namespace
}  // namespace fstun

int main(int argc, char** argv) { return fstun::Main(argc, argv); }
