#!/usr/bin/env python3
"""One TCP stream for the continuity test, measured from both ends.

The continuity test (continuity_test.sh) kills an fstun end in the middle of
a transfer and restarts it; this program is the transfer. It tells what a
user would notice: whether the one connection completed, was reset or hung,
whether the bytes are equal (sha256 on both sides), and how long the longest
pause in the received stream was.

  tcp_stream.py recv --bind IP --port P --bytes N --deadline S --progress FILE
  tcp_stream.py send --to IP --port P --bytes N --rate MIB_PER_S --deadline S
  tcp_stream.py verdict RECV_JSON_FILE SEND_JSON_FILE MAX_GAP_S

Both print one JSON line when they end:
  recv: {"result": "complete"|"reset"|"timeout"|"short"|"error", "bytes": ...,
         "sha256": ..., "elapsed_s": ..., "longest_gap_s": ..., "gap_after_bytes": ...}
  send: {"result": "complete"|"reset"|"timeout"|"error", "bytes": ..., "sha256": ...}

`verdict` reads both results and prints one line for the test's log; exit 0
when the stream completed on both ends, with equal sha256 and no pause over
MAX_GAP_S (one program for the checks: a loaded machine starts python slowly).

The receiver writes the bytes received so far to --progress every 20 ms (the
test kills an end once the transfer is under way). The sender's content is
pseudo-random (so no layer can compress it), the same for the same --seed.
The sender shuts its side down after the last byte and waits for the
receiver to close: "complete" on the sender means the receiver has read
everything. Every wait is bounded by --deadline.
"""

import argparse
import hashlib
import json
import os
import socket
import sys
import time

CHUNK = 64 * 1024


def content(seed, n):
    """n bytes, pseudo-random, deterministic: SHAKE-128 of the seed."""
    return hashlib.shake_128(f"fstun-continuity-{seed}".encode()).digest(n)


def emit(result):
    print(json.dumps(result), flush=True)
    return 0 if result["result"] == "complete" else 1


def recv(args):
    t_end = time.monotonic() + args.deadline
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((args.bind, args.port))
    srv.listen(1)
    srv.settimeout(args.deadline)
    h = hashlib.sha256()
    got = 0
    result = "error"
    longest_gap, gap_after = 0.0, 0
    t0 = time.monotonic()
    try:
        conn, _ = srv.accept()
    except socket.timeout:
        return emit({"result": "timeout", "bytes": 0, "error": "no connection"})
    t0 = last = last_progress = time.monotonic()
    conn.settimeout(0.1)
    try:
        while True:
            now = time.monotonic()
            if now > t_end:
                result = "timeout"
                if now - last > longest_gap:  # the stall it ended in counts
                    longest_gap, gap_after = now - last, got
                break
            if now - last_progress >= 0.02 and args.progress:
                with open(args.progress + ".tmp", "w") as f:
                    f.write(str(got))
                os.replace(args.progress + ".tmp", args.progress)
                last_progress = now
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
    except OSError as e:
        result = f"error: {e}"
    finally:
        conn.close()
    if args.progress:
        with open(args.progress, "w") as f:
            f.write(str(got))
    return emit({"result": result, "bytes": got, "sha256": h.hexdigest(),
                 "elapsed_s": round(time.monotonic() - t0, 3),
                 "longest_gap_s": round(longest_gap, 3), "gap_after_bytes": gap_after})


def send(args):
    t_end = time.monotonic() + args.deadline
    data = content(args.seed, args.bytes)
    h = hashlib.sha256(data).hexdigest()
    sent = 0
    try:
        sock = socket.create_connection((args.to, args.port), timeout=5)
    except OSError as e:
        return emit({"result": "error", "bytes": 0, "sha256": h, "error": f"connect: {e}"})
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
    except OSError as e:
        result = f"error: {e}"
    finally:
        sock.close()
    return emit({"result": result, "bytes": sent, "sha256": h,
                 "elapsed_s": round(time.monotonic() - t0, 3)})


def last_json(path):
    try:
        with open(path) as f:
            lines = [l for l in f.read().splitlines() if l.startswith("{")]
        return json.loads(lines[-1]) if lines else {"result": "no output"}
    except (OSError, json.JSONDecodeError) as e:
        return {"result": f"unreadable ({e})"}


def verdict(args):
    r, s = last_json(args.recv_json), last_json(args.send_json)
    mib = lambda n: (n or 0) / 2**20
    line = (f"receiver {r.get('result')} ({mib(r.get('bytes')):.1f} MiB in "
            f"{r.get('elapsed_s')} s, longest pause {r.get('longest_gap_s')} s "
            f"after {mib(r.get('gap_after_bytes')):.1f} MiB), sender {s.get('result')} "
            f"({mib(s.get('bytes')):.1f} MiB)")
    ok = r.get("result") == "complete" and s.get("result") == "complete"
    if r.get("result") == "complete":
        same = r.get("sha256") == s.get("sha256")
        line += ", sha256 " + ("equal" if same else "DIFFERS")
        ok = ok and same
    gap = r.get("longest_gap_s")
    if ok and (gap is None or gap > args.max_gap):
        line += f", but the pause is over {args.max_gap} s"
        ok = False
    print(line)
    return 0 if ok else 1


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="mode", required=True)
    r = sub.add_parser("recv")
    r.add_argument("--bind", required=True)
    r.add_argument("--port", type=int, required=True)
    r.add_argument("--bytes", type=int, required=True)
    r.add_argument("--deadline", type=float, required=True)
    r.add_argument("--progress", default="")
    s = sub.add_parser("send")
    s.add_argument("--to", required=True)
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--bytes", type=int, required=True)
    s.add_argument("--rate", type=float, required=True, help="MiB/s")
    s.add_argument("--deadline", type=float, required=True)
    s.add_argument("--seed", default="0")
    v = sub.add_parser("verdict")
    v.add_argument("recv_json")
    v.add_argument("send_json")
    v.add_argument("max_gap", type=float)
    args = p.parse_args()
    return {"recv": recv, "send": send, "verdict": verdict}[args.mode](args)


if __name__ == "__main__":
    sys.exit(main())
