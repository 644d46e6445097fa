// The fs transport passes the transport conformance suite: two FsTransport
// instances (different peer ids) sharing one folder under $TEST_TMPDIR,
// once with inotify and once on the polling path alone, once keyed
// (per-peer link authentication: tagged records and announcements), and
// with the ring store (--fs_store=ring) unkeyed and keyed; and the legacy
// format likewise.
#include <cstdlib>
#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"
#include "identity/keys.h"
#include "identity/link_keys.h"
#include "testing/transport_conformance.h"
#include "transports/fs/fs_transport.h"
#include "transports/fs/legacy_transport.h"

namespace fstun {
namespace {

using testing::ConformanceParam;
using testing::ConformanceSetup;
using testing::TransportConformanceTest;
using testing::TransportPair;

// A fresh folder per test, removed after both transports are gone.
std::shared_ptr<void> TempFolder(std::string* path) {
  static int counter = 0;
  const char* base = std::getenv("TEST_TMPDIR");
  *path = absl::StrCat(base ? base : "/tmp", "/fsconf-", getpid(), "-", counter++);
  std::filesystem::create_directories(*path);
  std::string copy = *path;
  return std::shared_ptr<void>(nullptr, [copy](void*) { std::filesystem::remove_all(copy); });
}

absl::StatusOr<TransportPair> MakeFsPair(const ConformanceSetup& setup, bool inotify,
                                         bool keyed = false, bool ring = false) {
  std::string dir;
  std::shared_ptr<void> folder = TempFolder(&dir);
  fs::FsTransportOptions o;
  o.dirpath = dir;
  o.mtu = setup.mtu;
  o.max_backlog_bytes = setup.queue_bytes;
  o.use_inotify = inotify;
  o.ring_store = ring;
  fs::FsTransportOptions a = o;
  a.addresses = {setup.a_address};
  fs::FsTransportOptions b = o;
  b.addresses = {setup.b_address};
  if (keyed) {
    PrivateKey ka = PrivateKey::Generate(), kb = PrivateKey::Generate();
    auto auth_a = MakeIdentityLinkAuth(ka, {kb.public_key()}, {});
    auto auth_b = MakeIdentityLinkAuth(kb, {ka.public_key()}, {});
    if (!auth_a.ok()) return auth_a.status();
    if (!auth_b.ok()) return auth_b.status();
    a.link_auth = *auth_a;
    b.link_auth = *auth_b;
  }
  auto ta = fs::FsTransport::Create(a);
  if (!ta.ok()) return ta.status();
  auto tb = fs::FsTransport::Create(b);
  if (!tb.ok()) return tb.status();
  return TransportPair{*std::move(ta), *std::move(tb), folder};
}

absl::StatusOr<TransportPair> MakeLegacyPair(const ConformanceSetup& setup) {
  std::string dir;
  std::shared_ptr<void> folder = TempFolder(&dir);
  fs::LegacyOptions o;
  o.dirpath = dir;
  o.mtu = setup.mtu;
  o.max_backlog_bytes = setup.queue_bytes;
  fs::LegacyOptions a = o;
  a.own_prefix = fs::SanitizeId(setup.a_address.ToString());
  fs::LegacyOptions b = o;
  b.own_prefix = fs::SanitizeId(setup.b_address.ToString());
  auto ta = fs::LegacyFsTransport::Create(a);
  if (!ta.ok()) return ta.status();
  auto tb = fs::LegacyFsTransport::Create(b);
  if (!tb.ok()) return tb.status();
  return TransportPair{*std::move(ta), *std::move(tb), folder};
}

INSTANTIATE_TEST_SUITE_P(
    Fs, TransportConformanceTest,
    ::testing::Values(
        ConformanceParam{"fs_inotify",
                         [](const ConformanceSetup& s) { return MakeFsPair(s, true); }},
        ConformanceParam{"fs_polling",
                         [](const ConformanceSetup& s) { return MakeFsPair(s, false); }},
        ConformanceParam{"fs_keyed",
                         [](const ConformanceSetup& s) { return MakeFsPair(s, true, true); }},
        ConformanceParam{
            "fs_ring_polling",
            [](const ConformanceSetup& s) { return MakeFsPair(s, false, false, true); }},
        ConformanceParam{"fs_ring_keyed",
                         [](const ConformanceSetup& s) { return MakeFsPair(s, true, true, true); }},
        ConformanceParam{"fs_legacy", MakeLegacyPair}),
    testing::ConformanceParamName);

}  // namespace
}  // namespace fstun
