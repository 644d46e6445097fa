// LinkAuthenticator: lets a transport authenticate its own control data
// (record headers, announcements: whatever steers it) between this end and
// one peer, without seeing a key or linking a crypto library.
//
// The daemon builds one when a key is configured (--key_file: seal/
// link_auth.h; --private_key_file: identity/link_keys.h) and hands it to
// the transport in TransportConfig::link_auth; null means unkeyed. The
// payload a transport carries is sealed above it (AEAD); what the
// transport itself acts on (sequence numbers, sessions, roles, addresses)
// is not, and a transport that shares a medium with others (a folder)
// uses this to act only on what a key holder wrote:
//
//   const LinkMac* mac = auth->ForPeer(claimed_identity);   // null: not accepted
//   LinkMac::Tag tag = mac->Compute(LinkMac::kToPeer, {header, context});
//   ...the peer: mac->Verify(LinkMac::kFromPeer, {header, context}, tag)
//
// Each tag binds the direction: the sender's and the receiver's identities
// are part of what is authenticated, so a message one peer wrote for
// another does not verify anywhere else (a record B -> A copied into B's
// inbox fails). Where two ends share one identity (a shared key: both are
// "psk"), the transport must also put its own names for both ends into
// the parts (e.g. its peer ids), as the fs transport does.
//
// Thread-safe: both classes are immutable after construction.
#ifndef FSTUN_CORE_LINK_AUTH_H_
#define FSTUN_CORE_LINK_AUTH_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace fstun {

// The MAC of one pair of ends (this one and one peer).
class LinkMac {
 public:
  static constexpr size_t kTagBytes = 16;
  using Tag = std::array<uint8_t, kTagBytes>;
  enum Direction { kToPeer, kFromPeer };

  virtual ~LinkMac() = default;
  // The tag of `parts` (each length-delimited, so part boundaries count)
  // sent in `direction`.
  virtual Tag Compute(Direction direction,
                      std::initializer_list<absl::string_view> parts) const = 0;
  // Constant-time check of `tag` (kTagBytes, else false).
  virtual bool Verify(Direction direction, std::initializer_list<absl::string_view> parts,
                      absl::Span<const uint8_t> tag) const = 0;
};

class LinkAuthenticator {
 public:
  virtual ~LinkAuthenticator() = default;
  // This end's public identity (a per-peer public key in base64; "psk" for
  // a shared key). Printable ASCII, 1..64 characters, no ',' ':' or
  // whitespace: transports may put it into their text formats.
  virtual const std::string& identity() const = 0;
  // The MAC for the peer whose identity is `peer_identity`; nullptr if
  // that identity is not accepted (not listed). Lives as long as `this`.
  virtual const LinkMac* ForPeer(absl::string_view peer_identity) const = 0;
  // The identities accepted, e.g. to address a tag to each of them.
  virtual std::vector<std::string> peers() const = 0;
};

}  // namespace fstun

#endif  // FSTUN_CORE_LINK_AUTH_H_
