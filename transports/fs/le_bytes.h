// Little-endian integers in the fs transport's on-disk formats (records,
// ring headers, acks): the one place that reads and writes them.
#ifndef FSTUN_TRANSPORTS_FS_LE_BYTES_H_
#define FSTUN_TRANSPORTS_FS_LE_BYTES_H_

#include <cstdint>
#include <cstring>

namespace fstun::fs {

// The formats are little-endian; so is every host fstun builds for, which
// lets a field be copied as it is.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "fs formats assume a little-endian host");

inline void Put16(uint8_t* p, uint16_t v) { std::memcpy(p, &v, sizeof v); }
inline void Put32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, sizeof v); }
inline void Put64(uint8_t* p, uint64_t v) { std::memcpy(p, &v, sizeof v); }

inline uint16_t Get16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline uint32_t Get32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline uint64_t Get64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

}  // namespace fstun::fs

#endif  // FSTUN_TRANSPORTS_FS_LE_BYTES_H_
