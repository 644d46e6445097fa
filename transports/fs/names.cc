#include "transports/fs/names.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace fstun::fs {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

bool ParseHex16(absl::string_view text, uint64_t* out) {
  if (text.size() != 16) return false;
  uint64_t v = 0;
  for (char c : text) {
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else {
      return false;
    }
    v = (v << 4) | d;
  }
  *out = v;
  return true;
}

}  // namespace

bool IsValidPeerId(absl::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
  }
  return true;
}

std::string SanitizeId(absl::string_view text) {
  std::string out(text.substr(0, 64));
  for (char& c : out) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c))) c = '-';
  }
  return out;
}

std::string Hex16(uint64_t v) {
  std::string s(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4) s[i] = kHexDigits[v & 0xF];
  return s;
}

std::string StreamPrefix(absl::string_view sender, uint64_t sender_session,
                         uint64_t receiver_session) {
  return absl::StrCat(sender, ".", Hex16(sender_session), ".", Hex16(receiver_session), ".");
}

SeqName::SeqName(absl::string_view leading, absl::string_view prefix, absl::string_view suffix)
    : buffer_(absl::StrCat(leading, prefix, std::string(16, '0'), suffix)),
      digits_at_(leading.size() + prefix.size()) {}

const char* SeqName::For(uint64_t seq) {
  char* d = &buffer_[digits_at_];
  for (int i = 15; i >= 0; --i, seq >>= 4) d[i] = kHexDigits[seq & 0xF];
  return buffer_.c_str();
}

namespace {
// "<S>.<SS>.<RS>" (a stream's ring or ack file name without its suffix)
// into `out`'s sender and sessions.
bool ParseStream(absl::string_view name, InboxName& out) {
  std::vector<absl::string_view> parts = absl::StrSplit(name, '.');
  if (parts.size() != 3 || !IsValidPeerId(parts[0]) || !ParseHex16(parts[1], &out.sender_session) ||
      !ParseHex16(parts[2], &out.receiver_session)) {
    return false;
  }
  out.sender = std::string(parts[0]);
  return true;
}
}  // namespace

std::optional<InboxName> ParseInboxName(absl::string_view name) {
  const absl::string_view name_in = name;
  InboxName out;
  uint64_t random = 0;
  if (absl::ConsumeSuffix(&name, kRecordSuffix)) {
    out.kind = InboxName::kRecord;
  } else if (absl::ConsumeSuffix(&name, ".ring") || absl::ConsumeSuffix(&name, ".ack")) {
    out.kind = absl::EndsWith(name_in, ".ring") ? InboxName::kRing : InboxName::kAck;
    if (!ParseStream(name, out)) return std::nullopt;
    return out;
  } else if (name.size() > 16 && ParseHex16(name.substr(name.size() - 16), &random)) {
    // "." + a record's name + ".tmp." + 16 random hex digits.
    name.remove_suffix(16);
    if (!absl::ConsumePrefix(&name, ".") || !absl::ConsumeSuffix(&name, kTempInfix)) {
      return std::nullopt;
    }
    out.kind = InboxName::kTemp;
    if (absl::ConsumeSuffix(&name, ".ring")) {  // a ring file being created (seq 0)
      if (!ParseStream(name, out)) return std::nullopt;
      return out;
    }
    if (!absl::ConsumeSuffix(&name, kRecordSuffix)) return std::nullopt;
  } else {
    return std::nullopt;
  }
  std::vector<absl::string_view> parts = absl::StrSplit(name, '.');
  if (parts.size() != 4 || !IsValidPeerId(parts[0]) || !ParseHex16(parts[1], &out.sender_session) ||
      !ParseHex16(parts[2], &out.receiver_session) || !ParseHex16(parts[3], &out.seq)) {
    return std::nullopt;
  }
  out.sender = std::string(parts[0]);
  return out;
}

std::optional<std::string> ParsePeerFileName(absl::string_view name) {
  if (!absl::ConsumeSuffix(&name, kPeerSuffix) || !IsValidPeerId(name)) return std::nullopt;
  return std::string(name);
}

}  // namespace fstun::fs
