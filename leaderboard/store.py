"""The leaderboard's store: finished runs and their eval curves in one SQLite file.

A run directory, as written by ``python -m benchmarks.run``::

    RUN_DIR/
      config.json    resolved config: env, env_knobs, learner, learner_config, model, seed,
                     budget, batch_tasks, inner_steps, eval_every, eval_tasks, eval_k,
                     versions {python, torch, transformers}, git_commit (str or null)
      episodes.jsonl one line per training episode
      updates.jsonl  one line per optimiser step: {"step", "samples", ...metrics}
      evals.jsonl    one line per held-out evaluation: {"step", "samples", "success_mean"
                     (mean@k), "success_best" (best@k), "progress_mean", "valid_rate", "k",
                     "n_tasks"}; the first line is at samples=0, before training
      summary.json   at the end: {"env", "learner", "model", "seed", "samples", "final_success",
                     "tokens": {"policy", "reflection", "curation"}, "wall_seconds",
                     "phases": {phase: seconds}, "finished": true}
      curves.png     the run's curves

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

import hashlib
import json
import os
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1
DEFAULT_DB = Path("runs/leaderboard.sqlite")
ENV_VAR = "RESD_LEADERBOARD"
# Config keys that do not change what a run measures: runs differing only here pool together.
NON_RESULT_KEYS = frozenset({"seed", "versions", "git_commit", "out", "run_dir", "resume"})

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


class RunError(ValueError):
    """A run directory or database that cannot be used; the message is one line."""


@dataclass(frozen=True)
class EvalPoint:
    """One held-out evaluation of a run (a line of evals.jsonl)."""

    step: int
    samples: int
    success_mean: float
    success_best: float
    progress_mean: float
    valid_rate: float
    k: int
    n_tasks: int


@dataclass
class RunRecord:
    """What a run directory holds, as far as the leaderboard and the plots need it."""

    run_dir: Path
    config: dict[str, Any]
    summary: dict[str, Any] | None
    evals: list[EvalPoint]

    @property
    def finished(self) -> bool:
        return bool(self.summary) and self.summary.get("finished") is True


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
    curve: list[EvalPoint] = field(default_factory=list)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise RunError(f"{path}: missing") from None
    except (OSError, json.JSONDecodeError) as err:
        raise RunError(f"{path}: unreadable JSON ({err})") from None
    if not isinstance(data, dict):
        raise RunError(f"{path}: expected a JSON object")
    return data


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Lines of a JSONL log. A broken *last* line (a run killed mid-write) is skipped."""
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        raise RunError(f"{path}: missing") from None
    rows = []
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            if i == len(lines) - 1:
                break
            raise RunError(f"{path}:{i + 1}: not valid JSON") from None
        if not isinstance(row, dict):
            raise RunError(f"{path}:{i + 1}: expected a JSON object")
        rows.append(row)
    return rows


def read_evals(run_dir: str | Path) -> list[EvalPoint]:
    """The eval curve of a run, in file order (what plots and the store use)."""
    path = Path(run_dir) / "evals.jsonl"
    points = []
    for n, row in enumerate(read_jsonl(path), start=1):
        missing = [f for f in EVAL_FIELDS if f not in row]
        if missing:
            raise RunError(f"{path}: eval {n} lacks {', '.join(missing)}")
        try:
            points.append(
                EvalPoint(
                    step=int(row["step"]),
                    samples=int(row["samples"]),
                    success_mean=float(row["success_mean"]),
                    success_best=float(row["success_best"]),
                    progress_mean=float(row["progress_mean"]),
                    valid_rate=float(row["valid_rate"]),
                    k=int(row["k"]),
                    n_tasks=int(row["n_tasks"]),
                )
            )
        except (TypeError, ValueError):
            raise RunError(f"{path}: eval {n} has a non-numeric field") from None
    return points


def read_run(run_dir: str | Path) -> RunRecord:
    """Config, summary (None while the run is going) and eval curve of a run directory."""
    root = Path(run_dir)
    if not root.is_dir():
        raise RunError(f"{root}: not a directory")
    summary_path = root / "summary.json"
    summary = _read_json(summary_path) if summary_path.exists() else None
    return RunRecord(root, _read_json(root / "config.json"), summary, read_evals(root))


