// Names in the fs transport's folder: peer ids, record and temp file names.
//
//   DIR/peers/<id>.peer                        a peer's announcement
//   DIR/peers/.<id>.peer.tmp.<R>               its temp while rewritten
//   DIR/inbox/<receiver>/<S>.<SS>.<RS>.<Q>.rec a record from S to the receiver
//   DIR/inbox/<receiver>/.<S>.<SS>.<RS>.<Q>.rec.tmp.<R>  its temp while written
//   DIR/inbox/<receiver>/doorbell              "<S>\n": S wants to be known
//   DIR/inbox/<receiver>/.doorbell.tmp.<R>     its temp
//
// S = sender id, SS / RS = sender / receiver session (16 hex digits),
// Q = sequence number (16 hex digits), R = 16 random hex digits drawn per
// write: a temp name cannot be squatted in advance by whoever else writes
// the folder (a directory at a fixed temp name blocked its file for good). A reader computes the
// name of the next record it expects and opens it directly; it never needs a directory listing to
// find traffic.
#ifndef FSTUN_TRANSPORTS_FS_NAMES_H_
#define FSTUN_TRANSPORTS_FS_NAMES_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace fstun::fs {

inline constexpr char kPeersDir[] = "peers";
inline constexpr char kInboxDir[] = "inbox";
inline constexpr char kPeerSuffix[] = ".peer";
inline constexpr char kRecordSuffix[] = ".rec";
// Between a temp's final name and its random part (sys/atomic_write.h
// makes the same shape: "." + final + ".tmp." + R).
inline constexpr char kTempInfix[] = ".tmp.";
// A peer that the receiver's announcement does not list yet writes its id
// here (temp + rename), since the receiver's listing of DIR/peers may be
// stale for many seconds on network shares; the receiver reads it by name.
inline constexpr char kDoorbell[] = "doorbell";
inline constexpr char kDoorbellTempPrefix[] = ".doorbell.tmp.";

// 1..64 characters from [A-Za-z0-9_-]; safe in file names everywhere.
bool IsValidPeerId(absl::string_view id);
// `text` with every character outside [A-Za-z0-9] replaced by '-', cut to
// 64 characters (e.g. "192.0.2.2/24" -> "192-0-2-2-24").
std::string SanitizeId(absl::string_view text);

// The fixed part of one stream's record names: "<S>.<SS>.<RS>.".
std::string StreamPrefix(absl::string_view sender, uint64_t sender_session,
                         uint64_t receiver_session);

// A reusable name buffer: prefix + 16 hex digits + suffix, built without
// allocating after construction.
class SeqName {
 public:
  SeqName(absl::string_view leading, absl::string_view prefix, absl::string_view suffix);
  // NUL-terminated name for `seq`; valid until the next call.
  const char* For(uint64_t seq);

 private:
  std::string buffer_;
  size_t digits_at_;
};

// What a file name in an inbox says.
struct InboxName {
  // kRing, kAck: the ring store's files ("<S>.<SS>.<RS>.ring" / ".ack";
  // seq is 0).
  enum Kind { kRecord, kTemp, kRing, kAck } kind = kRecord;
  std::string sender;
  uint64_t sender_session = 0;
  uint64_t receiver_session = 0;
  uint64_t seq = 0;
};
// nullopt: the name does not belong to the scheme (ignored, logged once).
std::optional<InboxName> ParseInboxName(absl::string_view name);

// "<id>.peer" -> id; nullopt otherwise.
std::optional<std::string> ParsePeerFileName(absl::string_view name);

std::string Hex16(uint64_t v);

}  // namespace fstun::fs

#endif  // FSTUN_TRANSPORTS_FS_NAMES_H_
