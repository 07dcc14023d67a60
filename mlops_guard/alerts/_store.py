"""The durable inbox of the alert receiver: one SQLite file, one row per distinct alert.

An alert is committed (WAL, ``synchronous=FULL``: on disk, not in a page cache) before the
receiver answers 202, so Alertmanager's retry is the only copy needed until then. The row's
unique key is the alert's fingerprint, start time and status: a re-delivery only bumps the
``deliveries`` counter of the existing row and is never acted on again.

States: ``pending`` (to act on, maybe after ``next_attempt_at``) -> ``processing`` -> ``done`` or
back to ``pending`` (retry) or ``failed`` (gave up, kept for a human); ``recorded`` (nothing to
do: resolved, no action label) and ``skipped`` (acting would be wrong, e.g. a stale version) are
final. One receiver owns an inbox at a time (a lock file beside it), so at start every
``processing`` row is a leftover of a crash and goes back to ``pending``.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from mlops_guard.errors import AlertError

if TYPE_CHECKING:
    from filelock import BaseFileLock

    from mlops_guard.alerts._payload import Alert

__all__ = ["AlertState", "AlertStore", "StoreResult", "StoredAlert"]

AlertState = Literal["pending", "processing", "done", "failed", "recorded", "skipped"]
FINAL_STATES: tuple[AlertState, ...] = ("done", "failed", "recorded", "skipped")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    dedup_key TEXT NOT NULL UNIQUE,
    fingerprint TEXT NOT NULL,
    starts_at TEXT NOT NULL,
    status TEXT NOT NULL,
    alertname TEXT NOT NULL,
    action TEXT,
    model TEXT,
    labels TEXT NOT NULL,
    annotations TEXT NOT NULL,
    receiver TEXT NOT NULL,
    state TEXT NOT NULL,
    note TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL DEFAULT 0,
    last_error TEXT,
    result TEXT,
    deliveries INTEGER NOT NULL DEFAULT 1,
    received_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_due ON alerts (state, next_attempt_at);
CREATE INDEX IF NOT EXISTS alerts_fingerprint ON alerts (fingerprint);
"""

_COLUMNS = (
    "id, dedup_key, fingerprint, starts_at, status, alertname, action, model, labels, "
    "annotations, receiver, state, note, attempts, next_attempt_at, last_error, result, "
    "deliveries, received_at, updated_at"
)


def _now_text() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class StoredAlert:
    """One row of the inbox."""

    id: int
    fingerprint: str
    starts_at: str
    status: str
    alertname: str
    action: str | None
    model: str | None
    labels: dict[str, str]
    annotations: dict[str, str]
    receiver: str
    state: AlertState
    note: str | None
    attempts: int
    next_attempt_at: float
    last_error: str | None
    result: dict[str, Any] | None
    deliveries: int
    received_at: str
    updated_at: str

    @classmethod
    def _from_row(cls, row: sqlite3.Row) -> StoredAlert:
        return cls(
            id=int(row["id"]),
            fingerprint=row["fingerprint"],
            starts_at=row["starts_at"],
            status=row["status"],
            alertname=row["alertname"],
            action=row["action"],
            model=row["model"],
            labels=json.loads(row["labels"]),
            annotations=json.loads(row["annotations"]),
            receiver=row["receiver"],
            state=row["state"],
            note=row["note"],
            attempts=int(row["attempts"]),
            next_attempt_at=float(row["next_attempt_at"]),
            last_error=row["last_error"],
            result=json.loads(row["result"]) if row["result"] else None,
            deliveries=int(row["deliveries"]),
            received_at=row["received_at"],
            updated_at=row["updated_at"],
        )


@dataclass(frozen=True)
class StoreResult:
    """What :meth:`AlertStore.add` did with one alert of a payload."""

    id: int
    fingerprint: str
    duplicate: bool
    state: AlertState
    note: str | None = None


def triage(alert: Alert) -> tuple[AlertState, str | None]:
    """Whether an alert is to be acted on (``pending``) or only recorded, and why."""
    if alert.status != "firing":
        return "recorded", "resolved alerts are recorded, never acted on"
    if alert.action is None:
        return "recorded", "no action label"
    if alert.action != "rollback":
        return "recorded", f"action {alert.action!r} is for a human; the receiver only rolls back"
    if alert.model is None:
        return "recorded", "action 'rollback' without a model label; nothing to roll back"
    return "pending", None


