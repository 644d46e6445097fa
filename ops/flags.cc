#include "ops/flags.h"

#include "ops/control_protocol.h"

DEFINE_string(control_dir, fstun::kDefaultControlDir,
              "directory of the control socket that `fstun status` asks (created 0700; "
              "empty: no control socket)");
DEFINE_string(metrics_file, "",
              "write Prometheus metrics to this file every --metrics_interval_s seconds, "
              "atomically (for node_exporter's textfile collector: a *.prom name)");
DEFINE_int32(metrics_interval_s, 5,
             "seconds between metrics file updates and systemd STATUS= lines (1..3600)");
DEFINE_bool(json, false, "fstun status: print JSON (schema in docs/operations.md)");
