#!/usr/bin/env python3
"""Turn bench/run.sh's raw TSV files into Markdown tables.

  report.py --dir RAWDIR [--out bench/results.md]

With --case ID only that case's table is printed. RAWDIR holds: meta.txt (free text put at the top), cases.tsv (case id and description),
runs.tsv (one row per throughput round), idle.tsv (one row per idle round), dd.tsv (fsync'd dd
ceiling per round), skipped.txt (receivers skipped, with the reason).
"""
import argparse
import csv
import os
import statistics

ORDER = ["replyd", "smtp-sink", "fsync-sink", "postfix", "aiosmtpd", "mailin"]
LABEL = {
    "replyd": "replyd (tokio + SQLite)",
    "smtp-sink": "Postfix smtp-sink (ceiling, stores nothing)",
    "postfix": "Postfix smtpd → hold queue",
    "aiosmtpd": "aiosmtpd + SQLite",
    "mailin": "mailin-embedded + SQLite",
    "fsync-sink": "fsync-sink (durable ceiling: raw bytes, fdatasync per batch)",
}


def rows(path):
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def fnum(x, default=None):
    try:
        return float(x)
    except (TypeError, ValueError):
        return default


def fmt_rate(x):
    if x is None:
        return "—"
    return f"{x:,.0f}" if x >= 100 else f"{x:,.1f}" if x >= 10 else f"{x:,.2f}"


def fmt_mib_kib(kib):
    if kib is None:
        return "—"
    return f"{kib / 1024:,.1f} MiB"


def order_key(r):
    return ORDER.index(r) if r in ORDER else len(ORDER)


def throughput_tables(raw, out, only=None):
    cases = {c["case"]: c for c in rows(os.path.join(raw, "cases.tsv"))}
    runs = rows(os.path.join(raw, "runs.tsv"))
    dd = rows(os.path.join(raw, "dd.tsv"))
    by_case = {}
    for r in runs:
        by_case.setdefault(r["case"], {}).setdefault(r["receiver"], []).append(r)
    for case, recvs in by_case.items():
        if only and case != only:
            continue
        c = cases.get(case, {})
        out.append(f"### {case}: {c.get('desc', '')}")
        out.append("")
        stats = {}
        for name, rs in recvs.items():
            ok = [r for r in rs if r["rc"] == "0"]
            rates = [int(r["msgs"]) / float(r["elapsed"]) for r in ok if fnum(r["elapsed"])]
            med = statistics.median(rates) if rates else None
            size = int(rs[0]["size"])
            acked = sum(int(r["acked"] or 0) for r in rs)
            stored_vals = [r["stored"] for r in rs]
            if all(v == "na" for v in stored_vals):
                stored = "n/a (stores nothing)"
                lost = False
            else:
                st = sum(int(v) for v in stored_vals if v not in ("na", "", "?"))
                lost = st < acked or any(v in ("", "?") for v in stored_vals)
                stored = f"{st:,}/{acked:,}" + (" ⚠ LOST" if st < acked else "")
            peaks = [fnum(r["peak_rss_kb"]) for r in rs if fnum(r["peak_rss_kb"])]
            cpus = [fnum(r.get("cpu_s")) * 1000 / int(r["msgs"]) for r in ok
                    if fnum(r.get("cpu_s")) is not None]
            fails = len(rs) - len(ok)
            stats[name] = dict(
                med=med, size=size, stored=stored, lost=lost,
                peak=max(peaks) if peaks else None, rates=rates, fails=fails,
                cpu=statistics.median(cpus) if cpus else None,
                notes=sorted({r["note"] for r in rs if r.get("note")}),
            )
        base = stats.get("replyd", {}).get("med")
        out.append("| receiver | msgs/s (median) | MiB/s | replyd ÷ receiver | stored/sent | peak RSS | receiver CPU ms/msg | msgs/s per round |")
        out.append("|---|---:|---:|---:|---|---:|---:|---|")
        for name in sorted(stats, key=order_key):
            s = stats[name]
            mib = s["med"] * s["size"] / 2**20 if s["med"] else None
            if name == "replyd":
                ratio = "1.00" if base else "—"
            elif base and s["med"]:
                ratio = f"{base / s['med']:.2f}"
            else:
                ratio = "—"
            cpu_txt = "—" if s["cpu"] is None else f"{s['cpu']:.3f}"
            per_round = ", ".join(fmt_rate(x) for x in s["rates"])
            if s["fails"]:
                per_round += f" ({s['fails']} round(s) FAILED: {'; '.join(s['notes'])[:160]})"
            out.append(
                f"| {LABEL.get(name, name)} | {fmt_rate(s['med'])} | "
                f"{'—' if mib is None else f'{mib:,.2f}'} | {ratio} | {s['stored']} | "
                f"{fmt_mib_kib(s['peak'])} | "
                f"{cpu_txt} | {per_round} |"
            )
        if case.startswith("1m") and dd:
            vals = [fnum(d["mib_s"]) for d in dd if fnum(d["mib_s"])]
            if vals:
                out.append(
                    f"| `dd bs=1M count=256 conv=fsync` (disk ceiling) | — | "
                    f"{statistics.median(vals):,.1f} | — | — | — | — | "
                    f"{', '.join(f'{v:,.1f}' for v in vals)} MiB/s |"
                )
        out.append("")


