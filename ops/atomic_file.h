// Replacing a file's contents atomically (write a temporary file next to
// it, then rename), so a reader such as node_exporter's textfile collector
// never sees half a file.
#ifndef FSTUN_OPS_ATOMIC_FILE_H_
#define FSTUN_OPS_ATOMIC_FILE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace fstun {

// The file ends up with mode 0644. The temporary file is "<path>.<pid>.tmp"
// (not *.prom, so the collector skips it).
absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents);

}  // namespace fstun

#endif  // FSTUN_OPS_ATOMIC_FILE_H_
