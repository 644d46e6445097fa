// The fstun version, printed by --version and in the start-up log line.
#ifndef FSTUN_CMD_VERSION_H_
#define FSTUN_CMD_VERSION_H_

namespace fstun {
inline constexpr char kVersion[] = "0.1.0";
}  // namespace fstun

#endif  // FSTUN_CMD_VERSION_H_
