// Record, name and announcement codecs: round trips and every way a file
// image can be wrong; keyed (tagged) records and announcements.
#include <cstring>
#include <string>
#include <vector>

#include "core/crc32c.h"
#include "gtest/gtest.h"
#include "seal/key.h"
#include "seal/link_auth.h"
#include "transports/fs/announcement.h"
#include "transports/fs/names.h"
#include "transports/fs/record.h"

namespace fstun::fs {
namespace {

std::vector<uint8_t> Flatten(absl::Span<const iovec> iov) {
  std::vector<uint8_t> out;
  for (const iovec& v : iov) {
    const uint8_t* p = static_cast<const uint8_t*>(v.iov_base);
    out.insert(out.end(), p, p + v.iov_len);
  }
  return out;
}

std::vector<std::vector<uint8_t>> SomeFrames() {
  std::vector<std::vector<uint8_t>> frames;
  for (int i = 0; i < 5; ++i) {
    std::vector<uint8_t> f(60 + i * 301);
    for (size_t k = 0; k < f.size(); ++k) f[k] = static_cast<uint8_t>(k * 7 + i);
    frames.push_back(f);
  }
  return frames;
}

std::vector<uint8_t> EncodeSome(uint64_t seq = 9) {
  auto frames = SomeFrames();
  std::vector<FrameView> views(frames.begin(), frames.end());
  RecordEncoder enc;
  return Flatten(enc.Encode("peer-a", 0xABCDEF0123456789, seq, views));
}

TEST(Record, RoundTrip) {
  auto frames = SomeFrames();
  std::vector<FrameView> views(frames.begin(), frames.end());
  RecordEncoder enc;
  std::vector<uint8_t> image = Flatten(enc.Encode("peer-a", 0xABCDEF0123456789, 9, views));
  size_t payload = 0;
  for (auto& f : frames) payload += f.size();
  EXPECT_EQ(image.size(), enc.size());
  EXPECT_EQ(image.size(), RecordSize(6, frames.size(), payload));
  ParsedRecord rec;
  ASSERT_EQ(ParseRecord(image, 1500, rec), RecordError::kOk);
  EXPECT_EQ(rec.header.sender_id, "peer-a");
  EXPECT_EQ(rec.header.session, 0xABCDEF0123456789u);
  EXPECT_EQ(rec.header.seq, 9u);
  ASSERT_EQ(rec.frames.size(), frames.size());
  for (size_t i = 0; i < frames.size(); ++i) {
    EXPECT_EQ(std::vector<uint8_t>(rec.frames[i].begin(), rec.frames[i].end()), frames[i]);
  }
}

TEST(Record, EveryFlippedBitIsDetected) {
  std::vector<uint8_t> image = EncodeSome();
  ParsedRecord rec;
  for (size_t i = 0; i < image.size(); i += 3) {
    std::vector<uint8_t> bad = image;
    bad[i] ^= 0x10;
    EXPECT_NE(ParseRecord(bad, 1500, rec), RecordError::kOk) << "byte " << i;
  }
}

TEST(Record, PayloadCorruptionIsABadChecksum) {
  std::vector<uint8_t> image = EncodeSome();
  image[image.size() - 100] ^= 1;
  ParsedRecord rec;
  EXPECT_EQ(ParseRecord(image, 1500, rec), RecordError::kBadChecksum);
  EXPECT_TRUE(rec.frames.empty());
}

TEST(Record, TruncatedAndTrailing) {
  std::vector<uint8_t> image = EncodeSome();
  ParsedRecord rec;
  for (size_t n : {size_t{0}, size_t{3}, size_t{20}, size_t{47}, size_t{100}, image.size() - 1}) {
    EXPECT_EQ(ParseRecord(absl::MakeConstSpan(image.data(), n), 1500, rec),
              n < 4 ? RecordError::kTruncated : RecordError::kTruncated)
        << n;
  }
  image.push_back(0);
  EXPECT_EQ(ParseRecord(image, 1500, rec), RecordError::kTrailingBytes);
}

TEST(Record, WrongMagicVersionAndFlags) {
  ParsedRecord rec;
  std::vector<uint8_t> image = EncodeSome();
  image[0] = 'X';
  EXPECT_EQ(ParseRecord(image, 1500, rec), RecordError::kBadMagic);
  image = EncodeSome();
  image[4] = 3;
  EXPECT_EQ(ParseRecord(image, 1500, rec), RecordError::kBadVersion);
  image = EncodeSome();
  image[4] = 2;  // version 2 has a tag this image lacks
  EXPECT_EQ(ParseRecord(image, 1500, rec), RecordError::kTruncated);
  image = EncodeSome();
  image[28] = 2;  // an unknown flag (bit 0 is kRecordFlagVnetHdr)
  EXPECT_EQ(ParseRecord(image, 1500, rec), RecordError::kBadVersion);
}

TEST(Record, OversizedLengthsAreRejectedWithoutReadingPastTheImage) {
  ParsedRecord rec;
  std::vector<uint8_t> image = EncodeSome();
  // Frame count huge.
  std::vector<uint8_t> bad = image;
  uint32_t huge = 0xFFFFFFFF;
  std::memcpy(&bad[24], &huge, 4);
  EXPECT_EQ(ParseRecord(bad, 1500, rec), RecordError::kBadHeader);
  // Payload huge.
  bad = image;
  std::memcpy(&bad[32], &huge, 4);
  EXPECT_EQ(ParseRecord(bad, 1500, rec), RecordError::kBadHeader);
  // Sender id length over the limit.
  bad = image;
  bad[36] = 200;
  EXPECT_EQ(ParseRecord(bad, 1500, rec), RecordError::kBadHeader);
  // One frame length huge (table starts at 48 + 8).
  bad = image;
  std::memcpy(&bad[56], &huge, 4);
  EXPECT_EQ(ParseRecord(bad, 1500, rec), RecordError::kFrameTooLarge);
  // Frames larger than the reader's MTU.
  EXPECT_EQ(ParseRecord(image, 1000, rec), RecordError::kFrameTooLarge);
}

TEST(Names, SeqNameAndParse) {
  std::string prefix = StreamPrefix("peer-a", 1, 0xff);
  SeqName rec("", prefix, kRecordSuffix);
  SeqName tmp(".", prefix, ".rec.tmp.0123456789abcdef");
  EXPECT_STREQ(rec.For(0x10), "peer-a.0000000000000001.00000000000000ff.0000000000000010.rec");
  EXPECT_STREQ(tmp.For(2),
               ".peer-a.0000000000000001.00000000000000ff.0000000000000002.rec.tmp."
               "0123456789abcdef");
  auto parsed = ParseInboxName(rec.For(77));
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->kind, InboxName::kRecord);
  EXPECT_EQ(parsed->sender, "peer-a");
  EXPECT_EQ(parsed->sender_session, 1u);
  EXPECT_EQ(parsed->receiver_session, 0xffu);
  EXPECT_EQ(parsed->seq, 77u);
  auto temp = ParseInboxName(tmp.For(3));
  ASSERT_TRUE(temp.has_value());
  EXPECT_EQ(temp->kind, InboxName::kTemp);
  EXPECT_EQ(temp->seq, 3u);
  // The ring store's files (docs/fs-transport.md section 14): one per
  // stream, no number.
  for (auto [name, kind] :
       {std::pair{"peer-a.0000000000000001.00000000000000ff.ring", InboxName::kRing},
        std::pair{"peer-a.0000000000000001.00000000000000ff.ack", InboxName::kAck},
        std::pair{".peer-a.0000000000000001.00000000000000ff.ring.tmp."
                  "0123456789abcdef",
                  InboxName::kTemp}}) {
    auto n = ParseInboxName(name);
    ASSERT_TRUE(n.has_value()) << name;
    EXPECT_EQ(n->kind, kind) << name;
    EXPECT_EQ(n->sender, "peer-a");
    EXPECT_EQ(n->sender_session, 1u);
    EXPECT_EQ(n->receiver_session, 0xffu);
  }
  for (const char* bad :
       {"x.rec", "garbage", "a.0000000000000001.ring",
        "a.0000000000000001.0000000000000001.0000000000000001.ring",
        "../x.0000000000000001.0000000000000001.0000000000000001.rec",
        "a.000000000000000g.0000000000000001.0000000000000001.rec",
        "a.0000000000000001.0000000000000001.rec", ".a.b.c.d.tmp",
        // The fixed temp name of old writers, and a random part that is not 16 hex digits.
        ".a.0000000000000001.0000000000000001.0000000000000001.tmp",
        ".a.0000000000000001.0000000000000001.0000000000000001.rec.tmp.0123"}) {
    EXPECT_FALSE(ParseInboxName(bad).has_value()) << bad;
  }
  EXPECT_EQ(SanitizeId("192.0.2.2/24"), "192-0-2-2-24");
  EXPECT_TRUE(IsValidPeerId("a_b-C9"));
  EXPECT_FALSE(IsValidPeerId("a.b"));
  EXPECT_FALSE(IsValidPeerId(""));
  EXPECT_FALSE(IsValidPeerId(std::string(65, 'a')));
  EXPECT_EQ(ParsePeerFileName("abc.peer"), "abc");
  EXPECT_FALSE(ParsePeerFileName(".abc.peer.tmp").has_value());
  EXPECT_FALSE(ParsePeerFileName(".abc.peer.tmp.0123456789abcdef").has_value());
}

TEST(Announcement, RoundTripAndChecksum) {
  Announcement a;
  a.id = "client-1";
  a.session = 0x0123456789abcdef;
  a.role = "client";
  a.addresses = {*IpPrefix::Parse("192.0.2.2/24"), *IpPrefix::Parse("2001:db8::2/64")};
  a.mtu = 1400;
  a.formats = {1};
  a.remote = true;
  a.beat = 17;
  a.time = absl::FromUnixSeconds(1790000000);
  std::string text = EncodeAnnouncement(a);
  absl::StatusOr<Announcement> b = ParseAnnouncement(text);
  ASSERT_TRUE(b.ok()) << b.status() << "\n" << text;
  EXPECT_EQ(b->id, a.id);
  EXPECT_EQ(b->session, a.session);
  EXPECT_EQ(b->role, "client");
  EXPECT_EQ(b->addresses, a.addresses);
  EXPECT_EQ(b->mtu, 1400u);
  EXPECT_EQ(b->formats, std::vector<int>{1});
  EXPECT_EQ(b->beat, 17u);
  EXPECT_TRUE(b->remote);
  a.remote = false;
  EXPECT_FALSE(ParseAnnouncement(EncodeAnnouncement(a))->remote);
  EXPECT_EQ(b->time, a.time);
  // Half-written or altered text fails.
  EXPECT_FALSE(ParseAnnouncement(text.substr(0, text.size() / 2)).ok());
  std::string altered = text;
  altered[text.find("mtu=1400") + 5] = '5';
  EXPECT_FALSE(ParseAnnouncement(altered).ok());
  EXPECT_FALSE(ParseAnnouncement("").ok());
  EXPECT_FALSE(ParseAnnouncement(std::string(5000, 'x')).ok());
}

// Two ends with per-pair keys: "alice" and "bob" (and "carol", who shares
// a key with alice only).
struct Pair {
  Pair() {
    LinkKey ab, ac;
    ab.fill(1);
    ac.fill(2);
    alice = std::make_unique<KeyedLinkAuthenticator>(
        "alice", std::vector<std::pair<std::string, LinkKey>>{{"bob", ab}, {"carol", ac}});
    bob = std::make_unique<KeyedLinkAuthenticator>(
        "bob", std::vector<std::pair<std::string, LinkKey>>{{"alice", ab}});
    carol = std::make_unique<KeyedLinkAuthenticator>(
        "carol", std::vector<std::pair<std::string, LinkKey>>{{"alice", ac}});
  }
  std::unique_ptr<KeyedLinkAuthenticator> alice, bob, carol;
};

std::vector<uint8_t> EncodeTagged(const LinkMac* mac, absl::string_view receiver,
                                  uint64_t receiver_session) {
  auto frames = SomeFrames();
  std::vector<FrameView> views(frames.begin(), frames.end());
  RecordEncoder enc;
  RecordAuth auth{mac, receiver, receiver_session};
  std::vector<uint8_t> image =
      Flatten(enc.Encode("peer-a", 0xABCDEF0123456789, 9, views, 0, &auth));
  EXPECT_EQ(image.size(), enc.size());
  return image;
}

TEST(RecordAuthTest, TaggedRecordVerifiesOnlyForItsReceiverAndSession) {
  Pair p;
  std::vector<uint8_t> image = EncodeTagged(p.alice->ForPeer("bob"), "peer-b", 77);
  ParsedRecord r;
  ASSERT_EQ(ParseRecord(image, 1500, r), RecordError::kOk);
  EXPECT_EQ(r.header.version, kRecordVersionTagged);
  EXPECT_EQ(r.frames.size(), 5u);
  EXPECT_EQ(image.size(), RecordSize(6, 5, r.header.payload_bytes, /*tagged=*/true));
  const LinkMac* from_alice = p.bob->ForPeer("alice");
  EXPECT_TRUE(VerifyRecord(r, RecordAuth{from_alice, "peer-b", 77}));
  EXPECT_FALSE(VerifyRecord(r, RecordAuth{from_alice, "peer-b", 78})) << "another session";
  EXPECT_FALSE(VerifyRecord(r, RecordAuth{from_alice, "peer-c", 77})) << "another receiver";
  EXPECT_FALSE(VerifyRecord(r, RecordAuth{p.carol->ForPeer("alice"), "peer-b", 77}))
      << "carol's key with alice";
  EXPECT_FALSE(VerifyRecord(r, RecordAuth{nullptr, "peer-b", 77}));
  // Alice's own record does not verify as one from bob to her.
  EXPECT_FALSE(VerifyRecord(r, RecordAuth{p.alice->ForPeer("bob"), "peer-b", 77}));
  // An untagged record never verifies.
  std::vector<uint8_t> plain = EncodeSome();
  ASSERT_EQ(ParseRecord(plain, 1500, r), RecordError::kOk);
  EXPECT_FALSE(VerifyRecord(r, RecordAuth{from_alice, "peer-b", 77}));
}

TEST(RecordAuthTest, EveryCoveredByteCounts) {
  Pair p;
  std::vector<uint8_t> image = EncodeTagged(p.alice->ForPeer("bob"), "peer-b", 77);
  ParsedRecord r;
  ASSERT_EQ(ParseRecord(image, 1500, r), RecordError::kOk);
  const size_t covered = r.covered.size();
  const size_t tag_at = image.size() - 4 - kRecordTagBytes;
  for (size_t i : std::vector<size_t>{8, 16, 24, 28, 48, covered - 1, tag_at, tag_at + 15}) {
    std::vector<uint8_t> bad = image;
    bad[i] ^= 1;
    // Fix the CRC: a writer without the key can.
    uint32_t crc = Crc32c(bad.data(), bad.size() - 4);
    std::memcpy(bad.data() + bad.size() - 4, &crc, 4);
    RecordError e = ParseRecord(bad, 1500, r);
    if (e != RecordError::kOk) continue;  // the header is now inconsistent
    EXPECT_FALSE(VerifyRecord(r, RecordAuth{p.bob->ForPeer("alice"), "peer-b", 77})) << i;
  }
  // The frames are not covered (they are sealed above).
  std::vector<uint8_t> payload = image;
  payload[covered + 3] ^= 1;
  uint32_t crc = Crc32c(payload.data(), payload.size() - 4);
  std::memcpy(payload.data() + payload.size() - 4, &crc, 4);
  ASSERT_EQ(ParseRecord(payload, 1500, r), RecordError::kOk);
  EXPECT_TRUE(VerifyRecord(r, RecordAuth{p.bob->ForPeer("alice"), "peer-b", 77}));
}

TEST(AnnouncementAuthTest, TagsPerReader) {
  Pair p;
  Announcement a;
  a.id = "peer-a";
  a.session = 42;
  a.role = "server";
  a.mtu = 1400;
  a.formats = {2};
  a.beat = 3;
  a.identity = "alice";
  TagAnnouncement(*p.alice, a);
  ASSERT_EQ(a.tags.size(), 2u);
  const std::string text = EncodeAnnouncement(a);
  absl::StatusOr<Announcement> b = ParseAnnouncement(text, kMaxKeyedAnnouncementBytes);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->identity, "alice");
  EXPECT_EQ(b->tags, a.tags);
  EXPECT_EQ(b->signed_bytes, EncodeAnnouncementBody(a).size());
  EXPECT_TRUE(AuthenticateAnnouncement(*p.bob, *p.bob->ForPeer("alice"), *b, text));
  EXPECT_TRUE(AuthenticateAnnouncement(*p.carol, *p.carol->ForPeer("alice"), *b, text));
  // A changed field (CRC fixed, tags copied) fails.
  Announcement forged = *b;
  forged.role = "client";
  const std::string forged_text = EncodeAnnouncement(forged);
  absl::StatusOr<Announcement> c = ParseAnnouncement(forged_text, kMaxKeyedAnnouncementBytes);
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(AuthenticateAnnouncement(*p.bob, *p.bob->ForPeer("alice"), *c, forged_text));
  // Without tags: nothing to verify.
  Announcement bare = *b;
  bare.tags.clear();
  const std::string bare_text = EncodeAnnouncement(bare);
  absl::StatusOr<Announcement> d = ParseAnnouncement(bare_text, kMaxKeyedAnnouncementBytes);
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(AuthenticateAnnouncement(*p.bob, *p.bob->ForPeer("alice"), *d, bare_text));
  // An unkeyed reader still parses it (it ignores the two lines).
  EXPECT_TRUE(ParseAnnouncement(bare_text).ok());
}

}  // namespace
}  // namespace fstun::fs
