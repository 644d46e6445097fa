#!/usr/bin/env python3
"""fstun's network benchmark: fstun side by side with the kernel and peer tools.

Run it through tools/bench (which installs the tools and builds fstun); see
docs/benchmarks.md. Every row builds its own pair of network namespaces
(`ip netns add`, names starting with "fstb<pid>"), joins them with the tunnel
under test, measures from namespace A to namespace B, and deletes everything
it made before the next row starts. Nothing is created in the host's network
namespace; all addresses are documentation addresses:

  tunnel:   192.0.2.1/24 (A)  <->  192.0.2.2/24 (B)
  underlay: 198.51.100.1/24 (A)  <->  198.51.100.2/24 (B)  (a veth, MTU 9000,
            for the tools that tunnel over UDP)

Per row: the time from both ends being ready to the first ping reply, the
cost of an idle tunnel (wake-ups per second: voluntary + involuntary context
switches of all threads, and CPU % of one core), ping RTT p50/p99 at 1, 5
and 50 pings per second, iperf3 TCP single stream, iperf3 UDP packets/s at
1400-byte datagrams, CPU seconds of the tunnel processes per GB of TCP
payload and peak RSS (VmHWM). Results go to --out as results.md,
results.csv, results.json and chart.svg/chart.png.

Standard library only: it must run on a fresh machine before anything else is
installed but the Debian tools.
"""

import argparse
import csv
import datetime
import json
import mmap
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

PREFIX = "fstb"
TUN_A, TUN_B = "192.0.2.1", "192.0.2.2"
UNDER_A, UNDER_B = "198.51.100.1", "198.51.100.2"
TUNNEL_MTU = 1500
UDP_DATAGRAM = 1400
# Ping rates (per second) and how many pings at each: 1/s is a person typing
# in ssh, 5/s a page now and then, 50/s a busy interactive session. Bounded:
# ~35 s of pings per row (--quick: half the counts).
PING_RATES = ((1, 20), (5, 50), (50, 200))
# Rates a row adds to those (its option "extra_ping_rates"): issue 11 sets
# the sshfs targets at 1, 10 and 100 pings/s.
SSHFS_EXTRA_PING_RATES = ((10, 50), (100, 200))
# The line an fstun end logs once its interface, role, transport and control
# socket are all up (ops/operations.cc); glog's time stamp is local time.
READY_LINE = re.compile(r"^I(\d{8}) (\d\d:\d\d:\d\d)(\.\d+) .*\] ready: ", re.M)


class Skip(Exception):
    """A row cannot run here (missing tool, missing fstun feature)."""


class RowFailed(Exception):
    """A row started but its tunnel did not work."""


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# Resources: everything a row creates is registered here and removed in
# reverse order, on success, on error and on SIGINT/SIGTERM.
# --------------------------------------------------------------------------
class Scope:
    live = []  # every Scope not yet cleaned, for the signal handler

    def __init__(self, tag, logdir):
        self.tag = tag
        self.logdir = logdir
        self.undo = []  # (description, callable), run in reverse
        self.procs = []
        self.ready_logs = []  # (log path, offset): a tunnel end is ready once it logs READY_LINE
        Scope.live.append(self)

    # ---- namespaces
    def netns(self, suffix):
        # The dash ends the pid: "fstb1234-5a" is pid 1234's row 5, never pid 12345's.
        name = f"{PREFIX}{os.getpid()}-{self.tag}{suffix}"
        if len(name) > 30:
            raise ValueError(name)
        subprocess.run(["ip", "netns", "add", name], check=True, timeout=10)
        self.undo.append((f"netns {name}", lambda: subprocess.run(
            ["ip", "netns", "del", name], timeout=10, stderr=subprocess.DEVNULL)))
        # Quiet namespaces: no IPv6 autoconfiguration chatter while idle.
        self.sh(name, "sysctl -qw net.ipv6.conf.all.disable_ipv6=1 "
                      "net.ipv6.conf.default.disable_ipv6=1")
        self.sh(name, "ip link set lo up")
        return name

    def tmpdir(self, base=None, name=None):
        path = tempfile.mkdtemp(prefix=f"{PREFIX}-{self.tag}-{name or ''}", dir=base)
        self.undo.append((f"rm {path}", lambda: shutil.rmtree(path, ignore_errors=True)))
        return path

    def mount(self, argv, mountpoint, timeout=20):
        subprocess.run(argv, check=True, timeout=timeout,
                       stdout=self._logfile("mount"), stderr=subprocess.STDOUT)
        self.undo.append((f"umount {mountpoint}", lambda: subprocess.run(
            ["fusermount3", "-u", "-z", mountpoint], timeout=10,
            stderr=subprocess.DEVNULL)))

    def on_cleanup(self, description, fn):
        self.undo.append((description, fn))

    # ---- commands
    def run(self, ns, argv, timeout=30, check=True, env=None):
        cmd = (["ip", "netns", "exec", ns] if ns else []) + list(argv)
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
        if check and res.returncode != 0:
            raise RowFailed(f"{' '.join(cmd)}: exit {res.returncode}: "
                            f"{(res.stderr or res.stdout).strip()[-300:]}")
        return res

    def sh(self, ns, command, timeout=30, check=True):
        return self.run(ns, ["sh", "-c", command], timeout=timeout, check=check)

    def logpath(self, what):
        return os.path.join(self.logdir, f"{self.tag}-{what}.log")

    def _logfile(self, what):
        return open(self.logpath(what), "ab")

    def expect_ready_line(self, what):
        """The process `what` (just spawned) logs READY_LINE once it is up;
        its log may hold earlier passes, so only what follows counts."""
        path = self.logpath(what)
        self.ready_logs.append((path, os.path.getsize(path) if os.path.exists(path) else 0))

    def spawn(self, ns, argv, what, env=None, tunnel=True):
        """Starts a long-running process; `tunnel` ones are measured."""
        cmd = (["ip", "netns", "exec", ns] if ns else []) + list(argv)
        out = self._logfile(what)
        out.write(("$ " + " ".join(cmd) + "\n").encode())
        out.flush()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True,
                                env=env)
        out.close()
        proc.fstb_what = what
        proc.fstb_tunnel = tunnel
        self.procs.append(proc)
        self.undo.append((f"stop {what}", lambda: stop_process(proc)))
        return proc

    def tunnel_pids(self):
        return [p.pid for p in self.procs if p.fstb_tunnel and p.poll() is None]

    def check_alive(self):
        for p in self.procs:
            if p.fstb_tunnel and p.poll() is not None:
                raise RowFailed(f"{p.fstb_what} exited with {p.returncode} "
                                f"(see logs/{self.tag}-{p.fstb_what}.log)")

    def cleanup(self):
        while self.undo:
            description, fn = self.undo.pop()
            try:
                fn()
            except Exception as e:  # keep going: the rest must still be removed
                log(f"cleanup {description}: {e}")
        if self in Scope.live:
            Scope.live.remove(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cleanup()
        return False


def stop_process(proc, grace=3.0):
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGINT)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=grace)
        return
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=5)


def cleanup_all(*_):
    for scope in list(Scope.live):
        scope.cleanup()


def on_signal(signum, _frame):
    log(f"signal {signum}: cleaning up")
    cleanup_all()
    sys.exit(128 + signum)


def remove_stale_namespaces():
    """Namespaces left by an earlier run that was SIGKILLed (its pid is gone)."""
    try:
        names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True,
                               timeout=10).stdout.split("\n")
    except Exception:
        return
    for line in names:
        name = line.split(" ")[0]
        # Before the dash the digits ran into the row number, so a live run's
        # "fstb20834" + row 6 read as the dead pid 208346 and was deleted
        # mid-row by the next run's start: such names are left alone.
        m = re.match(rf"^{PREFIX}(\d+)-", name)
        if m and not os.path.exists(f"/proc/{m.group(1)}"):
            log(f"removing stale namespace {name}")
            subprocess.run(["ip", "netns", "del", name], timeout=10)


