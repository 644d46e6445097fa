#include "transports/fs/announcement.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/crc32c.h"
#include "transports/fs/names.h"

namespace fstun::fs {

std::string EncodeAnnouncement(const Announcement& a) {
  std::vector<std::string> addresses;
  for (const IpPrefix& p : a.addresses) addresses.push_back(p.ToString());
  std::string body = absl::StrCat(
      "fstun-peer 1\nid=", a.id, "\nsession=", Hex16(a.session), "\nrole=", a.role,
      "\naddresses=", absl::StrJoin(addresses, ","), "\nmtu=", a.mtu,
      "\nformats=", absl::StrJoin(a.formats, ","), "\noffload=", a.offload ? 1 : 0,
      "\nremote=", a.remote ? 1 : 0, "\nbeat=", a.beat, "\npeers=", absl::StrJoin(a.peers, ","),
      "\ntime=", absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", a.time, absl::UTCTimeZone()), "\n");
  absl::StrAppendFormat(&body, "crc=%08x\n", Crc32c(body.data(), body.size()));
  return body;
}

absl::StatusOr<Announcement> ParseAnnouncement(absl::string_view text) {
  if (text.size() > kMaxAnnouncementBytes) {
    return absl::InvalidArgumentError("announcement too large");
  }
  size_t crc_at = text.rfind("crc=");
  if (!absl::StartsWith(text, "fstun-peer 1\n") || crc_at == absl::string_view::npos ||
      (crc_at > 0 && text[crc_at - 1] != '\n')) {
    return absl::InvalidArgumentError("not an fstun peer announcement");
  }
  uint32_t crc = 0;
  absl::string_view crc_text = absl::StripSuffix(text.substr(crc_at + 4), "\n");
  if (!absl::SimpleHexAtoi(crc_text, &crc) || crc != Crc32c(text.data(), crc_at)) {
    return absl::DataLossError("announcement checksum mismatch (partly written?)");
  }
  Announcement a;
  bool have_session = false;
  for (absl::string_view line : absl::StrSplit(text.substr(0, crc_at), '\n')) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(line, absl::MaxSplits('=', 1));
    const auto& [key, value] = kv;
    if (key == "id") {
      a.id = std::string(value);
    } else if (key == "session") {
      have_session = value.size() == 16 && absl::SimpleHexAtoi(value, &a.session);
    } else if (key == "role") {
      a.role = std::string(value);
    } else if (key == "addresses") {
      if (!value.empty()) {
        absl::StatusOr<std::vector<IpPrefix>> list = ParsePrefixList(value);
        if (!list.ok()) return list.status();
        a.addresses = *std::move(list);
      }
    } else if (key == "mtu") {
      if (!absl::SimpleAtoi(value, &a.mtu)) return absl::InvalidArgumentError("bad mtu");
    } else if (key == "formats") {
      for (absl::string_view f : absl::StrSplit(value, ',', absl::SkipEmpty())) {
        int v;
        if (absl::SimpleAtoi(f, &v)) a.formats.push_back(v);
      }
    } else if (key == "offload") {
      a.offload = value == "1";
    } else if (key == "remote") {
      a.remote = value == "1";
    } else if (key == "beat") {
      if (!absl::SimpleAtoi(value, &a.beat)) return absl::InvalidArgumentError("bad beat");
    } else if (key == "peers") {
      for (absl::string_view id : absl::StrSplit(value, ',', absl::SkipEmpty())) {
        if (IsValidPeerId(id)) a.peers.emplace_back(id);
      }
    } else if (key == "time") {
      std::string err;
      absl::ParseTime("%Y-%m-%dT%H:%M:%SZ", value, absl::UTCTimeZone(), &a.time, &err);
    }
  }
  if (!IsValidPeerId(a.id)) return absl::InvalidArgumentError("bad peer id");
  if (!have_session) return absl::InvalidArgumentError("bad session");
  if (a.mtu == 0 || a.mtu > 65535) return absl::InvalidArgumentError("bad mtu");
  return a;
}

}  // namespace fstun::fs
