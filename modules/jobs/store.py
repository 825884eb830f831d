"""SQLite storage of jobs: request JSON, status, error and results (PNG bytes), kept until fetched.

WAL mode with `synchronous=NORMAL` survives a killed process (only a power cut may drop the last commits). One
connection guarded by a lock: the worker and the HTTP threads share it; every call is one short transaction.
"""
from __future__ import annotations

import builtins
import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
FINISHED = (DONE, FAILED, CANCELLED)

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT UNIQUE NOT NULL,
    kind TEXT NOT NULL,
    request TEXT NOT NULL,
    status TEXT NOT NULL,
    created REAL NOT NULL,
    started REAL,
    finished REAL,
    error TEXT,
    error_status INTEGER,
    result TEXT,
    model TEXT,
    worker TEXT
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status, seq);
CREATE TABLE IF NOT EXISTS images (
    job_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    png BLOB NOT NULL,
    PRIMARY KEY (job_id, idx)
);
"""
# Columns added after the first release: an older jobs.sqlite gets them on open.
ADDED_COLUMNS = (("model", "TEXT"), ("worker", "TEXT"))
COLUMNS = ("seq, id, kind, request, status, created, started, finished, error, error_status, result, model, "
           "worker")


@dataclass(frozen=True)
class JobRecord:
    """One row of the jobs table. `result` is the A1111 `info` dict plus what the result route needs."""

    id: str
    seq: int
    kind: str
    request: str
    status: str
    created: float
    started: float | None
    finished: float | None
    error: str | None
    error_status: int | None
    result: dict | None
    model: str | None = None  # the checkpoint the job asks for, as known at submission (for model affinity)
    worker: str | None = None  # the worker that runs or ran it

    @property
    def finished_ok(self) -> bool:
        return self.status in FINISHED


class JobStore:
    """The jobs table. `open` turns jobs left `running` by a crash back into `queued`, ahead of newer ones."""

    def __init__(self, path: Path | str):
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(SCHEMA)
            have = {r[1] for r in self._db.execute("PRAGMA table_info(jobs)")}
            for name, kind in ADDED_COLUMNS:
                if name not in have:
                    self._db.execute(f"ALTER TABLE jobs ADD COLUMN {name} {kind}")
            self._db.execute("UPDATE jobs SET status=?, started=NULL, worker=NULL WHERE status=?", (QUEUED, RUNNING))

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _row(self, row) -> JobRecord | None:
        if row is None:
            return None
        seq, job_id, kind, request, status, created, started, finished, error, error_status, result, model, worker \
            = row
        return JobRecord(job_id, seq, kind, request, status, created, started, finished, error, error_status,
                         json.loads(result) if result else None, model, worker)

    def add(self, job_id: str, kind: str, request_json: str, model: str | None = None) -> None:
        with self._lock:
            self._db.execute("INSERT INTO jobs (id, kind, request, status, created, model) VALUES (?, ?, ?, ?, ?, ?)",
                             (job_id, kind, request_json, QUEUED, time.time(), model))

    def get(self, job_id: str) -> JobRecord | None:
        with self._lock:
            return self._row(self._db.execute(f"SELECT {COLUMNS} FROM jobs WHERE id=?", (job_id,)).fetchone())

    def queued_models(self) -> list[tuple[str, str | None, float]]:
        """(id, model, created) of every queued job, oldest first: what the slots choose from."""
        with self._lock:
            return [(r[0], r[1], r[2]) for r in
                    self._db.execute("SELECT id, model, created FROM jobs WHERE status=? ORDER BY seq", (QUEUED,))]

    def queued_ids(self) -> list[str]:
        with self._lock:
            return [r[0] for r in self._db.execute("SELECT id FROM jobs WHERE status=? ORDER BY seq", (QUEUED,))]

    def list(self, limit: int = 100) -> list[JobRecord]:
        with self._lock:
            rows = self._db.execute(f"SELECT {COLUMNS} FROM jobs ORDER BY seq DESC LIMIT ?", (limit,)).fetchall()
            return [record for record in map(self._row, rows) if record is not None]

    def mark_running(self, job_id: str, worker: str = "local") -> bool:
        """Claim a queued job for `worker`; False when it was cancelled or claimed meanwhile."""
        with self._lock:
            cur = self._db.execute("UPDATE jobs SET status=?, started=?, worker=? WHERE id=? AND status=?",
                                   (RUNNING, time.time(), worker, job_id, QUEUED))
            return cur.rowcount == 1

    def requeue(self, job_id: str) -> bool:
        """Put a running job whose worker was lost back in the queue, in its old place (by `seq`)."""
        with self._lock:
            cur = self._db.execute("UPDATE jobs SET status=?, started=NULL, worker=NULL WHERE id=? AND status=?",
                                   (QUEUED, job_id, RUNNING))
            return cur.rowcount == 1

    def finish(self, job_id: str, status: str, result: dict, pngs: builtins.list[bytes]) -> None:
        """Store the outcome and its images in one transaction."""
        with self._lock, self._db:
            self._db.execute("BEGIN")
            self._db.execute("DELETE FROM images WHERE job_id=?", (job_id,))
            self._db.executemany("INSERT INTO images (job_id, idx, png) VALUES (?, ?, ?)",
                                 [(job_id, i, png) for i, png in enumerate(pngs)])
            self._db.execute("UPDATE jobs SET status=?, finished=?, result=? WHERE id=?",
                             (status, time.time(), json.dumps(result, ensure_ascii=False), job_id))

    def fail(self, job_id: str, message: str, status_code: int) -> None:
        with self._lock:
            self._db.execute("UPDATE jobs SET status=?, finished=?, error=?, error_status=? WHERE id=?",
                             (FAILED, time.time(), message, status_code, job_id))

    def cancel_queued(self, job_id: str) -> bool:
        with self._lock:
            cur = self._db.execute("UPDATE jobs SET status=?, finished=? WHERE id=? AND status=?",
                                   (CANCELLED, time.time(), job_id, QUEUED))
            return cur.rowcount == 1

    def images(self, job_id: str) -> builtins.list[bytes]:
        with self._lock:
            rows = self._db.execute("SELECT png FROM images WHERE job_id=? ORDER BY idx", (job_id,)).fetchall()
            return [bytes(png) for (png,) in rows]

    def prune(self, older_than_s: float) -> int:
        """Delete finished jobs nobody fetched for `older_than_s` seconds; returns how many."""
        cutoff = time.time() - older_than_s
        marks = ",".join("?" * len(FINISHED))
        with self._lock, self._db:
            self._db.execute("BEGIN")
            ids = [r[0] for r in self._db.execute(f"SELECT id FROM jobs WHERE status IN ({marks}) AND finished < ?",
                                                  (*FINISHED, cutoff))]
            self._db.executemany("DELETE FROM images WHERE job_id=?", [(i,) for i in ids])
            self._db.executemany("DELETE FROM jobs WHERE id=?", [(i,) for i in ids])
        return len(ids)

    def delete(self, job_id: str) -> None:
        with self._lock, self._db:
            self._db.execute("BEGIN")
            self._db.execute("DELETE FROM images WHERE job_id=?", (job_id,))
            self._db.execute("DELETE FROM jobs WHERE id=?", (job_id,))
