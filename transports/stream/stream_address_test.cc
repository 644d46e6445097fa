// --stream_address: every documented form parses and prints back the same;
// mistakes a user can make get a message that says what is wrong.
#include "transports/stream/stream_address.h"

#include "gtest/gtest.h"

namespace fstun::stream {
namespace {

TEST(StreamAddressTest, DocumentedFormsRoundTrip) {
  for (const char* text :
       {"stdio", "fd:3", "fd:3,4", "unix:/run/fstun/t.sock", "listen:unix:/tmp/x",
        "tcp:127.0.0.1:7000", "listen:tcp:[::1]:7000", "tcp:[2001:db8::1]:1", "tty:/dev/ttyS1"}) {
    absl::StatusOr<StreamAddress> a = ParseStreamAddress(text);
    ASSERT_TRUE(a.ok()) << text << ": " << a.status();
    EXPECT_EQ(a->ToString(), text);
  }
  EXPECT_EQ(ParseStreamAddress("")->kind, StreamAddress::Kind::kStdio);
  absl::StatusOr<StreamAddress> t = ParseStreamAddress("listen:tcp:192.0.2.1:9");
  ASSERT_TRUE(t.ok());
  EXPECT_TRUE(t->listen);
  EXPECT_EQ(t->host, "192.0.2.1");
  EXPECT_EQ(t->port, 9);
}

TEST(StreamAddressTest, MistakesAreExplained) {
  struct Case {
    const char* text;
    const char* says;
  } cases[] = {
      {"unix:relative", "absolute path"},
      {"tcp:localhost:80", "numeric"},
      {"tcp:127.0.0.1:0", "1..65535"},
      {"tcp:127.0.0.1", "HOST:PORT"},
      {"listen:tty:/dev/ttyS0", "only unix: and tcp: can listen"},
      {"fd:x", "descriptor numbers"},
      {"serial:/dev/ttyS0", "unknown form"},
      {"tcp:[::1:80", "unclosed"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<StreamAddress> a = ParseStreamAddress(c.text);
    ASSERT_FALSE(a.ok()) << c.text;
    EXPECT_EQ(a.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(a.status().message().find(c.says), std::string::npos) << a.status();
    EXPECT_NE(a.status().message().find("--stream_address"), std::string::npos);
  }
}

}  // namespace
}  // namespace fstun::stream
