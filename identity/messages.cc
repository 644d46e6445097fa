// Framing of the per-peer messages (messages.h): classification by type and
// size, and little-endian field access.
#include "identity/messages.h"

namespace fstun {

std::optional<MessageType> ClassifyMessage(absl::Span<const uint8_t> m) {
  if (m.size() < 4 || m[2] != 0 || m[3] != 0) return std::nullopt;
  const uint8_t flags_allowed =
      m[0] == static_cast<uint8_t>(MessageType::kData) ? (kDataFlagVnet | kDataFlagAesGcm) : 0;
  if ((m[1] & ~flags_allowed) != 0) return std::nullopt;
  switch (m[0]) {
    case static_cast<uint8_t>(MessageType::kInitiation):
      if (m.size() != kInitiationSize) return std::nullopt;
      return MessageType::kInitiation;
    case static_cast<uint8_t>(MessageType::kResponse):
      if (m.size() != kResponseSize) return std::nullopt;
      return MessageType::kResponse;
    case static_cast<uint8_t>(MessageType::kData):
      if (m.size() < kDataOverhead) return std::nullopt;
      return MessageType::kData;
    default:
      return std::nullopt;
  }
}

uint32_t LoadLe32(const uint8_t* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}

uint64_t LoadLe64(const uint8_t* p) {
  return uint64_t{LoadLe32(p)} | uint64_t{LoadLe32(p + 4)} << 32;
}

void StoreLe32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

void StoreLe64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

}  // namespace fstun
