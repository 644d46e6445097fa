#include "identity/link_keys.h"

#include "gtest/gtest.h"

namespace fstun {
namespace {

TEST(IdentityLinkAuthTest, PairsAgreeAndOthersAreRefused) {
  PrivateKey a = PrivateKey::Generate(), b = PrivateKey::Generate(), c = PrivateKey::Generate();
  auto auth_a = MakeIdentityLinkAuth(a, {b.public_key()}, {});
  auto auth_b = MakeIdentityLinkAuth(b, {a.public_key(), c.public_key()}, {});
  auto auth_c = MakeIdentityLinkAuth(c, {a.public_key(), b.public_key()}, {});
  ASSERT_TRUE(auth_a.ok() && auth_b.ok() && auth_c.ok());
  EXPECT_EQ((*auth_a)->identity(), a.public_key().ToBase64());
  EXPECT_EQ((*auth_a)->ForPeer(c.public_key().ToBase64()), nullptr) << "c is not listed by a";
  const LinkMac* ab = (*auth_a)->ForPeer(b.public_key().ToBase64());
  const LinkMac* ba = (*auth_b)->ForPeer(a.public_key().ToBase64());
  const LinkMac* ca = (*auth_c)->ForPeer(a.public_key().ToBase64());
  const LinkMac* cb = (*auth_c)->ForPeer(b.public_key().ToBase64());
  ASSERT_TRUE(ab && ba && ca && cb);
  LinkMac::Tag t = ab->Compute(LinkMac::kToPeer, {"record header"});
  EXPECT_TRUE(ba->Verify(LinkMac::kFromPeer, {"record header"}, t));
  // c holds neither a's nor b's private key.
  EXPECT_FALSE(cb->Verify(LinkMac::kFromPeer, {"record header"}, t));
  LinkMac::Tag forged = ca->Compute(LinkMac::kToPeer, {"record header"});
  EXPECT_FALSE(ba->Verify(LinkMac::kFromPeer, {"record header"}, forged));
}

TEST(IdentityLinkAuthTest, PresharedKeyMustMatch) {
  PrivateKey a = PrivateKey::Generate(), b = PrivateKey::Generate();
  std::vector<uint8_t> psk1(32, 1), psk2(32, 2);
  auto auth_a = MakeIdentityLinkAuth(a, {b.public_key()}, psk1);
  auto auth_b = MakeIdentityLinkAuth(b, {a.public_key()}, psk2);
  auto auth_b1 = MakeIdentityLinkAuth(b, {a.public_key()}, psk1);
  ASSERT_TRUE(auth_a.ok() && auth_b.ok() && auth_b1.ok());
  LinkMac::Tag t = (*auth_a)->ForPeer(b.public_key().ToBase64())->Compute(LinkMac::kToPeer, {"x"});
  EXPECT_FALSE((*auth_b)->ForPeer(a.public_key().ToBase64())->Verify(LinkMac::kFromPeer, {"x"}, t));
  EXPECT_TRUE((*auth_b1)->ForPeer(a.public_key().ToBase64())->Verify(LinkMac::kFromPeer, {"x"}, t));
}

TEST(IdentityLinkAuthTest, LowOrderPeerKeyIsRefused) {
  PrivateKey a = PrivateKey::Generate();
  PublicKey zero;  // all zero: X25519 gives zero
  auto auth = MakeIdentityLinkAuth(a, {zero}, {});
  EXPECT_FALSE(auth.ok());
}

}  // namespace
}  // namespace fstun
