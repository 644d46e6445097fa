// The daemon's counters in the Prometheus text exposition format (0.0.4),
// for `fstun metrics`, the control socket's "metrics" query and the
// node_exporter textfile written with --metrics_file.
//
// Every series carries interface="<ifname>" so the files of several daemons
// can share one textfile directory. Totals and per-peer series are separate
// families (fstun_transport_* vs fstun_peer_*), so sum() over a family never
// counts a frame twice. The names are listed in docs/operations.md.
#ifndef FSTUN_OPS_METRICS_H_
#define FSTUN_OPS_METRICS_H_

#include <string>

#include "ops/daemon_status.h"

namespace fstun {

// `up` is 1 while the daemon runs; the final textfile written at exit says 0.
std::string FormatMetrics(const DaemonStatus& status, bool up = true);

}  // namespace fstun

#endif  // FSTUN_OPS_METRICS_H_
