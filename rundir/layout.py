"""The files of a run directory (what each holds: see the package docstring)."""

from __future__ import annotations

CONFIG = "config.json"
SUMMARY = "summary.json"
CHECKPOINT = "checkpoint.pt"
LOCK = ".lock"
CURVES = "curves.png"
EPISODES = "episodes.jsonl"
UPDATES = "updates.jsonl"
EVALS = "evals.jsonl"
PLAYBOOK = "playbook.json"
PLAYBOOK_HISTORY = "playbook_history.jsonl"
# The append-only logs: a checkpoint records each one's length, resume cuts them back to it.
LOGS = (EPISODES, UPDATES, EVALS, PLAYBOOK_HISTORY)
