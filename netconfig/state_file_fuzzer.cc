// libFuzzer target for the state-file parser (HostState::Parse), the text a
// root process reads back to decide which sysctls to write and which nft
// tables to delete. Beyond "no crash, no sanitizer report" it checks what
// the hardening promises:
//   * whatever parses passes ValidateChange (allow-listed sysctl paths,
//     fstun_ table names), so nothing else can reach the undo code;
//   * Serialize() of a parsed state parses again to the same text (the
//     writer never produces a line the reader refuses).
// Seeds: netconfig/corpus/state_file_fuzzer/. See docs/fuzzing.md.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/string_view.h"
#include "netconfig/state_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > fstun::kMaxStateFileBytes) return 0;  // refused unread by StateFile::Read
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<fstun::HostState> state = fstun::HostState::Parse(text);
  if (!state.ok()) return 0;
  for (const fstun::HostChange& change : state->changes) {
    if (!fstun::ValidateChange(change).ok()) {
      std::fprintf(stderr, "parsed a change that does not validate: %s\n",
                   fstun::DescribeChange(change).c_str());
      std::abort();
    }
  }
  std::string once = state->Serialize();
  absl::StatusOr<fstun::HostState> again = fstun::HostState::Parse(once);
  if (!again.ok() || again->Serialize() != once) {
    std::fprintf(stderr, "Serialize/Parse do not round-trip:\n%s\n", once.c_str());
    std::abort();
  }
  return 0;
}
