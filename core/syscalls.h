// SyscallNeeds: what a component's data path asks of the kernel after
// set-up, declared next to the code that makes the calls (as passt's
// `#syscalls` comments are). The seccomp filter (security/seccomp_filter.h)
// is built from the declarations of the core, the device and the transport
// in use, so a new transport that opens a UDP socket or calls sendmmsg says
// so in its own package instead of editing a central list.
//
//   SyscallNeeds MyTransport::syscalls() const {
//     SyscallNeeds n;
//     n.syscalls = {"sendmmsg", "recvmmsg"};        // Send, Receive
//     n.sockets = {{AF_INET, SOCK_DGRAM}};          // reconnect in Receive
//     return n;
//   }
//
// Declare only what runs after set-up (Send, Receive, housekeeping, Close):
// what Create does runs before the filter.
#ifndef FSTUN_CORE_SYSCALLS_H_
#define FSTUN_CORE_SYSCALLS_H_

#include <string>
#include <vector>

namespace fstun {

struct SyscallNeeds {
  // Allowed without argument checks; libseccomp names ("sendmmsg").
  std::vector<std::string> syscalls;
  // socket(family, type, protocol) calls allowed; -1: any. `type` is
  // compared without SOCK_NONBLOCK/SOCK_CLOEXEC.
  struct Socket {
    int family = -1;
    int type = -1;
    int protocol = -1;
  };
  std::vector<Socket> sockets;
  // ioctl requests allowed (on any fd).
  std::vector<unsigned long> ioctls;

  // Adds everything `other` allows.
  SyscallNeeds& Add(const SyscallNeeds& other);
};

// What the core itself calls on the data path whatever the device and
// transport: the pump's poll loop and eventfds, memory, time, threads and
// locks, signals, logging (glog writes and rotates its files) and exit.
const SyscallNeeds& CoreSyscalls();

}  // namespace fstun

#endif  // FSTUN_CORE_SYSCALLS_H_
