// ReadRegularFile, the reader of every record and announcement: it returns a
// file's whole contents whatever its size against the buffer it starts
// with, tells missing, non-regular and oversized names apart, and on request
// leaves the file open so its name can be removed first (what 9p needs).
#include "transports/fs/fs_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "sys/unique_fd.h"

namespace fstun::fs {
namespace {

class FsIoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* base = std::getenv("TEST_TMPDIR");
    dir_ = absl::StrCat(base != nullptr ? base : "/tmp", "/fs_io.",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    dirfd_.reset(open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(dirfd_.valid());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void Write(const std::string& name, const std::string& contents) {
    std::ofstream(absl::StrCat(dir_, "/", name), std::ios::binary) << contents;
  }
  static std::string Text(const ByteBuffer& b) {
    return std::string(reinterpret_cast<const char*>(b.data()), b.size());
  }

  std::string dir_;
  UniqueFd dirfd_;
};

std::string Pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(i * 131 + i / 251);
  return s;
}

TEST_F(FsIoTest, ReadsWholeFilesOfAnySizeIntoAReusedBuffer) {
  ByteBuffer buffer;
  // Small first (the buffer starts small), then bigger than it, then small
  // again in the now large buffer: each read is the whole file, no more.
  for (size_t n : {size_t{0}, size_t{1}, size_t{3000}, size_t{3} << 20, size_t{17}}) {
    const std::string contents = Pattern(n);
    Write("f", contents);
    ReadResult r = ReadRegularFile(dirfd_.get(), "f", 16 << 20, buffer);
    ASSERT_EQ(r.outcome, ReadOutcome::kOk) << n;
    EXPECT_EQ(Text(buffer), contents) << n;
  }
}

TEST_F(FsIoTest, TellsMissingNotRegularAndTooLargeApart) {
  ByteBuffer buffer;
  EXPECT_EQ(ReadRegularFile(dirfd_.get(), "none", 100, buffer).outcome, ReadOutcome::kMissing);
  ASSERT_EQ(mkdirat(dirfd_.get(), "d", 0700), 0);
  EXPECT_EQ(ReadRegularFile(dirfd_.get(), "d", 100, buffer).outcome, ReadOutcome::kNotRegular);
  ASSERT_EQ(symlinkat("f", dirfd_.get(), "link"), 0);
  Write("f", "x");
  EXPECT_EQ(ReadRegularFile(dirfd_.get(), "link", 100, buffer).outcome, ReadOutcome::kNotRegular);
  ASSERT_EQ(mkfifoat(dirfd_.get(), "fifo", 0600), 0);
  EXPECT_EQ(ReadRegularFile(dirfd_.get(), "fifo", 100, buffer).outcome, ReadOutcome::kNotRegular);
  Write("big", Pattern(101));
  EXPECT_EQ(ReadRegularFile(dirfd_.get(), "big", 100, buffer).outcome, ReadOutcome::kTooLarge);
  EXPECT_EQ(ReadRegularFile(dirfd_.get(), "big", 101, buffer).outcome, ReadOutcome::kOk);
}

TEST_F(FsIoTest, KeepOpenLeavesTheFileOpenOnlyWhenItWasRead) {
  ByteBuffer buffer;
  Write("f", "record");
  UniqueFd kept;
  ASSERT_EQ(ReadRegularFile(dirfd_.get(), "f", 100, buffer, &kept).outcome, ReadOutcome::kOk);
  ASSERT_TRUE(kept.valid());
  // The name can go while the file is open (what the reader does on 9p).
  ASSERT_EQ(unlinkat(dirfd_.get(), "f", 0), 0);
  char c[6];
  EXPECT_EQ(pread(kept.get(), c, sizeof(c), 0), 6);
  EXPECT_EQ(std::string(c, 6), "record");

  UniqueFd none;
  EXPECT_EQ(ReadRegularFile(dirfd_.get(), "f", 100, buffer, &none).outcome, ReadOutcome::kMissing);
  EXPECT_FALSE(none.valid());
  Write("big", Pattern(101));
  EXPECT_EQ(ReadRegularFile(dirfd_.get(), "big", 100, buffer, &none).outcome,
            ReadOutcome::kTooLarge);
  EXPECT_FALSE(none.valid());
}

}  // namespace
}  // namespace fstun::fs
