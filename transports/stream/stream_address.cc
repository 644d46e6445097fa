#include "transports/stream/stream_address.h"

#include <arpa/inet.h>

#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace fstun::stream {
namespace {

constexpr char kForms[] =
    "stdio, fd:R[,W], unix:/path, tcp:HOST:PORT, listen:unix:/path, listen:tcp:HOST:PORT or "
    "tty:/dev/DEVICE";

absl::Status Bad(absl::string_view text, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("--stream_address='", text, "': ", why, " (forms: ", kForms, ")"));
}

bool NumericHost(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

}  // namespace

std::string StreamAddress::ToString() const {
  switch (kind) {
    case Kind::kStdio:
      return "stdio";
    case Kind::kFds:
      return read_fd == write_fd ? absl::StrCat("fd:", read_fd)
                                 : absl::StrCat("fd:", read_fd, ",", write_fd);
    case Kind::kUnix:
      return absl::StrCat(listen ? "listen:" : "", "unix:", path);
    case Kind::kTcp: {
      bool v6 = absl::StrContains(host, ':');
      return absl::StrCat(listen ? "listen:" : "", "tcp:", v6 ? "[" : "", host, v6 ? "]" : "", ":",
                          port);
    }
    case Kind::kTty:
      return absl::StrCat("tty:", path);
  }
  return "?";
}

absl::StatusOr<StreamAddress> ParseStreamAddress(absl::string_view text) {
  StreamAddress a;
  absl::string_view rest = text;
  if (rest.empty() || rest == "stdio" || rest == "-") return a;
  if (absl::ConsumePrefix(&rest, "listen:")) a.listen = true;
  if (absl::ConsumePrefix(&rest, "unix:")) {
    a.kind = StreamAddress::Kind::kUnix;
    a.path = std::string(rest);
    if (a.path.empty() || a.path[0] != '/')
      return Bad(text, "a Unix socket needs an absolute path");
    if (a.path.size() >= 108) return Bad(text, "a Unix socket path has at most 107 characters");
    return a;
  }
  if (absl::ConsumePrefix(&rest, "tcp:")) {
    a.kind = StreamAddress::Kind::kTcp;
    size_t colon = rest.rfind(':');
    if (colon == absl::string_view::npos) return Bad(text, "tcp needs HOST:PORT");
    absl::string_view host = rest.substr(0, colon);
    if (absl::ConsumePrefix(&host, "[") && !absl::ConsumeSuffix(&host, "]")) {
      return Bad(text, "unclosed '[' in the IPv6 host");
    }
    a.host = std::string(host);
    uint32_t port = 0;
    if (!absl::SimpleAtoi(rest.substr(colon + 1), &port) || port == 0 || port > 65535) {
      return Bad(text, "the port must be 1..65535");
    }
    a.port = static_cast<uint16_t>(port);
    if (!NumericHost(a.host)) return Bad(text, "HOST must be a numeric IPv4 or IPv6 address");
    return a;
  }
  if (a.listen) return Bad(text, "only unix: and tcp: can listen");
  if (absl::ConsumePrefix(&rest, "tty:")) {
    a.kind = StreamAddress::Kind::kTty;
    a.path = std::string(rest);
    if (a.path.empty() || a.path[0] != '/') return Bad(text, "a tty needs an absolute device path");
    return a;
  }
  if (absl::ConsumePrefix(&rest, "fd:")) {
    a.kind = StreamAddress::Kind::kFds;
    std::vector<absl::string_view> parts = absl::StrSplit(rest, ',');
    if (parts.size() > 2 || !absl::SimpleAtoi(parts[0], &a.read_fd) || a.read_fd < 0) {
      return Bad(text, "fd: needs one or two descriptor numbers");
    }
    a.write_fd = a.read_fd;
    if (parts.size() == 2 && (!absl::SimpleAtoi(parts[1], &a.write_fd) || a.write_fd < 0)) {
      return Bad(text, "fd: needs one or two descriptor numbers");
    }
    return a;
  }
  return Bad(text, "unknown form");
}

}  // namespace fstun::stream
