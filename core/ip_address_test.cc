#include "core/ip_address.h"

#include "gtest/gtest.h"

namespace fstun {
namespace {

TEST(IpPrefixTest, ParsesIpv4AndIpv6) {
  auto p4 = IpPrefix::Parse("192.0.2.1/24");
  ASSERT_TRUE(p4.ok());
  EXPECT_TRUE(p4->address.is_v4());
  EXPECT_EQ(p4->length, 24);
  EXPECT_EQ(p4->ToString(), "192.0.2.1/24");
  EXPECT_EQ(p4->Network().ToString(), "192.0.2.0/24");
  auto p6 = IpPrefix::Parse("2001:db8::1/64");
  ASSERT_TRUE(p6.ok());
  EXPECT_TRUE(p6->address.is_v6());
  EXPECT_EQ(p6->Network().ToString(), "2001:db8::/64");
  EXPECT_EQ(IpPrefix::Parse("198.51.100.7")->length, 32);
}

TEST(IpPrefixTest, RejectsBadInputWithClearMessage) {
  for (const char* bad : {"", "192.0.2.1/33", "2001:db8::1/129", "300.1.1.1/24", "abc/8",
                          "192.0.2.1/x", "192.0.2.1/-1"}) {
    auto p = IpPrefix::Parse(bad);
    EXPECT_FALSE(p.ok()) << bad;
    EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(IpPrefixTest, Contains) {
  auto p = *IpPrefix::Parse("192.0.2.1/24");
  EXPECT_TRUE(p.Contains(*IpAddress::Parse("192.0.2.200")));
  EXPECT_FALSE(p.Contains(*IpAddress::Parse("198.51.100.1")));
  EXPECT_FALSE(p.Contains(*IpAddress::Parse("2001:db8::1")));
  auto p6 = *IpPrefix::Parse("2001:db8:1::/48");
  EXPECT_TRUE(p6.Contains(*IpAddress::Parse("2001:db8:1:ffff::1")));
  EXPECT_FALSE(p6.Contains(*IpAddress::Parse("2001:db8:2::1")));
  EXPECT_TRUE(IpPrefix::Parse("0.0.0.0/0")->Contains(*IpAddress::Parse("203.0.113.9")));
}

TEST(IpPrefixTest, ParsesLists) {
  auto l = ParsePrefixList("192.0.2.1/24,2001:db8::1/64");
  ASSERT_TRUE(l.ok());
  ASSERT_EQ(l->size(), 2u);
  EXPECT_FALSE(ParsePrefixList("192.0.2.1/24,").ok());
}

TEST(PacketAddressTest, ReadsIpv4AndIpv6Headers) {
  std::vector<uint8_t> v4(20, 0);
  v4[0] = 0x45;
  v4[12] = 192, v4[13] = 0, v4[14] = 2, v4[15] = 2;
  v4[16] = 192, v4[17] = 0, v4[18] = 2, v4[19] = 1;
  EXPECT_EQ(PacketSource(v4)->ToString(), "192.0.2.2");
  EXPECT_EQ(PacketDestination(v4)->ToString(), "192.0.2.1");
  std::vector<uint8_t> v6(40, 0);
  v6[0] = 0x60;
  v6[24] = 0x20, v6[25] = 0x01, v6[26] = 0x0d, v6[27] = 0xb8, v6[39] = 1;
  EXPECT_EQ(PacketDestination(v6)->ToString(), "2001:db8::1");
  std::vector<uint8_t> junk = {0x45, 0};
  EXPECT_FALSE(PacketDestination(junk).has_value());
  EXPECT_FALSE(PacketDestination({}).has_value());
}

}  // namespace
}  // namespace fstun
