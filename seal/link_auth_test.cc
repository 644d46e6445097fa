#include "seal/link_auth.h"

#include "gtest/gtest.h"

namespace fstun {
namespace {

absl::Span<const uint8_t> AsSpan(const LinkMac::Tag& t) { return absl::MakeConstSpan(t); }

TEST(SharedKeyLinkAuthTest, SameKeyVerifiesOtherKeyAndOtherPartsDoNot) {
  Key k = Key::Generate();
  Key other = Key::Generate();
  auto a = MakeSharedKeyLinkAuth(k);
  auto b = MakeSharedKeyLinkAuth(k);
  auto c = MakeSharedKeyLinkAuth(other);
  EXPECT_EQ(a->identity(), "psk");
  ASSERT_NE(a->ForPeer("psk"), nullptr);
  EXPECT_EQ(a->ForPeer("someone"), nullptr);
  LinkMac::Tag t = a->ForPeer("psk")->Compute(LinkMac::kToPeer, {"header", "ctx"});
  EXPECT_TRUE(b->ForPeer("psk")->Verify(LinkMac::kFromPeer, {"header", "ctx"}, AsSpan(t)));
  EXPECT_FALSE(c->ForPeer("psk")->Verify(LinkMac::kFromPeer, {"header", "ctx"}, AsSpan(t)));
  EXPECT_FALSE(b->ForPeer("psk")->Verify(LinkMac::kFromPeer, {"headeR", "ctx"}, AsSpan(t)));
  // Part boundaries count.
  EXPECT_FALSE(b->ForPeer("psk")->Verify(LinkMac::kFromPeer, {"head", "erctx"}, AsSpan(t)));
  EXPECT_FALSE(b->ForPeer("psk")->Verify(LinkMac::kFromPeer, {"header", "ctx"},
                                         absl::MakeConstSpan(t.data(), 15)));
}

TEST(KeyedLinkAuthTest, DirectionIsBound) {
  LinkKey key;
  key.fill(7);
  KeyedLinkAuthenticator alice("alice", {{"bob", key}});
  KeyedLinkAuthenticator bob("bob", {{"alice", key}});
  LinkMac::Tag t = alice.ForPeer("bob")->Compute(LinkMac::kToPeer, {"x"});
  EXPECT_TRUE(bob.ForPeer("alice")->Verify(LinkMac::kFromPeer, {"x"}, AsSpan(t)));
  // Bob's own message to Alice is not the same thing; nor does Alice accept
  // her own message back as one from Bob.
  EXPECT_FALSE(bob.ForPeer("alice")->Verify(LinkMac::kToPeer, {"x"}, AsSpan(t)));
  EXPECT_FALSE(alice.ForPeer("bob")->Verify(LinkMac::kFromPeer, {"x"}, AsSpan(t)));
  EXPECT_EQ(alice.peers(), std::vector<std::string>{"bob"});
}

}  // namespace
}  // namespace fstun
