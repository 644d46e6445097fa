// folder_attacker: what someone with write access to an fs transport's
// folder but without the key can do, for seal/keyed_e2e_test.sh.
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
#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "seal/sealed_frame.h"
#include "transports/fs/names.h"
#include "transports/fs/record.h"

namespace fstun {
namespace {

namespace stdfs = std::filesystem;

std::vector<uint8_t> ReadAll(const stdfs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)), {});
}

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
  std::vector<std::vector<uint8_t>> frames;
  std::optional<fs::InboxName> stream;
  for (const auto& e : stdfs::directory_iterator(captured_dir)) {
    std::optional<fs::InboxName> name = fs::ParseInboxName(e.path().filename().string());
    if (!name) continue;
    std::vector<uint8_t> image = ReadAll(e.path());
    fs::ParsedRecord rec;
    if (fs::ParseRecord(image, kMaxFrameSize, rec) != fs::RecordError::kOk) continue;
    for (FrameView f : rec.frames) {
      if (f.size() > kSealOverhead) frames.emplace_back(f.begin(), f.end());  // not hellos
    }
    if (!stream || name->seq > stream->seq) stream = name;
  }
  if (!stream || frames.empty()) {
    fprintf(stderr, "nothing captured in %s\n", captured_dir.c_str());
    return 1;
  }
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

  const std::string prefix =
      fs::StreamPrefix(stream->sender, stream->sender_session, stream->receiver_session);
  uint64_t seq = stream->seq + 1;
  fs::RecordEncoder encoder;
  for (const auto& rec : records) {
    std::vector<FrameView> views(rec.begin(), rec.end());
    absl::Span<const iovec> iov =
        encoder.Encode(stream->sender, stream->sender_session, seq, views);
    std::string tmp = absl::StrCat(inbox, "/.attack.tmp");
    int fd = open(tmp.c_str(), O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || writev(fd, iov.data(), iov.size()) != static_cast<ssize_t>(encoder.size())) {
      perror("write");
      return 1;
    }
    close(fd);
    std::string name = absl::StrCat(inbox, "/", prefix, fs::Hex16(seq), fs::kRecordSuffix);
    if (rename(tmp.c_str(), name.c_str()) != 0) {
      perror("rename");
      return 1;
    }
    ++seq;
  }
  printf("wrote %zu record(s) from seq %llu\n", records.size(),
         static_cast<unsigned long long>(stream->seq + 1));
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
