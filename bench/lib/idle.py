#!/usr/bin/env python3
"""Open N idle SMTP connections to a receiver and hold them until told to stop.

  idle.py --target 127.0.0.1:PORT --count N [--per-proc 5000] [--src-base 2] [--timeout 20]

The connections are spread over ceil(N / per-proc) worker processes (each holds at most
per-proc sockets, below the 20,000 descriptors a process may have), worker i binding the source
address 127.0.0.<src-base + i>, so no single source address needs more than per-proc ephemeral
ports. A connection counts as `connected` once the TCP handshake completes and as `greeted`
once the receiver's `220` banner has arrived (i.e. the receiver really serves it). Nothing is
ever sent: the sessions sit idle after the banner.

When every worker has finished (all connected and greeted, or --timeout elapsed), one line
`READY {"connected": C, "greeted": G, "failed": F, "unattempted": U, "target": N, ...}` is printed on
stdout. The helper then holds the sockets until SIGTERM/SIGINT (or --hold-max seconds, 900 by
default), prints `CLOSED {"alive": A}` (A = greeted connections the receiver has not closed
meanwhile) and exits, closing every socket.
"""
import argparse
import collections
import json
import multiprocessing as mp
import os
import resource
import selectors
import signal
import socket
import sys
import time

# Pacing, per worker: at most MAX_INFLIGHT sockets that are still connecting or connected but
# not yet greeted. A connected socket stops counting after BANNER_GRACE seconds without a banner,
# so a receiver that never greets beyond a worker/process limit still gets every connection,
# while a receiver that greets is never pushed past its listen backlog (an overflowing accept
# queue leaves "connected" clients in SYN-RECV limbo on the server for seconds).
MAX_INFLIGHT = 128
BANNER_GRACE = 0.5


def worker(target, src, count, timeout, report_q, stop_ev):
    try:  # PR_SET_PDEATHSIG = 1: get SIGKILL if the parent dies, so no socket outlives it
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)
    except Exception:
        pass
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, count + 64)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    sel = selectors.DefaultSelector()
    host, port = target
    deadline = time.monotonic() + timeout
    to_open = count
    connecting = 0
    inflight = {}  # sock -> state: "conn" | "banner"
    greeted = []
    failed = 0
    connected = 0
    bufs = {}
    waiting = collections.deque()  # (connected_at, sock) awaiting a banner, oldest first
    young = set()  # sockets connected less than BANNER_GRACE ago and not yet greeted

    def young_waiting():
        now = time.monotonic()
        while waiting and now - waiting[0][0] > BANNER_GRACE:
            young.discard(waiting.popleft()[1])
        return len(young)

    def open_more():
        nonlocal to_open, failed, connecting
        while to_open > 0 and connecting + young_waiting() < MAX_INFLIGHT:
            to_open -= 1
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            try:
                s.bind((src, 0))
                rc = s.connect_ex((host, port))
            except OSError:
                s.close()
                failed += 1
                continue
            if rc not in (0, 115):  # 115 = EINPROGRESS
                s.close()
                failed += 1
                continue
            inflight[s] = "conn"
            connecting += 1
            sel.register(s, selectors.EVENT_WRITE)

    open_more()
    while (inflight or to_open) and time.monotonic() < deadline:
        events = sel.select(timeout=0.2)
        for key, _ in events:
            s = key.fileobj
            state = inflight.get(s)
            if state == "conn":
                connecting -= 1
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    sel.unregister(s)
                    del inflight[s]
                    s.close()
                    failed += 1
                    continue
                connected += 1
                inflight[s] = "banner"
                waiting.append((time.monotonic(), s))
                young.add(s)
                sel.modify(s, selectors.EVENT_READ)
                bufs[s] = b""
            elif state == "banner":
                try:
                    data = s.recv(4096)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    sel.unregister(s)
                    del inflight[s]
                    young.discard(s)
                    s.close()
                    failed += 1
                    continue
                bufs[s] += data
                if b"\n" in bufs[s]:
                    sel.unregister(s)
                    del inflight[s]
                    young.discard(s)
                    greeted.append(s)
        open_more()
    # Still-connecting sockets at the deadline are dropped; connected-but-not-greeted ones are
    # kept open (they occupy the receiver's accept queue or a worker, which is the point).
    for s, state in list(inflight.items()):
        if state == "conn":
            sel.unregister(s)
            s.close()
    report_q.put({"connected": connected, "greeted": len(greeted), "failed": failed,
                  "unattempted": to_open})
    stop_ev.wait()
    # Count greeted sockets the receiver has closed meanwhile (readable with EOF / error).
    alive = 0
    for s in greeted:
        try:
            s.setblocking(False)
            data = s.recv(1, socket.MSG_PEEK)
            alive += 1 if data else 0
        except BlockingIOError:
            alive += 1
        except OSError:
            pass
    report_q.put({"alive": alive})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--per-proc", type=int, default=5000)
    ap.add_argument("--src-base", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=20.0)
    ap.add_argument("--hold-max", type=float, default=900.0)
    args = ap.parse_args()
    host, _, port = args.target.rpartition(":")
    target = (host, int(port))
    n = args.count
    per = max(1, min(args.per_proc, 5000))
    nproc = max(1, -(-n // per))
    counts = [per] * (nproc - 1) + [n - per * (nproc - 1)]
    class Stop(Exception):
        pass

    def on_term(*_):
        raise Stop()

    # Installed before forking: a worker that gets SIGTERM exits too (closing its sockets).
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    signal.signal(signal.SIGALRM, on_term)
    # Never hold longer than this, whatever happens.
    signal.alarm(max(1, int(args.timeout + args.hold_max)))
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    stop_ev = ctx.Event()
    t0 = time.monotonic()
    procs = []
    try:
        for i, c in enumerate(counts):
            src = f"127.0.0.{args.src_base + i}"
            p = ctx.Process(target=worker, args=(target, src, c, args.timeout, q, stop_ev),
                            daemon=True)
            p.start()
            procs.append(p)
        tot = {"connected": 0, "greeted": 0, "failed": 0, "unattempted": 0}
        for _ in procs:
            r = q.get()
            for k in tot:
                tot[k] += r[k]
        tot["target"] = n
        tot["workers"] = nproc
        tot["seconds"] = round(time.monotonic() - t0, 2)
        print("READY " + json.dumps(tot), flush=True)
        while True:
            signal.pause()
    except Stop:
        pass
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.alarm(0)
        stop_ev.set()
        alive = 0
        for _ in procs:
            try:
                alive += q.get(timeout=15)["alive"]
            except Exception:
                pass
        print("CLOSED " + json.dumps({"alive": alive}), flush=True)
        for p in procs:
            p.join(timeout=5)
            if p.is_alive():
                p.kill()
                p.join(timeout=5)

if __name__ == "__main__":
    main()
