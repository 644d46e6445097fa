// Registers "stream" and defines its flags (shown by fstun --help when this
// package is linked). Each flag can also come from TransportConfig.options
// under the key in brackets, which wins over the flag:
//   --stream_address [address], --stream_send_buffer_bytes
//   [send_buffer_bytes], --stream_baud [baud].
#include <memory>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/registry.h"
#include "gflags/gflags.h"
#include "transports/stream/endpoint.h"
#include "transports/stream/stream_address.h"
#include "transports/stream/stream_transport.h"

DEFINE_string(stream_address, "stdio",
              "stream transport: the byte stream that carries the tunnel: stdio (stdin/stdout, "
              "e.g. under ssh or socat EXEC), unix:/path, tcp:HOST:PORT, listen:unix:/path, "
              "listen:tcp:HOST:PORT, tty:/dev/DEVICE (serial or virtio console, raw mode) or "
              "fd:R[,W]");
DEFINE_uint64(stream_send_buffer_bytes, 1 << 20,
              "stream transport: bytes that may wait for the stream to take them; beyond it "
              "the tunnel stops reading its TUN until the stream drains (backpressure)");
DEFINE_int32(stream_baud, 0, "stream transport: tty line speed to set (0: leave it as it is)");

namespace fstun::stream {
namespace {

absl::StatusOr<std::unique_ptr<Transport>> CreateStream(const TransportConfig& config) {
  absl::StatusOr<StreamAddress> address =
      ParseStreamAddress(config.Option("address", FLAGS_stream_address));
  if (!address.ok()) return address.status();
  StreamTransportOptions options;
  options.mtu = config.mtu;
  options.vnet_frames = config.offload_frames;
  std::string buffer =
      config.Option("send_buffer_bytes", absl::StrCat(FLAGS_stream_send_buffer_bytes));
  if (!absl::SimpleAtoi(buffer, &options.send_buffer_bytes) || options.send_buffer_bytes == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("stream: --stream_send_buffer_bytes='", buffer, "' is not a positive number"));
  }
  EndpointOptions endpoint_options;
  std::string baud = config.Option("baud", absl::StrCat(FLAGS_stream_baud));
  if (!absl::SimpleAtoi(baud, &endpoint_options.tty_baud) || endpoint_options.tty_baud < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("stream: --stream_baud='", baud, "' is not a speed"));
  }
  if (config.file_owner.has_value()) {
    endpoint_options.socket_owner = std::make_pair(config.file_owner->uid, config.file_owner->gid);
  }
  absl::StatusOr<std::unique_ptr<Endpoint>> endpoint = OpenEndpoint(*address, endpoint_options);
  if (!endpoint.ok()) return endpoint.status();
  absl::StatusOr<std::unique_ptr<StreamTransport>> t =
      StreamTransport::Create(*std::move(endpoint), options);
  if (!t.ok()) return t.status();
  return std::unique_ptr<Transport>(*std::move(t));
}

TransportRegistration kRegistration(
    "stream",
    "frames as checksummed records over a byte stream: stdin/stdout (ssh, socat), a Unix or "
    "TCP socket, a serial line (--stream_address)",
    CreateStream);

}  // namespace
}  // namespace fstun::stream
