#include "ops/flag_file.h"

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gflags/gflags.h"

namespace fstun {
namespace {

constexpr int kMaxDepth = 8;

absl::Status CheckFile(const std::string& path, int depth);

absl::Status CheckList(absl::string_view value, int depth) {
  for (absl::string_view path : absl::StrSplit(value, ',', absl::SkipWhitespace())) {
    if (absl::Status s = CheckFile(std::string(absl::StripAsciiWhitespace(path)), depth); !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

// Checks one line. A --flagfile line's files are returned in `nested`, to be
// checked by the caller (their errors name their own lines).
absl::Status CheckLine(absl::string_view line, std::string& nested) {
  if (!absl::StartsWith(line, "-")) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", line, "' is not a flag (lines are --name=value or # comments)"));
  }
  absl::string_view arg = line;
  arg.remove_prefix(absl::StartsWith(arg, "--") ? 2 : 1);
  size_t eq = arg.find('=');
  std::string name(absl::StripTrailingAsciiWhitespace(arg.substr(0, eq)));
  gflags::CommandLineFlagInfo info;
  if (!gflags::GetCommandLineFlagInfo(name.c_str(), &info)) {
    if (absl::StartsWith(name, "no") && eq == absl::string_view::npos &&
        gflags::GetCommandLineFlagInfo(name.substr(2).c_str(), &info) && info.type == "bool") {
      return absl::OkStatus();
    }
    if (name.find_first_of(" \t") != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", line, "': write --name=value (no space before the value)"));
    }
    return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name, " (see fstun --help)"));
  }
  if (eq == absl::string_view::npos) {
    if (info.type == "bool") return absl::OkStatus();
    return absl::InvalidArgumentError(
        absl::StrCat("flag --", name, " needs a value (--", name, "=VALUE)"));
  }
  absl::string_view value = arg.substr(eq + 1);
  if (!FlagValueParses(info.type, value)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, "=", value, ": not a valid ", info.type, " value"));
  }
  if (name == "flagfile") nested = std::string(value);
  return absl::OkStatus();
}

absl::Status CheckFile(const std::string& path, int depth) {
  if (depth > kMaxDepth) {
    return absl::InvalidArgumentError(
        absl::StrCat("flag file ", path, ": --flagfile nested more than ", kMaxDepth, " deep"));
  }
  std::ifstream in(path);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("cannot read flag file ", path));
  std::string raw;
  int number = 0;
  while (std::getline(in, raw)) {
    ++number;
    absl::string_view line = absl::StripLeadingAsciiWhitespace(raw);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);  // a file edited on Windows
    if (absl::StripTrailingAsciiWhitespace(line).empty() || absl::StartsWith(line, "#")) continue;
    if (absl::ascii_isspace(static_cast<unsigned char>(line.back()))) {
      // gflags would keep them as part of the value ("loopback  ").
      return absl::InvalidArgumentError(absl::StrCat(path, ":", number, ": trailing spaces after '",
                                                     absl::StripTrailingAsciiWhitespace(line),
                                                     "'"));
    }
    std::string nested;
    if (absl::Status s = CheckLine(line, nested); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ":", number, ": ", s.message()));
    }
    if (!nested.empty()) {
      if (absl::Status s = CheckList(nested, depth + 1); !s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckFlagFiles(absl::string_view value) { return CheckList(value, 1); }

bool FlagValueParses(absl::string_view type, absl::string_view value) {
  if (type == "bool") {
    std::string v = absl::AsciiStrToLower(value);
    return v == "true" || v == "false" || v == "1" || v == "0" || v == "yes" || v == "no" ||
           v == "t" || v == "f" || v == "y" || v == "n";
  }
  if (type == "int32") {
    int32_t v;
    return absl::SimpleAtoi(value, &v);
  }
  if (type == "int64") {
    int64_t v;
    return absl::SimpleAtoi(value, &v);
  }
  if (type == "uint32") {
    uint32_t v;
    return !absl::StartsWith(value, "-") && absl::SimpleAtoi(value, &v);
  }
  if (type == "uint64") {
    uint64_t v;
    return !absl::StartsWith(value, "-") && absl::SimpleAtoi(value, &v);
  }
  if (type == "double") {
    double v;
    return absl::SimpleAtod(value, &v);
  }
  return true;  // string
}

}  // namespace fstun
