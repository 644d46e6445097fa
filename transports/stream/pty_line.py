#!/usr/bin/env python3
"""A serial line for tests: two pseudo-terminals joined back to back.

Creates two pty pairs, puts both slave sides in raw mode, prints their
device paths (one line: "A B") to the file given as argv[1], and relays
bytes between the two master sides until killed. Each SIGUSR1 injects a
burst of random garbage (argv[2] bytes, default 300) into both directions at
the next chunk boundary, as noise on a real line would. Counts what it
relayed and injected on stderr when it ends. Stops by itself after argv[3]
seconds (default 600).
"""
import os
import random
import select
import signal
import sys
import time
import tty


def main():
    out_file = sys.argv[1]
    burst = int(sys.argv[2]) if len(sys.argv) > 2 else 300
    lifetime = float(sys.argv[3]) if len(sys.argv) > 3 else 600
    ends = []
    for _ in range(2):
        master, slave = os.openpty()
        tty.setraw(slave)
        os.set_blocking(master, False)
        ends.append((master, slave, os.ttyname(slave)))
    pending = {0: 0, 1: 0}  # garbage bursts owed to each direction
    relayed = [0, 0]
    injected = [0, 0]

    def on_usr1(signum, frame):
        pending[0] += 1
        pending[1] += 1

    signal.signal(signal.SIGUSR1, on_usr1)
    signal.signal(signal.SIGTERM, lambda s, f: sys.exit(0))
    with open(out_file + ".tmp", "w") as f:
        f.write("%s %s\n" % (ends[0][2], ends[1][2]))
    os.rename(out_file + ".tmp", out_file)
    rng = random.Random(1)
    # Bytes read from one master waiting to be written to the other.
    queues = [bytearray(), bytearray()]  # queues[i]: to be written to master i
    deadline = time.monotonic() + lifetime
    try:
        while time.monotonic() < deadline:
            rlist = [m for m, _, _ in ends]
            wlist = [ends[i][0] for i in range(2) if queues[i]]
            try:
                r, w, _ = select.select(rlist, wlist, [], 0.2)
            except InterruptedError:
                continue
            for i in range(2):
                master = ends[i][0]
                other = 1 - i
                if master in r and len(queues[other]) < (1 << 20):
                    try:
                        data = os.read(master, 65536)
                    except (BlockingIOError, InterruptedError):
                        data = b""
                    except OSError:  # EIO: the slave side is closed for now
                        data = b""
                    if data:
                        relayed[i] += len(data)
                        queues[other] += data
            for i in range(2):
                if pending[i] > 0:
                    noise = bytes(rng.getrandbits(8) for _ in range(burst))
                    queues[i] += noise
                    injected[i] += burst
                    pending[i] -= 1
            for i in range(2):
                master = ends[i][0]
                if master in w and queues[i]:
                    try:
                        n = os.write(master, queues[i])
                        del queues[i][:n]
                    except (BlockingIOError, InterruptedError):
                        pass
    finally:
        sys.stderr.write("pty_line: relayed %d/%d bytes, injected %d/%d garbage bytes\n" %
                         (relayed[0], relayed[1], injected[0], injected[1]))


if __name__ == "__main__":
    main()