def config_key(config: dict[str, Any]) -> str:
    """Hash of everything in a config that changes what a run measures (not seed, provenance)."""
    kept = {k: v for k, v in config.items() if k not in NON_RESULT_KEYS}
    blob = json.dumps(kept, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


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
            raise RunError(f"{self.path}: not a usable leaderboard database ({err})") from None

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
        return int(row[0]) if row else 0

    def _migrate(self) -> None:
        version = self.schema_version()
        if version > SCHEMA_VERSION:
            raise RunError(
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
        """Insert or update a finished run and its curve.

        ``label`` names the row (e.g. ``resd[use_reflection=false]``); without one a run keeps
        the label it was stored with, else gets its learner's name.
        """
        rec = read_run(Path(run_dir).resolve())
        if label is None:
            old = self.conn.execute(
                "SELECT label FROM runs WHERE run_dir = ?", (str(rec.run_dir),)
            ).fetchone()
            label = old[0] if old else None
        if not rec.finished:
            raise RunError(
                f"{rec.run_dir}: not finished (summary.json missing or 'finished' is "
                "not true); only finished runs go on the leaderboard"
            )
        if not rec.evals:
            raise RunError(f"{rec.run_dir}: evals.jsonl holds no evaluation")
        s = rec.summary or {}
        try:
            tokens = s["tokens"]
            row = StoredRun(
                run_dir=str(rec.run_dir),
                env=str(s["env"]),
                model=str(s["model"]),
                learner=str(s["learner"]),
                label=label or str(s["learner"]),
                config_key=config_key(rec.config),
                seed=int(s["seed"]),
                samples=int(s["samples"]),
                final_success=float(s["final_success"]),
                tokens=0,
                wall_seconds=float(s["wall_seconds"]),
                curve=rec.evals,
            )
            parts = [int(tokens.get(k, 0)) for k in ("policy", "reflection", "curation")]
        except KeyError as err:
            raise RunError(f"{rec.run_dir / 'summary.json'}: lacks {err}") from None
        except (TypeError, ValueError, AttributeError) as err:
            raise RunError(f"{rec.run_dir / 'summary.json'}: bad value ({err})") from None
        row.tokens = sum(parts)
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
                    *parts,
                    row.wall_seconds,
                    json.dumps(rec.config, sort_keys=True, default=str),
                    json.dumps(s, sort_keys=True),
                    datetime.now(UTC).isoformat(timespec="seconds"),
                ),
            )
            self.conn.executemany(
                "INSERT INTO points VALUES (?,?,?,?,?,?,?,?,?,?)",
                [
                    (
                        row.run_dir,
                        i,
                        p.step,
                        p.samples,
                        p.success_mean,
                        p.success_best,
                        p.progress_mean,
                        p.valid_rate,
                        p.k,
                        p.n_tasks,
                    )
                    for i, p in enumerate(rec.evals)
                ],
            )
        return row

    def runs(self, env: str | None = None, model: str | None = None) -> list[StoredRun]:
        """Stored runs with their curves, optionally only one env and/or model."""
        where, args = [], []
        for col, val in (("env", env), ("model", model)):
            if val is not None:
                where.append(f"{col} = ?")
                args.append(val)
        sql = (
            "SELECT run_dir, env, model, learner, label, config_key, seed, samples, "
            "final_success, tokens_policy + tokens_reflection + tokens_curation, wall_seconds "
            "FROM runs"
            + (" WHERE " + " AND ".join(where) if where else "")
            + " ORDER BY env, model, label, seed, run_dir"
        )
        out = [StoredRun(*r) for r in self.conn.execute(sql, args)]
        for run in out:
            run.curve = [
                EvalPoint(*p)
                for p in self.conn.execute(
                    f"SELECT {', '.join(EVAL_FIELDS)} FROM points WHERE run_dir = ? ORDER BY idx",
                    (run.run_dir,),
                )
            ]
        return out

    def count(self) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0])


def add_run(
    run_dir: str | Path, db: str | Path | None = None, label: str | None = None
) -> StoredRun:
    """Add one finished run to the leaderboard at ``db`` (see ``db_path``)."""
    with Store(db) as store:
        return store.add_run(run_dir, label)
