// StreamAddress: where the stream transport's byte stream comes from
// (--stream_address). One of:
//
//   stdio                  this process's stdin/stdout (the default): under
//                          `ssh host fstun ...` or socat's EXEC
//   fd:R[,W]               inherited descriptors (W defaults to R)
//   unix:/path             connect to a Unix stream socket (reconnects)
//   tcp:HOST:PORT          connect to TCP; HOST numeric, [v6] in brackets
//   listen:unix:/path      listen and take one connection at a time (a new
//   listen:tcp:HOST:PORT   one replaces the current one: a peer that reconnects)
//   tty:/dev/ttyS1         a serial or virtio-console device, put in raw mode
//
//   absl::StatusOr<StreamAddress> a = ParseStreamAddress("listen:tcp:127.0.0.1:7000");
#ifndef FSTUN_TRANSPORTS_STREAM_STREAM_ADDRESS_H_
#define FSTUN_TRANSPORTS_STREAM_STREAM_ADDRESS_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace fstun::stream {

struct StreamAddress {
  enum class Kind { kStdio, kFds, kUnix, kTcp, kTty };
  Kind kind = Kind::kStdio;
  bool listen = false;  // kUnix, kTcp
  std::string path;     // kUnix, kTty
  std::string host;     // kTcp: numeric IPv4 or IPv6 (no brackets)
  uint16_t port = 0;    // kTcp
  int read_fd = -1;     // kFds
  int write_fd = -1;    // kFds

  // The canonical text form (what Parse accepts).
  std::string ToString() const;
};

// InvalidArgument with a one-line message naming the accepted forms.
absl::StatusOr<StreamAddress> ParseStreamAddress(absl::string_view text);

}  // namespace fstun::stream

#endif  // FSTUN_TRANSPORTS_STREAM_STREAM_ADDRESS_H_
