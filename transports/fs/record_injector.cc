#include "transports/fs/record_injector.h"

#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "absl/strings/str_cat.h"
#include "core/frame.h"
#include "transports/fs/names.h"
#include "transports/fs/record.h"

namespace fstun::fs {

namespace stdfs = std::filesystem;

absl::Status ErrnoError(int error, absl::string_view what) {
  return absl::Status(absl::ErrnoToStatusCode(error), absl::StrCat(what, ": ", strerror(error)));
}

CapturedInbox CaptureInbox(const std::string& dir, size_t min_frame_size) {
  CapturedInbox out;
  std::vector<stdfs::path> files;
  std::error_code ec;
  for (const auto& e : stdfs::directory_iterator(dir, ec)) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const stdfs::path& path : files) {
    std::optional<InboxName> name = ParseInboxName(path.filename().string());
    if (!name || name->kind != InboxName::kRecord) continue;
    std::ifstream in(path, std::ios::binary);
    std::vector<uint8_t> image((std::istreambuf_iterator<char>(in)), {});
    ParsedRecord record;
    if (ParseRecord(image, kMaxFrameSize, record) != RecordError::kOk) continue;
    ++out.records;
    for (FrameView f : record.frames) {
      if (f.size() > min_frame_size) out.frames.emplace_back(f.begin(), f.end());
    }
    VisibleStream s;
    s.inbox = dir;
    s.sender = name->sender;
    s.sender_session = name->sender_session;
    s.receiver_session = name->receiver_session;
    s.next_seq = std::max(name->seq + 1, out.stream ? out.stream->next_seq : 0);
    out.stream = s;
  }
  return out;
}

absl::Status InjectRecord(VisibleStream& s, const std::vector<std::vector<uint8_t>>& frames) {
  std::vector<FrameView> views(frames.begin(), frames.end());
  RecordEncoder encoder;
  absl::Span<const iovec> iov = encoder.Encode(s.sender, s.sender_session, s.next_seq, views);
  const std::string tmp = absl::StrCat(s.inbox, "/.inject.tmp");
  const std::string name =
      absl::StrCat(s.inbox, "/", StreamPrefix(s.sender, s.sender_session, s.receiver_session),
                   Hex16(s.next_seq), kRecordSuffix);
  int fd = open(tmp.c_str(), O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoError(errno, absl::StrCat("create ", tmp));
  const ssize_t n = writev(fd, iov.data(), iov.size());
  const int write_errno = errno;
  close(fd);
  if (n != static_cast<ssize_t>(encoder.size())) {
    return ErrnoError(write_errno, absl::StrCat("write ", tmp));
  }
  if (rename(tmp.c_str(), name.c_str()) != 0) {
    return ErrnoError(errno, absl::StrCat("rename to ", name));
  }
  ++s.next_seq;
  return absl::OkStatus();
}

}  // namespace fstun::fs
