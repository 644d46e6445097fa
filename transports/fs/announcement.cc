#include "transports/fs/announcement.h"

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/crc32c.h"
#include "transports/fs/names.h"

namespace fstun::fs {

namespace {

constexpr char kTagLabel[] = "fstun announcement v1";
constexpr size_t kTagReaderChars = 8;

bool IsHexTag(absl::string_view s) {
  if (s.size() != 2 * LinkMac::kTagBytes) return false;
  for (char c : s) {
    if (!absl::ascii_isxdigit(c)) return false;
  }
  return true;
}

}  // namespace

std::string EncodeAnnouncementBody(const Announcement& a) {
  std::vector<std::string> addresses;
  for (const IpPrefix& p : a.addresses) addresses.push_back(p.ToString());
  std::string body = absl::StrCat(
      "fstun-peer 1\nid=", a.id, "\nsession=", Hex16(a.session), "\nrole=", a.role,
      "\naddresses=", absl::StrJoin(addresses, ","), "\nmtu=", a.mtu,
      "\nformats=", absl::StrJoin(a.formats, ","), "\noffload=", a.offload ? 1 : 0,
      "\nremote=", a.remote ? 1 : 0, a.ring ? "\nstore=ring" : "", "\nbeat=", a.beat,
      "\npeers=", absl::StrJoin(a.peers, ","),
      "\ntime=", absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", a.time, absl::UTCTimeZone()), "\n");
  if (!a.identity.empty()) absl::StrAppend(&body, "identity=", a.identity, "\n");
  return body;
}

std::string EncodeAnnouncement(const Announcement& a) {
  std::string body = EncodeAnnouncementBody(a);
  if (!a.tags.empty()) {
    absl::StrAppend(&body, "tags=", absl::StrJoin(a.tags, ",", absl::PairFormatter(":")), "\n");
  }
  absl::StrAppendFormat(&body, "crc=%08x\n", Crc32c(body.data(), body.size()));
  return body;
}

std::string TagReader(absl::string_view identity) {
  return std::string(identity.substr(0, kTagReaderChars));
}

void TagAnnouncement(const LinkAuthenticator& auth, Announcement& a) {
  a.tags.clear();
  const std::string body = EncodeAnnouncementBody(a);
  for (const std::string& peer : auth.peers()) {
    if (a.tags.size() >= kMaxAnnouncementTags) break;
    const LinkMac* mac = auth.ForPeer(peer);
    if (mac == nullptr) continue;
    LinkMac::Tag tag = mac->Compute(LinkMac::kToPeer, {kTagLabel, body});
    a.tags.emplace_back(TagReader(peer),
                        absl::BytesToHexString(absl::string_view(
                            reinterpret_cast<const char*>(tag.data()), tag.size())));
  }
}

bool AuthenticateAnnouncement(const LinkAuthenticator& auth, const LinkMac& mac,
                              const Announcement& a, absl::string_view text) {
  if (a.signed_bytes == 0 || a.signed_bytes > text.size()) return false;
  const absl::string_view body = text.substr(0, a.signed_bytes);
  const std::string me = TagReader(auth.identity());
  for (const auto& [reader, hex] : a.tags) {
    if (reader != me) continue;
    const std::string tag = absl::HexStringToBytes(hex);
    if (mac.Verify(LinkMac::kFromPeer, {kTagLabel, body},
                   absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(tag.data()), tag.size()))) {
      return true;
    }
  }
  return false;
}

absl::StatusOr<Announcement> ParseAnnouncement(absl::string_view text, size_t max_bytes) {
  if (text.size() > max_bytes) {
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
  // Fields come from the lines before "tags=" (the ones the tags cover).
  size_t tags_at = crc_at;
  if (size_t t = text.substr(0, crc_at).find("\ntags="); t != absl::string_view::npos) {
    tags_at = t + 1;
  }
  a.signed_bytes = tags_at;
  if (tags_at < crc_at) {
    absl::string_view line = text.substr(tags_at + 5, crc_at - tags_at - 5);
    line = line.substr(0, line.find('\n'));
    for (absl::string_view entry : absl::StrSplit(line, ',', absl::SkipEmpty())) {
      if (a.tags.size() >= kMaxAnnouncementTags) break;
      std::pair<absl::string_view, absl::string_view> rt =
          absl::StrSplit(entry, absl::MaxSplits(':', 1));
      if (rt.first.empty() || rt.first.size() > kTagReaderChars || !IsHexTag(rt.second)) continue;
      a.tags.emplace_back(std::string(rt.first), std::string(rt.second));
    }
  }
  for (absl::string_view line : absl::StrSplit(text.substr(0, tags_at), '\n')) {
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
    } else if (key == "store") {
      for (absl::string_view f : absl::StrSplit(value, ',', absl::SkipEmpty())) {
        if (f == "ring") a.ring = true;
      }
    } else if (key == "beat") {
      if (!absl::SimpleAtoi(value, &a.beat)) return absl::InvalidArgumentError("bad beat");
    } else if (key == "peers") {
      for (absl::string_view id : absl::StrSplit(value, ',', absl::SkipEmpty())) {
        if (IsValidPeerId(id)) a.peers.emplace_back(id);
      }
    } else if (key == "identity") {
      a.identity = std::string(value.substr(0, 64));
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
