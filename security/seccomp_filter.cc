#include "security/seccomp_filter.h"

#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"

namespace fstun {
namespace {

absl::Status Fail(absl::string_view what, int rc) {
  return absl::InternalError(absl::StrCat("seccomp: ", what, ": ", strerror(-rc)));
}

}  // namespace

const std::vector<std::string>& DataPathSyscalls() {
  static const auto* names = new std::vector<std::string>{
      // File and descriptor I/O: TUN, eventfd, the shared folder, logs.
      "read",
      "readv",
      "pread64",
      "preadv",
      "preadv2",
      "write",
      "writev",
      "pwrite64",
      "pwritev",
      "pwritev2",
      "lseek",
      "close",
      "close_range",
      "dup",
      "dup2",
      "dup3",
      "fcntl",
      "open",
      "openat",
      "creat",
      "fstat",
      "newfstatat",
      "stat",
      "lstat",
      "statx",
      "statfs",
      "fstatfs",
      "getdents64",
      "mkdir",
      "mkdirat",
      "rmdir",
      "rename",
      "renameat",
      "renameat2",
      "unlink",
      "unlinkat",
      "link",
      "linkat",
      "readlink",
      "readlinkat",
      "access",
      "faccessat",
      "faccessat2",
      "fsync",
      "fdatasync",
      "ftruncate",
      "truncate",
      "fallocate",
      "fadvise64",
      "fchmod",
      "fchmodat",
      "fchown",
      "fchownat",
      "utimensat",
      "flock",
      "copy_file_range",
      "sendfile",
      "getcwd",
      // Anonymous pipes: harmless, and the sanitizers' memory-access checks
      // (UBSan's vptr check) create one.
      "pipe",
      "pipe2",
      // Waiting and waking.
      "poll",
      "ppoll",
      "select",
      "pselect6",
      "epoll_create1",
      "epoll_ctl",
      "epoll_wait",
      "epoll_pwait",
      "epoll_pwait2",
      "eventfd2",
      "inotify_init1",
      "inotify_add_watch",
      "inotify_rm_watch",
      "timerfd_create",
      "timerfd_settime",
      "timerfd_gettime",
      "futex",
      "nanosleep",
      "clock_nanosleep",
      "clock_gettime",
      "clock_getres",
      "gettimeofday",
      "sched_yield",
      "sched_getaffinity",
      // Memory.
      "brk",
      "mmap",
      "munmap",
      "mremap",
      "mprotect",
      "madvise",
      "membarrier",
      // Netlink and sd_notify traffic on sockets the rules below let it open.
      "sendto",
      "sendmsg",
      "recvfrom",
      "recvmsg",
      "bind",
      "getsockname",
      "getsockopt",
      "setsockopt",
      "connect",
      // The control socket (ops/): a unix stream socket bound before the
      // filter; its thread accepts `fstun status` clients.
      "accept",
      "accept4",
      "listen",
      "shutdown",
      "getpeername",
      "chmod",
      // Process housekeeping, signals, exit.
      "getpid",
      "gettid",
      "getppid",
      "getuid",
      "geteuid",
      "getgid",
      "getegid",
      "getresuid",
      "getresgid",
      "getgroups",
      "uname",
      "getrandom",
      "prlimit64",
      "getrlimit",
      "sysinfo",
      "rseq",
      "set_robust_list",
      "get_robust_list",
      "set_tid_address",
      "rt_sigaction",
      "rt_sigprocmask",
      "rt_sigreturn",
      "rt_sigtimedwait",
      "sigaltstack",
      "restart_syscall",
      "exit",
      "exit_group",
  };
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

absl::Status InstallSeccompFilter() {
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
  if (ctx == nullptr) return absl::InternalError("seccomp: seccomp_init failed");
  struct Release {
    scmp_filter_ctx ctx;
    ~Release() { seccomp_release(ctx); }
  } release{ctx};
  int rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
  if (rc != 0) return Fail("TSYNC", rc);

  int allowed = 0;
  for (const std::string& name : DataPathSyscalls()) {
    int nr = seccomp_syscall_resolve_name(name.c_str());
    if (nr == __NR_SCMP_ERROR) continue;  // not on this architecture
    rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
    if (rc != 0) return Fail(absl::StrCat("allow ", name), rc);
    ++allowed;
  }

  struct Rule {
    const char* what;
    uint32_t action;
    int nr;
    std::vector<scmp_arg_cmp> args;
  };
  const scmp_datum_t pid = static_cast<scmp_datum_t>(getpid());
  std::vector<Rule> rules = {
      {"socket(AF_NETLINK)", SCMP_ACT_ALLOW, SCMP_SYS(socket), {SCMP_A0(SCMP_CMP_EQ, AF_NETLINK)}},
      {"socket(AF_UNIX, SOCK_DGRAM)",
       SCMP_ACT_ALLOW,
       SCMP_SYS(socket),
       {SCMP_A0(SCMP_CMP_EQ, AF_UNIX), SCMP_A1(SCMP_CMP_MASKED_EQ, 0xf, SOCK_DGRAM)}},
      {"ioctl(FIONREAD)", SCMP_ACT_ALLOW, SCMP_SYS(ioctl), {SCMP_A1(SCMP_CMP_EQ, FIONREAD)}},
      {"ioctl(FIONBIO)", SCMP_ACT_ALLOW, SCMP_SYS(ioctl), {SCMP_A1(SCMP_CMP_EQ, FIONBIO)}},
      {"ioctl(TCGETS)", SCMP_ACT_ALLOW, SCMP_SYS(ioctl), {SCMP_A1(SCMP_CMP_EQ, TCGETS)}},
      {"ioctl(TIOCGWINSZ)", SCMP_ACT_ALLOW, SCMP_SYS(ioctl), {SCMP_A1(SCMP_CMP_EQ, TIOCGWINSZ)}},
      {"clone(CLONE_THREAD)",
       SCMP_ACT_ALLOW,
       SCMP_SYS(clone),
       {SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD)}},
      {"clone3 -> ENOSYS", SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), {}},
      {"kill(self)", SCMP_ACT_ALLOW, SCMP_SYS(kill), {SCMP_A0(SCMP_CMP_EQ, pid)}},
      {"tgkill(self)", SCMP_ACT_ALLOW, SCMP_SYS(tgkill), {SCMP_A0(SCMP_CMP_EQ, pid)}},
  };
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
            << " syscall rules allowed, everything else fails with EPERM";
  return absl::OkStatus();
}

}  // namespace fstun
