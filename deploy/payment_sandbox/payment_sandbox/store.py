"""The sandbox's state in SQLite (``<state-dir>/sandbox.db``): orders, refunds, notifications.

Orders and refunds are JSON documents keyed by gateway and merchant number; the notification
outbox and the delivery log are tables of their own so that retries survive a restart.
Used from the event loop's thread only (each call is short).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from . import clock

Doc = dict[str, Any]

SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    gateway TEXT NOT NULL, out_trade_no TEXT NOT NULL, doc TEXT NOT NULL,
    PRIMARY KEY (gateway, out_trade_no));
CREATE TABLE IF NOT EXISTS refunds (
    gateway TEXT NOT NULL, refund_no TEXT NOT NULL, out_trade_no TEXT NOT NULL, doc TEXT NOT NULL,
    PRIMARY KEY (gateway, refund_no));
CREATE TABLE IF NOT EXISTS notifications (
    id INTEGER PRIMARY KEY AUTOINCREMENT, gateway TEXT NOT NULL, kind TEXT NOT NULL,
    out_trade_no TEXT NOT NULL, ref TEXT NOT NULL, url TEXT NOT NULL, payload TEXT NOT NULL,
    state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_at REAL NOT NULL,
    created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT, notification_id INTEGER NOT NULL, gateway TEXT NOT NULL,
    kind TEXT NOT NULL, out_trade_no TEXT NOT NULL, attempt INTEGER NOT NULL, status INTEGER,
    body TEXT, error TEXT, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS adjustments (
    gateway TEXT NOT NULL, out_trade_no TEXT NOT NULL, day TEXT NOT NULL,
    amount_fen INTEGER, omit INTEGER NOT NULL, PRIMARY KEY (gateway, out_trade_no, day));
CREATE TABLE IF NOT EXISTS files (
    token TEXT PRIMARY KEY, content BLOB NOT NULL, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS tokens (
    token TEXT PRIMARY KEY, gateway TEXT NOT NULL, out_trade_no TEXT NOT NULL);
"""


