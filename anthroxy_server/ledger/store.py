"""The usage ledger: one row per request in ``usage.sqlite3`` in the state directory.

The request path only appends a row to a list (``record``); a writer thread takes what has
gathered every ``FLUSH_SECONDS`` (sooner past ``BATCH_ROWS``) and writes it in one transaction,
so a busy gateway makes a few transactions a second, never one per request, and never waits on
the disk. The database is in WAL mode: ``anthroxy usage`` reads while the server writes, and
several server processes may share one file (SQLite serialises their transactions).

A disk that is full, read-only or otherwise refusing turns into one warning; the ledger then
drops rows (counting them) and tries again at the next flush, and no request ever fails for it.
Rows older than the retention (``server.usage_retention_days``) are deleted at start and hourly.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import astuple, dataclass, fields
from pathlib import Path

from ..gateway.logs import LOGGER_NAME

log = logging.getLogger(LOGGER_NAME)

LEDGER_NAME = "usage.sqlite3"
FLUSH_SECONDS = 0.5
BATCH_ROWS = 500  # a flush starts early past this many rows waiting
MAX_PENDING = 100_000  # rows kept while the disk refuses; older ones are dropped past this
PRUNE_SECONDS = 3600.0
DAY = 86_400.0


@dataclass(slots=True)
class Row:
    """One request, as the ledger keeps it (column order = field order)."""

    time: float  # Unix seconds at the request's end
    request_id: str
    client_model: str | None
    provider: str | None
    upstream_model: str | None
    credential: str | None  # the key's label ("env:KEY_A"), never the key
    input_tokens: int | None
    output_tokens: int | None
    cache_read_tokens: int | None
    cache_write_tokens: int | None
    ttft_ms: float | None  # time to first token reaching the client
    total_ms: float
    status: int
    stream_error: str | None
    fallback_attempts: int  # failed attempts before the answer (or before the final error)
    cost_usd: float | None  # None: price unknown, or a subscription
    subscription: bool


COLUMNS = tuple(f.name for f in fields(Row))
_TYPES = {
    "time": "REAL NOT NULL",
    "request_id": "TEXT NOT NULL",
    "total_ms": "REAL NOT NULL",
    "status": "INTEGER NOT NULL",
    "fallback_attempts": "INTEGER NOT NULL",
    "subscription": "INTEGER NOT NULL",
    "ttft_ms": "REAL",
    "cost_usd": "REAL",
}
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS requests ("
    + ", ".join(f"{name} {_TYPES.get(name, 'INTEGER' if 'tokens' in name else 'TEXT')}"
                for name in COLUMNS)
    + ")"
)  # fmt: skip
_INSERT = f"INSERT INTO requests ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"


def connect(path: Path, *, timeout: float = 5.0) -> sqlite3.Connection:
    """A connection to the ledger at ``path``, created (mode 0600, WAL) if absent."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():
        path.touch(mode=0o600)
    conn = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable except on power loss
    conn.execute(SCHEMA)
    conn.execute("CREATE INDEX IF NOT EXISTS requests_time ON requests (time)")
    return conn


class Ledger:
    """Rows in, batched writes out on a thread of its own (``start`` / ``close``)."""

    def __init__(
        self, path: Path, retention_days: int, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.path = path
        self.retention_days = retention_days
        self.clock = clock
        self.transactions = 0  # committed batches, for tests and the report
        self.dropped = 0  # rows lost to a refusing disk
        self._pending: list[Row] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = False
        self._conn: sqlite3.Connection | None = None
        self._failing = False  # warned already; quiet until a write succeeds again
        self._pruned = 0.0
        self._thread = threading.Thread(target=self._run, name="anthroxy-ledger", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def record(self, row: Row) -> None:
        """Queue ``row``; the request path's whole cost of the ledger."""
        with self._lock:
            self._pending.append(row)
            waiting = len(self._pending)
            if waiting > MAX_PENDING:
                del self._pending[: waiting - MAX_PENDING]
                self.dropped += waiting - MAX_PENDING
        if waiting >= BATCH_ROWS:
            self._wake.set()

    def close(self) -> None:
        """Write what is waiting and stop the thread."""
        self._stop = True
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10.0)
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _run(self) -> None:
        while True:
            self._wake.wait(FLUSH_SECONDS)
            self._wake.clear()
            stopping = self._stop
            self.flush()
            if stopping:
                return

    def flush(self) -> None:
        """Write every waiting row in one transaction (the writer thread's job; tests call it)."""
        with self._lock:
            batch, self._pending = self._pending, []
        try:
            conn = self._connection()
            if batch:
                with conn:
                    conn.execute("BEGIN IMMEDIATE")
                    conn.executemany(_INSERT, [astuple(row) for row in batch])
                self.transactions += 1
            self._prune(conn)
        except (sqlite3.Error, OSError) as exc:
            self._refused(batch, exc)
            return
        if self._failing:
            log.info("usage ledger %s is writable again", self.path)
            self._failing = False

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = connect(self.path)
        return self._conn

    def _prune(self, conn: sqlite3.Connection) -> None:
        now = self.clock()
        if now - self._pruned < PRUNE_SECONDS:
            return
        self._pruned = now
        with conn:
            conn.execute("DELETE FROM requests WHERE time < ?", (now - self.retention_days * DAY,))

    def _refused(self, batch: Sequence[Row], exc: BaseException) -> None:
        """The rows are lost; the first failure of a run of them says so, once."""
        self.dropped += len(batch)
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if not self._failing:
            self._failing = True
            log.warning(
                "usage ledger %s cannot be written (%s): usage is not being recorded; requests "
                "are served as usual. Free disk space or fix the permissions of the state "
                "directory",
                self.path,
                exc,
            )
