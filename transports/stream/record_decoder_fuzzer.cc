// libFuzzer target for the stream decoder (RecordDecoder, HelloRecord): the
// bytes come from whoever can write the line (a serial port, a socket), so
// every byte is hostile. The first input byte picks how the rest is fed
// (chunks of 1 + control % 64 bytes, or all at once when control >= 192)
// and the decoder's payload limit (1500, or kMaxRecordPayload when bit 6 is
// set). Checks the promises wire_format.h makes: a record's payload is within
// the limit and inside the decoder's buffer, WritableTail() is never empty
// when Next() wants more, and every byte fed is accounted for (returned in a
// record, skipped as garbage, or still buffered).
// Seeds: transports/stream/corpus/record_decoder_fuzzer/.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "transports/stream/wire_format.h"

namespace {

void Check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "RecordDecoder broke a promise: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using fstun::stream::Record;
  if (size < 1) return 0;
  const uint8_t control = data[0];
  const uint8_t* stream = data + 1;
  const size_t total = size - 1;
  const size_t chunk = control >= 192 ? total + 1 : 1 + control % 64;
  const size_t limit = (control & 64) ? fstun::stream::kMaxRecordPayload : 1500;
  fstun::stream::RecordDecoder decoder(limit, 4096);
  size_t pos = 0;
  uint64_t record_bytes = 0;
  while (true) {
    while (std::optional<Record> r = decoder.Next()) {
      Check(r->payload.size() <= limit, "payload within the limit");
      record_bytes += fstun::stream::kHeaderSize + r->payload.size();
      if (r->type == fstun::stream::RecordType::kHello) {
        (void)fstun::stream::HelloRecord::Decode(r->payload);
      }
      // Touch every byte: ASan checks the view is inside the buffer.
      volatile uint8_t sum = 0;
      for (uint8_t b : r->payload) sum += b;
      (void)sum;
    }
    if (pos == total) break;
    absl::Span<uint8_t> room = decoder.WritableTail();
    Check(!room.empty(), "room to read into");
    size_t n = std::min({chunk, room.size(), total - pos});
    std::memcpy(room.data(), stream + pos, n);
    decoder.Commit(n);
    pos += n;
  }
  const fstun::stream::DecoderStats& s = decoder.stats();
  uint64_t accounted = record_bytes + s.garbage_bytes + decoder.buffered_bytes();
  Check(accounted <= total, "no byte counted twice");
  if (s.unknown_types == 0) Check(accounted == total, "every byte accounted for");
  return 0;
}
