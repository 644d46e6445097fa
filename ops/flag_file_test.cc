#include "ops/flag_file.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gflags/gflags.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

DEFINE_string(test_name, "", "a string flag");
DEFINE_int32(test_count, 0, "an int flag");
DEFINE_uint64(test_bytes, 0, "an unsigned flag");
DEFINE_bool(test_switch, false, "a bool flag");

namespace fstun {
namespace {

using ::testing::HasSubstr;

std::string Write(const std::string& name, const std::string& contents) {
  const char* tmp = getenv("TEST_TMPDIR");
  std::string path = absl::StrCat(tmp ? tmp : "/tmp", "/", name);
  std::ofstream(path) << contents;
  return path;
}

TEST(FlagFileTest, AcceptsWhatGflagsReads) {
  std::string path = Write("good.flags",
                           "# a comment\n"
                           "\n"
                           "--test_name=hello world\n"
                           "  --test_count=-3\n"
                           "--test_bytes=1048576\n"
                           "--test_switch\n"
                           "--notest_switch\n"
                           "-test_switch=false\n");
  EXPECT_TRUE(CheckFlagFiles(path).ok()) << CheckFlagFiles(path);
}

TEST(FlagFileTest, UnknownFlagNamesFileAndLine) {
  std::string path = Write("unknown.flags", "# ok\n--test_name=x\n--frobnicate=1\n");
  absl::Status s = CheckFlagFiles(path);
  EXPECT_TRUE(absl::IsInvalidArgument(s));
  EXPECT_EQ(s.message(), absl::StrCat(path, ":3: unknown flag --frobnicate (see fstun --help)"));
}

TEST(FlagFileTest, OtherMistakes) {
  struct Case {
    const char* line;
    const char* message;
  } cases[] = {
      {"--test_count=many", ":1: --test_count=many: not a valid int32 value"},
      {"--test_bytes=-1", ":1: --test_bytes=-1: not a valid uint64 value"},
      {"--test_switch=maybe", ":1: --test_switch=maybe: not a valid bool value"},
      {"--test_name", ":1: flag --test_name needs a value (--test_name=VALUE)"},
      {"--test_name hello",
       ":1: '--test_name hello': write --name=value (no space before the value)"},
      {"test_name=x", ":1: 'test_name=x' is not a flag"},
      {"--notest_name", ":1: unknown flag --notest_name"},
      {"--test_name=x  ", ":1: trailing spaces after '--test_name=x'"},
  };
  for (const Case& c : cases) {
    std::string path = Write("bad.flags", absl::StrCat(c.line, "\n"));
    absl::Status s = CheckFlagFiles(path);
    EXPECT_THAT(s.message(), HasSubstr(c.message)) << c.line;
  }
}

TEST(FlagFileTest, NestedFilesAndLists) {
  std::string inner = Write("inner.flags", "--test_count=1\n\n--bogus=2\n");
  std::string outer = Write("outer.flags", absl::StrCat("--test_name=x\n--flagfile=", inner, "\n"));
  EXPECT_EQ(CheckFlagFiles(outer).message(),
            absl::StrCat(inner, ":3: unknown flag --bogus (see fstun --help)"));
  std::string good = Write("good2.flags", "--test_count=1\n");
  EXPECT_FALSE(CheckFlagFiles(absl::StrCat(good, ",", inner)).ok());
  EXPECT_TRUE(CheckFlagFiles(good).ok());
  std::string loop = Write("loop.flags", "");
  Write("loop.flags", absl::StrCat("--flagfile=", loop, "\n"));
  EXPECT_THAT(CheckFlagFiles(loop).message(), HasSubstr("nested more than 8 deep"));
  EXPECT_THAT(CheckFlagFiles("/nonexistent/x.flags").message(),
              HasSubstr("cannot read flag file /nonexistent/x.flags"));
}

}  // namespace
}  // namespace fstun
