// Checking gflags flag files (--flagfile=PATH, fstun's configuration format)
// before gflags reads them, so that a mistake is a usage error (exit 2) that
// names the file and line, instead of gflags' own exit 1 or a silently
// ignored line.
//
// The accepted format (a subset of what gflags reads, docs/operations.md):
//   # a comment
//   --name=value
//   --boolean_flag      (or --noboolean_flag, --boolean_flag=false)
//   --flagfile=OTHER    (nested, at most 8 deep)
// Blank lines and leading spaces are ignored. Everything else is an error:
// unknown flags, a missing value, a value that does not parse as the flag's
// type, trailing spaces (gflags keeps them in the value), and lines that do
// not start with '-' (gflags would take those as program-name filters and
// silently skip the flags below them).
#ifndef FSTUN_OPS_FLAG_FILE_H_
#define FSTUN_OPS_FLAG_FILE_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace fstun {

// `value` is the --flagfile argument: one path or a comma-separated list.
// InvalidArgument "FILE:LINE: message" on the first problem.
absl::Status CheckFlagFiles(absl::string_view value);

// Whether `value` parses as a gflags value of `type` ("bool", "int32",
// "uint64", "double", "string", ...).
bool FlagValueParses(absl::string_view type, absl::string_view value);

}  // namespace fstun

#endif  // FSTUN_OPS_FLAG_FILE_H_
