"""Sync state: what the store knows about requests, reports and instances, in SQLite beside the lake.

SQLite because every change is a transaction that survives kill -9 (its journal rolls a torn
write back), and the caller (never a worker) is the only writer while it holds the store lock.
The lake files are the truth about data; this is the truth about what was already fetched.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

__all__ = ["State"]

SCHEMA = """
create table if not exists requests (
  app_id text not null, access_type text not null, request_id text not null,
  requested_on text, complete integer not null default 0,
  primary key (app_id, access_type));
create table if not exists reports (
  request_id text not null, name text not null, report_id text not null,
  primary key (request_id, name));
create table if not exists instances (
  instance_id text primary key, app_id text not null, report text not null, granularity text not null,
  request_id text not null, access_type text not null, processing_date text not null,
  first_seen text not null, stored integer not null default 0, rows integer, error text);
create index if not exists instances_by_row on instances (app_id, report, granularity);
create table if not exists snapshots_done (
  request_id text not null, report text not null, granularity text not null,
  primary key (request_id, report, granularity));
create table if not exists types (
  report text not null, granularity text not null, column_name text not null, type text not null,
  primary key (report, granularity, column_name));
create table if not exists issues (
  seq integer primary key autoincrement, recorded_at text not null, app_id text, report text,
  granularity text, instance_id text, segment_id text, kind text, line integer, column_name text,
  value text, message text);
create table if not exists meta (key text primary key, value text);
"""


class State:
    """A thin, typed face over the SQLite file (one connection, caller thread only)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(path, timeout=30, check_same_thread=False)
        self.db.execute("pragma journal_mode=wal")
        self.db.execute("pragma synchronous=normal")
        self.db.executescript(SCHEMA)
        self.db.commit()

    def close(self) -> None:
        self.db.close()

    # -- meta
    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("select value from meta where key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def set_meta(self, key: str, value: str) -> None:
        with self.db:
            self.db.execute("insert or replace into meta values (?, ?)", (key, value))

    # -- requests and reports
    def request(self, app_id: str, access_type: str) -> tuple[str, str | None, bool] | None:
        row = self.db.execute(
            "select request_id, requested_on, complete from requests where app_id = ? and access_type = ?",
            (app_id, access_type),
        ).fetchone()
        return None if row is None else (row[0], row[1], bool(row[2]))

    def set_request(self, app_id: str, access_type: str, request_id: str, requested_on: str | None) -> None:
        with self.db:
            self.db.execute(
                "insert or replace into requests values (?, ?, ?, ?, 0)",
                (app_id, access_type, request_id, requested_on),
            )

    def complete_request(self, app_id: str, access_type: str) -> None:
        with self.db:
            self.db.execute(
                "update requests set complete = 1 where app_id = ? and access_type = ?", (app_id, access_type)
            )

    def forget_request(self, request_id: str) -> None:
        with self.db:
            self.db.execute("delete from requests where request_id = ?", (request_id,))
            self.db.execute("delete from reports where request_id = ?", (request_id,))

    def report_id(self, request_id: str, name: str) -> str | None:
        row = self.db.execute(
            "select report_id from reports where request_id = ? and name = ?", (request_id, name)
        ).fetchone()
        return None if row is None else row[0]

    def set_report_ids(self, request_id: str, ids: dict[str, str]) -> None:
        with self.db:
            self.db.executemany(
                "insert or replace into reports values (?, ?, ?)",
                [(request_id, n, i) for n, i in ids.items()],
            )

    # -- instances
    def stored_ids(self, instance_ids: Iterable[str]) -> set[str]:
        ids = list(instance_ids)
        out: set[str] = set()
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            marks = ",".join("?" * len(chunk))
            out.update(
                r[0]
                for r in self.db.execute(
                    f"select instance_id from instances where stored = 1 and instance_id in ({marks})", chunk
                )
            )
        return out

    def seen(self, rows: list[tuple[str, str, str, str, str, str, str, str]]) -> None:
        """Record listed instances (id, app, report, granularity, request, access, pdate, first_seen)."""
        with self.db:
            self.db.executemany(
                "insert or ignore into instances (instance_id, app_id, report, granularity, request_id, "
                "access_type, processing_date, first_seen) values (?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )

    def first_seen(self, instance_ids: Iterable[str]) -> dict[str, str]:
        """instance id -> the day the store first listed it (the reference day of that listing)."""
        ids = list(instance_ids)
        out: dict[str, str] = {}
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            marks = ",".join("?" * len(chunk))
            out.update(
                (r[0], r[1][:10])
                for r in self.db.execute(
                    f"select instance_id, first_seen from instances where instance_id in ({marks})", chunk
                )
            )
        return out

    def mark_stored(
        self, instance_id: str, rows: int, types: dict[str, str], report: str, granularity: str
    ) -> None:
        with self.db:
            self.db.execute(
                "update instances set stored = 1, rows = ?, error = null where instance_id = ?",
                (rows, instance_id),
            )
            self.db.executemany(
                "insert or ignore into types values (?, ?, ?, ?)",
                [(report, granularity, c, t) for c, t in types.items()],
            )

    def mark_failed(self, instance_id: str, error: str) -> None:
        with self.db:
            self.db.execute("update instances set error = ? where instance_id = ?", (error, instance_id))

    def types(self, report: str, granularity: str) -> dict[str, str]:
        return dict(
            self.db.execute(
                "select column_name, type from types where report = ? and granularity = ?",
                (report, granularity),
            )
        )

    def snapshot_done(self, request_id: str, report: str, granularity: str) -> bool:
        return (
            self.db.execute(
                "select 1 from snapshots_done where request_id = ? and report = ? and granularity = ?",
                (request_id, report, granularity),
            ).fetchone()
            is not None
        )

    def set_snapshot_done(self, request_id: str, report: str, granularity: str) -> None:
        with self.db:
            self.db.execute(
                "insert or ignore into snapshots_done values (?, ?, ?)", (request_id, report, granularity)
            )

    def instances(self) -> list[tuple[Any, ...]]:
        return self.db.execute(
            "select instance_id, app_id, report, granularity, request_id, access_type, "
            "processing_date, first_seen, stored, rows, error from instances"
        ).fetchall()

    # -- issues
    def add_issues(
        self,
        when: str,
        app_id: str,
        report: str,
        granularity: str,
        instance_id: str,
        issues: list[dict[str, Any]],
    ) -> None:
        if not issues:
            return
        with self.db:
            self.db.executemany(
                "insert into issues (recorded_at, app_id, report, granularity, instance_id, segment_id, kind, line, "
                "column_name, value, message) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        when,
                        app_id,
                        report,
                        granularity,
                        instance_id,
                        i.get("segment_id"),
                        i.get("kind"),
                        i.get("line"),
                        i.get("column"),
                        i.get("value"),
                        i.get("message"),
                    )
                    for i in issues
                ],
            )

    def issues(self) -> list[tuple[Any, ...]]:
        return self.db.execute(
            "select recorded_at, app_id, report, granularity, instance_id, segment_id, kind, "
            "line, column_name, value, message from issues order by seq"
        ).fetchall()
