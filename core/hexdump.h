// Hex dump of a frame for the verbose (--v=1) per-frame log.
#ifndef FSTUN_CORE_HEXDUMP_H_
#define FSTUN_CORE_HEXDUMP_H_

#include <string>

#include "core/frame.h"

namespace fstun {

// "0000  45 00 00 54 ...  E..T" lines, at most `max_bytes` of the frame.
std::string HexDump(FrameView frame, size_t max_bytes = 256);
// "IPv4 192.0.2.2 > 192.0.2.1 proto 1 len 84" or "non-IP len 3".
std::string DescribePacket(FrameView frame);

}  // namespace fstun

#endif  // FSTUN_CORE_HEXDUMP_H_
