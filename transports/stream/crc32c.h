// CRC-32C (Castagnoli): the checksum of the stream transport's records
// (wire_format.h). A byte stream over a serial line can flip or lose bytes,
// and garbage can look like a header; the checksum tells a real record from
// noise.
//
// Uses the SSE4.2 crc32 instruction when the CPU has it and a byte table
// otherwise; the result is the same.
//
//   uint32_t crc = StreamCrc32c(header, 16);
#ifndef FSTUN_TRANSPORTS_STREAM_CRC32C_H_
#define FSTUN_TRANSPORTS_STREAM_CRC32C_H_

#include <cstddef>
#include <cstdint>

namespace fstun::stream {

// Extends `crc` (the CRC-32C of earlier bytes, 0 for none) over `data`.
uint32_t Crc32cExtend(uint32_t crc, const void* data, size_t size);

inline uint32_t Crc32c(const void* data, size_t size) { return Crc32cExtend(0, data, size); }

// The table path, exposed so tests can compare both.
uint32_t Crc32cExtendPortable(uint32_t crc, const void* data, size_t size);

}  // namespace fstun::stream

#endif  // FSTUN_TRANSPORTS_STREAM_CRC32C_H_
