// Registers "fs" and defines its flags (shown by fstun --help when this
// package is linked). Each flag can also come from TransportConfig.options
// under the key in brackets, which wins over the flag:
//   --dirpath [dirpath], --fs_peer_id [peer_id], --fs_format [format],
//   --fs_max_backlog_bytes [max_backlog_bytes], --fs_max_file_bytes
//   [max_file_bytes], --fs_poll_min_us [poll_min_us], --fs_poll_max_ms
//   [poll_max_ms], --fs_hot_window_ms [hot_window_ms], --fs_inotify
//   [inotify], --fs_peer_timeout_ms [peer_timeout_ms], --fs_gap_wait_ms
//   [gap_wait_ms], --fs_gc_interval_ms [gc_interval_ms].
#include <grp.h>

#include <memory>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/registry.h"
#include "gflags/gflags.h"
#include "transports/fs/fs_transport.h"
#include "transports/fs/legacy_transport.h"

DEFINE_string(dirpath, "", "fs transport: the shared folder both ends can read and write");
DEFINE_string(fs_peer_id, "",
              "fs transport: this end's id in the folder ([A-Za-z0-9_-], at most 64); "
              "default: the first --ip address with '.'/':' turned into '-'");
DEFINE_string(fs_format, "v1",
              "fs transport: v1 (batched, ordered records; docs/fs-transport.md) or legacy "
              "(the original demo's one-packet-per-file format, two peers only)");
DEFINE_string(fs_group, "",
              "fs transport: share what fstun creates in the folder with this group (mode "
              "0770/0660) instead of the owner only (0700/0600)");
DEFINE_string(fs_store, "ring",
              "fs transport: how records travel. ring: one preallocated ring file per stream, "
              "one pwrite and one pread per record (no create/rename/unlink: fewer round trips "
              "on FUSE and network shares), used towards peers that announce it too, names "
              "otherwise; names: a new file per record, towards every peer");
DEFINE_uint64(fs_max_backlog_bytes, 32 << 20,
              "fs transport: unread bytes this end may leave for one peer; beyond it frames "
              "are dropped and counted (backlog_full), as a full NIC queue drops");
DEFINE_uint64(fs_max_file_bytes, 1 << 20,
              "fs transport: largest record file; bigger batches are split");
DEFINE_uint64(fs_poll_min_us, 100,
              "fs transport: poll interval while traffic flows (microseconds)");
DEFINE_uint64(fs_poll_max_ms, 0,
              "fs transport: the knob that trades idle cost for latency where the other end's "
              "writes raise no inotify event (every folder shared between machines): a tunnel "
              "in use looks for records this often (milliseconds), one nobody used for 1.5 s four "
              "times less often and at least every 8 ms (16 ms after 30 s). A packet after a pause "
              "waits about half of it on each end it "
              "crosses; each look costs one open of a name (on a FUSE folder 30-60 us of fstun's "
              "CPU). 0 (default): 1 ms; 5 ms where a look is a request to a file server "
              "over the network (NFS, SMB); 2 ms on sshfs, idle at least every 20 ms. On FUSE "
              "at 1 ms: idle ~1.8% of a core, "
              "in use ~4%; at 20: ~0.5%, ~10 ms added. "
              "A tunnel idle for 1.5 s where one look costs more than this looks every 4x "
              "that cost");
DEFINE_uint64(fs_coalesce_ms, 10,
              "fs transport: towards a peer where a record costs round trips (this end's or "
              "the peer's folder is served by another kernel: 9p, virtiofs, NFS, SMB, sshfs, "
              "...), write records at most this often, holding frames that come sooner and "
              "writing them together; the first frame after a pause goes at once. A reader "
              "that pays per record (a VM guest reading a share) then gets fewer, bigger "
              "records: host-to-guest 4 MiB 2-5x faster in the VM test bed "
              "(docs/shared-folders.md); between two ends on one kernel it only added latency "
              "(TCP 1.65 -> 0.04 Gbit/s on tmpfs), so it stays off there. 0: off everywhere");
DEFINE_bool(fs_coalesce_local, false,
            "fs transport: apply --fs_coalesce_ms also between ends whose folders are local "
            "(tmpfs, ext4, bindfs views): for measuring; it costs throughput there");
DEFINE_uint64(fs_hot_window_ms, 20,
              "fs transport: keep polling at --fs_poll_min_us this long after the last frame");
DEFINE_bool(fs_inotify, true,
            "fs transport: use inotify where it works (polling always stays on as fallback)");
DEFINE_uint64(fs_peer_timeout_ms, 10000,
              "fs transport: a peer whose heartbeat stops this long is considered gone");
DEFINE_uint64(
    fs_gap_wait_ms, 1000,
    "fs transport: how long a missing record may hold up later ones before it is skipped");
DEFINE_uint64(fs_gc_interval_ms, 2000,
              "fs transport: how often the inbox is listed to remove stale and foreign files");

