// The stream wire format: records survive any split of the byte stream, and
// garbage before, between or inside records costs only the records it
// touches, counted.
#include "transports/stream/wire_format.h"

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/crc32c.h"
#include "gtest/gtest.h"

namespace fstun::stream {
namespace {

std::vector<uint8_t> Bytes(const std::string& s) {
  return std::vector<uint8_t>(s.begin(), s.end());
}

std::vector<uint8_t> EncodeRecord(RecordType type, const std::vector<uint8_t>& payload) {
  std::array<uint8_t, kHeaderSize> h;
  EncodeHeader(type, payload, h);
  std::vector<uint8_t> out(h.begin(), h.end());
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

std::vector<uint8_t> Payload(uint32_t tag, size_t size) {
  std::vector<uint8_t> p(size);
  std::mt19937 rng(tag);
  for (auto& b : p) b = rng();
  if (size >= 4) std::memcpy(p.data(), &tag, 4);
  return p;
}

// Feeds `stream` to a decoder in chunks of `chunk` bytes; returns payloads.
std::vector<std::vector<uint8_t>> Decode(RecordDecoder& d, const std::vector<uint8_t>& stream,
                                         size_t chunk) {
  std::vector<std::vector<uint8_t>> out;
  size_t pos = 0;
  while (true) {
    while (std::optional<Record> r = d.Next())
      out.emplace_back(r->payload.begin(), r->payload.end());
    if (pos == stream.size()) break;
    absl::Span<uint8_t> room = d.WritableTail();
    EXPECT_FALSE(room.empty());
    size_t n = std::min({chunk, room.size(), stream.size() - pos});
    std::memcpy(room.data(), stream.data() + pos, n);
    d.Commit(n);
    pos += n;
  }
  return out;
}

// The bytes of a record header are fixed: an end built from another commit
// (or another implementation of the format) must read them.
TEST(WireFormatTest, HeaderBytesArePinned) {
  std::array<uint8_t, kHeaderSize> h;
  EncodeHeader(RecordType::kFrame, Bytes("123456789"), h);
  const std::array<uint8_t, kHeaderSize> want = {
      0xF5, 0x7E, 0x5A, 0x1C,  // magic
      0x01, 0x00, 0x00, 0x00,  // type kFrame, flags, reserved
      0x09, 0x00, 0x00, 0x00,  // length
      0x83, 0x92, 0x06, 0xE3,  // CRC-32C of "123456789"
      0xD6, 0x1B, 0x56, 0x81,  // CRC-32C of the 16 bytes above
  };
  EXPECT_EQ(h, want);
}

TEST(WireFormatTest, RecordsSurviveEverySplit) {
  std::vector<uint8_t> stream;
  std::vector<std::vector<uint8_t>> sent;
  for (uint32_t i = 0; i < 40; ++i) {
    sent.push_back(Payload(i, i == 0 ? 0 : 1 + i * 37));
    auto r = EncodeRecord(RecordType::kFrame, sent.back());
    stream.insert(stream.end(), r.begin(), r.end());
  }
  for (size_t chunk : {1, 3, 19, 20, 21, 1000, 1 << 20}) {
    RecordDecoder d;
    EXPECT_EQ(Decode(d, stream, chunk), sent) << "chunk " << chunk;
    EXPECT_EQ(d.stats().garbage_bytes, 0u);
    EXPECT_EQ(d.stats().records, sent.size());
    EXPECT_FALSE(d.has_buffered());
  }
}

TEST(WireFormatTest, LargestPayloadFitsAndLargerIsGarbage) {
  RecordDecoder d(/*max_payload=*/kMaxRecordPayload, /*buffer_bytes=*/1024);
  std::vector<uint8_t> big = Payload(1, kMaxRecordPayload);
  EXPECT_EQ(Decode(d, EncodeRecord(RecordType::kVnetFrame, big), 4096).size(), 1u);

  RecordDecoder small(/*max_payload=*/100);
  std::vector<uint8_t> stream = EncodeRecord(RecordType::kFrame, Payload(2, 101));
  auto ok = EncodeRecord(RecordType::kFrame, Payload(3, 100));
  stream.insert(stream.end(), ok.begin(), ok.end());
  auto got = Decode(small, stream, 7);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], Payload(3, 100));
  EXPECT_EQ(small.stats().bad_headers, 1u);
  EXPECT_EQ(small.stats().garbage_bytes, kHeaderSize + 101);
}

TEST(WireFormatTest, GarbageBetweenRecordsIsSkippedAndCounted) {
  std::vector<uint8_t> stream = Bytes("login: \r\n");  // what a serial console may print
  auto a = EncodeRecord(RecordType::kFrame, Payload(1, 300));
  stream.insert(stream.end(), a.begin(), a.end());
  // Garbage that contains the magic and a plausible length.
  std::vector<uint8_t> fake(kMagic.begin(), kMagic.end());
  fake.insert(fake.end(), {1, 0, 0, 0, 0x10, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8});
  stream.insert(stream.end(), fake.begin(), fake.end());
  auto b = EncodeRecord(RecordType::kFrame, Payload(2, 500));
  stream.insert(stream.end(), b.begin(), b.end());
  std::vector<uint8_t> tail(kMagic.begin(), kMagic.begin() + 2);  // a cut-off magic at the end
  stream.insert(stream.end(), tail.begin(), tail.end());
  for (size_t chunk : {1, 5, 4096}) {
    RecordDecoder d;
    auto got = Decode(d, stream, chunk);
    ASSERT_EQ(got.size(), 2u) << chunk;
    EXPECT_EQ(got[0], Payload(1, 300));
    EXPECT_EQ(got[1], Payload(2, 500));
    EXPECT_EQ(d.stats().garbage_bytes, 9 + fake.size()) << chunk;
    EXPECT_EQ(d.stats().resyncs, 2u);
    EXPECT_GE(d.stats().bad_headers, 1u);
    EXPECT_EQ(d.buffered_bytes(), 2u);  // the cut-off magic waits for more
  }
}

TEST(WireFormatTest, NoiseInsideARecordCostsOnlyThatRecord) {
  std::vector<std::vector<uint8_t>> sent;
  std::vector<uint8_t> stream;
  for (uint32_t i = 0; i < 3; ++i) {
    sent.push_back(Payload(i, 200));
    auto r = EncodeRecord(RecordType::kFrame, sent.back());
    stream.insert(stream.end(), r.begin(), r.end());
  }
  // Noise inserted in the middle record's payload: the records before and
  // after it survive.
  std::vector<uint8_t> noisy = stream;
  const size_t rec = kHeaderSize + 200;
  noisy.insert(noisy.begin() + rec + 50, {0xF5, 0x7E, 0x00, 0x42, 0x99});
  auto more = EncodeRecord(RecordType::kFrame, Payload(9, 64));
  noisy.insert(noisy.end(), more.begin(), more.end());
  RecordDecoder d;
  auto got = Decode(d, noisy, 13);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0], sent[0]);
  EXPECT_EQ(got[1], sent[2]);
  EXPECT_EQ(got[2], Payload(9, 64));
  EXPECT_EQ(d.stats().bad_payloads, 1u);
  EXPECT_EQ(d.stats().resyncs, 1u);
  EXPECT_EQ(d.stats().garbage_bytes, rec + 5);
}

