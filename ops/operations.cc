#include "ops/operations.h"

#include <unistd.h>

#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "gflags/gflags.h"
#include "glog/logging.h"
#include "ops/control_protocol.h"
#include "ops/flags.h"
#include "ops/metrics.h"
#include "ops/status_format.h"
#include "ops/systemd_notify.h"
#include "sys/atomic_write.h"

namespace fstun {
namespace {

// node_exporter's textfile collector reads the metrics file as another user;
// metrics are not secret. The temporary name never ends in .prom.
constexpr AtomicWriteOptions kMetricsFile = {.mode = 0644};

// systemd's one-line STATUS=, shown by `systemctl status`.
std::string StatusLine(const DaemonStatus& s) {
  return absl::StrFormat("%s over %s, %d peer(s); rx %d frames, tx %d frames, %d drops",
                         s.info.role, s.info.transport, s.peers.size(), s.transport.rx_frames,
                         s.transport.tx_frames, s.total_drops());
}

// The start-up line an operator looks for: everything about this instance
// in one place, logged once the tunnel is up.
std::string ReadyLine(const DaemonStatus& s) {
  std::set<std::string> paths;
  for (const PeerStatus& p : s.peers) {
    if (std::string w = p.Detail("wakeup"); !w.empty()) paths.insert(w);
  }
  std::string key = "n/a";  // a binary without the seal layer
  if (std::string file; gflags::GetCommandLineOption("key_file", &file)) {
    key = file.empty() ? "none (trusted folder)" : absl::StrCat("yes (", file, ")");
  }
  // Per-peer identity (identity/): --key_file is then only the preshared key.
  if (std::string file; gflags::GetCommandLineOption("private_key_file", &file) && !file.empty()) {
    std::string psk;
    gflags::GetCommandLineOption("key_file", &psk);
    key = absl::StrCat("per-peer (", file, ", ", s.peers.size(), " peer(s)",
                       psk.empty() ? "" : absl::StrCat(", preshared key ", psk), ")");
  }
  return absl::StrCat("ready: fstun ", s.info.version, " on ", s.info.ifname, ", role ",
                      s.info.role, ", transport ", s.info.transport, ", wake-up ",
                      paths.empty() ? "n/a (no peer yet)" : absl::StrJoin(paths, "+"), ", key ",
                      key);
}

}  // namespace

Operations::Operations(DaemonInfo info, const Device& device, const Transport& transport,
                       const Pump& pump)
    : info_(std::move(info)), device_(device), transport_(transport), pump_(pump) {}

absl::StatusOr<std::unique_ptr<Operations>> Operations::Prepare(DaemonInfo info,
                                                                const Device& device,
                                                                const Transport& transport,
                                                                const Pump& pump) {
  if (FLAGS_metrics_interval_s < 1 || FLAGS_metrics_interval_s > 3600) {
    return absl::InvalidArgumentError("--metrics_interval_s must be between 1 and 3600");
  }
  std::unique_ptr<Operations> ops(new Operations(std::move(info), device, transport, pump));
  ops->metrics_file_ = FLAGS_metrics_file;
  ops->interval_ = absl::Seconds(FLAGS_metrics_interval_s);
  if (!ops->metrics_file_.empty()) {
    // Fail now, with the path named, rather than silently every 5 s.
    if (absl::Status s =
            WriteFileAtomically(ops->metrics_file_, FormatMetrics(ops->Status()), kMetricsFile);
        !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--metrics_file: ", s.message()));
    }
  }
  ControlServer::Options options;
  options.handler = [raw = ops.get()](absl::string_view request) { return raw->Answer(request); };
  options.on_tick = [raw = ops.get()] { raw->Tick(); };
  options.tick_interval = ops->interval_;
  if (FLAGS_control_dir.empty()) {
    LOG(INFO) << "no control socket (--control_dir is empty): fstun status is unavailable";
  } else if (absl::StatusOr<std::string> path =
                 ControlSocketPath(FLAGS_control_dir, ops->info_.ifname);
             !path.ok()) {
    LOG(WARNING) << "no control socket, fstun status is unavailable: " << path.status().message();
  } else {
    options.path = *path;
    absl::StatusOr<std::unique_ptr<ControlServer>> server = ControlServer::Listen(options);
    if (server.ok()) {
      ops->server_ = std::move(*server);
    } else {
      LOG(WARNING) << "no control socket, fstun status is unavailable: "
                   << server.status().message();
      options.path.clear();
    }
  }
  if (!ops->server_) {
    // Without a socket the thread still writes the metrics file and STATUS= lines.
    absl::StatusOr<std::unique_ptr<ControlServer>> ticker = ControlServer::Listen(options);
    if (!ticker.ok()) return ticker.status();
    ops->server_ = std::move(*ticker);
  }
  return ops;
}

Operations::~Operations() {
  NotifySystemd("STOPPING=1");
  server_->Stop();
  if (started_ && !metrics_file_.empty()) WriteMetricsFile(/*up=*/false);
}

void Operations::Start() {
  if (started_) return;
  started_ = true;
  server_->Start();  // its first tick writes the metrics file
  DaemonStatus s = Status();
  NotifySystemd(absl::StrCat("READY=1\nSTATUS=", StatusLine(s)));
  LOG(INFO) << ReadyLine(s) << "; status: "
            << (server_->path().empty() ? "unavailable (no control socket)"
                                        : absl::StrCat("fstun status --ifname=", info_.ifname,
                                                       " (socket ", server_->path(), ")"));
}

DaemonStatus Operations::Status() const { return CollectStatus(info_, device_, transport_, pump_); }

std::string Operations::control_path() const { return server_->path(); }

absl::StatusOr<std::string> Operations::Answer(absl::string_view request) const {
  if (request == kRequestStatus) return FormatStatusText(Status());
  if (request == kRequestStatusJson) return FormatStatusJson(Status());
  if (request == kRequestMetrics) return FormatMetrics(Status());
  return absl::InvalidArgumentError(absl::StrCat("unknown request (known: '", kRequestStatus,
                                                 "', '", kRequestStatusJson, "', '",
                                                 kRequestMetrics, "')"));
}

void Operations::Tick() {
  DaemonStatus s = Status();
  NotifySystemd(absl::StrCat("STATUS=", StatusLine(s)));
  if (!metrics_file_.empty()) WriteMetricsFile(/*up=*/true);
}

void Operations::WriteMetricsFile(bool up) {
  absl::Status s = WriteFileAtomically(metrics_file_, FormatMetrics(Status(), up), kMetricsFile);
  if (!s.ok() && !metrics_failed_) {
    LOG(WARNING) << "metrics file: " << s.message() << " (further failures are not logged)";
  }
  metrics_failed_ = !s.ok();
}

}  // namespace fstun
