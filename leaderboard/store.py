"""The leaderboard's store: finished runs and their eval curves in one SQLite file.

Runs are read through ``rundir`` (the run directory's owner: layout, checks, records); this
module checks what it stores and reads it back, ``leaderboard.table`` tabulates it.

Only finished runs (``summary.json`` with ``"finished": true``) are stored. The database
(default ``runs/leaderboard.sqlite``; ``$RESD_LEADERBOARD`` or an explicit path override it)
holds, at schema version 1:

    meta(key TEXT PRIMARY KEY, value TEXT)          -- 'schema_version' -> '1'
    runs(run_dir TEXT PRIMARY KEY,                  -- absolute path: adding twice updates
         env, model, learner, label TEXT,           -- label: learner plus its settings
         config_key TEXT,                           -- hash of the config minus seed/provenance
         seed INTEGER, samples INTEGER, final_success REAL,
         tokens_policy, tokens_reflection, tokens_curation INTEGER, wall_seconds REAL,
         config_json, summary_json TEXT, added_at TEXT)
    points(run_dir TEXT REFERENCES runs ON DELETE CASCADE, idx INTEGER, step INTEGER,
           samples INTEGER, success_mean, success_best, progress_mean, valid_rate REAL,
           k INTEGER, n_tasks INTEGER, PRIMARY KEY (run_dir, idx))

Runs pool into one leaderboard row only when their ``config_key`` matches, i.e. their configs
differ only by seed (and provenance: versions, git commit), so a resd ablation or another
difficulty preset never silently averages with the plain run. A schema change adds an entry to
``_MIGRATIONS`` and bumps ``SCHEMA_VERSION``; opening an older file migrates it in place.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import sys
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rundir import (  # NON_RESULT_KEYS, config_key: re-exported, the key is rundir's
    NON_RESULT_KEYS,  # noqa: F401
    EvalRecord,
    RunDirError,
    RunRecord,
    config_key,
    read_run,
)

SCHEMA_VERSION = 1
DEFAULT_DB = Path("runs/leaderboard.sqlite")
ENV_VAR = "RESD_LEADERBOARD"

_MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE runs (
        run_dir TEXT PRIMARY KEY, env TEXT NOT NULL, model TEXT NOT NULL,
        learner TEXT NOT NULL, label TEXT NOT NULL, config_key TEXT NOT NULL,
        seed INTEGER NOT NULL, samples INTEGER NOT NULL, final_success REAL NOT NULL,
        tokens_policy INTEGER NOT NULL, tokens_reflection INTEGER NOT NULL,
        tokens_curation INTEGER NOT NULL, wall_seconds REAL NOT NULL,
        config_json TEXT NOT NULL, summary_json TEXT NOT NULL, added_at TEXT NOT NULL);
    CREATE TABLE points (
        run_dir TEXT NOT NULL REFERENCES runs(run_dir) ON DELETE CASCADE,
        idx INTEGER NOT NULL, step INTEGER NOT NULL, samples INTEGER NOT NULL,
        success_mean REAL NOT NULL, success_best REAL NOT NULL, progress_mean REAL NOT NULL,
        valid_rate REAL NOT NULL, k INTEGER NOT NULL, n_tasks INTEGER NOT NULL,
        PRIMARY KEY (run_dir, idx));
    CREATE INDEX runs_by_env ON runs(env, model);
    """,
}

EVAL_FIELDS = (
    "step",
    "samples",
    "success_mean",
    "success_best",
    "progress_mean",
    "valid_rate",
    "k",
    "n_tasks",
)


class StoreError(ValueError):
    """The leaderboard database cannot be opened, read or written; the message is one line."""


class RunRejected(ValueError):
    """A run that cannot go on the leaderboard (unfinished, inconsistent); one line."""


@dataclass
class StoredRun:
    """One finished run as the table reads it back from the store."""

    run_dir: str
    env: str
    model: str
    learner: str
    label: str
    config_key: str
    seed: int
    samples: int
    final_success: float
    tokens: int
    wall_seconds: float
    curve: list[EvalRecord] = field(default_factory=list)
    budget: int | None = None  # from its config: what the table shows beside the label
    preset: str | None = None
    added_at: str = ""  # when it was stored: of two runs of one seed, the later counts


