// The seccomp allow-list of the data path, installed after set-up and after
// DropPrivileges (which sets no_new_privs, so no CAP_SYS_ADMIN is needed).
//
// The list is not kept here: it is built from the declarations of what runs
// after set-up (core/syscalls.h): the core's own (CoreSyscalls), the
// device's and the transport's (Device::syscalls, Transport::syscalls,
// declared next to the code that makes the calls), and the daemon's
// (control socket, sd_notify, teardown over netlink). A transport that needs
// sendmmsg or a UDP socket declares it in its own package.
//
// Anything not allowed fails with EPERM instead of killing the process:
// a syscall someone forgot to declare shows up as an ordinary, logged error
// ("Operation not permitted") that a user can report, rather than a silent
// SIGSYS death that would also skip teardown. An attacker gains nothing
// from EPERM.
//
// Fixed rules, whatever is declared:
//   socket   only the (family, type, protocol) triples declared
//   ioctl    only the requests declared (so no TUNSETIFF or SIOCS* changes
//            unless a device declares them)
//   clone    only new threads (CLONE_THREAD); no fork
//   clone3   fails with ENOSYS so glibc falls back to clone
//   kill, tgkill  only to this process (abort, glog's crash handler)
//   prlimit64     only on this process (glibc's getrlimit)
// Never allowed, even if declared (InstallSeccompFilter refuses such a
// declaration): ForbiddenSyscalls(), e.g. execve, ptrace, mount, bpf,
// setuid, capset, unshare, setns, init_module, kexec_load.
//
// Call once, after everything that needs other syscalls has run. The
// filter covers all threads (SECCOMP_FILTER_FLAG_TSYNC) and is inherited by
// any thread started later; it cannot be removed.
#ifndef FSTUN_SECURITY_SECCOMP_FILTER_H_
#define FSTUN_SECURITY_SECCOMP_FILTER_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "core/syscalls.h"

namespace fstun {

// Names no declaration may allow.
const std::vector<std::string>& ForbiddenSyscalls();

// True in sanitizer (ASan) builds, whose filter also allows clone, ptrace,
// wait4, prctl and getdents: LeakSanitizer's exit-time check needs them.
// Release builds never allow them.
bool SeccompAllowsSanitizerRuntime();

// Installs the filter allowing `needs` (plus the fixed rules above).
// InvalidArgument if `needs` names a forbidden syscall. Needs no_new_privs
// (or CAP_SYS_ADMIN).
absl::Status InstallSeccompFilter(const SyscallNeeds& needs);

}  // namespace fstun

#endif  // FSTUN_SECURITY_SECCOMP_FILTER_H_
