// The seccomp allow-list of the data path, installed after set-up and after
// DropPrivileges (which sets no_new_privs, so no CAP_SYS_ADMIN is needed).
//
// Anything not on the list fails with EPERM instead of killing the process:
// a syscall we forgot shows up as an ordinary, logged error ("Operation not
// permitted") that a user can report, rather than a silent SIGSYS death
// that would also skip teardown. An attacker gains nothing from EPERM.
//
// The list (DataPathSyscalls) was derived by tracing the daemon's data path
// (pump, TUN I/O, memory/loopback/fs transports, glog, libsodium) with
// strace -f and by the tests in security/seccomp_filter_test.cc. Argument
// rules narrow the dangerous ones:
//   socket   only AF_NETLINK (teardown talks to the kernel over netlink)
//            and AF_UNIX datagrams (sd_notify); no AF_INET/AF_INET6/
//            AF_PACKET, so a compromised data path cannot open connections
//   ioctl    only FIONREAD, FIONBIO, TCGETS, TIOCGWINSZ; so no TUNSETIFF
//            or SIOCS* interface changes
//   clone    only new threads (CLONE_THREAD); no fork
//   clone3   fails with ENOSYS so glibc falls back to clone
//   kill, tgkill  only to this process (abort, glog's crash handler)
// connect is allowed (sd_notify; only netlink and unix datagram sockets can
// be created), and so are accept/listen for the control socket bound during
// set-up. Not allowed at all, among others: execve/execveat, ptrace,
// process_vm_*, mount, bpf, keyctl, setuid/setgid/capset, chroot, init/
// finit_module, reboot, kexec, personality, userfaultfd, perf_event_open.
//
// Call once, after everything that needs other syscalls has run. The
// filter covers all threads (SECCOMP_FILTER_FLAG_TSYNC) and is inherited by
// any thread started later; it cannot be removed.
#ifndef FSTUN_SECURITY_SECCOMP_FILTER_H_
#define FSTUN_SECURITY_SECCOMP_FILTER_H_

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace fstun {

// The syscalls allowed without argument rules (names as in libseccomp;
// names unknown on the running architecture are skipped).
const std::vector<std::string>& DataPathSyscalls();

// True in sanitizer (ASan) builds, whose filter also allows clone, ptrace,
// wait4, prctl and getdents: LeakSanitizer's exit-time check needs them. Release
// builds never allow them.
bool SeccompAllowsSanitizerRuntime();

// Installs the filter. Needs no_new_privs (or CAP_SYS_ADMIN).
absl::Status InstallSeccompFilter();

}  // namespace fstun

#endif  // FSTUN_SECURITY_SECCOMP_FILTER_H_
