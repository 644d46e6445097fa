#include "core/registry.h"

#include "gtest/gtest.h"
#include "transports/loopback/loopback_transport.h"

namespace fstun {
namespace {

absl::StatusOr<std::unique_ptr<Transport>> MakeEcho(const TransportConfig& config) {
  if (config.Option("fail") == "yes") return absl::InvalidArgumentError("asked to fail");
  LoopbackTransportOptions o;
  o.mtu = config.mtu;
  return std::unique_ptr<Transport>(new LoopbackTransport(o));
}

TEST(TransportRegistryTest, CreatesByNameWithConfig) {
  TransportRegistry registry;
  ASSERT_TRUE(registry.Register("echo", "an echo", MakeEcho).ok());
  TransportConfig config;
  config.mtu = 1280;
  auto t = registry.Create("echo", config);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ((*t)->mtu(), 1280u);
}

TEST(TransportRegistryTest, OptionsReachTheFactory) {
  TransportRegistry registry;
  ASSERT_TRUE(registry.Register("echo", "an echo", MakeEcho).ok());
  TransportConfig config;
  config.options["fail"] = "yes";
  EXPECT_EQ(registry.Create("echo", config).status().message(), "asked to fail");
}

TEST(TransportRegistryTest, UnknownNameListsKnownOnes) {
  TransportRegistry registry;
  ASSERT_TRUE(registry.Register("b", "bee", MakeEcho).ok());
  ASSERT_TRUE(registry.Register("a", "ay", MakeEcho).ok());
  auto t = registry.Create("nope", TransportConfig{});
  EXPECT_EQ(t.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(t.status().message(), "unknown transport 'nope'; known: a, b");
  auto list = registry.List();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].name, "a");
  EXPECT_EQ(list[0].description, "ay");
}

TEST(TransportRegistryTest, NameRegistersOnce) {
  TransportRegistry registry;
  ASSERT_TRUE(registry.Register("a", "ay", MakeEcho).ok());
  EXPECT_EQ(registry.Register("a", "again", MakeEcho).code(), absl::StatusCode::kAlreadyExists);
}

}  // namespace
}  // namespace fstun
