#include "seal/sealed_frame.h"

#include <sodium.h>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "seal/aead.h"

namespace fstun {
namespace {

static_assert(kSealNonceSize == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
              "the header's first bytes are the nonce");
static_assert(kSealTagSize == crypto_aead_xchacha20poly1305_ietf_ABYTES);
static_assert(Key::kSize == crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
static_assert(kSealNonceSize == aead::kXAesNonceSize, "XAES takes the same 24 header bytes");

void PutBig32(uint8_t* p, uint32_t v) {
  for (int i = 3; i >= 0; --i, v >>= 8) p[i] = static_cast<uint8_t>(v);
}
void PutBig64(uint8_t* p, uint64_t v) {
  for (int i = 7; i >= 0; --i, v >>= 8) p[i] = static_cast<uint8_t>(v);
}
uint32_t GetBig32(const uint8_t* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | p[i];
  return v;
}
uint64_t GetBig64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}

// XAES-256-GCM's own key, derived from the shared key.
std::unique_ptr<aead::XAesGcmKey> XAesKeyOf(const Key& key) {
  return aead::XAesGcmKey::Derived(key.bytes(), "fstun xaes-256-gcm");
}

}  // namespace

uint64_t NewSessionId() {
  InitSodium();
  uint64_t millis = static_cast<uint64_t>(absl::ToUnixMillis(absl::Now()));
  uint32_t random = randombytes_random() & ((1u << 22) - 1);
  return (millis << 22) | random;
}

std::string SenderIdToString(uint32_t id) {
  return absl::StrFormat("%d.%d.%d.%d", id >> 24, (id >> 16) & 0xff, (id >> 8) & 0xff, id & 0xff);
}

FrameSealer::FrameSealer(const Key& key, uint32_t sender_id, uint64_t session, aead::Cipher cipher)
    : key_(key), sender_id_(sender_id), session_(session) {
  aead::InitAead();
  if (cipher == aead::Cipher::kAes256Gcm) xaes_ = XAesKeyOf(key);
}

size_t FrameSealer::Seal(FrameView frame, absl::Span<uint8_t> out) {
  return SealWithType(xaes_ != nullptr ? kSealAesMarker : kSealMarker, frame, out);
}

size_t FrameSealer::SealHello(absl::Span<uint8_t> out) {
  return SealWithType(kSealHelloMarker, FrameView(), out);
}

size_t FrameSealer::SealWithType(uint8_t type, FrameView frame, absl::Span<uint8_t> out) {
  if (out.size() < frame.size() + kSealOverhead) return 0;
  if (next_seq_ == UINT64_MAX) return 0;  // never reuse a nonce
  uint8_t* header = out.data();
  header[0] = type;
  header[1] = header[2] = header[3] = 0;
  PutBig32(header + 4, sender_id_);
  PutBig64(header + 8, session_);
  PutBig64(header + 16, next_seq_);
  PutBig64(header + 24, echo_);
  absl::Span<const uint8_t> ad(header, kSealHeaderSize);
  if (type == kSealAesMarker) {
    xaes_->Seal(header, frame, ad, header + kSealHeaderSize);
  } else {
    aead::XChaChaPolySeal(key_.bytes().data(), header, frame, ad, header + kSealHeaderSize);
  }
  ++next_seq_;
  return kSealHeaderSize + frame.size() + kSealTagSize;
}

FrameOpener::FrameOpener(const Key& key, uint64_t my_session, size_t max_senders)
    : key_(key), my_session_(my_session), max_senders_(max_senders) {
  aead::InitAead();
}

FrameOpener::Result FrameOpener::Open(FrameView sealed, absl::Span<uint8_t> out) {
  Result r;
  if (sealed.size() < kSealOverhead) {
    r.error = Error::kMalformed;
    return r;
  }
  const uint8_t* header = sealed.data();
  r.sender_id = GetBig32(header + 4);
  const bool hello = header[0] == kSealHelloMarker;
  const bool aes = header[0] == kSealAesMarker;
  if ((header[0] != kSealMarker && !hello && !aes) || header[1] != 0 || header[2] != 0 ||
      header[3] != 0 || (hello && sealed.size() != kSealOverhead)) {
    r.error = Error::kMalformed;
    return r;
  }
  const size_t plain_size = sealed.size() - kSealOverhead;
  if (plain_size > out.size()) {
    r.error = Error::kOversize;
    return r;
  }
  absl::Span<const uint8_t> ad(header, kSealHeaderSize);
  bool opened;
  if (aes) {
    if (xaes_ == nullptr) xaes_ = XAesKeyOf(key_);
    opened = xaes_->Open(header, sealed.subspan(kSealHeaderSize), ad, out.data());
  } else {
    opened = aead::XChaChaPolyOpen(key_.bytes().data(), header, sealed.subspan(kSealHeaderSize), ad,
                                   out.data());
  }
  if (!opened) {
    r.error = Error::kAuthFailed;
    return r;
  }
  const uint64_t session = GetBig64(header + 8);
  const uint64_t seq = GetBig64(header + 16);
  const uint64_t echo = GetBig64(header + 24);
  auto it = senders_.find(r.sender_id);
  if (it == senders_.end()) {
    if (senders_.size() >= max_senders_) {
      r.error = Error::kTooManySenders;
      return r;
    }
    it = senders_.emplace(r.sender_id, SenderState{}).first;
    it->second.session = session;
    r.new_session = true;
  } else if (session < it->second.session) {
    r.error = Error::kWrongSession;
    return r;
  } else if (session > it->second.session) {
    it->second.session = session;
    it->second.window.Reset();
    r.new_session = true;
  }
  // Authentic and the sender's newest session: worth echoing.
  r.learned = session;
  if (!hello && echo != my_session_) {
    if (echo != 0) {
      r.error = Error::kWrongSession;  // sealed for an earlier run of this receiver
      r.wants_hello = true;
      return r;
    }
    const uint64_t sender_started = session >> 22;
    const uint64_t me_started = my_session_ >> 22;
    if (sender_started + kUnconfirmedGraceMillis < me_started) {
      r.error = Error::kUnconfirmedSession;
      r.wants_hello = true;
      return r;
    }
  }
  switch (it->second.window.Accept(seq)) {
    case ReplayWindow::Verdict::kAccepted:
      break;
    case ReplayWindow::Verdict::kReplay:
      r.error = Error::kReplay;
      return r;
    case ReplayWindow::Verdict::kTooOld:
      r.error = Error::kTooOld;
      return r;
  }
  r.hello = hello;
  r.size = plain_size;
  return r;
}

const char* FrameOpener::DropReason(Error error) {
  switch (error) {
    case Error::kOk:
      return "";
    case Error::kMalformed:
      return kDropMalformed;
    case Error::kOversize:
      return "oversize";
    case Error::kAuthFailed:
      return kDropAuthFailed;
    case Error::kWrongSession:
      return kDropWrongSession;
    case Error::kUnconfirmedSession:
      return kDropUnconfirmedSession;
    case Error::kReplay:
      return kDropReplay;
    case Error::kTooOld:
      return kDropTooOld;
    case Error::kTooManySenders:
      return kDropTooManySenders;
  }
  return kDropMalformed;
}

}  // namespace fstun