def idle_table(raw, out):
    rs = rows(os.path.join(raw, "idle.tsv"))
    if not rs:
        return
    target = rs[0]["target"]
    out.append(f"### idle: {int(target):,} idle connections, then one new client")
    out.append("")
    out.append("| receiver | idle conns greeted / connected | RSS before → after | RSS per idle conn | Pss per idle conn | new client's time to 250 (median) | probe stored | idle conns still open after probe |")
    out.append("|---|---:|---:|---:|---:|---:|---|---:|")
    by = {}
    for r in rs:
        by.setdefault(r["receiver"], []).append(r)
    for name in sorted(by, key=order_key):
        g = by[name]
        greeted = statistics.median(int(r["greeted"]) for r in g)
        connected = statistics.median(int(r["connected"]) for r in g)
        per_rss = [
            (int(r["rss_after"]) - int(r["rss_before"])) / int(r["greeted"])
            for r in g if int(r["greeted"]) > 0
        ]
        per_pss = [
            (int(r["pss_after"]) - int(r["pss_before"])) / int(r["greeted"])
            for r in g if int(r["greeted"]) > 0
        ]
        ok = [float(r["total_s"]) for r in g if r["probe_ok"] == "1"]
        if len(ok) == len(g):
            t = f"{statistics.median(ok) * 1000:,.1f} ms"
        elif ok:
            t = f"{statistics.median(ok) * 1000:,.1f} ms ({len(g) - len(ok)} of {len(g)} failed)"
        else:
            errs = sorted({r["error"] for r in g})
            t = "FAILED: " + "; ".join(errs)[:120]
        stored = sorted({r["probe_stored"] for r in g})
        rb = statistics.median(int(r["rss_before"]) for r in g)
        ra = statistics.median(int(r["rss_after"]) for r in g)
        alive = statistics.median(int(r["alive"] or 0) for r in g)
        out.append(
            f"| {LABEL.get(name, name)} | {greeted:,.0f} / {connected:,.0f} | "
            f"{rb / 1024:,.1f} → {ra / 1024:,.1f} MiB | "
            f"{'—' if not per_rss else f'{statistics.median(per_rss):,.1f} KiB'} | "
            f"{'—' if not per_pss else f'{statistics.median(per_pss):,.1f} KiB'} | {t} | "
            f"{', '.join(stored)} | {alive:,.0f} |"
        )
    out.append("")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--out")
    ap.add_argument("--case", help="print only this case's table (no header, no file)")
    args = ap.parse_args()
    out = []
    if args.case:
        if args.case == "idle":
            idle_table(args.dir, out)
        else:
            throughput_tables(args.dir, out, only=args.case)
        print("\n".join(out).rstrip())
        return
    meta = os.path.join(args.dir, "meta.txt")
    if os.path.exists(meta):
        out.append(open(meta).read().rstrip())
        out.append("")
    skipped = os.path.join(args.dir, "skipped.txt")
    if os.path.exists(skipped) and open(skipped).read().strip():
        out.append("**Skipped receivers:**")
        out.append("")
        for line in open(skipped).read().strip().splitlines():
            out.append(f"- {line}")
        out.append("")
    throughput_tables(args.dir, out)
    idle_table(args.dir, out)
    text = "\n".join(out).rstrip() + "\n"
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
