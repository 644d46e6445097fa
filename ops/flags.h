// Flags of the operator-facing features: the control socket, the metrics
// textfile, and `fstun status`'s output format.
#ifndef FSTUN_OPS_FLAGS_H_
#define FSTUN_OPS_FLAGS_H_

#include "gflags/gflags.h"

DECLARE_string(control_dir);
DECLARE_string(metrics_file);
DECLARE_int32(metrics_interval_s);
DECLARE_bool(json);

#endif  // FSTUN_OPS_FLAGS_H_
