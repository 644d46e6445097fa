// The legacy format interoperates with the original demo's files: what the
// old script writes arrives, what we write is what the old script reads.
#include "transports/fs/legacy_transport.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "transports/fs/fs_test_util.h"
#include "transports/fs/names.h"

namespace fstun::fs {
namespace {

using namespace fstun::fs::testing;  // NOLINT
using ::testing::ElementsAre;
using ::testing::IsEmpty;

std::unique_ptr<LegacyFsTransport> MakeLegacy(const std::string& dir, const std::string& ip) {
  LegacyOptions o;
  o.dirpath = dir;
  o.mtu = 1400;
  o.own_prefix = SanitizeId(ip);
  auto t = LegacyFsTransport::Create(o);
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? *std::move(t) : nullptr;
}

// What the original script does to send one packet.
void DemoWrite(const std::string& dir, const std::string& name, const std::vector<uint8_t>& p) {
  std::ofstream(dir + "/_" + name, std::ios::binary)
      .write(reinterpret_cast<const char*>(p.data()), p.size());
  std::filesystem::rename(dir + "/_" + name, dir + "/" + name);
}

TEST(LegacyFsTransportTest, ReadsTheDemoFilesInTimeOrderAndDeletesThem) {
  TempFolder folder;
  auto us = MakeLegacy(folder.path(), "192.0.2.1/24");
  // The old script on the other side (--ip 192.0.2.2/24) wrote three packets.
  DemoWrite(folder.path(), "192-0-2-2-24-1732406400000000300", Frame("192.0.2.2", "192.0.2.1", 3));
  DemoWrite(folder.path(), "192-0-2-2-24-1732406400000000100", Frame("192.0.2.2", "192.0.2.1", 1));
  DemoWrite(folder.path(), "192-0-2-2-24-1732406400000000200", Frame("192.0.2.2", "192.0.2.1", 2));
  // Its temp file and our own files are not read.
  std::ofstream(folder.path() + "/_192-0-2-2-24-1732406400000000400") << "partial";
  std::ofstream(folder.path() + "/192-0-2-1-24-1732406400000000500") << "ours";
  auto got = ReceiveN(*us, 3, absl::Seconds(10));
  EXPECT_THAT(Tags(got), ElementsAre(1, 2, 3));
  EXPECT_THAT(FilesIn(folder.path()),
              ElementsAre("192-0-2-1-24-1732406400000000500", "_192-0-2-2-24-1732406400000000400"));
}

TEST(LegacyFsTransportTest, WritesWhatTheDemoReads) {
  TempFolder folder;
  auto us = MakeLegacy(folder.path(), "192.0.2.1/24");
  std::vector<uint8_t> packet = Frame("192.0.2.1", "192.0.2.2", 9);
  ASSERT_TRUE(us->Send(LegacyFsTransport::kPeer, {FrameView(packet)}).ok());
  std::vector<std::string> files = FilesIn(folder.path());
  ASSERT_EQ(files.size(), 1u);
  EXPECT_TRUE(std::regex_match(files[0], std::regex("192-0-2-1-24-[0-9]{19}"))) << files[0];
  std::ifstream f(folder.path() + "/" + files[0], std::ios::binary);
  std::vector<uint8_t> content((std::istreambuf_iterator<char>(f)), {});
  EXPECT_EQ(content, packet) << "one raw IP packet per file";
}

TEST(LegacyFsTransportTest, HostileEntriesNeitherBlockNorCrash) {
  TempFolder folder;
  auto us = MakeLegacy(folder.path(), "192.0.2.1/24");
  const std::string d = folder.path();
  // (Every regular file in the folder is input in this format, so the
  // symlink's target lives outside it.)
  TempFolder elsewhere;
  const std::string target = elsewhere.path() + "/target";
  std::ofstream(target) << "x";
  ASSERT_EQ(symlink(target.c_str(), (d + "/192-0-2-2-24-1").c_str()), 0);
  ASSERT_EQ(mkfifo((d + "/192-0-2-2-24-2").c_str(), 0600), 0);
  ASSERT_EQ(mkdir((d + "/192-0-2-2-24-3").c_str(), 0700), 0);
  std::ofstream(d + "/192-0-2-2-24-4") << std::string(5000, 'x');  // > MTU
  DemoWrite(d, "192-0-2-2-24-5", Frame("192.0.2.2", "192.0.2.1", 5));
  auto got = ReceiveN(*us, 2, absl::Milliseconds(500));
  EXPECT_THAT(Tags(got), ElementsAre(5));
  EXPECT_EQ(us->counters().drops_for("oversize_file"), 1u);
  EXPECT_TRUE(std::filesystem::exists(target));
  EXPECT_FALSE(std::filesystem::exists(d + "/192-0-2-2-24-4"));
}

TEST(LegacyFsTransportTest, BacklogIsCappedWhenNobodyReads) {
  TempFolder folder;
  LegacyOptions o;
  o.dirpath = folder.path();
  o.own_prefix = "192-0-2-1-24";
  o.max_backlog_bytes = 20000;
  auto us = *LegacyFsTransport::Create(o);
  std::vector<std::vector<uint8_t>> frames;
  for (uint32_t i = 0; i < 100; ++i) frames.push_back(Frame("192.0.2.1", "192.0.2.2", i, 1000));
  SendAll(*us, frames);
  EXPECT_EQ(us->counters().tx_frames, 20u);
  EXPECT_EQ(us->counters().drops_for("backlog_full"), 80u);
  EXPECT_LE(BytesIn(folder.path()), 20000u);
}

}  // namespace
}  // namespace fstun::fs
