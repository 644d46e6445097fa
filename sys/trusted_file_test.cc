#include "sys/trusted_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "gtest/gtest.h"

namespace fstun {
namespace {

std::string Base() {
  const char* tmp = std::getenv("TEST_TMPDIR");
  return tmp != nullptr ? tmp : "/tmp";
}

class TrustedFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = Base() + "/" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    ASSERT_EQ(mkdir(dir_.c_str(), 0700), 0);
  }
  std::string dir_;
};

TEST_F(TrustedFileTest, ReadsAnOrdinaryRootFile) {
  std::ofstream(dir_ + "/f") << "hello";
  chmod((dir_ + "/f").c_str(), 0600);
  auto dir = OpenTrustedDirectory(dir_, "test directory");
  ASSERT_TRUE(dir.ok()) << dir.status();
  auto text = ReadTrustedFile(dir->get(), "f", 100, "test file", dir_ + "/f");
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text, "hello");
  EXPECT_TRUE(absl::IsNotFound(ReadTrustedFile(dir->get(), "g", 100, "test file", "g").status()));
}

TEST_F(TrustedFileTest, CreatesMissingDirectoriesOwnerOnly) {
  std::string deep = dir_ + "/a/b";
  EXPECT_TRUE(absl::IsNotFound(OpenTrustedDirectory(deep, "d").status()));
  auto dir = OpenTrustedDirectory(deep, "d", {.create = true});
  ASSERT_TRUE(dir.ok()) << dir.status();
  struct stat st = {};
  ASSERT_EQ(stat(deep.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
}

TEST_F(TrustedFileTest, RefusesSymlinkFifoOversizeAndLooseModes) {
  std::ofstream(dir_ + "/target") << "x";
  ASSERT_EQ(symlink((dir_ + "/target").c_str(), (dir_ + "/link").c_str()), 0);
  ASSERT_EQ(mkfifo((dir_ + "/fifo").c_str(), 0600), 0);
  std::ofstream(dir_ + "/big") << std::string(101, 'x');
  std::ofstream(dir_ + "/loose") << "x";
  ASSERT_EQ(chmod((dir_ + "/loose").c_str(), 0666), 0);
  std::ofstream(dir_ + "/theirs") << "x";
  ASSERT_EQ(chown((dir_ + "/theirs").c_str(), 65534, 65534), 0);
  auto dir = OpenTrustedDirectory(dir_, "d");
  ASSERT_TRUE(dir.ok()) << dir.status();
  for (const char* name : {"link", "fifo", "big", "loose", "theirs"}) {
    auto text = ReadTrustedFile(dir->get(), name, 100, "test file", name);
    EXPECT_TRUE(absl::IsFailedPrecondition(text.status())) << name << ": " << text.status();
  }
  EXPECT_NE(ReadTrustedFile(dir->get(), "fifo", 100, "f", "fifo")
                .status()
                .message()
                .find("not a regular file"),
            absl::string_view::npos);
}

TEST_F(TrustedFileTest, RefusesDirectoriesOthersCanWriteOrOwn) {
  std::string open_dir = dir_ + "/open";
  ASSERT_EQ(mkdir(open_dir.c_str(), 0700), 0);
  ASSERT_EQ(chmod(open_dir.c_str(), 0777), 0);
  auto s = OpenTrustedDirectory(open_dir + "/sub", "state directory", {.create = true});
  EXPECT_TRUE(absl::IsFailedPrecondition(s.status())) << s.status();
  EXPECT_NE(s.status().message().find("writable by group or others"), absl::string_view::npos);
  EXPECT_NE(access((open_dir + "/sub").c_str(), F_OK), 0);  // nothing created below it

  ASSERT_EQ(chmod(open_dir.c_str(), 01777), 0);  // sticky, as /tmp: fine
  EXPECT_TRUE(OpenTrustedDirectory(open_dir, "d").ok());

  std::string theirs = dir_ + "/theirs";
  ASSERT_EQ(mkdir(theirs.c_str(), 0700), 0);
  ASSERT_EQ(chown(theirs.c_str(), 65534, 65534), 0);
  auto t = OpenTrustedDirectory(theirs, "state directory");
  EXPECT_TRUE(absl::IsFailedPrecondition(t.status())) << t.status();
  EXPECT_NE(t.status().message().find("belongs to uid 65534"), absl::string_view::npos);
}

}  // namespace
}  // namespace fstun
