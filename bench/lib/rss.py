#!/usr/bin/env python3
"""Memory of a receiver's process tree, from /proc.

  rss.py sample --pid PID | --pidfile FILE  --out FILE [--ready FILE] [--interval 0.05]
      Polls every INTERVAL seconds the sum of VmRSS over PID and all its descendants and
      keeps the peak; creates the --ready file once the first sample is taken; on
      SIGTERM/SIGINT writes "<peak_kib> <max_procs> <samples> <cpu_seconds>" to FILE, where
      cpu_seconds is the user+system CPU the tree's processes used while sampled (a process
      that lived less than one interval may be missed).
  rss.py now --pid PID | --pidfile FILE
      Prints "<rss_kib> <pss_kib> <procs>" once: VmRSS summed over the tree, and Pss
      (proportional set size, /proc/PID/smaps_rollup) summed over the tree. Summed RSS counts
      shared pages (libraries, Postfix's shared text) once per process; summed Pss does not.
"""
import argparse
import os
import signal
import sys
import time


def read_pidfile(path: str) -> int | None:
    try:
        with open(path) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def children(pid: int) -> list[int]:
    out = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for t in tasks:
        try:
            with open(f"/proc/{pid}/task/{t}/children") as f:
                out.extend(int(c) for c in f.read().split())
        except OSError:
            pass
    return out


def tree(pid: int) -> list[int]:
    seen, stack = [], [pid]
    while stack:
        p = stack.pop()
        if p in seen:
            continue
        seen.append(p)
        stack.extend(children(p))
    return seen


def status_kib(pid: int, key: str = "VmRSS:") -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


TICKS = os.sysconf("SC_CLK_TCK")


def cpu_ticks(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            rest = f.read().rsplit(")", 1)[1].split()
        return int(rest[11]) + int(rest[12])  # utime, stime (fields 14, 15)
    except (OSError, IndexError, ValueError):
        return None


def pss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def resolve(args) -> int | None:
    if args.pid:
        return args.pid
    return read_pidfile(args.pidfile)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["sample", "now"])
    ap.add_argument("--pid", type=int)
    ap.add_argument("--pidfile")
    ap.add_argument("--out")
    ap.add_argument("--ready")
    ap.add_argument("--interval", type=float, default=0.05)
    args = ap.parse_args()

    if args.mode == "now":
        pid = resolve(args)
        if not pid:
            print("0 0 0")
            return
        procs = tree(pid)
        print(sum(status_kib(p) for p in procs), sum(pss_kib(p) for p in procs), len(procs))
        return

    stop = False

    def on_signal(*_):
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    peak = maxprocs = samples = 0
    first: dict[int, int] = {}  # pid -> CPU ticks when first seen (0 if born during the run)
    last: dict[int, int] = {}
    while not stop:
        pid = resolve(args)
        if pid:
            procs = tree(pid)
            rss = sum(status_kib(p) for p in procs)
            for p in procs:
                t = cpu_ticks(p)
                if t is None:
                    continue
                if p not in first:
                    first[p] = t if samples == 0 else 0
                last[p] = t
            samples += 1
            peak = max(peak, rss)
            maxprocs = max(maxprocs, len(procs))
            if samples == 1 and args.ready:
                open(args.ready, "w").close()
        time.sleep(args.interval)
    cpu = sum(last[p] - first[p] for p in last) / TICKS
    with open(args.out, "w") as f:
        f.write(f"{peak} {maxprocs} {samples} {cpu:.2f}\n")
    sys.exit(0)


if __name__ == "__main__":
    main()
