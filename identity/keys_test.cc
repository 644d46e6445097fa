#include "identity/keys.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fstun {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(KeysTest, GeneratedKeysAreClampedAndDistinct) {
  PrivateKey a = PrivateKey::Generate();
  PrivateKey b = PrivateKey::Generate();
  EXPECT_NE(a.ToBase64(), b.ToBase64());
  EXPECT_EQ(a.bytes()[0] & 7, 0);
  EXPECT_EQ(a.bytes()[31] & 0xC0, 0x40);
  EXPECT_EQ(a.ToBase64().size(), 44u);
  EXPECT_NE(a.public_key(), b.public_key());
}

// RFC 7748 section 6.1: Alice's key pair.
TEST(KeysTest, PublicKeyMatchesRfc7748Vector) {
  std::string priv, pub;
  ASSERT_TRUE(
      absl::Base64Unescape(absl::Base64Escape(absl::HexStringToBytes(
                               "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")),
                           &priv));
  pub = absl::HexStringToBytes("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
  absl::StatusOr<PrivateKey> k = PrivateKey::FromBase64(absl::Base64Escape(priv));
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(k->public_key().ToBase64(), absl::Base64Escape(pub));
  absl::StatusOr<std::string> text = PublicKeyOfPrivateText(absl::Base64Escape(priv) + "\n");
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, absl::Base64Escape(pub));
}

TEST(KeysTest, PublicKeyRoundTripsAndRefusesGarbage) {
  PublicKey p = PrivateKey::Generate().public_key();
  absl::StatusOr<PublicKey> back = PublicKey::FromBase64("  " + p.ToBase64() + "\n");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, p);
  EXPECT_FALSE(PublicKey::FromBase64("").ok());
  EXPECT_FALSE(PublicKey::FromBase64("not a key at all").ok());
  EXPECT_FALSE(PublicKey::FromBase64(p.ToBase64().substr(0, 40)).ok());
  EXPECT_FALSE(PublicKey::FromBase64(p.ToBase64() + "AAAA").ok());
  EXPECT_EQ(p.ShortString(), p.ToBase64().substr(0, 8) + "...");
}

TEST(KeysTest, PubkeyOfGarbageIsAOneLineErrorThatDoesNotEchoTheInput) {
  absl::StatusOr<std::string> r = PublicKeyOfPrivateText("SECRETSECRETSECRET");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), Not(HasSubstr("SECRET")));
  EXPECT_THAT(std::string(r.status().message()), Not(HasSubstr("\n")));
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("fstun genkey"));
}

TEST(KeysTest, PrivateKeyIsRedactedAndWipedWhenMoved) {
  PrivateKey a = PrivateKey::Generate();
  EXPECT_EQ(a.DebugString(), "PrivateKey(redacted)");
  std::string text = a.ToBase64();
  PrivateKey b = std::move(a);
  EXPECT_EQ(b.ToBase64(), text);
  EXPECT_EQ(a.ToBase64(), std::string(43, 'A') + "=");  // NOLINT: moved-from is zeroed
}

class KeyFileTest : public ::testing::Test {
 protected:
  std::string Write(const std::string& content, mode_t mode) {
    std::string path = std::string(getenv("TEST_TMPDIR")) + "/private";
    unlink(path.c_str());
    std::ofstream(path) << content;
    chmod(path.c_str(), mode);
    return path;
  }
};

TEST_F(KeyFileTest, LoadsAGoodFile) {
  PrivateKey k = PrivateKey::Generate();
  absl::StatusOr<PrivateKey> back = LoadPrivateKeyFile(Write(k.ToBase64() + "\n", 0600));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->public_key(), k.public_key());
}

TEST_F(KeyFileTest, RefusesGroupReadableFileWithTheFix) {
  std::string path = Write(PrivateKey::Generate().ToBase64(), 0644);
  absl::StatusOr<PrivateKey> k = LoadPrivateKeyFile(path);
  ASSERT_FALSE(k.ok());
  EXPECT_THAT(std::string(k.status().message()), HasSubstr("chmod 600 " + path));
}

TEST_F(KeyFileTest, RefusesGarbageAndMissingFiles) {
  EXPECT_FALSE(LoadPrivateKeyFile(Write("hello", 0600)).ok());
  absl::StatusOr<PrivateKey> k = LoadPrivateKeyFile("/nonexistent/private");
  ASSERT_FALSE(k.ok());
  EXPECT_THAT(std::string(k.status().message()), HasSubstr("fstun genkey"));
}

}  // namespace
}  // namespace fstun
