#!/usr/bin/env python3
"""One new SMTP client's latency: connect, banner, EHLO, MAIL, RCPT, DATA (1 KiB) until `250`.

  probe.py --target 127.0.0.1:PORT --rcpt ADDR [--timeout 30] [--size 1024]

Prints one JSON line: {"ok": bool, "banner_s": s, "total_s": s, "code": int, "error": str}.
`total_s` is the time from connect() to the `250` that acknowledges the message.
"""
import argparse
import json
import smtplib
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", required=True)
    ap.add_argument("--rcpt", required=True)
    ap.add_argument("--sender", default="probe@example.org")
    ap.add_argument("--timeout", type=float, default=30.0)
    ap.add_argument("--size", type=int, default=1024)
    args = ap.parse_args()
    host, _, port = args.target.rpartition(":")
    body_line = "x" * 78
    lines = (args.size // 80) + 1
    msg = (
        f"From: <{args.sender}>\r\nTo: <{args.rcpt}>\r\nSubject: idle probe\r\n"
        f"Message-ID: <probe.{time.time_ns()}@example.org>\r\n\r\n"
        + "\r\n".join(body_line for _ in range(lines)) + "\r\n"
    )
    out = {"ok": False, "banner_s": None, "total_s": None, "code": None, "error": ""}
    t0 = time.monotonic()
    deadline = t0 + args.timeout
    try:
        s = smtplib.SMTP(timeout=args.timeout)
        code, _ = s.connect(host, int(port))
        out["banner_s"] = round(time.monotonic() - t0, 4)
        if code != 220:
            raise RuntimeError(f"banner {code}")
        def budget():  # one deadline for the whole transaction, not one per command
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("probe deadline")
            s.sock.settimeout(left)

        budget()
        s.ehlo("probe.example.org")
        budget()
        code, resp = s.mail(args.sender)
        if code != 250:
            raise RuntimeError(f"MAIL {code} {resp!r}")
        budget()
        code, resp = s.rcpt(args.rcpt)
        if code not in (250, 251):
            raise RuntimeError(f"RCPT {code} {resp!r}")
        budget()
        code, resp = s.data(msg.encode())
        out["code"] = code
        if code != 250:
            raise RuntimeError(f"DATA {code} {resp!r}")
        out["total_s"] = round(time.monotonic() - t0, 4)
        out["ok"] = True
        try:
            s.quit()
        except Exception:
            pass
    except Exception as exc:  # timeout, refused, reset, 4xx/5xx
        out["error"] = f"{type(exc).__name__}: {exc}"[:200]
        out["total_s"] = out["total_s"] or round(time.monotonic() - t0, 4)
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