namespace fstun::fs {
namespace {

// options[key] if present, else the flag's value; parsed as an unsigned.
absl::Status Number(const TransportConfig& config, const char* key, uint64_t flag, uint64_t* out) {
  std::string text = config.Option(key, absl::StrCat(flag));
  if (!absl::SimpleAtoi(text, out)) {
    return absl::InvalidArgumentError(
        absl::StrCat("fs: option ", key, "='", text, "' is not a non-negative number"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Transport>> CreateFs(const TransportConfig& config) {
  uint64_t backlog, file, poll_min_us, poll_max_ms, hot_ms, peer_timeout_ms, gap_ms, gc_ms,
      coalesce_ms;
  for (auto [key, flag, out] : {
           std::tuple{"max_backlog_bytes", FLAGS_fs_max_backlog_bytes, &backlog},
           std::tuple{"max_file_bytes", FLAGS_fs_max_file_bytes, &file},
           std::tuple{"poll_min_us", FLAGS_fs_poll_min_us, &poll_min_us},
           std::tuple{"poll_max_ms", FLAGS_fs_poll_max_ms, &poll_max_ms},
           std::tuple{"hot_window_ms", FLAGS_fs_hot_window_ms, &hot_ms},
           std::tuple{"peer_timeout_ms", FLAGS_fs_peer_timeout_ms, &peer_timeout_ms},
           std::tuple{"gap_wait_ms", FLAGS_fs_gap_wait_ms, &gap_ms},
           std::tuple{"gc_interval_ms", FLAGS_fs_gc_interval_ms, &gc_ms},
           std::tuple{"coalesce_ms", FLAGS_fs_coalesce_ms, &coalesce_ms},
       }) {
    if (absl::Status s = Number(config, key, flag, out); !s.ok()) return s;
  }
  // --fs_poll_max_ms=0: chosen by filesystem (ForFilesystem, at least poll_min).
  if (poll_min_us == 0 || (poll_max_ms != 0 && poll_min_us > poll_max_ms * 1000)) {
    return absl::InvalidArgumentError("fs: need 0 < --fs_poll_min_us <= --fs_poll_max_ms * 1000");
  }
  std::string inotify = config.Option("inotify", FLAGS_fs_inotify ? "true" : "false");
  if (inotify != "true" && inotify != "false") {
    return absl::InvalidArgumentError("fs: option inotify must be true or false");
  }
  PacerOptions pacer;
  pacer.poll_min = absl::Microseconds(poll_min_us);
  pacer.poll_max = absl::Milliseconds(poll_max_ms);
  pacer.hot_window = absl::Milliseconds(hot_ms);
  std::string dirpath = config.Option("dirpath", FLAGS_dirpath);
  std::string format = config.Option("format", FLAGS_fs_format);

  if (format == "legacy") {
    LegacyOptions o;
    o.dirpath = dirpath;
    o.mtu = config.mtu;
    std::vector<std::string> ips;
    for (const IpPrefix& p : config.addresses) ips.push_back(p.ToString());
    o.own_prefix = config.Option("legacy_prefix", SanitizeId(absl::StrJoin(ips, ",")));
    o.max_backlog_bytes = backlog;
    o.pacer = pacer;
    o.use_inotify = inotify == "true";
    absl::StatusOr<std::unique_ptr<LegacyFsTransport>> t = LegacyFsTransport::Create(o);
    if (!t.ok()) return t.status();
    return std::unique_ptr<Transport>(*std::move(t));
  }
  if (format != "v1") {
    return absl::InvalidArgumentError(
        absl::StrCat("fs: --fs_format must be v1 or legacy, not '", format, "'"));
  }
  FsTransportOptions o;
  o.dirpath = dirpath;
  o.peer_id = config.Option("peer_id", FLAGS_fs_peer_id);
  o.role = config.role;
  o.addresses = config.addresses;
  o.mtu = config.mtu;
  o.carry_gso_frames = config.offload_frames;
  o.file_owner = config.file_owner;
  o.link_auth = config.link_auth;
  std::string group = config.Option("group", FLAGS_fs_group);
  if (!group.empty()) {
    std::vector<char> buf(16384);
    struct group gr;
    struct group* found = nullptr;
    gid_t numeric = 0;
    int rc = absl::SimpleAtoi(group, &numeric)
                 ? getgrgid_r(numeric, &gr, buf.data(), buf.size(), &found)
                 : getgrnam_r(group.c_str(), &gr, buf.data(), buf.size(), &found);
    if (rc != 0 || found == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("--fs_group: no such group '", group, "'"));
    }
    o.access.group = gr.gr_gid;
  }
  o.max_backlog_bytes = backlog;
  o.max_file_bytes = file;
  o.pacer = pacer;
  o.use_inotify = inotify == "true";
  o.peer_timeout = absl::Milliseconds(peer_timeout_ms);
  o.gap_wait = absl::Milliseconds(gap_ms);
  o.gc_interval = absl::Milliseconds(gc_ms);
  o.coalesce_max = absl::Milliseconds(coalesce_ms);
  std::string coalesce_local =
      config.Option("coalesce_local", FLAGS_fs_coalesce_local ? "true" : "false");
  if (coalesce_local != "true" && coalesce_local != "false") {
    return absl::InvalidArgumentError("fs: option coalesce_local must be true or false");
  }
  o.coalesce_local = coalesce_local == "true";
  std::string store = config.Option("store", FLAGS_fs_store);
  if (store != "names" && store != "ring") {
    return absl::InvalidArgumentError(
        absl::StrCat("fs: --fs_store must be names or ring, not '", store, "'"));
  }
  o.ring_store = store == "ring";
  absl::StatusOr<std::unique_ptr<FsTransport>> t = FsTransport::Create(std::move(o));
  if (!t.ok()) return t.status();
  return std::unique_ptr<Transport>(*std::move(t));
}

TransportRegistration kRegistration(
    "fs",
    "frames as files in a shared folder (--dirpath); batched, ordered, crash-safe "
    "(--fs_format=legacy: the original demo's format)",
    CreateFs);

}  // namespace
}  // namespace fstun::fs