# Unicode categories that break a table or a terminal: control characters (newlines, ANSI
# escapes), format characters (bidi overrides, zero-width), lone surrogates, line separators.
UNPRINTABLE = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def has_control_characters(text: str) -> bool:
    return any(unicodedata.category(ch) in UNPRINTABLE for ch in text)


def check_run(rec: RunRecord, label: str) -> None:
    """Refuse, in one line, a run the table could not use: unfinished, no curve, a name that
    is empty or holds control characters, or a summary that contradicts its curve. (Record
    checks, finite numbers, a curve that never goes back, UTF-8, happened in ``read_run``.)"""
    where = rec.run_dir
    if not rec.finished:
        raise RunRejected(
            f"{where}: not finished (no summary.json, or 'finished' is not true); "
            "only finished runs go on the leaderboard"
        )
    if not rec.evals:
        raise RunRejected(f"{where}: evals.jsonl holds no evaluation")
    s = rec.summary
    for name, value in (
        ("env", s.env),
        ("model", s.model),
        ("learner", s.learner),
        ("label", label),
    ):
        if not value.strip() or has_control_characters(value):
            raise RunRejected(f"{where}: {name} {value!r} is empty or holds control characters")
    last = rec.evals[-1]
    if (s.samples, s.final_success) != (last.samples, last.success_mean):
        raise RunRejected(
            f"{where}: summary.json (samples {s.samples}, final success {s.final_success}) "
            f"contradicts evals.jsonl's last line (samples {last.samples}, "
            f"success {last.success_mean})"
        )


def check_stored(run: StoredRun, points: Sequence[tuple]) -> list[EvalRecord]:
    """The curve of a row read back from the database, or ``RunRejected`` saying why the row
    cannot be tabulated: a row stored by an older version or edited by hand may hold anything
    SQLite lets it hold."""
    texts = (run.run_dir, run.env, run.model, run.learner, run.label, run.config_key)
    if not all(isinstance(t, str) for t in texts):
        raise RunRejected("a name is not text")
    numbers = (run.final_success, run.wall_seconds, run.tokens)
    if not all(isinstance(x, int | float) and math.isfinite(x) for x in numbers):
        raise RunRejected("a number is missing or not finite")
    if not points:
        raise RunRejected("no eval points")
    try:
        curve = [
            EvalRecord.from_json(dict(zip(EVAL_FIELDS, p, strict=True)), "eval") for p in points
        ]
    except RunDirError as err:
        raise RunRejected(str(err)) from None
    if any(b.samples < a.samples for a, b in zip(curve, curve[1:], strict=False)):
        raise RunRejected("its curve goes back in samples")
    return curve


def shown_settings(config_json: Any) -> tuple[int | None, str | None]:
    """The budget and preset a stored config names (None where it names none usable)."""
    try:
        config = json.loads(config_json)
    except (TypeError, ValueError):
        return None, None
    if not isinstance(config, dict):
        return None, None
    budget, preset = config.get("budget"), config.get("preset")
    return (
        budget if isinstance(budget, int) and not isinstance(budget, bool) else None,
        preset if isinstance(preset, str) else None,
    )


def db_path(path: str | Path | None = None) -> Path:
    """The database file: the argument, else ``$RESD_LEADERBOARD``, else runs/leaderboard.sqlite."""
    return Path(path or os.environ.get(ENV_VAR) or DEFAULT_DB)