class AlertStore:
    """The SQLite inbox. Thread-safe; use as a context manager or call :meth:`close`.

    ``exclusive=True`` (the receiver) takes the inbox's lock file, so two receivers never act
    on the same alerts; readers (``mlops-guard alerts inbox``) open it without.
    """

    def __init__(self, path: str | Path, *, exclusive: bool = False) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._file_lock: BaseFileLock | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise AlertError(
                f"alert store directory {str(self.path.parent)!r} cannot be created: {exc}",
                hint="point MLOPS_GUARD_ALERTS_STORE at a writable location",
            ) from exc
        if exclusive:
            self._acquire_owner_lock()
        try:
            self._db = sqlite3.connect(
                self.path, check_same_thread=False, isolation_level=None, timeout=30
            )
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode=WAL")
            # FULL: a commit survives power loss, which is what the 202 promises.
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            self._release_owner_lock()
            raise AlertError(
                f"alert store {str(self.path)!r} is unusable: {exc}",
                hint="move the file away (it is kept for inspection) and restart the receiver",
            ) from exc

    def _acquire_owner_lock(self) -> None:
        from filelock import FileLock, Timeout

        lock = FileLock(str(self.path) + ".lock")
        try:
            lock.acquire(timeout=0)
        except Timeout as exc:
            raise AlertError(
                f"alert store {str(self.path)!r} is in use by another receiver",
                hint="stop the other receiver or set MLOPS_GUARD_ALERTS_STORE to another file",
            ) from exc
        self._file_lock = lock

    def _release_owner_lock(self) -> None:
        if self._file_lock is not None:
            self._file_lock.release()
            self._file_lock = None

    def close(self) -> None:
        with self._lock:
            self._db.close()
        self._release_owner_lock()

    def __enter__(self) -> AlertStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                raise AlertError(
                    f"alert store {str(self.path)!r} failed: {exc}",
                    hint="check the disk and the file's permissions",
                ) from exc

    # Writing --------------------------------------------------------------------------------

    def add(self, alerts: Sequence[Alert], *, receiver: str) -> list[StoreResult]:
        """Store every alert of one webhook call in one transaction (committed on return)."""
        results: list[StoreResult] = []
        now = _now_text()
        with self._transaction() as db:
            for alert in alerts:
                state, note = triage(alert)
                cursor = db.execute(
                    "INSERT OR IGNORE INTO alerts (dedup_key, fingerprint, starts_at, status, "
                    "alertname, action, model, labels, annotations, receiver, state, note, "
                    "received_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        alert.dedup_key,
                        alert.fingerprint,
                        alert.starts_at.isoformat(),
                        alert.status,
                        alert.alertname,
                        alert.action,
                        alert.model,
                        json.dumps(alert.labels, sort_keys=True),
                        json.dumps(alert.annotations, sort_keys=True),
                        receiver,
                        state,
                        note,
                        now,
                        now,
                    ),
                )
                if cursor.rowcount == 1:
                    row_id = int(cursor.lastrowid or 0)
                    results.append(StoreResult(row_id, alert.fingerprint, False, state, note))
                    continue
                db.execute(
                    "UPDATE alerts SET deliveries = deliveries + 1 WHERE dedup_key = ?",
                    (alert.dedup_key,),
                )
                row = db.execute(
                    "SELECT id, state, note FROM alerts WHERE dedup_key = ?", (alert.dedup_key,)
                ).fetchone()
                results.append(
                    StoreResult(int(row["id"]), alert.fingerprint, True, row["state"], row["note"])
                )
        return results

    def requeue_in_flight(self) -> int:
        """At start: ``processing`` rows (left by a crash) and ``pending`` rows waiting for a
        backoff become due now; returns how many. A restart is usually the fix (the
        configuration was corrected), so it should not wait out the old backoff; the attempt
        count is kept, so a crash loop still ends in ``failed``."""
        with self._transaction() as db:
            cursor = db.execute(
                "UPDATE alerts SET state = 'pending', next_attempt_at = 0, updated_at = ? "
                "WHERE state IN ('processing', 'pending')",
                (_now_text(),),
            )
            return int(cursor.rowcount)

    def claim_next(self, now: float | None = None) -> StoredAlert | None:
        """Move the oldest due ``pending`` row to ``processing`` and return it."""
        now = time.time() if now is None else now
        with self._transaction() as db:
            row = db.execute(
                f"SELECT {_COLUMNS} FROM alerts WHERE state = 'pending' AND next_attempt_at <= ? "
                "ORDER BY next_attempt_at, id LIMIT 1",
                (now,),
            ).fetchone()
            if row is None:
                return None
            db.execute(
                "UPDATE alerts SET state = 'processing', attempts = attempts + 1, updated_at = ? "
                "WHERE id = ?",
                (_now_text(), row["id"]),
            )
            claimed = db.execute(
                f"SELECT {_COLUMNS} FROM alerts WHERE id = ?", (row["id"],)
            ).fetchone()
        return StoredAlert._from_row(claimed)

    def _finish(
        self,
        alert_id: int,
        state: AlertState,
        *,
        note: str | None = None,
        error: str | None = None,
        result: dict[str, Any] | None = None,
        next_attempt_at: float = 0.0,
    ) -> None:
        with self._transaction() as db:
            db.execute(
                "UPDATE alerts SET state = ?, note = COALESCE(?, note), last_error = ?, "
                "result = COALESCE(?, result), next_attempt_at = ?, updated_at = ? WHERE id = ?",
                (
                    state,
                    note,
                    error,
                    json.dumps(result, default=str) if result is not None else None,
                    next_attempt_at,
                    _now_text(),
                    alert_id,
                ),
            )

    def mark_done(self, alert_id: int, result: dict[str, Any], note: str | None = None) -> None:
        self._finish(alert_id, "done", result=result, note=note)

    def mark_retry(self, alert_id: int, error: str, next_attempt_at: float) -> None:
        self._finish(alert_id, "pending", error=error, next_attempt_at=next_attempt_at)

    def mark_failed(self, alert_id: int, error: str) -> None:
        self._finish(alert_id, "failed", error=error)

    def mark_skipped(self, alert_id: int, note: str) -> None:
        self._finish(alert_id, "skipped", note=note)

    # Reading --------------------------------------------------------------------------------

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            try:
                return list(self._db.execute(sql, params).fetchall())
            except sqlite3.Error as exc:
                raise AlertError(
                    f"alert store {str(self.path)!r} cannot be read: {exc}",
                    hint="check the file; it may belong to another program",
                ) from exc

    def get(self, alert_id: int) -> StoredAlert | None:
        rows = self._query(f"SELECT {_COLUMNS} FROM alerts WHERE id = ?", (alert_id,))
        return StoredAlert._from_row(rows[0]) if rows else None

    def list(
        self, *, state: AlertState | None = None, fingerprint: str | None = None
    ) -> list[StoredAlert]:
        """Rows, oldest first, optionally of one state or fingerprint."""
        sql = f"SELECT {_COLUMNS} FROM alerts WHERE 1 = 1"
        params: list[Any] = []
        if state is not None:
            sql += " AND state = ?"
            params.append(state)
        if fingerprint is not None:
            sql += " AND fingerprint = ?"
            params.append(fingerprint)
        return [StoredAlert._from_row(row) for row in self._query(sql + " ORDER BY id", params)]

    def counts(self) -> dict[str, int]:
        """Rows per state."""
        rows = self._query("SELECT state, COUNT(*) AS n FROM alerts GROUP BY state")
        return {row["state"]: int(row["n"]) for row in rows}

    def open_count(self) -> int:
        """Rows not yet in a final state (``pending`` and ``processing``)."""
        rows = self._query(
            "SELECT COUNT(*) AS n FROM alerts WHERE state IN ('pending', 'processing')"
        )
        return int(rows[0]["n"])

    def next_due(self) -> float | None:
        """Unix time the earliest ``pending`` row becomes due, or None."""
        rows = self._query("SELECT MIN(next_attempt_at) AS t FROM alerts WHERE state = 'pending'")
        value = rows[0]["t"]
        return float(value) if value is not None else None