# --------------------------------------------------------------------------
# /proc readings
# --------------------------------------------------------------------------
def descendants(pids):
    seen, todo = [], list(pids)
    while todo:
        pid = todo.pop()
        if pid in seen or not os.path.exists(f"/proc/{pid}"):
            continue
        seen.append(pid)
        try:
            for tid in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{tid}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return seen


def cpu_seconds(pids, children=True):
    """utime+stime of the processes (all their threads; with `children`, of
    their descendants too), in seconds."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in (descendants(pids) if children else pids):
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, IndexError):
            pass
    return total / ticks


def context_switches(pid):
    """{thread "tid:name": voluntary + involuntary context switches}."""
    counts = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return counts
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                name = f"{tid}:{f.read().strip()}"
            total = 0
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                for line in f:
                    if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                        total += int(line.split()[1])
            counts[name] = total
        except OSError:
            pass
    return counts


def peak_rss_mib(pids):
    peak = 0
    for pid in descendants(pids):
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]))
        except OSError:
            pass
    return peak / 1024 if peak else None


# --------------------------------------------------------------------------
# Measurements (from namespace A towards B's tunnel address)
# --------------------------------------------------------------------------
def glog_time(day, clock, fraction):
    """Seconds since the epoch of a glog time stamp (local time)."""
    return time.mktime(time.strptime(f"{day} {clock}", "%Y%m%d %H:%M:%S")) + float(fraction)


def wait_ready(scope, timeout):
    """When the tunnel's ends all reported ready (seconds since the epoch):
    the latest READY_LINE of the processes that log one, else now (the row's
    set-up has returned: its interfaces exist and are configured)."""
    if not scope.ready_logs:
        return time.time()
    deadline = time.time() + timeout
    while True:
        scope.check_alive()
        times = []
        for path, offset in scope.ready_logs:
            try:
                with open(path, errors="replace") as f:
                    f.seek(offset)
                    m = READY_LINE.search(f.read())
            except OSError:
                m = None
            if m:
                times.append(glog_time(*m.groups()))
        if len(times) == len(scope.ready_logs):
            return max(times)
        if time.time() > deadline:
            raise RowFailed(f"a tunnel end did not log 'ready:' within {timeout:.0f} s")
        time.sleep(0.005)


def start_first_ping(scope, ns, addr, timeout):
    """Starts pinging `addr` every 5 ms from namespace `ns` as soon as a route
    to it exists (for fstun: once its TUN is up, before it reports ready),
    until the first reply (ping -c 1 -w). Returns the ping process."""
    deadline = time.time() + timeout
    while scope.run(None, ["ip", "-n", ns, "route", "get", addr], check=False).returncode != 0:
        scope.check_alive()
        if time.time() > deadline:
            raise RowFailed(f"no route to {addr} in {ns} within {timeout:.0f} s")
        time.sleep(0.005)
    out = open(os.path.join(scope.logdir, f"{scope.tag}-ping-first.txt"), "w")
    proc = subprocess.Popen(["ip", "netns", "exec", ns, "ping", "-D", "-n", "-c", "1", "-i",
                             "0.005", "-W", "1", "-w", str(int(timeout) + 5), addr],
                            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    out.close()
    scope.on_cleanup("stop first ping", lambda: stop_process(proc) if proc.poll() is None else None)
    proc.fstb_log = out.name
    return proc


def measure_first_ping(scope, proc, ready, timeout):
    """From both ends ready to the first ping reply, a user's wait after
    starting both ends. The pings (every 5 ms) run since before `ready`;
    where they started later (rows without a ready line: set-up done is
    `ready`), from the first echo sent, so that starting ping is not
    counted."""
    try:
        proc.wait(timeout=timeout + 10)
    except subprocess.TimeoutExpired:
        stop_process(proc)
    with open(proc.fstb_log) as f:
        text = f.read()
    with open(proc.fstb_log, "a") as f:
        f.write(f"both ends ready at {ready:.6f}\n")
    m = re.search(r"^\[(\d+\.\d+)\] \d+ bytes from .*icmp_seq=(\d+) .*time=([\d.]+) ms",
                  text, re.M)
    if not m:
        scope.check_alive()
        raise RowFailed(f"no first ping reply within {timeout:.0f} s of both ends being ready")
    reply, seq, rtt = float(m.group(1)), int(m.group(2)), float(m.group(3)) / 1000
    first_sent = reply - rtt - (seq - 1) * 0.005
    return {"first_ping_ms": max(0.0, (reply - max(ready, first_sent)) * 1000),
            "first_ping_started_ms": round((first_sent - ready) * 1000, 1),
            "first_ping_unanswered": seq - 1}


def percentile(values, p):
    if not values:
        return None
    values = sorted(values)
    k = (len(values) - 1) * p / 100.0
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def measure_ping(scope, ns, addr, count, rate):
    """`count` pings at `rate` per second; keys ping<rate>_p50_ms etc."""
    interval = 1.0 / rate
    deadline = int(count * interval + 15)
    res = scope.run(ns, ["ping", "-n", "-c", str(count), "-i", f"{interval:g}", "-W", "2",
                         "-w", str(deadline), addr], check=False, timeout=deadline + 10)
    rtts, duplicates = [], 0
    for line in res.stdout.splitlines():
        m = re.search(r"time=([\d.]+) ms", line)
        if m and "DUP!" in line:
            duplicates += 1  # a reply delivered twice: not a second sample
        elif m:
            rtts.append(float(m.group(1)))
    with open(os.path.join(scope.logdir, f"{scope.tag}-ping-{rate}ps.txt"), "w") as f:
        f.write(res.stdout)
    m = re.search(r"(\d+) packets transmitted", res.stdout)
    sent = int(m.group(1)) if m else count
    return {
        f"ping{rate}_p50_ms": percentile(rtts, 50),
        f"ping{rate}_p99_ms": percentile(rtts, 99),
        # With -w, ping sends until `count` replies came back or the deadline
        # passed: take the loss from its own summary.
        f"ping{rate}_sent": sent,
        f"ping{rate}_received": len(rtts),
        f"ping{rate}_loss_pct": 100.0 * (sent - len(rtts)) / sent if sent else 100.0,
        f"ping{rate}_duplicates": duplicates,
    }


def measure_pings(scope, ns, addr, rates):
    """Every rate of `rates` ((per second, count), ...), slowest first (right
    after the idle window, as a person comes back to a quiet tunnel), and
    the loss and duplicates over all of them."""
    result, sent, received, duplicates = {}, 0, 0, 0
    for rate, count in rates:
        scope.check_alive()
        r = measure_ping(scope, ns, addr, count, rate)
        result.update(r)
        sent += r[f"ping{rate}_sent"]
        received += r[f"ping{rate}_received"]
        duplicates += r[f"ping{rate}_duplicates"]
    result["ping_loss_pct"] = 100.0 * (sent - received) / sent if sent else 100.0
    result["ping_duplicates"] = duplicates
    return result


def iperf3(scope, ns, args, seconds, what):
    res = scope.run(ns, ["iperf3", "-J", "--connect-timeout", "5000", "-c", TUN_B,
                         "-t", str(seconds)] + args, check=False, timeout=seconds + 40)
    with open(os.path.join(scope.logdir, f"{scope.tag}-iperf3-{what}.json"), "w") as f:
        f.write(res.stdout + res.stderr)
    try:
        data = json.loads(res.stdout)
    except json.JSONDecodeError:
        raise RowFailed(f"iperf3 {' '.join(args)}: no JSON output: {res.stderr.strip()[-200:]}")
    if "error" in data and "end" not in data:
        raise RowFailed(f"iperf3 {' '.join(args)}: {data['error']}")
    return data


def start_iperf3_server(scope, ns):
    scope.spawn(ns, ["iperf3", "-s", "-B", TUN_B], "iperf3-server", tunnel=False)
    deadline = time.time() + 5
    while time.time() < deadline:
        if ":5201" in scope.run(ns, ["ss", "-Htln"], check=False).stdout:
            return
        time.sleep(0.05)
    raise RowFailed("iperf3 server did not start")


def kernel_drops(scope, namespaces):
    """Packets the kernel dropped on the namespaces' interfaces (e.g. a TUN's
    tx queue overflowing while its reader lags): invisible to the tunnel's
    own counters, yet each one is a TCP retransmit."""
    total = 0
    for ns in namespaces:
        res = scope.run(None, ["ip", "-n", ns, "-s", "-j", "link", "show"], check=False)
        try:
            for link in json.loads(res.stdout or "[]"):
                stats = link.get("stats64", {})
                total += stats.get("tx", {}).get("dropped", 0)
                total += stats.get("rx", {}).get("dropped", 0)
        except (json.JSONDecodeError, AttributeError):
            return None
    return total


def measure_tcp(scope, ns, seconds, namespaces):
    pids = scope.tunnel_pids()
    cpu0 = cpu_seconds(pids)
    drops0 = kernel_drops(scope, namespaces)
    data = iperf3(scope, ns, [], seconds, "tcp")
    cpu1 = cpu_seconds(pids)
    drops1 = kernel_drops(scope, namespaces)
    received = data["end"].get("sum_received", {})
    gbytes = received.get("bytes", 0) / 1e9
    result = {
        "tcp_gbps": received.get("bits_per_second", 0) / 1e9,
        "tcp_retransmits": data["end"].get("sum_sent", {}).get("retransmits"),
        "tcp_kernel_drops": drops1 - drops0 if None not in (drops0, drops1) else None,
        "cpu_s_per_gb": (cpu1 - cpu0) / gbytes if pids and gbytes > 0 else None,
        "cpu_pct": 100.0 * (cpu1 - cpu0) / seconds if pids else None,
    }
    if "error" in data:
        result["tcp_error"] = data["error"]
    return result


def measure_udp(scope, ns, seconds, rate, tcp_gbps):
    """Delivered datagrams/s of a flood; on a slow tunnel the flood can queue
    so much that iperf3's own control messages (through the same tunnel) time
    out: then once more at twice the TCP rate."""
    rates = [rate]
    if rate == "0" and tcp_gbps:
        rates.append(f"{max(10, int(2000 * tcp_gbps))}M")
    error = None
    for r in rates:
        for _ in range(3):
            time.sleep(1)  # let the TCP run's backlog drain first
            try:
                data = iperf3(scope, ns, ["-u", "-b", r, "-l", str(UDP_DATAGRAM)], seconds, "udp")
            except RowFailed as e:
                data = {"error": str(e)}
            if "busy" not in data.get("error", ""):
                break
            time.sleep(2)  # the server is still finishing the previous test
        s = data.get("end", {}).get("sum", {})
        packets, lost, secs = s.get("packets", 0), s.get("lost_packets", 0), s.get("seconds", 0)
        if "error" not in data and secs:
            return {
                "udp_kpps": (packets - lost) / secs / 1e3,
                "udp_sent_kpps": packets / secs / 1e3,
                "udp_loss_pct": s.get("lost_percent"),
                "udp_rate": "unlimited" if r == "0" else r,
                "udp_error": error,  # of the unlimited attempt, if it failed
            }
        error = data.get("error")
    return {"udp_kpps": None, "udp_error": error}


def measure_idle(scope, seconds):
    """What an idle tunnel costs one machine: wake-ups/s and CPU % of one
    core of the busiest tunnel process (each end of a real tunnel runs on
    its own machine, so per process, not summed)."""
    pids = scope.tunnel_pids()
    if not pids:
        return {"idle_wakeups_per_s": None, "idle_cpu_pct": None}
    procs = descendants(pids)
    before = {p: context_switches(p) for p in procs}
    cpu_before = {p: cpu_seconds([p], children=False) for p in procs}
    time.sleep(seconds)
    per_process, cpu_pct = {}, {}
    for p in procs:
        after = context_switches(p)
        per_process[p] = {t: (n - before[p].get(t, 0)) / seconds for t, n in after.items()}
        cpu_pct[p] = 100.0 * (cpu_seconds([p], children=False) - cpu_before[p]) / seconds
    # Per process: the busiest one (a tunnel of two daemons reports the worse).
    busiest_pid = max(per_process, key=lambda p: sum(per_process[p].values()))
    busiest = per_process[busiest_pid]
    return {"idle_wakeups_per_s": sum(busiest.values()),
            "idle_cpu_pct": max(cpu_pct.values()),
            "idle_wakeups_by_thread": {t: round(r, 1) for t, r in busiest.items() if r > 0}}


# --------------------------------------------------------------------------
# Rows: each sets up a tunnel between namespaces A and B of `scope`.
# --------------------------------------------------------------------------
def need(*tools):
    for tool in tools:
        if not shutil.which(tool):
            raise Skip(f"{tool} not installed")


def add_veth(scope, a, b, ifa, ifb, addr_a, addr_b, mtu):
    scope.run(None, ["ip", "-n", a, "link", "add", ifa, "mtu", str(mtu), "type", "veth",
                     "peer", "name", ifb, "netns", b, "mtu", str(mtu)])
    scope.run(None, ["ip", "-n", a, "addr", "add", f"{addr_a}/24", "dev", ifa])
    scope.run(None, ["ip", "-n", b, "addr", "add", f"{addr_b}/24", "dev", ifb])
    scope.run(None, ["ip", "-n", a, "link", "set", ifa, "up"])
    scope.run(None, ["ip", "-n", b, "link", "set", ifb, "up"])


def underlay(scope, a, b):
    add_veth(scope, a, b, "ulA", "ulB", UNDER_A, UNDER_B, 9000)


def row_veth(scope, a, b, ctx):
    add_veth(scope, a, b, "vA", "vB", TUN_A, TUN_B, TUNNEL_MTU)
    return {"kernel_only": True}


def row_socat(scope, a, b, ctx):
    need("socat")
    underlay(scope, a, b)
    for ns, me, peer, ifname, proc in ((a, TUN_A, None, "stA", "socat-a"),
                                       (b, TUN_B, None, "stB", "socat-b")):
        local, remote = (UNDER_A, UNDER_B) if ns == a else (UNDER_B, UNDER_A)
        scope.spawn(ns, ["socat", "-b", "65536",
                         f"TUN:{me}/24,tun-name={ifname},tun-type=tun,iff-no-pi,iff-up",
                         f"UDP-DATAGRAM:{remote}:4789,bind={local}:4789"], proc)
    time.sleep(0.5)
    for ns, ifname in ((a, "stA"), (b, "stB")):
        scope.run(ns, ["ip", "link", "set", ifname, "mtu", str(TUNNEL_MTU)])
    return {}


def row_wireguard(scope, a, b, ctx):
    need("wireguard-go")
    underlay(scope, a, b)
    # The UAPI socket lives in /var/run/wireguard/<ifname>.sock, shared by all
    # namespaces: the names carry our pid.
    names = {a: f"wg{os.getpid() % 1000000}a", b: f"wg{os.getpid() % 1000000}b"}
    keydir = scope.tmpdir(name="wgkeys")
    keys = {}
    for ns in (a, b):
        priv, pub = wireguard_keypair(scope, keydir, ns)
        keys[ns] = (priv, pub)
    env = dict(os.environ, WG_PROCESS_FOREGROUND="1", LOG_LEVEL="error")
    for ns in (a, b):
        scope.spawn(ns, ["wireguard-go", "-f", names[ns]], f"wireguard-go-{ns[-1]}", env=env)
    deadline = time.time() + 10
    while not all(os.path.exists(f"/var/run/wireguard/{n}.sock") for n in names.values()):
        scope.check_alive()
        if time.time() > deadline:
            raise RowFailed("wireguard-go did not create its UAPI socket")
        time.sleep(0.1)
    for ns, me, local in ((a, TUN_A, UNDER_A), (b, TUN_B, UNDER_B)):
        peer_ns = b if ns == a else a
        peer_tun = TUN_B if ns == a else TUN_A
        peer_under = UNDER_B if ns == a else UNDER_A
        configure_wireguard(scope, ns, names[ns], keys[ns][0], keys[peer_ns][1],
                            f"{peer_under}:51820", f"{peer_tun}/32")
        scope.run(ns, ["ip", "addr", "add", f"{me}/24", "dev", names[ns]])
        scope.run(ns, ["ip", "link", "set", names[ns], "mtu", str(TUNNEL_MTU), "up"])
    return {"note": "configured with " + ("wg" if shutil.which("wg") else "its UAPI socket")}


def wireguard_keypair(scope, keydir, ns):
    """Returns (private, public) keys in base64."""
    if shutil.which("wg"):
        priv = scope.run(None, ["wg", "genkey"]).stdout.strip()
        pub = subprocess.run(["wg", "pubkey"], input=priv, capture_output=True, text=True,
                             check=True, timeout=10).stdout.strip()
        return priv, pub
    # Without wireguard-tools: an X25519 key pair from openssl (raw keys are
    # the last 32 bytes of the DER encodings).
    import base64
    pem = os.path.join(keydir, f"{ns}.pem")
    scope.run(None, ["openssl", "genpkey", "-algorithm", "X25519", "-out", pem])
    priv_der = subprocess.run(["openssl", "pkey", "-in", pem, "-outform", "DER"],
                              capture_output=True, check=True, timeout=10).stdout
    pub_der = subprocess.run(["openssl", "pkey", "-in", pem, "-pubout", "-outform", "DER"],
                             capture_output=True, check=True, timeout=10).stdout
    return (base64.b64encode(priv_der[-32:]).decode(),
            base64.b64encode(pub_der[-32:]).decode())


def configure_wireguard(scope, ns, ifname, priv, peer_pub, endpoint, allowed):
    if shutil.which("wg"):
        keyfile = os.path.join(tempfile.gettempdir(), f"{PREFIX}{os.getpid()}{ifname}.key")
        with open(os.open(keyfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
            f.write(priv + "\n")
        try:
            scope.run(ns, ["wg", "set", ifname, "private-key", keyfile, "listen-port", "51820",
                           "peer", peer_pub, "endpoint", endpoint, "allowed-ips", allowed])
        finally:
            os.unlink(keyfile)
        return
    # The UAPI protocol (wireguard.com/xplatform): hex keys, one key=value a line.
    import base64
    import socket
    hexkey = lambda k: base64.b64decode(k).hex()
    request = (f"set=1\nprivate_key={hexkey(priv)}\nlisten_port=51820\n"
               f"public_key={hexkey(peer_pub)}\nendpoint={endpoint}\n"
               f"allowed_ip={allowed}\n\n")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        s.connect(f"/var/run/wireguard/{ifname}.sock")
        s.sendall(request.encode())
        reply = s.recv(4096).decode()
    if "errno=0" not in reply:
        raise RowFailed(f"wireguard-go UAPI set failed: {reply.strip()}")


def row_openvpn(scope, a, b, ctx):
    need("openvpn")
    underlay(scope, a, b)
    for ns, me, peer, local, remote, ifname in ((a, TUN_A, TUN_B, UNDER_A, UNDER_B, "ovA"),
                                                (b, TUN_B, TUN_A, UNDER_B, UNDER_A, "ovB")):
        scope.spawn(ns, ["openvpn", "--dev", ifname, "--dev-type", "tun",
                         "--proto", "udp", "--local", local, "--lport", "1194",
                         "--remote", remote, "--rport", "1194",
                         "--ifconfig", me, peer, "--tun-mtu", str(TUNNEL_MTU),
                         "--cipher", "none", "--auth", "none", "--data-ciphers", "none",
                         "--disable-dco", "--verb", "3", "--mute-replay-warnings"],
                    f"openvpn-{ns[-1]}")
    return {"note": "p2p, no crypto"}


def fstun_transports(ctx):
    if not ctx.get("fstun"):
        return set()
    if "transports" not in ctx:
        res = subprocess.run([ctx["fstun"], "--list_transports"], capture_output=True,
                             text=True, timeout=10)
        found = set()
        for line in (res.stdout + res.stderr).splitlines():
            m = re.match(r"^\s*([a-z0-9_-]+)\b", line)
            if m:
                found.add(m.group(1))
        ctx["transports"] = found
    return ctx["transports"]


def row_memory(scope, a, b, ctx, offload=False, seal=False):
    bridge = ctx.get("memory_bridge")
    if not bridge or not os.access(bridge, os.X_OK):
        raise Skip("bench/memory_bridge not built (needs tun/)")
    cmd = [bridge, f"--netns_a=/run/netns/{a}", f"--netns_b=/run/netns/{b}",
           f"--ip_a={TUN_A}/24", f"--ip_b={TUN_B}/24", f"--mtu={TUNNEL_MTU}",
           f"--offload={'true' if offload else 'false'}"]
    if seal:
        res = subprocess.run([bridge, "--helpfull"], capture_output=True, text=True, timeout=10)
        if "-seal" not in res.stdout + res.stderr:
            raise Skip("this memory_bridge has no --seal")
        cmd.append("--seal")
    scope.spawn(a, cmd + ctx["memory_bridge_flags"], "memory-bridge")
    return {"note": "one process, two TUNs" + (", TUN offloads" if offload else "") +
            (", every frame sealed" if seal else "")}


def row_memory_offload(scope, a, b, ctx):
    return row_memory(scope, a, b, ctx, offload=True)


def row_memory_offload_key(scope, a, b, ctx):
    return row_memory(scope, a, b, ctx, offload=True, seal=True)


def require_fstun_fs(ctx):
    if not ctx.get("fstun"):
        raise Skip("fstun not built (//cmd:fstun)")
    if "fs" not in fstun_transports(ctx):
        raise Skip("fstun has no 'fs' transport yet (--list_transports)")


def start_fstun_pair(scope, a, b, ctx, dir_a, dir_b, extra=(), extra_a=(), extra_b=()):
    require_fstun_fs(ctx)
    fstun = ctx["fstun"]
    for ns, role, ip, ifname, d, own in ((a, "server", TUN_A, "fsA", dir_a, extra_a),
                                         (b, "client", TUN_B, "fsB", dir_b, extra_b)):
        scope.spawn(ns, [fstun, f"--role={role}", "--transport=fs", f"--ifname={ifname}",
                         f"--ip={ip}/24", f"--mtu={TUNNEL_MTU}", f"--dirpath={d}"]
                    + list(extra) + list(own) + ctx["fstun_flags"], f"fstun-{role}")
        scope.expect_ready_line(f"fstun-{role}")


def row_fs_tmpfs(scope, a, b, ctx):
    require_fstun_fs(ctx)
    d = scope.tmpdir(base="/dev/shm", name="dir")
    start_fstun_pair(scope, a, b, ctx, d, d)
    return {"note": "/dev/shm"}


def row_fs_tmpfs_keyed(scope, a, b, ctx):
    """fs over tmpfs with a key: every frame sealed (--cipher=auto: XAES-256-GCM where
    the CPU has AES instructions, else XChaCha20-Poly1305)."""
    require_fstun_fs(ctx)
    d = scope.tmpdir(base="/dev/shm", name="dir")
    keydir = scope.tmpdir(base="/dev/shm", name="key")
    key = os.path.join(keydir, "key")
    out = subprocess.run([ctx["fstun"], "genkey"], capture_output=True, text=True, timeout=10)
    if out.returncode != 0:
        raise Skip(f"fstun genkey failed: {out.stderr.strip()}")
    fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(out.stdout)
    start_fstun_pair(scope, a, b, ctx, d, d, extra=[f"--key_file={key}"])
    return {"note": "/dev/shm, --key_file"}


def row_fs_tmpfs_peer_keys(scope, a, b, ctx, cipher=None):
    """fs over tmpfs with per-peer keys (Noise IK sessions; --cipher=auto:
    AES-256-GCM per frame where the CPU has AES instructions, else
    ChaCha20-Poly1305; TUN offloads on, as unkeyed: the identity layer passes
    the fs transport's super-packets through)."""
    require_fstun_fs(ctx)
    d = scope.tmpdir(base="/dev/shm", name="dir")
    keydir = scope.tmpdir(base="/dev/shm", name="keys")
    pub = {}
    for side in ("a", "b"):
        out = subprocess.run([ctx["fstun"], "genkey"], capture_output=True, text=True, timeout=10)
        if out.returncode != 0:
            raise Skip(f"fstun genkey failed: {out.stderr.strip()}")
        fd = os.open(os.path.join(keydir, side), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(out.stdout)
        res = subprocess.run([ctx["fstun"], "pubkey"], input=out.stdout, capture_output=True,
                             text=True, timeout=10)
        if res.returncode != 0:
            raise Skip(f"fstun pubkey failed: {res.stderr.strip()}")
        pub[side] = res.stdout.strip()
    extra = [f"--cipher={cipher}"] if cipher else []
    start_fstun_pair(scope, a, b, ctx, d, d, extra=extra,
                     extra_a=[f"--private_key_file={keydir}/a", f"--peer={pub['b']},{TUN_B}/32"],
                     extra_b=[f"--private_key_file={keydir}/b", f"--peer={pub['a']},0.0.0.0/0"])
    return {"note": "/dev/shm, --private_key_file + --peer" + (f", --cipher={cipher}" if cipher else "")}


def row_fs_tmpfs_peer_keys_chacha(scope, a, b, ctx):
    """The per-peer row with ChaCha20-Poly1305 forced (what CPUs without AES
    instructions get, and fstun's only cipher before --cipher)."""
    return row_fs_tmpfs_peer_keys(scope, a, b, ctx, cipher="chacha20-poly1305")


def row_fs_disk(scope, a, b, ctx):
    require_fstun_fs(ctx)
    d = scope.tmpdir(base=ctx["disk_dir"], name="dir")
    start_fstun_pair(scope, a, b, ctx, d, d)
    return {"note": "project disk"}


# What a share moves by itself: every byte a tunnel carries through it is
# written by one end and read by the other, so its plain file throughput
# bounds any design's TCP there (issue 11: bindfs and sshfs targets).
SHARE_PROBE_BYTES = 128 << 20


def measure_share(write_dir, read_dir):
    """Writes one file of SHARE_PROBE_BYTES through `write_dir` in 1 MiB
    writes (incompressible; close() waits for a FUSE daemon's writes), reads
    it through `read_dir` (a view that has not cached it) and removes it;
    then writes it again with O_DIRECT (no page cache: FUSE passes bigger
    requests), where the share takes O_DIRECT."""
    block = mmap.mmap(-1, 1 << 20)  # page-aligned, as O_DIRECT wants
    block.write(os.urandom(1 << 20))
    name = "share-probe.bin"
    path_w = os.path.join(write_dir, name)

    def write_file(flags):
        t0 = time.time()
        fd = os.open(path_w, os.O_WRONLY | os.O_CREAT | os.O_EXCL | flags, 0o600)
        try:
            for _ in range(SHARE_PROBE_BYTES // len(block)):
                if os.write(fd, block) != len(block):
                    raise RowFailed("share probe: short write")
        finally:
            os.close(fd)
        return SHARE_PROBE_BYTES * 8 / (time.time() - t0) / 1e9

    result = {"share_write_gbps": write_file(0)}
    t1, got = time.time(), 0
    with open(os.path.join(read_dir, name), "rb", buffering=0) as f:
        while chunk := f.read(1 << 20):
            got += len(chunk)
    result["share_read_gbps"] = SHARE_PROBE_BYTES * 8 / (time.time() - t1) / 1e9
    os.unlink(path_w)
    if got != SHARE_PROBE_BYTES:
        raise RowFailed(f"share probe: read {got} of {SHARE_PROBE_BYTES} bytes back")
    try:
        result["share_write_direct_gbps"] = write_file(os.O_DIRECT)
    except OSError:
        result["share_write_direct_gbps"] = None  # the share refuses O_DIRECT
    finally:
        if os.path.exists(path_w):
            os.unlink(path_w)
    return result


def row_fs_bindfs(scope, a, b, ctx):
    require_fstun_fs(ctx)
    need("bindfs", "fusermount3")
    d = scope.tmpdir(base=ctx["disk_dir"], name="dir")
    views = []
    for side in "ab":
        v = scope.tmpdir(base=ctx["disk_dir"], name=f"view{side}")
        scope.mount(["bindfs", d, v], v)
        views.append(v)
    share = measure_share(views[0], views[1])
    start_fstun_pair(scope, a, b, ctx, views[0], views[1])
    return {"note": "two bindfs views, polling", **share}


def row_fs_sshfs(scope, a, b, ctx):
    require_fstun_fs(ctx)
    need("sshfs", "fusermount3", "ssh-keygen")
    sshd = shutil.which("sshd") or "/usr/sbin/sshd"
    if not os.access(sshd, os.X_OK):
        raise Skip("sshd (openssh-server) not installed")
    s = scope.netns("s")
    keys = scope.tmpdir(name="ssh")
    for key in ("host", "user"):
        scope.run(None, ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                         os.path.join(keys, key)])
    shutil.copy(os.path.join(keys, "user.pub"), os.path.join(keys, "authorized_keys"))
    config = os.path.join(keys, "sshd_config")
    with open(config, "w") as f:
        f.write(f"ListenAddress 127.0.0.1:22\nHostKey {keys}/host\n"
                f"AuthorizedKeysFile {keys}/authorized_keys\nPermitRootLogin prohibit-password\n"
                "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n"
                f"StrictModes no\nPidFile {keys}/sshd.pid\n"
                "Subsystem sftp internal-sftp\n")
    os.makedirs("/run/sshd", exist_ok=True)
    scope.spawn(s, [sshd, "-D", "-e", "-f", config], "sshd", tunnel=False)
    d = scope.tmpdir(base=ctx["disk_dir"], name="dir")
    ssh = (f"ip netns exec {s} ssh -i {keys}/user -o StrictHostKeyChecking=no "
           f"-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR")
    time.sleep(0.5)
    views = []
    for side in "ab":
        v = scope.tmpdir(base=ctx["disk_dir"], name=f"sshfs{side}")
        scope.mount(["sshfs", "-o", f"ssh_command={ssh}", f"root@127.0.0.1:{d}", v], v,
                    timeout=30)
        views.append(v)
    share = measure_share(views[0], views[1])
    start_fstun_pair(scope, a, b, ctx, views[0], views[1])
    return {"note": "two sshfs mounts of one folder, sshd on loopback", **share}


def row_stream_unix(scope, a, b, ctx):
    """fstun's stream transport: records over one Unix socket between the
    namespaces (the server listens, the client connects)."""
    if not ctx.get("fstun"):
        raise Skip("fstun not built (//cmd:fstun)")
    if "stream" not in fstun_transports(ctx):
        raise Skip("fstun has no 'stream' transport yet (--list_transports)")
    sock = os.path.join(scope.tmpdir(base="/dev/shm", name="sock"), "s")
    for ns, role, ip, ifname, addr in ((a, "server", TUN_A, "stA", f"listen:unix:{sock}"),
                                       (b, "client", TUN_B, "stB", f"unix:{sock}")):
        scope.spawn(ns, [ctx["fstun"], f"--role={role}", "--transport=stream",
                         f"--ifname={ifname}", f"--ip={ip}/24", f"--mtu={TUNNEL_MTU}",
                         f"--stream_address={addr}"] + ctx["fstun_flags"], f"fstun-{role}")
        scope.expect_ready_line(f"fstun-{role}")
        for _ in range(100):  # the client connects once the server listens
            if os.path.exists(sock):
                break
            time.sleep(0.1)
    return {"note": "one Unix socket"}


def row_python_demo(scope, a, b, ctx):
    demo = ctx.get("python_demo")
    if not demo:
        raise Skip("no --python-demo PATH given")
    if not os.path.exists(demo):
        raise Skip(f"{demo} not found")
    d = scope.tmpdir(base="/dev/shm", name="dir")
    for ns, flag, ip, ifname in ((a, "--server", TUN_A, "pyA"), (b, "--client", TUN_B, "pyB")):
        scope.spawn(ns, [sys.executable, demo, flag, f"--ifname={ifname}", f"--ip={ip}/24",
                         f"--dirpath={d}"], f"python-{flag[2:]}")
    return {"note": "tmpfs"}


# name, label, setup, options
ROWS = [
    ("veth", "veth (kernel limit)", row_veth, {}),
    ("socat", "socat TUN<->UDP", row_socat, {}),
    ("wireguard-go", "wireguard-go (Debian)", row_wireguard, {}),
    ("openvpn", "OpenVPN p2p, no crypto", row_openvpn, {}),
    ("fstun-memory", "fstun core: 2 TUNs + memory", row_memory, {}),
    ("fstun-memory-offload", "fstun core + TUN offloads", row_memory_offload, {}),
    ("fstun-memory-offload-key", "fstun core + TUN offloads, sealed", row_memory_offload_key, {}),
    ("fstun-fs-tmpfs", "fstun fs, tmpfs", row_fs_tmpfs, {}),
    ("fstun-fs-tmpfs-key", "fstun fs, tmpfs, with a key", row_fs_tmpfs_keyed, {}),
    ("fstun-fs-tmpfs-peer", "fstun fs, tmpfs, per-peer keys", row_fs_tmpfs_peer_keys, {}),
    ("fstun-fs-tmpfs-peer-chacha", "fstun fs, tmpfs, per-peer keys, ChaCha20",
     row_fs_tmpfs_peer_keys_chacha, {}),
    ("fstun-fs-disk", "fstun fs, project disk", row_fs_disk, {}),
    ("fstun-fs-bindfs", "fstun fs, bindfs views (polling)", row_fs_bindfs, {}),
    ("fstun-fs-sshfs", "fstun fs, 2 sshfs mounts", row_fs_sshfs,
     {"up_timeout": 30, "extra_ping_rates": SSHFS_EXTRA_PING_RATES}),
    ("fstun-stream-unix", "fstun stream, Unix socket", row_stream_unix, {}),
    ("python-demo", "python demo, tmpfs", row_python_demo, {"udp_rate": "2M", "up_timeout": 30}),
]


def load_average():
    """1-minute load average: other work on the machine skews a row."""
    try:
        with open("/proc/loadavg") as f:
            return float(f.read().split()[0])
    except (OSError, ValueError):
        return None


def run_row(name, label, setup, options, args, ctx, logdir):
    result = {"row": name, "label": label, "loadavg_before": load_average()}
    tag = str(ROWS.index((name, label, setup, options)))
    t0 = time.time()
    with Scope(tag, logdir) as scope:
        try:
            a, b = scope.netns("a"), scope.netns("b")
            result.update(setup(scope, a, b, ctx) or {})
            up_timeout = options.get("up_timeout", 15)
            first_ping = start_first_ping(scope, a, TUN_B, up_timeout)
            ready = wait_ready(scope, up_timeout)
            result.update(measure_first_ping(scope, first_ping, ready, up_timeout))
            start_iperf3_server(scope, b)
            time.sleep(0.5)
            result.update(measure_idle(scope, args.idle_seconds))
            extra = tuple((r, n // 2 if args.quick else n)
                          for r, n in options.get("extra_ping_rates", ()))
            result.update(measure_pings(scope, a, TUN_B, args.ping_rates + extra))
            result["extra_ping_rates"] = [r for r, _ in extra]
            scope.check_alive()
            result.update(measure_tcp(scope, a, args.tcp_seconds, (a, b)))
            scope.check_alive()
            result.update(measure_udp(scope, a, args.udp_seconds,
                                      options.get("udp_rate", "0"), result.get("tcp_gbps")))
            scope.check_alive()
            if not result.get("kernel_only"):
                result["peak_rss_mib"] = peak_rss_mib(scope.tunnel_pids())
            if args.asleep_seconds > 0 and scope.tunnel_pids():
                # A tunnel nobody has used for a while (fstun's "asleep"
                # schedule starts after 30 s): its steady cost.
                time.sleep(args.asleep_seconds)
                asleep = measure_idle(scope, args.idle_seconds)
                result["asleep_wakeups_per_s"] = asleep["idle_wakeups_per_s"]
                result["asleep_cpu_pct"] = asleep["idle_cpu_pct"]
            result["status"] = "ok"
        except Skip as e:
            result.update(status="skipped", reason=str(e))
        except (RowFailed, subprocess.SubprocessError, OSError) as e:
            result.update(status="failed", reason=str(e))
    result["row_seconds"] = round(time.time() - t0, 1)
    return result


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------
def median(values):
    values = sorted(values)
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def combine_runs(row_runs):
    """One result per row: the median of each figure over the passes that worked."""
    ok = [r for r in row_runs if r.get("status") == "ok"]
    if not ok:
        return row_runs[0]
    combined = dict(ok[0])
    for key, value in ok[0].items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            values = [r[key] for r in ok if isinstance(r.get(key), (int, float))]
            combined[key] = median(values)
    combined["passes_ok"] = len(ok)
    combined["passes"] = len(row_runs)
    combined["tcp_gbps_all"] = [round(r.get("tcp_gbps") or 0, 4) for r in ok]
    failures = [r.get("reason") for r in row_runs if r.get("status") != "ok"]
    if failures:
        combined["failed_passes"] = failures
    return combined


def ratio(value, reference):
    if value is None or not reference:
        return None
    return value / reference


RATIO_KEYS = ("tcp_gbps", "udp_kpps", "cpu_s_per_gb", "first_ping_ms") + tuple(
    f"ping{rate}_{p}_ms" for rate, _ in PING_RATES for p in ("p50", "p99"))


def add_ratios(results):
    by_name = {r["row"]: r for r in results if r.get("status") == "ok"}
    refs = {"veth": by_name.get("veth", {}), "wg": by_name.get("wireguard-go", {})}
    for r in results:
        for ref_name, ref in refs.items():
            for key in RATIO_KEYS:
                r[f"{key}_x_{ref_name}"] = ratio(r.get(key), ref.get(key))


def fmt(value, digits=2):
    if value is None:
        return "–"
    if isinstance(value, float):
        if value == 0:
            return "0"
        if abs(value) >= 100:
            return f"{value:.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        if abs(value) >= 0.01:
            return f"{value:.{digits}f}"
        return f"{value:.2g}"
    return str(value)


def with_ratios(r, key):
    v = r.get(key)
    if v is None:
        return "–"
    return f"{fmt(v)} ({fmt(r.get(key + '_x_veth'))} / {fmt(r.get(key + '_x_wg'))})"


def dup_txt(r):
    return f" ({r['ping_duplicates']} dup)" if r.get("ping_duplicates") else ""


def p50_p99(r, rate):
    p50, p99 = r.get(f"ping{rate}_p50_ms"), r.get(f"ping{rate}_p99_ms")
    return "–" if p50 is None else f"{fmt(p50)} / {fmt(p99)}"


def markdown_table(results):
    """The main table: one line per row, every figure once."""
    head = ("| row | TCP Gbit/s (×veth / ×wg) | UDP kpps @1400 B (×veth / ×wg) | "
            + " | ".join(f"ping {rate}/s p50 / p99 ms" for rate, _ in PING_RATES)
            + " | first ping ms | loss % | CPU s/GB (×wg) | peak RSS MiB | "
            "idle wake-ups/s | idle CPU % |")
    columns = head.count("|") - 1
    lines = [head, "|" + "---|" * columns]
    for r in results:
        if r.get("status") != "ok":
            lines.append(f"| {r['label']} | {r.get('status')}: {r.get('reason', '')} |"
                         + " |" * (columns - 2))
            continue
        cpu = r.get("cpu_s_per_gb")
        cpu_txt = "–" if cpu is None else f"{fmt(cpu)} ({fmt(r.get('cpu_s_per_gb_x_wg'))})"
        lines.append(
            f"| {r['label']} | {with_ratios(r, 'tcp_gbps')} | {with_ratios(r, 'udp_kpps')} | "
            + " | ".join(p50_p99(r, rate) for rate, _ in PING_RATES)
            + f" | {fmt(r.get('first_ping_ms'), 1)} | "
            f"{fmt(r.get('ping_loss_pct'), 1)}{dup_txt(r)} | {cpu_txt} | {fmt(r.get('peak_rss_mib'), 1)} | "
            f"{fmt(r.get('idle_wakeups_per_s'), 1)} | {fmt(r.get('idle_cpu_pct'), 2)} |")
    return "\n".join(lines)


def share_table(results):
    """Rows over a share: what the share moves by itself, beside fstun's TCP."""
    lines = []
    for r in results:
        if r.get("status") != "ok" or r.get("share_write_gbps") is None:
            continue
        tcp, w = r.get("tcp_gbps"), r["share_write_gbps"]
        lines.append(f"| {r['label']} | {fmt(w)} | {fmt(r.get('share_write_direct_gbps'))} | "
                     f"{fmt(r.get('share_read_gbps'))} | "
                     f"{fmt(tcp)} ({fmt(tcp / w if tcp is not None and w else None)}) |")
    if not lines:
        return ""
    return "\n".join(["| row | share write Gbit/s | with O_DIRECT | share read Gbit/s | "
                      "fstun TCP Gbit/s (× share write) |", "|---|---|---|---|---|"] + lines)


def extra_rates_table(results):
    """The rates some rows add (extra_ping_rates), one line per row and rate."""
    lines = []
    for r in results:
        if r.get("status") != "ok":
            continue
        for rate in r.get("extra_ping_rates") or ():
            lines.append(f"| {r['label']} | {rate}/s | {p50_p99(r, rate)} |")
    if not lines:
        return ""
    return "\n".join(["| row | rate | ping p50 / p99 ms |", "|---|---|---|"] + lines)


def latency_ratio_table(results):
    """Latency against veth and wireguard-go from the same run: p50 (and
    p99) at each rate, and the first ping; above 1 is slower."""
    head = ("| row | " + " | ".join(f"ping {rate}/s p50 ×veth / ×wg | p99 ×wg"
                                    for rate, _ in PING_RATES)
            + " | first ping ×wg |")
    columns = head.count("|") - 1
    lines = [head, "|" + "---|" * columns]
    for r in results:
        if r.get("status") != "ok":
            continue
        cells = []
        for rate, _ in PING_RATES:
            key = f"ping{rate}_p50_ms"
            cells.append(f"{fmt(r.get(key + '_x_veth'))} / {fmt(r.get(key + '_x_wg'))}")
            cells.append(fmt(r.get(f"ping{rate}_p99_ms_x_wg")))
        lines.append(f"| {r['label']} | " + " | ".join(cells)
                     + f" | {fmt(r.get('first_ping_ms_x_wg'))} |")
    return "\n".join(lines)


CSV_KEYS = ["row", "label", "status", "reason", "tcp_gbps", "tcp_gbps_x_veth", "tcp_gbps_x_wg",
            "tcp_retransmits", "tcp_kernel_drops", "udp_kpps", "udp_kpps_x_veth", "udp_kpps_x_wg", "udp_sent_kpps",
            "udp_loss_pct", "udp_rate", "udp_error", "tcp_error"] + [
            f"ping{rate}_{k}" for rate, _ in PING_RATES
            for k in ("p50_ms", "p50_ms_x_veth", "p50_ms_x_wg", "p99_ms", "p99_ms_x_veth",
                      "p99_ms_x_wg", "loss_pct", "duplicates")] + [
            f"ping{rate}_{k}" for rate, _ in SSHFS_EXTRA_PING_RATES
            for k in ("p50_ms", "p99_ms", "loss_pct")] + [
            "ping_loss_pct", "ping_duplicates", "first_ping_ms", "first_ping_ms_x_veth",
            "first_ping_ms_x_wg", "first_ping_started_ms", "first_ping_unanswered", "cpu_s_per_gb", "cpu_s_per_gb_x_wg",
            "cpu_pct", "peak_rss_mib", "idle_wakeups_per_s", "idle_cpu_pct", "asleep_wakeups_per_s", "asleep_cpu_pct",
            "share_write_gbps",
            "share_write_direct_gbps", "share_read_gbps", "note",
            "loadavg_before", "row_seconds", "passes_ok", "passes", "tcp_gbps_all"]


def machine_info():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": round(mem_gib, 1),
            "kernel": platform.release(), "date": datetime.datetime.utcnow().isoformat() + "Z"}


def tool_versions():
    versions = {}
    probes = {"iperf3": ["iperf3", "--version"], "socat": ["socat", "-V"],
              "wireguard-go": ["wireguard-go", "--version"],
              "openvpn": ["openvpn", "--version"]}
    for name, argv in probes.items():
        if shutil.which(argv[0]):
            try:
                out = subprocess.run(argv, capture_output=True, text=True, timeout=5)
                text = (out.stdout + out.stderr).strip().splitlines()
                line = next((l for l in text if re.search(r"\d+\.\d+", l)), "")
                versions[name] = line.strip()[:80]
            except Exception:
                pass
    return versions


def write_chart(results, out_dir):
    ok = [r for r in results if r.get("status") == "ok"]
    if not ok or not shutil.which("gnuplot"):
        return []
    data = os.path.join(out_dir, "chart.dat")
    with open(data, "w") as f:
        f.write("# label tcp_gbps udp_kpps ping1_p50_ms ping50_p50_ms\n")
        for r in ok:
            label = r["row"]
            f.write(f"\"{label}\" {r.get('tcp_gbps') or 0:.6f} {r.get('udp_kpps') or 0:.6f} "
                    f"{r.get('ping1_p50_ms') or 0:.6f} {r.get('ping50_p50_ms') or 0:.6f}\n")
    made = []
    for term, ext in (("svg size 1100,900 dynamic font 'sans,11'", "svg"),
                      ("png size 1100,900", "png")):
        out = os.path.join(out_dir, f"chart.{ext}")
        script = f"""
set terminal {term}
set output '{out}'
set multiplot layout 3,1 title 'fstun benchmark ({time.strftime('%Y-%m-%d')}), log scales'
set style data histograms
set style fill solid 0.8 border -1
set boxwidth 0.8
set logscale y
set grid ytics
set xtics rotate by -20 scale 0 font ',9'
unset key
set ylabel 'TCP Gbit/s'
plot '{data}' using 2:xtic(1) lc rgb '#3b6ea8'
set ylabel 'UDP kpps (1400 B)'
plot '{data}' using 3:xtic(1) lc rgb '#5a9e4b'
set ylabel 'ping p50 ms'
set key top left
plot '{data}' using 4:xtic(1) lc rgb '#c0504d' title '1/s', '' using 5 lc rgb '#e8a33d' title '50/s'
unset multiplot
"""
        res = subprocess.run(["gnuplot"], input=script, capture_output=True, text=True,
                             timeout=30)
        if res.returncode == 0:
            made.append(out)
        else:
            log(f"gnuplot ({ext}): {res.stderr.strip()[-200:]}")
    return made


def write_report(results, out_dir, args):
    add_ratios(results)
    info = {"machine": machine_info(), "tools": tool_versions(),
            "settings": {"fstun_flags": args.fstun_flag,
                         "memory_bridge_flags": args.memory_bridge_flag, "repeat": args.repeat,
                         "nice": args.nice,
                         "tcp_seconds": args.tcp_seconds, "udp_seconds": args.udp_seconds,
                         "ping_rates": [list(r) for r in args.ping_rates],
                         "idle_seconds": args.idle_seconds,
                         "asleep_seconds": args.asleep_seconds,
                         "tunnel_mtu": TUNNEL_MTU, "udp_datagram": UDP_DATAGRAM}}
    with open(os.path.join(out_dir, "results.json"), "w") as f:
        json.dump({**info, "rows": results}, f, indent=2)
    with open(os.path.join(out_dir, "results.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=CSV_KEYS, extrasaction="ignore")
        w.writeheader()
        for r in results:
            w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v)
                        for k, v in r.items()})
    m = info["machine"]
    s = info["settings"]
    table = markdown_table(results)
    md = (f"# fstun benchmark, {m['date']}\n\n"
          f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, "
          f"kernel {m['kernel']}.\n"
          f"Tools: {'; '.join(f'{k}: {v}' for k, v in info['tools'].items())}.\n"
          f"Settings: TCP {s['tcp_seconds']} s single stream, UDP {s['udp_seconds']} s "
          f"at {UDP_DATAGRAM}-byte datagrams, pings "
          f"{', '.join(f'{n} at {r}/s' for r, n in s['ping_rates'])}, idle "
          f"{s['idle_seconds']} s, tunnel MTU {TUNNEL_MTU}"
          f"{', fstun flags ' + ' '.join(s['fstun_flags']) if s['fstun_flags'] else ''}"
          f"{', memory_bridge flags ' + ' '.join(s['memory_bridge_flags']) if s['memory_bridge_flags'] else ''}."
          f"{' Medians of ' + str(s['repeat']) + ' passes.' if s['repeat'] > 1 else ''}"
          f"{' Niceness ' + str(s['nice']) + '.' if s['nice'] else ''}\n\n"
          f"{table}\n\n"
          "Ratios in brackets: against veth and against wireguard-go from the same run. "
          "Ping: p50 / p99 of the replies at each rate (slowest rate first, right after "
          "the idle window). First ping: from both ends reporting ready (fstun's "
          "'ready:' log line; for the other rows, their set-up done) to the first reply "
          "of pings sent every 5 ms since the tunnel's route exists. CPU: tunnel processes only (user+system, incl. the "
          "kernel work done in their TUN writes) per GB of TCP payload. Idle: context "
          "switches per second of the busiest tunnel process (all threads) and its CPU % "
          "of one core, over the idle window. Load average before each row: "
          + ", ".join(f"{r['row']} {r.get('loadavg_before')}" for r in results) + ".\n\n"
          "Latency against veth and wireguard-go (same run; above 1 is slower):\n\n"
          f"{latency_ratio_table(results)}\n")
    extra = extra_rates_table(results)
    if extra:
        md += f"\nPing at the rates some rows add:\n\n{extra}\n"
    shares = share_table(results)
    if shares:
        md += ("\nThe shares by themselves (before fstun starts: one 128 MiB file written "
               "through one end's view in 1 MiB writes, read through the other's, then written "
               "again with O_DIRECT; every byte "
               "a tunnel carries is written by one end and read by the other, so this bounds "
               "any design there):\n\n" + shares + "\n")
    asleep = [r for r in results if r.get("status") == "ok" and r.get("asleep_cpu_pct") is not None]
    if asleep:
        md += (f"\nIdle cost of a tunnel nobody has used for {s['asleep_seconds']} s (at the end "
               "of each row; same measure as the idle column):\n\n"
               "| row | wake-ups/s | CPU % |\n|---|---|---|\n"
               + "".join(f"| {r['label']} | {fmt(r.get('asleep_wakeups_per_s'), 1)} | "
                         f"{fmt(r.get('asleep_cpu_pct'), 2)} |\n" for r in asleep))
    with open(os.path.join(out_dir, "results.md"), "w") as f:
        f.write(md)
    charts = write_chart(results, out_dir)
    return table, charts


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="bench-results", help="output directory")
    parser.add_argument("--quick", action="store_true", help="short runs (about 6 minutes)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="passes over all rows; the table shows medians (default 1)")
    parser.add_argument("--nice", type=int, default=0,
                        help="niceness for the benchmark and every process it starts; "
                        "e.g. -10 on a machine busy with other work (default 0)")
    parser.add_argument("--rows", default="", help="comma-separated row names (default: all)")
    parser.add_argument("--fstun", default="", help="fstun binary")
    parser.add_argument("--memory-bridge", default="", help="bench/memory_bridge binary")
    parser.add_argument("--fstun-flag", action="append", default=[], metavar="FLAG",
                        help="extra flag for every fstun process, e.g. --fstun-flag=--fs_inotify=false "
                        "(repeatable; to measure one lever at a time)")
    parser.add_argument("--memory-bridge-flag", action="append", default=[], metavar="FLAG",
                        help="extra flag for bench/memory_bridge, e.g. "
                        "--memory-bridge-flag=--seal_aead=libsodium (repeatable)")
    parser.add_argument("--python-demo", default="", help="path of the original python demo")
    parser.add_argument("--disk-dir", default="", help="folder on the project's disk "
                        "(default: a temporary folder beside --out)")
    parser.add_argument("--asleep-seconds", type=int, default=0, metavar="S",
                        help="at the end of each row, leave the tunnel alone S seconds, then "
                        "measure its idle cost again (columns asleep_*; default 0: not measured)")
    parser.add_argument("--list", action="store_true", help="list the rows and exit")
    args = parser.parse_args()
    if args.list:
        for name, label, _, _ in ROWS:
            print(f"{name:18s} {label}")
        return 0
    if os.geteuid() != 0:
        print("tools/bench must run as root (it creates network namespaces)", file=sys.stderr)
        return 2
    for tool in ("ip", "iperf3", "ping"):
        if not shutil.which(tool):
            print(f"missing {tool}: run tools/bootstrap", file=sys.stderr)
            return 2
    args.tcp_seconds = 3 if args.quick else 10
    args.udp_seconds = 2 if args.quick else 5
    args.ping_rates = tuple((r, n // 2 if args.quick else n) for r, n in PING_RATES)
    args.idle_seconds = 5 if args.quick else 10

    wanted = [r.strip() for r in args.rows.split(",") if r.strip()]
    unknown = set(wanted) - {r[0] for r in ROWS}
    if unknown:
        print(f"unknown rows: {', '.join(sorted(unknown))} (see --list)", file=sys.stderr)
        return 2
    out_dir = os.path.abspath(args.out)
    logdir = os.path.join(out_dir, "logs")
    os.makedirs(logdir, exist_ok=True)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    remove_stale_namespaces()
    if args.nice:
        os.setpriority(os.PRIO_PROCESS, 0, args.nice)  # children inherit it

    disk_root = args.disk_dir or os.path.join(os.path.dirname(out_dir), ".bench-disk")
    os.makedirs(disk_root, exist_ok=True)
    ctx = {"fstun": os.path.abspath(args.fstun) if args.fstun else "",
           "memory_bridge": os.path.abspath(args.memory_bridge) if args.memory_bridge else "",
           "python_demo": os.path.abspath(args.python_demo) if args.python_demo else "",
           "disk_dir": disk_root, "fstun_flags": args.fstun_flag,
           "memory_bridge_flags": args.memory_bridge_flag}

    runs = {}  # row name -> one result per pass
    started = time.time()
    try:
        # Whole passes rather than repeating a row back to back, so a burst
        # of other work on the machine hits different rows in each pass.
        for n in range(args.repeat):
            for row in ROWS:
                if wanted and row[0] not in wanted:
                    continue
                if n > 0 and runs[row[0]][0].get("status") == "skipped":
                    continue
                log(f"row {row[0]} (pass {n + 1}/{args.repeat}) ...")
                r = run_row(*row, args, ctx, logdir)
                log(f"row {row[0]}: {r.get('status')} {r.get('reason', '')} "
                    f"tcp={fmt(r.get('tcp_gbps'))} Gbit/s first ping={fmt(r.get('first_ping_ms'))} ms "
                    f"p50 1/5/50 per s={fmt(r.get('ping1_p50_ms'))}/{fmt(r.get('ping5_p50_ms'))}/"
                    f"{fmt(r.get('ping50_p50_ms'))} ms "
                    f"({r['row_seconds']} s)")
                runs.setdefault(row[0], []).append(r)
    finally:
        cleanup_all()
        if not args.disk_dir:
            shutil.rmtree(disk_root, ignore_errors=True)
    results = [combine_runs(r) for r in runs.values()]
    table, charts = write_report(results, out_dir, args)
    print(table)
    print(f"\nwrote {out_dir}/results.md, results.csv, results.json"
          + (", " + ", ".join(os.path.basename(c) for c in charts) if charts else "")
          + f" in {time.time() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
