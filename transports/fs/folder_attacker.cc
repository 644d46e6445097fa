// folder_attacker: what someone with write access to an fs transport's
// folder but without the key can do, for fs_e2e_keyed_test.sh.
//
//   folder_attacker capture INBOX OUT   copy the record files in INBOX to OUT
//   folder_attacker attack INBOX OUT    write well-formed records into INBOX,
//                                       under the stream's next sequence
//                                       numbers: the captured frames again
//                                       (replay), frames sealed with another
//                                       key, bit-flipped and truncated
//                                       copies, and bare IP packets
//
// The record format's CRC-32C is no secret, so every record written passes
// the fs transport's checks; only the sealing layer stands in the way.
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "seal/sealed_frame.h"
#include "transports/fs/names.h"
#include "transports/fs/record_injector.h"

namespace fstun {
namespace {

namespace stdfs = std::filesystem;

int Capture(const std::string& inbox, const std::string& out) {
  stdfs::create_directories(out);
  int n = 0;
  for (const auto& e : stdfs::directory_iterator(inbox)) {
    std::optional<fs::InboxName> name = fs::ParseInboxName(e.path().filename().string());
    if (!name || name->kind != fs::InboxName::kRecord) continue;
    stdfs::copy_file(e.path(), stdfs::path(out) / e.path().filename(),
                     stdfs::copy_options::overwrite_existing);
    ++n;
  }
  printf("captured %d record(s)\n", n);
  return n > 0 ? 0 : 1;
}

int Attack(const std::string& inbox, const std::string& captured_dir) {
  fs::CapturedInbox captured = fs::CaptureInbox(captured_dir, kSealOverhead);  // not hellos
  if (!captured.stream || captured.frames.empty()) {
    fprintf(stderr, "nothing captured in %s\n", captured_dir.c_str());
    return 1;
  }
  const std::vector<std::vector<uint8_t>>& frames = captured.frames;
  std::vector<std::vector<std::vector<uint8_t>>> records;
  records.push_back(frames);  // replay
  Key wrong = Key::Generate();
  FrameSealer forger(wrong, 0xC0000202, NewSessionId());
  std::vector<uint8_t> forged(200 + kSealOverhead);
  std::vector<uint8_t> plain(200, 0x45);
  forger.Seal(plain, absl::MakeSpan(forged));
  records.push_back({forged, forged});
  std::vector<uint8_t> flipped = frames[0];
  flipped[flipped.size() / 2] ^= 0x20;
  std::vector<uint8_t> truncated(frames[0].begin(), frames[0].end() - 3);
  records.push_back({flipped, truncated});
  // Bare IPv4 packets: what trusted-folder mode would inject.
  std::vector<uint8_t> bare(84, 0);
  bare[0] = 0x45;
  bare[3] = 84;
  bare[8] = 64;
  bare[9] = 1;
  records.push_back({bare, bare});

  fs::VisibleStream stream = *captured.stream;
  stream.inbox = inbox;
  const uint64_t first = stream.next_seq;
  for (const auto& record : records) {
    if (absl::Status s = fs::InjectRecord(stream, record); !s.ok()) {
      fprintf(stderr, "%s\n", std::string(s.message()).c_str());
      return 1;
    }
  }
  printf("wrote %zu record(s) from seq %llu\n", records.size(),
         static_cast<unsigned long long>(first));
  return 0;
}

}  // namespace
}  // namespace fstun
int main(int argc, char** argv) {
  if (argc == 4 && std::string(argv[1]) == "capture") return fstun::Capture(argv[2], argv[3]);
  if (argc == 4 && std::string(argv[1]) == "attack") return fstun::Attack(argv[2], argv[3]);
  fprintf(stderr, "usage: folder_attacker capture|attack INBOX DIR\n");
  return 2;
}
