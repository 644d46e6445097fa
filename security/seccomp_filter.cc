#include "security/seccomp_filter.h"

#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <set>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"

namespace fstun {
namespace {

absl::Status Fail(absl::string_view what, int rc) {
  return absl::InternalError(absl::StrCat("seccomp: ", what, ": ", strerror(-rc)));
}

// socket()'s type without the flags glibc and callers add.
constexpr scmp_datum_t kSocketTypeMask = 0xf;

}  // namespace

const std::vector<std::string>& ForbiddenSyscalls() {
  static const auto* names = new std::vector<std::string>{
      "execve", "execveat", "ptrace", "fork", "vfork", "mount", "umount2", "pivot_root", "chroot",
      "bpf", "setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid", "setgroups",
      "capset", "unshare", "setns", "init_module", "finit_module", "delete_module", "kexec_load",
      "kexec_file_load", "reboot", "personality", "userfaultfd", "perf_event_open", "keyctl",
      "add_key", "request_key", "process_vm_readv", "process_vm_writev",
      // Argument-checked by the fixed rules instead.
      "socket", "ioctl", "clone", "clone3", "kill", "tgkill", "prlimit64"};
  return *names;
}

// Sanitizer builds (tests only): LeakSanitizer's exit-time check stops the
// process's threads from a helper it clones (not a thread) and ptraces, so
// those builds also allow clone, ptrace, wait4, prctl and the old getdents.
// Release builds do not.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitizerBuild = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kSanitizerBuild = true;
#else
constexpr bool kSanitizerBuild = false;
#endif
#else
constexpr bool kSanitizerBuild = false;
#endif

bool SeccompAllowsSanitizerRuntime() { return kSanitizerBuild; }

absl::Status InstallSeccompFilter(const SyscallNeeds& needs) {
  const std::vector<std::string>& forbidden = ForbiddenSyscalls();
  std::set<std::string> names(needs.syscalls.begin(), needs.syscalls.end());
  for (const std::string& name : names) {
    if (std::find(forbidden.begin(), forbidden.end(), name) != forbidden.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "seccomp: a component declares '", name,
          "', which the data path may never call (socket and ioctl are declared by arguments)"));
    }
  }

  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
  if (ctx == nullptr) return absl::InternalError("seccomp: seccomp_init failed");
  struct Release {
    scmp_filter_ctx ctx;
    ~Release() { seccomp_release(ctx); }
  } release{ctx};
  int rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
  if (rc != 0) return Fail("TSYNC", rc);

  int allowed = 0;
  for (const std::string& name : names) {
    int nr = seccomp_syscall_resolve_name(name.c_str());
    if (nr == __NR_SCMP_ERROR) continue;  // not on this architecture
    rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
    if (rc != 0) return Fail(absl::StrCat("allow ", name), rc);
    ++allowed;
  }

  struct Rule {
    std::string what;
    uint32_t action;
    int nr;
    std::vector<scmp_arg_cmp> args;
  };
  std::vector<Rule> rules;
  for (const SyscallNeeds::Socket& s : needs.sockets) {
    std::vector<scmp_arg_cmp> args;
    if (s.family >= 0) args.push_back(SCMP_A0(SCMP_CMP_EQ, static_cast<scmp_datum_t>(s.family)));
    if (s.type >= 0) {
      args.push_back(
          SCMP_A1(SCMP_CMP_MASKED_EQ, kSocketTypeMask, static_cast<scmp_datum_t>(s.type)));
    }
    if (s.protocol >= 0) {
      args.push_back(SCMP_A2(SCMP_CMP_EQ, static_cast<scmp_datum_t>(s.protocol)));
    }
    rules.push_back({absl::StrCat("socket(", s.family, ", ", s.type, ", ", s.protocol, ")"),
                     SCMP_ACT_ALLOW, SCMP_SYS(socket), std::move(args)});
  }
  std::set<unsigned long> ioctls(needs.ioctls.begin(), needs.ioctls.end());
  for (unsigned long request : ioctls) {
    rules.push_back({absl::StrCat("ioctl(", absl::Hex(request), ")"),
                     SCMP_ACT_ALLOW,
                     SCMP_SYS(ioctl),
                     {SCMP_A1(SCMP_CMP_EQ, request)}});
  }
  const scmp_datum_t pid = static_cast<scmp_datum_t>(getpid());
  rules.push_back({"clone(CLONE_THREAD)",
                   SCMP_ACT_ALLOW,
                   SCMP_SYS(clone),
                   {SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD)}});
  rules.push_back({"clone3 -> ENOSYS", SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), {}});
  rules.push_back({"kill(self)", SCMP_ACT_ALLOW, SCMP_SYS(kill), {SCMP_A0(SCMP_CMP_EQ, pid)}});
  rules.push_back({"tgkill(self)", SCMP_ACT_ALLOW, SCMP_SYS(tgkill), {SCMP_A0(SCMP_CMP_EQ, pid)}});
  rules.push_back({"prlimit64(0)", SCMP_ACT_ALLOW, SCMP_SYS(prlimit64), {SCMP_A0(SCMP_CMP_EQ, 0)}});
  rules.push_back(
      {"prlimit64(self)", SCMP_ACT_ALLOW, SCMP_SYS(prlimit64), {SCMP_A0(SCMP_CMP_EQ, pid)}});
  if (kSanitizerBuild) {
    for (int nr : {SCMP_SYS(clone), SCMP_SYS(ptrace), SCMP_SYS(wait4), SCMP_SYS(prctl),
                   SCMP_SYS(getdents)}) {
      rules.push_back({"sanitizer runtime", SCMP_ACT_ALLOW, nr, {}});
    }
  }
  for (const Rule& r : rules) {
    rc = seccomp_rule_add_array(ctx, r.action, r.nr, r.args.size(),
                                r.args.empty() ? nullptr : r.args.data());
    if (rc != 0) return Fail(r.what, rc);
  }
  rc = seccomp_load(ctx);
  if (rc != 0) return Fail("load", rc);
  LOG(INFO) << "seccomp filter installed: " << allowed + rules.size()
            << " syscall rules from the core's, device's, transport's and daemon's declarations; "
               "everything else fails with EPERM";
  return absl::OkStatus();
}

}  // namespace fstun