class Store:
    """The SQLite leaderboard. Use as a context manager or call ``close()``."""

    def __init__(self, path: str | Path | None = None):
        self.path = db_path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.conn = sqlite3.connect(self.path)
            self.conn.execute("PRAGMA foreign_keys = ON")
            self._migrate()
        except sqlite3.DatabaseError as err:
            raise StoreError(f"{self.path}: not a usable leaderboard database ({err})") from None
        except OSError as err:
            raise StoreError(f"cannot open {self.path}: {err.strerror or err}") from None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.conn.close()

    def schema_version(self) -> int:
        has_meta = self.conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'"
        ).fetchone()
        if not has_meta:
            return 0
        row = self.conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        if row is None:
            return 0
        try:
            return int(row[0])
        except (TypeError, ValueError):
            raise StoreError(f"{self.path}: schema_version {row[0]!r} is not a number") from None

    def _migrate(self) -> None:
        version = self.schema_version()
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path}: schema v{version} is newer than this code's "
                f"v{SCHEMA_VERSION}; update resd-bench"
            )
        with self.conn:
            self.conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
            for target in range(version + 1, SCHEMA_VERSION + 1):
                self.conn.executescript(_MIGRATIONS[target])
                self.conn.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(target),)
                )

    def add_run(self, run_dir: str | Path, label: str | None = None) -> StoredRun:
        """Insert or update a finished run and its curve, after checking it (``check_run``).

        ``label`` names the row (e.g. ``resd[use_reflection=false]``); without one a run keeps
        the label it was stored with, else gets its learner's name.
        """
        rec = read_run(Path(run_dir).resolve())
        if label is None:
            old = self._query("SELECT label FROM runs WHERE run_dir = ?", (str(rec.run_dir),))
            label = old[0][0] if old else rec.summary.learner if rec.summary else ""
        check_run(rec, label)
        s = rec.summary
        tokens = [s.tokens[k] for k in ("policy", "reflection", "curation")]
        row = StoredRun(
            run_dir=str(rec.run_dir),
            env=s.env,
            model=s.model,
            learner=s.learner,
            label=label,
            config_key=config_key(rec.config),
            seed=s.seed,
            samples=s.samples,
            final_success=s.final_success,
            tokens=sum(tokens),
            wall_seconds=s.wall_seconds,
            curve=rec.evals,
            added_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        config_json = json.dumps(rec.config, sort_keys=True, default=str)
        row.budget, row.preset = shown_settings(config_json)
        try:
            with self.conn:
                self.conn.execute("DELETE FROM runs WHERE run_dir = ?", (row.run_dir,))
                self.conn.execute(
                    "INSERT INTO runs VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        row.run_dir,
                        row.env,
                        row.model,
                        row.learner,
                        row.label,
                        row.config_key,
                        row.seed,
                        row.samples,
                        row.final_success,
                        *tokens,
                        row.wall_seconds,
                        config_json,
                        json.dumps(s.to_json(), sort_keys=True),
                        row.added_at,
                    ),
                )
                self.conn.executemany(
                    f"INSERT INTO points VALUES (?,?,{','.join('?' * len(EVAL_FIELDS))})",
                    [
                        (row.run_dir, i, *(getattr(p, f) for f in EVAL_FIELDS))
                        for i, p in enumerate(rec.evals)
                    ],
                )
        except sqlite3.Error as err:  # disk full, read-only file, locked database
            raise StoreError(f"{self.path}: cannot store {row.run_dir} ({err})") from None
        return row

    def runs(self, env: str | None = None, model: str | None = None) -> list[StoredRun]:
        """Stored runs with their curves, optionally only one env and/or model. A stored row
        that cannot be tabulated (``check_stored``) is left out with a one-line warning on
        stderr, so one bad row never stops the table."""
        where, args = [], []
        for col, val in (("env", env), ("model", model)):
            if val is not None:
                where.append(f"{col} = ?")
                args.append(val)
        sql = (
            "SELECT run_dir, env, model, learner, label, config_key, seed, samples, "
            "final_success, tokens_policy + tokens_reflection + tokens_curation, wall_seconds, "
            "config_json, added_at FROM runs"
            + (" WHERE " + " AND ".join(where) if where else "")
            + " ORDER BY env, model, label, seed, run_dir"
        )
        good = []
        for *row, config_json, added_at in self._query(sql, args):
            run = StoredRun(*row, added_at=str(added_at or ""))
            run.budget, run.preset = shown_settings(config_json)
            points = self._query(
                f"SELECT {', '.join(EVAL_FIELDS)} FROM points WHERE run_dir = ? ORDER BY idx",
                (run.run_dir,),
            )
            try:
                run.curve = check_stored(run, points)
            except RunRejected as err:
                print(f"warning: skipped stored run {run.run_dir!r}: {err}", file=sys.stderr)
                continue
            good.append(run)
        return good

    def _query(self, sql: str, args: Sequence[Any] = ()) -> list[tuple]:
        try:
            return self.conn.execute(sql, args).fetchall()
        except sqlite3.Error as err:
            raise StoreError(f"{self.path}: unreadable ({err})") from None

    def count(self) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0])


def add_run(
    run_dir: str | Path, db: str | Path | None = None, label: str | None = None
) -> StoredRun:
    """Add one finished run to the leaderboard at ``db`` (see ``db_path``)."""
    with Store(db) as store:
        return store.add_run(run_dir, label)
