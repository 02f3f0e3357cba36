#!/usr/bin/env python3
"""Benchmark peer for replyd: a minimal aiosmtpd receiver that stores every message in SQLite.

Each accepted message (envelope + raw bytes) is inserted and committed -- one transaction per
message, with journal_mode=WAL and synchronous=FULL -- before the `250` is sent. The commit runs
on the event loop thread (as a minimal aiosmtpd handler would), so commits are serialised.

Usage: aiosmtpd_sqlite.py --listen 127.0.0.1:PORT --db PATH
"""
import argparse
import asyncio
import signal
import sqlite3
import time

from aiosmtpd.smtp import SMTP


class SqliteHandler:
    def __init__(self, path: str):
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        mode = self.db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if mode.lower() != "wal":
            raise SystemExit(f"WAL not enabled (journal_mode={mode})")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS messages ("
            " id INTEGER PRIMARY KEY,"
            " mail_from TEXT NOT NULL,"
            " rcpt_to TEXT NOT NULL,"
            " received_at REAL NOT NULL,"
            " raw BLOB NOT NULL)"
        )

    async def handle_DATA(self, server, session, envelope):
        try:
            self.db.execute("BEGIN")
            self.db.execute(
                "INSERT INTO messages (mail_from, rcpt_to, received_at, raw) VALUES (?, ?, ?, ?)",
                (envelope.mail_from or "", ",".join(envelope.rcpt_tos), time.time(),
                 envelope.original_content),
            )
            self.db.execute("COMMIT")
        except Exception as exc:  # report a temporary failure, never a false 250
            try:
                self.db.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            print(f"aiosmtpd-peer: store failed: {exc}", flush=True)
            return "451 4.3.0 Local storage error"
        return "250 2.0.0 OK stored"


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", required=True, help="HOST:PORT")
    ap.add_argument("--db", required=True)
    args = ap.parse_args()
    host, _, port = args.listen.rpartition(":")

    handler = SqliteHandler(args.db)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="aiosmtpd-peer.localhost", data_size_limit=64 * 1024 * 1024),
        host=host, port=int(port), backlog=4096, reuse_address=True,
    )
    addr = server.sockets[0].getsockname()
    print(f"aiosmtpd-sqlite-peer listening on {addr[0]}:{addr[1]} (db={args.db})", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()
    handler.db.close()


if __name__ == "__main__":
    asyncio.run(main())
