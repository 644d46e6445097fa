#!/usr/bin/env python3
"""One TCP stream for the continuity test, judged at the receiver.

The continuity test (continuity_test.sh) kills an fstun end in the middle of
a transfer and restarts it; this program is the transfer. It tells what a
user would notice: whether the one connection completed, was reset or hung,
whether the bytes arrived unchanged, and how long the longest pause in the
received stream was.

  tcp_stream.py recv --bind IP --port P --bytes N --seed S --max-gap SEC
                     --deadline SEC --progress FILE
  tcp_stream.py send --to IP --port P --bytes N --seed S --rate MIB_PER_S
                     --deadline SEC

The sender's bytes are pseudo-random (no layer can compress them) and the
same for the same --seed, so the receiver knows the sha256 to expect. Both
print a JSON line and then a one-line summary for the test's log, and exit 0
only when all is well: the receiver when it read exactly the expected bytes
and no pause was longer than --max-gap; the sender when the receiver closed
after reading everything (it shuts its side down after the last byte and
waits for the receiver's end of stream).

The receiver writes the bytes received so far to --progress every 20 ms (the
test kills an end once the transfer is under way). Every wait is bounded by
--deadline; SIGTERM (the test giving up) ends either with what it has.
"""

import argparse
import hashlib
import json
import os
import signal
import socket
import sys
import time

CHUNK = 64 * 1024


def content(seed, n):
    """n bytes, pseudo-random, deterministic: SHAKE-128 of the seed."""
    return hashlib.shake_128(f"fstun-continuity-{seed}".encode()).digest(n)


def mib(n):
    return f"{(n or 0) / 2**20:.1f} MiB"


class Stopped(Exception):
    """SIGTERM: the test gave up waiting; report what we have."""


def on_sigterm(*_):
    raise Stopped()


def finish(result, summary, ok):
    print(json.dumps(result))
    print(summary, flush=True)
    return 0 if ok else 1


class Progress:
    """The bytes received so far, in a file the test reads (atomically)."""

    def __init__(self, path):
        self.path, self.written_at = path, 0.0

    def update(self, got, now, force=False):
        if self.path and (force or now - self.written_at >= 0.02):
            with open(self.path + ".tmp", "w") as f:
                f.write(str(got))
            os.replace(self.path + ".tmp", self.path)
            self.written_at = now


def recv(args):
    t_end = time.monotonic() + args.deadline
    expected = hashlib.sha256(content(args.seed, args.bytes)).hexdigest()
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((args.bind, args.port))
    srv.listen(1)
    srv.settimeout(args.deadline)
    progress = Progress(args.progress)
    try:
        conn, _ = srv.accept()
    except (socket.timeout, Stopped):
        return finish({"result": "no connection", "bytes": 0},
                      "receiver: no connection", False)
    h = hashlib.sha256()
    got = 0
    longest_gap, gap_after = 0.0, 0
    t0 = last = time.monotonic()
    conn.settimeout(0.1)
    result = "error"
    try:
        while True:
            now = time.monotonic()
            if now > t_end:
                result = "timeout"
                break
            progress.update(got, now)
            try:
                data = conn.recv(CHUNK)
            except socket.timeout:
                continue
            now = time.monotonic()
            if not data:
                result = "complete" if got == args.bytes else "short"
                break
            if now - last > longest_gap:
                longest_gap, gap_after = now - last, got
            last = now
            got += len(data)
            h.update(data)
    except ConnectionResetError:
        result = "reset"
    except Stopped:
        result = "stopped by the test"
    except OSError as e:
        result = f"error: {e}"
    finally:
        conn.close()
    now = time.monotonic()
    if result != "complete" and now - last > longest_gap:  # the stall it ended in
        longest_gap, gap_after = now - last, got
    progress.update(got, now, force=True)
    equal = h.hexdigest() == expected
    summary = (f"receiver {result} ({mib(got)} in {now - t0:.2f} s, longest pause "
               f"{longest_gap:.2f} s after {mib(gap_after)})")
    if result == "complete":
        summary += ", sha256 " + ("equal" if equal else "DIFFERS")
    ok = result == "complete" and equal
    if ok and longest_gap > args.max_gap:
        summary += f", but the pause is over {args.max_gap:g} s"
        ok = False
    return finish({"result": result, "bytes": got, "sha256": h.hexdigest(),
                   "sha256_expected": expected, "elapsed_s": round(now - t0, 3),
                   "longest_gap_s": round(longest_gap, 3), "gap_after_bytes": gap_after},
                  summary, ok)


def send(args):
    t_end = time.monotonic() + args.deadline
    data = content(args.seed, args.bytes)
    sent = 0
    try:
        sock = socket.create_connection((args.to, args.port), timeout=5)
    except OSError as e:
        return finish({"result": "no connection", "bytes": 0, "error": str(e)},
                      f"sender: no connection ({e})", False)
    t0 = time.monotonic()
    per_s = args.rate * 1024 * 1024
    result = "complete"
    try:
        while sent < len(data):
            left = t_end - time.monotonic()
            if left <= 0:
                result = "timeout"
                break
            ahead = sent / per_s - (time.monotonic() - t0)  # rate limit
            if ahead > 0:
                time.sleep(min(ahead, left))
            sock.settimeout(max(0.01, t_end - time.monotonic()))
            try:
                sent += sock.send(data[sent:sent + CHUNK])
            except socket.timeout:
                result = "timeout"
                break
        if result == "complete":
            # The receiver closes after the last byte: wait for its EOF.
            sock.shutdown(socket.SHUT_WR)
            sock.settimeout(max(0.01, t_end - time.monotonic()))
            try:
                while sock.recv(CHUNK):
                    pass
            except socket.timeout:
                result = "timeout"
    except (ConnectionResetError, BrokenPipeError):
        result = "reset"
    except Stopped:
        result = "stopped by the test"
    except OSError as e:
        result = f"error: {e}"
    finally:
        sock.close()
    elapsed = time.monotonic() - t0
    return finish({"result": result, "bytes": sent, "elapsed_s": round(elapsed, 3)},
                  f"sender {result} ({mib(sent)} in {elapsed:.2f} s)", result == "complete")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="mode", required=True)
    r = sub.add_parser("recv")
    r.add_argument("--bind", required=True)
    r.add_argument("--port", type=int, required=True)
    r.add_argument("--bytes", type=int, required=True)
    r.add_argument("--seed", default="0")
    r.add_argument("--max-gap", type=float, required=True, help="seconds")
    r.add_argument("--deadline", type=float, required=True, help="seconds")
    r.add_argument("--progress", default="")
    s = sub.add_parser("send")
    s.add_argument("--to", required=True)
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--bytes", type=int, required=True)
    s.add_argument("--seed", default="0")
    s.add_argument("--rate", type=float, required=True, help="MiB/s")
    s.add_argument("--deadline", type=float, required=True, help="seconds")
    args = p.parse_args()
    signal.signal(signal.SIGTERM, on_sigterm)
    return recv(args) if args.mode == "recv" else send(args)


if __name__ == "__main__":
    sys.exit(main())
