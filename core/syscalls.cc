#include "core/syscalls.h"

#include <sys/ioctl.h>
#include <termios.h>

namespace fstun {

SyscallNeeds& SyscallNeeds::Add(const SyscallNeeds& other) {
  syscalls.insert(syscalls.end(), other.syscalls.begin(), other.syscalls.end());
  sockets.insert(sockets.end(), other.sockets.begin(), other.sockets.end());
  ioctls.insert(ioctls.end(), other.ioctls.begin(), other.ioctls.end());
  return *this;
}

const SyscallNeeds& CoreSyscalls() {
  static const SyscallNeeds* needs = [] {
    auto* n = new SyscallNeeds;
    n->syscalls = {
        // Descriptor I/O of the pump (device, eventfds) and glog's log
        // files (glog opens a new file when one grows past its limit).
        "read", "readv", "write", "writev", "close", "lseek", "fcntl", "dup", "dup3", "open",
        "openat", "fstat", "newfstatat", "stat", "lstat", "statx", "fsync", "fdatasync", "unlink",
        "symlink", "symlinkat", "unlinkat", "getcwd",
        // Anonymous pipes: the sanitizers' checks (UBSan's vptr check) make one.
        "pipe", "pipe2",
        // Waiting and waking (Pump::Run, EventFd, absl::Mutex).
        "poll", "ppoll", "select", "pselect6", "epoll_create1", "epoll_ctl", "epoll_wait",
        "epoll_pwait", "epoll_pwait2", "eventfd2", "futex", "nanosleep", "clock_nanosleep",
        "clock_gettime", "clock_getres", "gettimeofday", "sched_yield", "sched_getaffinity",
        // Memory.
        "brk", "mmap", "munmap", "mremap", "mprotect", "madvise", "membarrier",
        // Process housekeeping, threads, signals, exit.
        "getpid", "gettid", "getppid", "getuid", "geteuid", "getgid", "getegid", "getresuid",
        "getresgid", "getgroups", "uname", "getrandom", "getrlimit", "sysinfo", "rseq",
        "set_robust_list", "get_robust_list", "set_tid_address", "rt_sigaction", "rt_sigprocmask",
        "rt_sigreturn", "rt_sigtimedwait", "sigaltstack", "restart_syscall", "exit", "exit_group"};
    // isatty() in glog's colour check and the tty checks of stdio.
    n->ioctls = {FIONREAD, FIONBIO, TCGETS, TIOCGWINSZ};
    return n;
  }();
  return *needs;
}

}  // namespace fstun
