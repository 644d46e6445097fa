#include "sys/atomic_write.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace fstun {
namespace {

std::string FreshDir(const char* name) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  std::string dir = std::string(tmp != nullptr ? tmp : "/tmp") + "/" + name;
  mkdir(dir.c_str(), 0700);
  return dir;
}

std::string Contents(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> Entries(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = opendir(dir.c_str());
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") names.push_back(n);
  }
  closedir(d);
  return names;
}

TEST(AtomicWriteTest, ReplacesWithExactModeAndLeavesNoTemp) {
  std::string dir = FreshDir("replace");
  std::string path = dir + "/metrics.prom";
  ASSERT_TRUE(WriteFileAtomically(path, "one\n", {.mode = 0644}).ok());
  ASSERT_TRUE(WriteFileAtomically(path, "two\n", {.mode = 0644}).ok());
  EXPECT_EQ(Contents(path), "two\n");
  struct stat st = {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
  EXPECT_EQ(Entries(dir), std::vector<std::string>{"metrics.prom"});
}

TEST(AtomicWriteTest, ExclusiveCreateNeverOverwrites) {
  std::string dir = FreshDir("exclusive");
  int dfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(dfd, 0);
  ASSERT_TRUE(
      WriteFileAtomically(dfd, "x.state", "first", {.replace = false, .durable = true}).ok());
  absl::Status again = WriteFileAtomically(dfd, "x.state", "second", {.replace = false});
  EXPECT_TRUE(absl::IsAlreadyExists(again)) << again;
  EXPECT_EQ(Contents(dir + "/x.state"), "first");
  EXPECT_EQ(Entries(dir).size(), 1u);
  close(dfd);
}

TEST(AtomicWriteTest, APlantedSymlinkIsReplacedNotFollowed) {
  // Whoever can write the directory plants a symlink at the final name: the
  // rename replaces the link itself; its target is untouched.
  std::string dir = FreshDir("symlink");
  std::string victim = dir + "/victim";
  std::ofstream(victim) << "precious";
  ASSERT_EQ(symlink(victim.c_str(), (dir + "/out").c_str()), 0);
  ASSERT_TRUE(WriteFileAtomically(dir + "/out", "new").ok());
  EXPECT_EQ(Contents(victim), "precious");
  struct stat st = {};
  ASSERT_EQ(lstat((dir + "/out").c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
}

TEST(AtomicWriteTest, WritesPiecesAndGivesTheGroup) {
  std::string dir = FreshDir("pieces");
  int dfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(dfd, 0);
  std::string big(100000, 'b');
  char a[] = "aa", c[] = "c";
  iovec parts[] = {{a, 2}, {big.data(), big.size()}, {c, 0}, {c, 1}};
  ASSERT_TRUE(WriteFileAtomically(dfd, "f", parts, {.mode = 0660, .group = 12345}).ok());
  EXPECT_EQ(Contents(dir + "/f"), "aa" + big + "c");
  struct stat st = {};
  ASSERT_EQ(stat((dir + "/f").c_str(), &st), 0);
  EXPECT_EQ(st.st_gid, 12345u);
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  close(dfd);
}

TEST(AtomicWriteTest, RefusesNamesWithSlashes) {
  EXPECT_FALSE(WriteFileAtomically(AT_FDCWD, "../x", "y").ok());
  EXPECT_FALSE(WriteFileAtomically(AT_FDCWD, "", "y").ok());
}

TEST(AtomicWriteTest, MissingDirectoryIsAClearError) {
  absl::Status s = WriteFileAtomically("/nonexistent-fstun-dir/x", "y");
  EXPECT_TRUE(absl::IsNotFound(s)) << s;
  EXPECT_NE(s.message().find("/nonexistent-fstun-dir"), absl::string_view::npos) << s;
}

}  // namespace
}  // namespace fstun
