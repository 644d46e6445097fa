// CRC-32C (Castagnoli), the checksum transports put on what they write: a
// record or announcement in a shared folder, a record on a byte stream. A
// flipped or lost byte, a half-written file or garbage that looks like a
// header fails the check. One implementation, so every transport's wire
// format checks the same way and none pays for a slow copy.
//
// Uses the SSE4.2 crc32 instruction when the CPU has it (~8 bytes per cycle,
// so checking a record costs far less than copying it) and a slicing-by-8
// table otherwise. Same result either way.
//
//   uint32_t crc = Crc32c(header, header_size);      // from nothing
//   crc = Crc32cExtend(crc, payload, payload_size);  // continue over more bytes
#ifndef FSTUN_CORE_CRC32C_H_
#define FSTUN_CORE_CRC32C_H_

#include <cstddef>
#include <cstdint>

namespace fstun {

// Extends `crc` (the CRC-32C of earlier bytes, 0 for none) over `data`.
uint32_t Crc32cExtend(uint32_t crc, const void* data, size_t size);

inline uint32_t Crc32c(const void* data, size_t size) { return Crc32cExtend(0, data, size); }

// The portable table-driven path, exposed so tests can compare both.
uint32_t Crc32cExtendPortable(uint32_t crc, const void* data, size_t size);

}  // namespace fstun

#endif  // FSTUN_CORE_CRC32C_H_
