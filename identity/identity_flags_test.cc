#include "identity/identity_flags.h"

#include <sys/stat.h>

#include <fstream>
#include <string>

#include "gflags/gflags.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fstun {
namespace {

using ::testing::HasSubstr;

class IdentityFlagsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ClearPeerFlagValuesForTest();
    FLAGS_private_key_file = "";
    FLAGS_peers_file = "";
  }
  std::string WriteFile(const std::string& name, const std::string& content, mode_t mode) {
    std::string path = std::string(getenv("TEST_TMPDIR")) + "/" + name;
    std::ofstream(path) << content;
    chmod(path.c_str(), mode);
    return path;
  }
};

TEST_F(IdentityFlagsTest, RepeatedPeerFlagsAreAllKept) {
  std::string a = PrivateKey::Generate().public_key().ToBase64();
  std::string b = PrivateKey::Generate().public_key().ToBase64();
  std::string flagfile = WriteFile(
      "flags", "--peer=" + a + ",192.0.2.2/32\n--peer=" + b + ",192.0.2.3/32,198.51.100.0/24\n",
      0600);
  std::string key = WriteFile("private", PrivateKey::Generate().ToBase64() + "\n", 0600);
  std::string arg0 = "fstun", arg1 = "--flagfile=" + flagfile, arg2 = "--private_key_file=" + key;
  char* argv[] = {arg0.data(), arg1.data(), arg2.data(), nullptr};
  int argc = 3;
  char** p = argv;
  gflags::ParseCommandLineFlags(&argc, &p, false);
  EXPECT_EQ(PeerFlagValues().size(), 2u);
  absl::StatusOr<std::optional<IdentityConfig>> c = IdentityConfigFromFlags();
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE(c->has_value());
  ASSERT_EQ((*c)->peers.size(), 2u);
  EXPECT_EQ((*c)->peers[1].public_key.ToBase64(), b);
  EXPECT_EQ((*c)->peers[1].allowed.size(), 2u);
}

TEST_F(IdentityFlagsTest, NothingGivenMeansNoIdentity) {
  absl::StatusOr<std::optional<IdentityConfig>> c = IdentityConfigFromFlags();
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->has_value());
}

TEST_F(IdentityFlagsTest, ClearErrors) {
  std::string a = PrivateKey::Generate().public_key().ToBase64();
  gflags::SetCommandLineOption("peer", (a + ",192.0.2.2/32").c_str());
  auto c = IdentityConfigFromFlags();
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("need --private_key_file"));

  ClearPeerFlagValuesForTest();
  FLAGS_private_key_file = WriteFile("k1", PrivateKey::Generate().ToBase64(), 0600);
  c = IdentityConfigFromFlags();
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("at least one --peer"));

  FLAGS_private_key_file = WriteFile("k2", PrivateKey::Generate().ToBase64(), 0644);
  gflags::SetCommandLineOption("peer", (a + ",192.0.2.2/32").c_str());
  c = IdentityConfigFromFlags();
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("chmod 600"));

  ClearPeerFlagValuesForTest();
  FLAGS_private_key_file = WriteFile("k3", PrivateKey::Generate().ToBase64(), 0600);
  gflags::SetCommandLineOption("peer", "garbage,192.0.2.2/32");
  c = IdentityConfigFromFlags();
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("not a public key"));
}

TEST_F(IdentityFlagsTest, PeersFile) {
  std::string a = PrivateKey::Generate().public_key().ToBase64();
  std::string b = PrivateKey::Generate().public_key().ToBase64();
  auto peers = ParsePeersText("# clients\n\n" + a + ",192.0.2.2/32\n  " + b + ",192.0.2.3/32\n",
                              "peers.txt");
  ASSERT_TRUE(peers.ok()) << peers.status();
  EXPECT_EQ(peers->size(), 2u);
  auto bad = ParsePeersText(a + ",192.0.2.2/32\n" + b + ",banana\n", "peers.txt");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("peers.txt line 2"));
  EXPECT_FALSE(ReadPeersFile("/nonexistent/peers").ok());
}

TEST_F(IdentityFlagsTest, StatusDetails) {
  PeerCrypto::PeerInfo info;
  info.public_key = PrivateKey::Generate().public_key();
  info.allowed = {*IpPrefix::Parse("192.0.2.2/32"), *IpPrefix::Parse("2001:db8::2/128")};
  absl::Time now = absl::FromUnixSeconds(1'800'000'000);
  auto d = PeerDetails(info, now);
  EXPECT_EQ(d[0].second, info.public_key.ToBase64());
  EXPECT_EQ(d[1].second, "192.0.2.2/32,2001:db8::2/128");
  EXPECT_EQ(d[2].second, "never");
  info.last_handshake = now - absl::Milliseconds(12500);
  EXPECT_EQ(PeerDetails(info, now)[2].second, "12s ago");
}

}  // namespace
}  // namespace fstun