class Store:
    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    # orders and refunds
    def order(self, gateway: str, out_trade_no: str) -> Doc | None:
        row = self.db.execute(
            "SELECT doc FROM orders WHERE gateway=? AND out_trade_no=?", (gateway, out_trade_no)
        ).fetchone()
        return None if row is None else dict(json.loads(row["doc"]))

    def put_order(self, gateway: str, doc: Doc) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO orders (gateway, out_trade_no, doc) VALUES (?, ?, ?)",
            (gateway, doc["out_trade_no"], json.dumps(doc, ensure_ascii=False)),
        )

    def orders(self, gateway: str) -> list[Doc]:
        rows = self.db.execute("SELECT doc FROM orders WHERE gateway=?", (gateway,)).fetchall()
        return [dict(json.loads(row["doc"])) for row in rows]

    def refund(self, gateway: str, refund_no: str) -> Doc | None:
        row = self.db.execute(
            "SELECT doc FROM refunds WHERE gateway=? AND refund_no=?", (gateway, refund_no)
        ).fetchone()
        return None if row is None else dict(json.loads(row["doc"]))

    def put_refund(self, gateway: str, refund_no: str, doc: Doc) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO refunds (gateway, refund_no, out_trade_no, doc) "
            "VALUES (?, ?, ?, ?)",
            (gateway, refund_no, doc["out_trade_no"], json.dumps(doc, ensure_ascii=False)),
        )

    def refunds(self, gateway: str, out_trade_no: str | None = None) -> list[Doc]:
        if out_trade_no is None:
            rows = self.db.execute("SELECT doc FROM refunds WHERE gateway=?", (gateway,))
        else:
            rows = self.db.execute(
                "SELECT doc FROM refunds WHERE gateway=? AND out_trade_no=?",
                (gateway, out_trade_no),
            )
        return [dict(json.loads(row["doc"])) for row in rows.fetchall()]

    # tokens: a pay page's token (WeChat's pr= and prepay_id) to its order
    def put_token(self, token: str, gateway: str, out_trade_no: str) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO tokens (token, gateway, out_trade_no) VALUES (?, ?, ?)",
            (token, gateway, out_trade_no),
        )

    def token(self, token: str) -> tuple[str, str] | None:
        row = self.db.execute(
            "SELECT gateway, out_trade_no FROM tokens WHERE token=?", (token,)
        ).fetchone()
        return None if row is None else (row["gateway"], row["out_trade_no"])

    # notification outbox: held (a lost one, until renotify) | pending | delivered | failed
    def add_notification(
        self,
        gateway: str,
        kind: str,
        out_trade_no: str,
        ref: str,
        url: str,
        payload: Doc,
        *,
        held: bool = False,
    ) -> int:
        now = clock.now()
        cursor = self.db.execute(
            "INSERT INTO notifications (gateway, kind, out_trade_no, ref, url, payload, state, "
            "attempts, next_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?)",
            (
                gateway,
                kind,
                out_trade_no,
                ref,
                url,
                json.dumps(payload, ensure_ascii=False),
                "held" if held else "pending",
                now,
                now,
            ),
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def due_notifications(self, now: float) -> list[sqlite3.Row]:
        return self.db.execute(
            "SELECT * FROM notifications WHERE state='pending' AND next_at<=? ORDER BY next_at",
            (now,),
        ).fetchall()

    def next_due(self) -> float | None:
        row = self.db.execute(
            "SELECT MIN(next_at) AS at FROM notifications WHERE state='pending'"
        ).fetchone()
        return None if row["at"] is None else float(row["at"])

    def latest_notification(self, gateway: str, out_trade_no: str, kind: str) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self.db.execute(
            "SELECT * FROM notifications WHERE gateway=? AND out_trade_no=? AND kind=? "
            "ORDER BY id DESC LIMIT 1",
            (gateway, out_trade_no, kind),
        ).fetchone()
        return row

    def set_notification(self, nid: int, state: str, attempts: int, next_at: float) -> None:
        self.db.execute(
            "UPDATE notifications SET state=?, attempts=?, next_at=? WHERE id=?",
            (state, attempts, next_at, nid),
        )

    def log_delivery(
        self,
        row: sqlite3.Row,
        attempt: int,
        status: int | None,
        body: str | None,
        error: str | None,
    ) -> None:
        self.db.execute(
            "INSERT INTO deliveries (notification_id, gateway, kind, out_trade_no, attempt, "
            "status, body, error, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                row["id"],
                row["gateway"],
                row["kind"],
                row["out_trade_no"],
                attempt,
                status,
                body,
                error,
                clock.now(),
            ),
        )

    def deliveries(self, out_trade_no: str | None) -> list[Doc]:
        sql = "SELECT * FROM deliveries"
        args: tuple[str, ...] = ()
        if out_trade_no:
            sql += " WHERE out_trade_no=?"
            args = (out_trade_no,)
        rows = self.db.execute(sql + " ORDER BY id", args).fetchall()
        return [
            {
                "notification_id": row["notification_id"],
                "gateway": row["gateway"],
                "kind": row["kind"],
                "out_trade_no": row["out_trade_no"],
                "attempt": row["attempt"],
                "status": row["status"],
                "body": row["body"],
                "error": row["error"],
                "at": clock.rfc3339(row["at"]),
            }
            for row in rows
        ]

    # statement adjustments (day '' = every statement)
    def adjust(
        self, gateway: str, out_trade_no: str, day: str, amount_fen: int | None, omit: bool
    ) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO adjustments (gateway, out_trade_no, day, amount_fen, omit) "
            "VALUES (?, ?, ?, ?, ?)",
            (gateway, out_trade_no, day, amount_fen, int(omit)),
        )

    def adjustment(self, gateway: str, out_trade_no: str, day: str) -> tuple[int | None, bool]:
        row = self.db.execute(
            "SELECT amount_fen, omit FROM adjustments WHERE gateway=? AND out_trade_no=? "
            "AND day IN (?, '') ORDER BY day DESC LIMIT 1",
            (gateway, out_trade_no, day),
        ).fetchone()
        if row is None:
            return None, False
        return row["amount_fen"], bool(row["omit"])

    # statement files behind a download token
    def put_file(self, token: str, content: bytes) -> None:
        self.db.execute(
            "INSERT INTO files (token, content, created_at) VALUES (?, ?, ?)",
            (token, content, clock.now()),
        )

    def file(self, token: str) -> bytes | None:
        row = self.db.execute("SELECT content FROM files WHERE token=?", (token,)).fetchone()
        return None if row is None else bytes(row["content"])