TEST(WireFormatTest, RandomNoiseNeverYieldsAFalseRecordAndRecoveryFollows) {
  std::mt19937 rng(1);
  std::vector<uint8_t> stream(1 << 20);
  for (auto& b : stream) b = rng();
  // Sprinkle magics so the header check does real work.
  for (size_t i = 0; i + 4 < stream.size(); i += 997) std::memcpy(&stream[i], kMagic.data(), 4);
  auto r = EncodeRecord(RecordType::kFrame, Payload(5, 1400));
  stream.insert(stream.end(), r.begin(), r.end());
  RecordDecoder d;
  auto got = Decode(d, stream, 65536);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], Payload(5, 1400));
  EXPECT_EQ(d.stats().garbage_bytes, 1u << 20);
}

TEST(WireFormatTest, UnknownTypesAreSkippedNotDelivered) {
  std::vector<uint8_t> payload = Payload(1, 10);
  std::vector<uint8_t> rec = EncodeRecord(RecordType::kFrame, payload);
  rec[4] = 77;  // a type from a later version; fix up the header checksum
  uint32_t crc = Crc32c(rec.data(), 16);
  std::memcpy(&rec[16], &crc, 4);  // little-endian host
  auto ok = EncodeRecord(RecordType::kFrame, payload);
  rec.insert(rec.end(), ok.begin(), ok.end());
  RecordDecoder d;
  EXPECT_EQ(Decode(d, rec, 100).size(), 1u);
  EXPECT_EQ(d.stats().unknown_types, 1u);
  EXPECT_EQ(d.stats().garbage_bytes, 0u);
}

TEST(WireFormatTest, HelloRoundTripsAndIgnoresExtraBytes) {
  HelloRecord h;
  h.features = kFeatureVnetFrames;
  h.session = 0x1122334455667788ull;
  h.peer_session = 42;
  auto bytes = h.Encode();
  std::vector<uint8_t> longer(bytes.begin(), bytes.end());
  longer.push_back(9);
  for (const auto& b : {std::vector<uint8_t>(bytes.begin(), bytes.end()), longer}) {
    std::optional<HelloRecord> d = HelloRecord::Decode(b);
    ASSERT_TRUE(d.has_value());
    EXPECT_EQ(d->version, HelloRecord::kVersion);
    EXPECT_EQ(d->features, kFeatureVnetFrames);
    EXPECT_EQ(d->session, h.session);
    EXPECT_EQ(d->peer_session, 42u);
  }
  EXPECT_FALSE(HelloRecord::Decode(absl::MakeConstSpan(bytes.data(), 10)).has_value());
}

}  // namespace
}  // namespace fstun::stream
