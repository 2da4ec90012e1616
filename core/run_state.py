"""The run's progress in one SQLite file, so that Ctrl-C and a re-run continue where they stopped."""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

UnitStatus = Literal["running", "done", "failed"]
STATE_FILE = "state.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS units (
    stage TEXT NOT NULL,
    key TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    detail TEXT NOT NULL DEFAULT '',
    result_path TEXT,
    started_at REAL,
    finished_at REAL,
    PRIMARY KEY (stage, key)
)
"""


@dataclass(frozen=True)
class Unit:
    stage: str
    key: str
    status: UnitStatus
    attempts: int
    detail: str
    result_path: str | None


class RunState:
    """Units of work per stage (a gold build, an episode, ...) with their status; safe across threads."""

    def __init__(self, run_dir: Path) -> None:
        run_dir.mkdir(parents=True, exist_ok=True)
        self.path = run_dir / STATE_FILE
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(_SCHEMA)

    def start(self, stage: str, key: str) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO units (stage, key, status, attempts, started_at) VALUES (?, ?, 'running', 1, ?) "
                "ON CONFLICT (stage, key) DO UPDATE SET status='running', attempts=attempts+1, "
                "started_at=excluded.started_at, finished_at=NULL, detail=''",
                (stage, key, time.time()),
            )

    def finish(self, stage: str, key: str, result_path: Path | None = None, detail: str = "") -> None:
        self._end(stage, key, "done", detail, str(result_path) if result_path else None)

    def fail(self, stage: str, key: str, detail: str) -> None:
        self._end(stage, key, "failed", detail, None)

    def _end(self, stage: str, key: str, status: UnitStatus, detail: str, result_path: str | None) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE units SET status=?, detail=?, result_path=?, finished_at=? WHERE stage=? AND key=?",
                (status, detail, result_path, time.time(), stage, key),
            )

    def get(self, stage: str, key: str) -> Unit | None:
        with self._lock:
            row = self._db.execute(
                "SELECT stage, key, status, attempts, detail, result_path FROM units WHERE stage=? AND key=?",
                (stage, key),
            ).fetchone()
        return Unit(*row) if row else None

    def units(self, stage: str | None = None) -> list[Unit]:
        query = "SELECT stage, key, status, attempts, detail, result_path FROM units"
        params: tuple[str, ...] = ()
        if stage:
            query += " WHERE stage=?"
            params = (stage,)
        with self._lock:
            return [Unit(*row) for row in self._db.execute(query + " ORDER BY stage, key", params)]

    def close(self) -> None:
        with self._lock:
            self._db.close()
