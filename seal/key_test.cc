#include "seal/key.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fstun {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string TempPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return absl::StrCat(dir ? dir : "/tmp", "/", name);
}

std::string WriteFile(const std::string& name, const std::string& content, mode_t mode) {
  std::string path = TempPath(name);
  unlink(path.c_str());
  std::ofstream(path) << content;
  EXPECT_EQ(chmod(path.c_str(), mode), 0);
  return path;
}

TEST(KeyTest, GeneratedKeysAreRandomAndRoundTripThroughBase64) {
  Key a = Key::Generate();
  Key b = Key::Generate();
  std::string text = a.ToBase64();
  EXPECT_EQ(text.size(), 44u);  // like `wg genkey`
  EXPECT_EQ(text.back(), '=');
  EXPECT_NE(text, b.ToBase64());
  absl::StatusOr<Key> parsed = Key::FromBase64(text + "\n");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->ToBase64(), text);
}

TEST(KeyTest, FromBase64RefusesWhatIsNotAKeyWithoutEchoingIt) {
  for (std::string bad : std::vector<std::string>{
           "", "hello", "c2hvcnQ=", "!!!!", std::string(44, 'A') + "x", std::string(88, 'A')}) {
    absl::StatusOr<Key> k = Key::FromBase64(bad);
    EXPECT_FALSE(k.ok()) << bad;
    if (bad.size() > 3) {
      EXPECT_THAT(std::string(k.status().message()), Not(HasSubstr(bad)));
    }
  }
}

TEST(KeyTest, DebugStringIsRedacted) {
  Key k = Key::Generate();
  EXPECT_EQ(k.DebugString(), "Key(redacted)");
  EXPECT_THAT(k.DebugString(), Not(HasSubstr(k.ToBase64().substr(0, 8))));
}

TEST(KeyTest, MovedFromKeyIsWiped) {
  Key a = Key::Generate();
  std::string text = a.ToBase64();
  Key b = std::move(a);
  EXPECT_EQ(b.ToBase64(), text);
  for (uint8_t byte : a.bytes()) EXPECT_EQ(byte, 0);  // NOLINT(bugprone-use-after-move)
}

TEST(LoadKeyFileTest, LoadsAnOwnerOnlyFile) {
  Key k = Key::Generate();
  std::string path = WriteFile("good.key", k.ToBase64() + "\n", 0600);
  absl::StatusOr<Key> loaded = LoadKeyFile(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->ToBase64(), k.ToBase64());
  ASSERT_EQ(chmod(path.c_str(), 0400), 0);
  EXPECT_TRUE(LoadKeyFile(path).ok());
}

TEST(LoadKeyFileTest, WorldReadableFileGivesClearErrorWithTheFix) {
  Key k = Key::Generate();
  for (mode_t mode : {0644, 0640, 0604, 0620, 0602, 0610}) {
    std::string path = WriteFile("loose.key", k.ToBase64() + "\n", mode);
    absl::StatusOr<Key> loaded = LoadKeyFile(path);
    ASSERT_FALSE(loaded.ok()) << std::oct << mode;
    std::string msg(loaded.status().message());
    EXPECT_THAT(msg, HasSubstr(path));
    EXPECT_THAT(msg, HasSubstr(absl::StrCat("chmod 600 ", path)));
    EXPECT_THAT(msg, Not(HasSubstr(k.ToBase64())));
    EXPECT_THAT(msg, Not(HasSubstr("\n")));
  }
}

TEST(LoadKeyFileTest, FileOwnedBySomeoneElseIsRefused) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to chown";
  std::string path = WriteFile("other.key", Key::Generate().ToBase64(), 0600);
  if (chown(path.c_str(), 65534, 65534) != 0) {
    GTEST_SKIP() << "cannot chown here: " << strerror(errno);
  }
  absl::StatusOr<Key> loaded = LoadKeyFile(path);
  ASSERT_FALSE(loaded.ok());
  EXPECT_THAT(std::string(loaded.status().message()), HasSubstr(path));
  EXPECT_THAT(std::string(loaded.status().message()), HasSubstr("owned by uid 65534"));
}

TEST(LoadKeyFileTest, MissingDirectoryFifoAndGarbageAreClearErrors) {
  EXPECT_THAT(std::string(LoadKeyFile(TempPath("nope.key")).status().message()),
              HasSubstr("fstun genkey"));
  std::string dir = TempPath("keydir");
  mkdir(dir.c_str(), 0700);
  EXPECT_THAT(std::string(LoadKeyFile(dir).status().message()), HasSubstr("not a regular file"));
  std::string fifo = TempPath("key.fifo");
  unlink(fifo.c_str());
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_THAT(std::string(LoadKeyFile(fifo).status().message()),
              HasSubstr("not a regular file"));  // and does not hang
  std::string garbage = WriteFile("garbage.key", "secret-password\n", 0600);
  absl::StatusOr<Key> g = LoadKeyFile(garbage);
  ASSERT_FALSE(g.ok());
  EXPECT_THAT(std::string(g.status().message()), HasSubstr("does not hold a key"));
  EXPECT_THAT(std::string(g.status().message()), Not(HasSubstr("secret-password")));
  std::string big = WriteFile("big.key", std::string(10000, 'A'), 0600);
  EXPECT_FALSE(LoadKeyFile(big).ok());
}

}  // namespace
}  // namespace fstun
