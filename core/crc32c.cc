// Theory of operation: CRC-32C over the reflected polynomial 0x82F63B78,
// pre- and post-inverted (so Crc32c("123456789") == 0xE3069283).
//  - Hardware (x86-64 with SSE4.2, checked once at run time): the crc32
//    instruction eats 8 bytes a step. One chain of them runs at a third of
//    the instruction's throughput (latency 3 cycles, one per cycle), so long
//    inputs are cut into three equal parts whose CRCs run interleaved from
//    0 and are joined: CRC registers are linear, so the register after
//    A||B is shift(register after A, |B|) ^ (register of B from 0), where
//    shift multiplies by x^(8|B|) mod P; for the two part sizes used that
//    is a 4 x 256 table built once (GF(2) products, ~1000 of them). Then
//    single bytes for the tail.
//  - Portable: slicing-by-8, eight 256-entry tables built at compile time;
//    each step folds 8 bytes with 8 lookups (little-endian hosts only, as all
//    fstun targets are), then one byte a step for the tail.
// Both give the same value for every input; crc32c_test checks that.
#include "core/crc32c.h"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace fstun {
namespace {

constexpr uint32_t kPolynomial = 0x82F63B78;  // reflected Castagnoli

struct Tables {
  std::array<std::array<uint32_t, 256>, 8> t;
  constexpr Tables() : t() {
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ kPolynomial : c >> 1;
      t[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; ++i) {
      for (int k = 1; k < 8; ++k) t[k][i] = (t[k - 1][i] >> 8) ^ t[0][t[k - 1][i] & 0xFF];
    }
  }
};

constexpr Tables kTables;

#if defined(__x86_64__)
// a * b mod P, both reflected polynomials (bit 31 is x^0).
uint32_t MultModP(uint32_t a, uint32_t b) {
  uint32_t product = 0;
  for (uint32_t m = 1u << 31; m != 0; m >>= 1) {
    if (a & m) product ^= b;
    b = (b & 1) ? (b >> 1) ^ kPolynomial : b >> 1;
  }
  return product;
}

// x^(8n) mod P: the operator that appends n zero bytes to a register.
uint32_t ZeroBytesOperator(size_t n) {
  uint32_t power = 1u << 30;  // x^1, then x^2, x^4, ... by squaring
  for (int k = 0; k < 3; ++k) power = MultModP(power, power);  // x^8: one byte
  uint32_t result = 1u << 31;                                  // x^0
  for (; n != 0; n >>= 1) {
    if (n & 1) result = MultModP(power, result);
    power = MultModP(power, power);
  }
  return result;
}

// Appending a fixed number of zero bytes to a register, by table.
struct ShiftTable {
  std::array<std::array<uint32_t, 256>, 4> t;
  explicit ShiftTable(size_t bytes) {
    const uint32_t op = ZeroBytesOperator(bytes);
    for (uint32_t k = 0; k < 4; ++k) {
      for (uint32_t b = 0; b < 256; ++b) t[k][b] = MultModP(op, b << (8 * k));
    }
  }
  uint32_t Apply(uint32_t c) const {
    return t[0][c & 0xFF] ^ t[1][(c >> 8) & 0xFF] ^ t[2][(c >> 16) & 0xFF] ^ t[3][c >> 24];
  }
};

// Part sizes of the interleaved runs (multiples of 8): long inputs first
// take 3 x 8 KiB steps, then 3 x 256 bytes.
constexpr size_t kLongPart = 8192;
constexpr size_t kShortPart = 256;

inline uint64_t Load64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

// The register after 3 * part bytes at p, from register c.
__attribute__((target("sse4.2"))) uint32_t ThreeParts(uint32_t c, const uint8_t* p, size_t part,
                                                      const ShiftTable& shift) {
  uint64_t c0 = c;
  uint64_t c1 = 0;
  uint64_t c2 = 0;
  for (const uint8_t* end = p + part; p < end; p += 8) {
    c0 = _mm_crc32_u64(c0, Load64(p));
    c1 = _mm_crc32_u64(c1, Load64(p + part));
    c2 = _mm_crc32_u64(c2, Load64(p + 2 * part));
  }
  uint32_t joined = shift.Apply(static_cast<uint32_t>(c0)) ^ static_cast<uint32_t>(c1);
  return shift.Apply(joined) ^ static_cast<uint32_t>(c2);
}

__attribute__((target("sse4.2"))) uint32_t ExtendHardware(uint32_t crc, const uint8_t* p,
                                                          size_t n) {
  static const ShiftTable* const kLongShift = new ShiftTable(kLongPart);
  static const ShiftTable* const kShortShift = new ShiftTable(kShortPart);
  uint32_t c32 = ~crc;
  for (; n >= 3 * kLongPart; p += 3 * kLongPart, n -= 3 * kLongPart) {
    c32 = ThreeParts(c32, p, kLongPart, *kLongShift);
  }
  for (; n >= 3 * kShortPart; p += 3 * kShortPart, n -= 3 * kShortPart) {
    c32 = ThreeParts(c32, p, kShortPart, *kShortShift);
  }
  uint64_t c = c32;
  for (; n >= 8; p += 8, n -= 8) c = _mm_crc32_u64(c, Load64(p));
  c32 = static_cast<uint32_t>(c);
  for (; n > 0; --n) c32 = _mm_crc32_u8(c32, *p++);
  return ~c32;
}

bool HasSse42() {
  static const bool has = __builtin_cpu_supports("sse4.2");
  return has;
}
#endif

}  // namespace

uint32_t Crc32cExtendPortable(uint32_t crc, const void* data, size_t size) {
  const uint8_t* p = static_cast<const uint8_t*>(data);
  const auto& t = kTables.t;
  uint32_t c = ~crc;
  while (size >= 8) {
    uint32_t lo;
    uint32_t hi;
    std::memcpy(&lo, p, 4);
    std::memcpy(&hi, p + 4, 4);
    lo ^= c;  // little-endian hosts only (all fstun targets)
    c = t[7][lo & 0xFF] ^ t[6][(lo >> 8) & 0xFF] ^ t[5][(lo >> 16) & 0xFF] ^ t[4][lo >> 24] ^
        t[3][hi & 0xFF] ^ t[2][(hi >> 8) & 0xFF] ^ t[1][(hi >> 16) & 0xFF] ^ t[0][hi >> 24];
    p += 8;
    size -= 8;
  }
  while (size > 0) {
    c = t[0][(c ^ *p++) & 0xFF] ^ (c >> 8);
    --size;
  }
  return ~c;
}

uint32_t Crc32cExtend(uint32_t crc, const void* data, size_t size) {
#if defined(__x86_64__)
  if (HasSse42()) return ExtendHardware(crc, static_cast<const uint8_t*>(data), size);
#endif
  return Crc32cExtendPortable(crc, data, size);
}

}  // namespace fstun
