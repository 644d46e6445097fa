// Flags of per-peer identity (identity_flags.h): definitions, the --peer
// accumulator, peers files, and status lines.
#include "identity/identity_flags.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"

DEFINE_string(private_key_file, "",
              "this peer's X25519 private key (fstun genkey; mode 0600); enables per-peer "
              "identity: each peer its own key, the others listed with --peer");
DEFINE_string(peer, "",
              "PUBKEY,PREFIX[,PREFIX...]: a peer this end accepts (its `fstun pubkey`) and the "
              "tunnel prefixes it may send from and is sent to; repeat once per peer");
DEFINE_string(peers_file, "",
              "a file of --peer values, one PUBKEY,PREFIX[,PREFIX] per line (# comments)");

namespace fstun {
namespace {

absl::Mutex peer_values_mu;
std::vector<std::string>& PeerValues() {
  static auto* v = new std::vector<std::string>();
  return *v;
}

bool RecordPeer(const char*, const std::string& value) {
  if (value.empty()) return true;
  absl::MutexLock lock(&peer_values_mu);
  PeerValues().push_back(value);
  return true;  // checked, with a clear message, in IdentityConfigFromFlags
}

const bool peer_validator_registered = gflags::RegisterFlagValidator(&FLAGS_peer, &RecordPeer);

}  // namespace

std::vector<std::string> PeerFlagValues() {
  (void)peer_validator_registered;
  absl::MutexLock lock(&peer_values_mu);
  return PeerValues();
}

void ClearPeerFlagValuesForTest() {
  absl::MutexLock lock(&peer_values_mu);
  PeerValues().clear();
}

absl::StatusOr<std::vector<PeerConfig>> ParsePeersText(absl::string_view text,
                                                       absl::string_view source) {
  std::vector<PeerConfig> out;
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_no;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    absl::StatusOr<PeerConfig> p = ParsePeerSpec(line);
    if (!p.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, " line ", line_no, ": ", p.status().message()));
    }
    out.push_back(*std::move(p));
  }
  return out;
}

absl::StatusOr<std::vector<PeerConfig>> ReadPeersFile(const std::string& path) {
  std::ifstream f(path);
  if (!f) return absl::NotFoundError(absl::StrCat("cannot read --peers_file ", path));
  std::stringstream ss;
  ss << f.rdbuf();
  std::string text = ss.str();
  if (text.size() > (1 << 20)) {
    return absl::InvalidArgumentError(absl::StrCat("--peers_file ", path, " is over 1 MiB"));
  }
  return ParsePeersText(text, path);
}

absl::StatusOr<std::optional<IdentityConfig>> IdentityConfigFromFlags() {
  std::vector<PeerConfig> peers;
  for (const std::string& spec : PeerFlagValues()) {
    absl::StatusOr<PeerConfig> p = ParsePeerSpec(spec);
    if (!p.ok()) return p.status();
    peers.push_back(*std::move(p));
  }
  if (!FLAGS_peers_file.empty()) {
    absl::StatusOr<std::vector<PeerConfig>> more = ReadPeersFile(FLAGS_peers_file);
    if (!more.ok()) return more.status();
    for (PeerConfig& p : *more) peers.push_back(std::move(p));
  }
  if (FLAGS_private_key_file.empty()) {
    if (!peers.empty()) {
      return absl::InvalidArgumentError(
          "--peer/--peers_file need --private_key_file (this end's key: fstun genkey)");
    }
    return std::optional<IdentityConfig>();
  }
  if (peers.empty()) {
    return absl::InvalidArgumentError(
        "--private_key_file needs at least one --peer=PUBKEY,PREFIX (or --peers_file)");
  }
  absl::StatusOr<PrivateKey> key = LoadPrivateKeyFile(FLAGS_private_key_file);
  if (!key.ok()) return key.status();
  return std::optional<IdentityConfig>(IdentityConfig{*std::move(key), std::move(peers)});
}

std::vector<std::pair<std::string, std::string>> PeerDetails(const PeerCrypto::PeerInfo& peer,
                                                             absl::Time now) {
  std::vector<std::string> prefixes;
  for (const IpPrefix& p : peer.allowed) prefixes.push_back(p.ToString());
  std::string handshake =
      peer.last_handshake == absl::InfinitePast()
          ? "never"
          : absl::StrCat(
                absl::FormatDuration(absl::Trunc(now - peer.last_handshake, absl::Seconds(1))),
                " ago");
  std::vector<std::pair<std::string, std::string>> out = {
      {"public_key", peer.public_key.ToBase64()},
      {"allowed_ips", absl::StrJoin(prefixes, ",")},
      {"latest_handshake", handshake},
      {"frames", absl::StrCat("rx ", peer.counters.rx_frames, " tx ", peer.counters.tx_frames)},
      {"cipher_received",
       peer.received_cipher ? aead::CipherName(*peer.received_cipher) : "none yet"},
  };
  if (peer.counters.total_drops() > 0) {
    std::vector<std::string> d;
    for (const auto& [k, v] : peer.counters.drops) d.push_back(absl::StrCat(k, "=", v));
    out.push_back({"drops", absl::StrJoin(d, " ")});
  }
  return out;
}

}  // namespace fstun
