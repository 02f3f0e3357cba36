#!/usr/bin/env python3
"""Where should a large message's raw bytes live? A measurement, not a receiver.

    python3 bench/raw_placement.py [--size BYTES] [--messages N] [--batch N] [--dir DIR]

Issue 24 asks, for 1 MiB messages, whether the raw bytes should stay a row of SQLite
(written into the WAL at the commit, then a second time into the database file by the
checkpoint) or go to a file next to the database, written and fsynced before the commit
that records it (written once). This times both ways the way replyd's writer does them:
one writer, commits of `--batch` messages with `synchronous=FULL` in WAL mode, automatic
checkpoints off and a PASSIVE checkpoint after every commit, a RESTART one past 1,024 WAL
frames (src/store/sqlite/checkpointer.rs). Python's sqlite3 is a thin layer over the same C
library, so the CPU it reports is SQLite's and the kernel's, per message:

* `sqlite`: `INSERT INTO raw_messages (sha256, size, data)` of the bytes, commit, checkpoint.
* `file`: the bytes written to a new file in a folder next to the database with one
  `write`, `fdatasync` on each, one `fsync` of the folder per batch (a new file's name is
  durable only then), then a row with the file's name instead of the bytes, commit,
  checkpoint.

It prints CPU (user + system of this process, all threads) and wall time per message for
each way, alternating the two `--rounds` times on fresh databases.
"""

import argparse
import hashlib
import os
import shutil
import sqlite3
import statistics
import tempfile
import time

SCHEMA = """
CREATE TABLE raw_messages (id INTEGER PRIMARY KEY, sha256 BLOB NOT NULL, size INTEGER NOT NULL,
                           data BLOB, path TEXT);
CREATE TABLE messages (id INTEGER PRIMARY KEY, raw_id INTEGER NOT NULL, subject TEXT);
"""


def open_db(path):
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("PRAGMA wal_autocheckpoint=0")
    db.executescript(SCHEMA)
    return db


def checkpoint(db):
    _busy, log, _done = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    if log >= 1024:
        db.execute("PRAGMA wal_checkpoint(RESTART)")


def run(way, workdir, payloads, digests, batch):
    db_path = os.path.join(workdir, "replyd.sqlite3")
    raw_dir = os.path.join(workdir, "raw")
    os.mkdir(raw_dir)
    db = open_db(db_path)
    dir_fd = os.open(raw_dir, os.O_RDONLY | os.O_DIRECTORY)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    n = 0
    for start in range(0, len(payloads), batch):
        group = payloads[start:start + batch]
        names = []
        if way == "file":
            for data in group:
                n += 1
                name = f"{n:012}.eml"
                fd = os.open(os.path.join(raw_dir, name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                try:
                    os.write(fd, data)
                    os.fdatasync(fd)
                finally:
                    os.close(fd)
                names.append(name)
            os.fsync(dir_fd)
        db.execute("BEGIN IMMEDIATE")
        for i, data in enumerate(group):
            digest = digests[start + i]
            if way == "sqlite":
                cur = db.execute("INSERT INTO raw_messages (sha256, size, data) VALUES (?, ?, ?)",
                                 (digest, len(data), data))
            else:
                cur = db.execute("INSERT INTO raw_messages (sha256, size, path) VALUES (?, ?, ?)",
                                 (digest, len(data), names[i]))
            db.execute("INSERT INTO messages (raw_id, subject) VALUES (?, ?)", (cur.lastrowid, "bench"))
        db.execute("COMMIT")
        checkpoint(db)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    os.close(dir_fd)
    db.close()
    return cpu, wall


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=1 << 20)
    ap.add_argument("--messages", type=int, default=200)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--dir", default=None, help="where the databases go (default: a temp dir)")
    args = ap.parse_args()
    line = b"X" * 78 + b"\r\n"
    payloads = []
    for i in range(args.messages):
        body = (f"Subject: {i}\r\n\r\n".encode() + line * (args.size // len(line) + 1))[:args.size]
        payloads.append(body)
    # The hash is the same work either way (replyd computes it as the bytes arrive).
    digests = [hashlib.sha256(p).digest() for p in payloads]
    results = {"sqlite": [], "file": []}
    for r in range(args.rounds):
        for way in (("sqlite", "file") if r % 2 == 0 else ("file", "sqlite")):
            workdir = tempfile.mkdtemp(prefix="raw-placement.", dir=args.dir)
            try:
                results[way].append(run(way, workdir, payloads, digests, args.batch))
            finally:
                shutil.rmtree(workdir)
    print(f"{args.messages} messages of {args.size} bytes, {args.batch} per commit, "
          f"{args.rounds} rounds (medians):")
    for way, runs in results.items():
        cpu = statistics.median(c for c, _ in runs) * 1000 / args.messages
        wall = statistics.median(w for _, w in runs) * 1000 / args.messages
        print(f"  {way:6}  CPU {cpu:6.2f} ms/msg   wall {wall:6.2f} ms/msg   "
              f"(CPU per round: {', '.join(f'{c:.2f}s' for c, _ in runs)})")


if __name__ == "__main__":
    main()
