// Operations: everything the running daemon offers its operator, wired in
// one place: the control socket (`fstun status`, `fstun metrics`), the
// Prometheus textfile (--metrics_file), and systemd notifications.
//
// In cmd/daemon.cc:
//   auto ops = Operations::Prepare(info, *tun, *transport, pump);  // binds the socket (as root)
//   ...drop privileges, seccomp...
//   ops->Start();          // serving thread; READY=1 to systemd
//   pump.Run();
//   ops.reset();           // STOPPING=1, final textfile with fstun_up 0
//
// The device, transport and pump must outlive the Operations object.
#ifndef FSTUN_OPS_OPERATIONS_H_
#define FSTUN_OPS_OPERATIONS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/device.h"
#include "core/pump.h"
#include "core/transport.h"
#include "ops/control_server.h"
#include "ops/daemon_status.h"

namespace fstun {

class Operations {
 public:
  // Reads --control_dir, --metrics_file and --metrics_interval_s. A control
  // socket that cannot be set up (no permission for the directory, a live
  // daemon on the same name) is logged as a warning and left out: the tunnel
  // matters more than its status. InvalidArgument for bad flag values.
  static absl::StatusOr<std::unique_ptr<Operations>> Prepare(DaemonInfo info, const Device& device,
                                                             const Transport& transport,
                                                             const Pump& pump);
  ~Operations();
  Operations(const Operations&) = delete;
  Operations& operator=(const Operations&) = delete;

  // Starts the serving thread, writes the first metrics file and tells
  // systemd the tunnel is up. Call after the tunnel is up.
  void Start();

  DaemonStatus Status() const;
  // The control socket's path ("" when there is none).
  std::string control_path() const;

  // The reply to one control request (exposed for tests).
  absl::StatusOr<std::string> Answer(absl::string_view request) const;

 private:
  Operations(DaemonInfo info, const Device& device, const Transport& transport, const Pump& pump);
  void Tick();
  void WriteMetricsFile(bool up);

  DaemonInfo info_;
  const Device& device_;
  const Transport& transport_;
  const Pump& pump_;
  std::string metrics_file_;
  absl::Duration interval_;
  std::unique_ptr<ControlServer> server_;
  bool started_ = false;
  bool metrics_failed_ = false;  // only touched by the serving thread, then by the destructor
};

}  // namespace fstun

#endif  // FSTUN_OPS_OPERATIONS_H_
