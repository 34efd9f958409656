"""Task splits and seed spaces: the one place that says which tasks training may see.

Held-out evaluation is held out by content, not by seed: every task has a *split key* (what an
environment holds out: Wordle's secret word, a tape machine's rule, by default the whole task)
and a fixed hash of that key puts it in the evaluation split with probability ``eval_share``.
``reset(seed=..., options={"split": "train" | "eval"})`` draws tasks from ``self.np_random``
until one of the asked split comes up, so no training seed, whatever the run seed, can pose an
evaluation task, and the split of a task never depends on seeds, pool sizes or run settings.

Seed spaces are disjoint by construction too (bit layout below), so training task seeds, the
fixed evaluation task seeds and sampling seeds never collide for any run seed in ``RUN_SEEDS``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

SPLITS = ("train", "eval")
DEFAULT_EVAL_SHARE = 0.2
MAX_DRAWS = 2_000  # redraws before a split is declared empty for this environment's settings

RUN_SEEDS = range(0, 2**20)
_INDEX_BITS = 32  # tasks per run seed: 2**32
_EVAL_BIT = 1 << 62  # evaluation task seeds have this bit; training task seeds never do

T = TypeVar("T")


class SplitError(ValueError):
    """A split option is unknown, or a split holds no task under an environment's settings."""


def split_option(options: Mapping[str, Any] | None) -> str:
    """The split asked for in ``reset(options=...)`` ("train" when not given)."""
    split = (options or {}).get("split", "train")
    if split not in SPLITS:
        raise SplitError(f"options['split']={split!r} is not a split: expected 'train' or 'eval'")
    return split


def split_of(key: str, eval_share: float) -> str:
    """The split a task with this split key belongs to: a fixed hash, the same everywhere."""
    digest = hashlib.sha256(f"resd-split|{key}".encode()).digest()
    unit = int.from_bytes(digest[:8], "big") / 2**64  # uniform in [0, 1)
    return "eval" if unit < eval_share else "train"


def draw_in_split(
    draw: Callable[[], T], key: Callable[[T], str], split: str, eval_share: float
) -> T:
    """Call ``draw`` until its task falls in ``split``; ``eval_share`` 0 means no hold-out."""
    if eval_share <= 0.0:
        return draw()
    for _ in range(MAX_DRAWS):
        task = draw()
        if split_of(key(task), eval_share) == split:
            return task
    raise SplitError(
        f"no {split!r} task in {MAX_DRAWS} draws: the task space is too small for "
        f"eval_share={eval_share} (make it larger or change eval_share)"
    )


# -- seed spaces ---------------------------------------------------------------------------------
def _check_run_seed(run_seed: int) -> None:
    if run_seed not in RUN_SEEDS:
        raise SplitError(f"run seed {run_seed} is out of range: expected 0..{RUN_SEEDS.stop - 1}")


def train_task_seed(run_seed: int, index: int) -> int:
    """The ``index``-th training task seed of a run: ``run_seed`` in the high bits."""
    _check_run_seed(run_seed)
    if not 0 <= index < 2**_INDEX_BITS:
        raise SplitError(f"training task index {index} is out of range")
    return (run_seed << _INDEX_BITS) | index


def eval_task_seed(index: int) -> int:
    """The ``index``-th evaluation task seed: the same for every run, so learners share tasks."""
    if not 0 <= index < 2**_INDEX_BITS:
        raise SplitError(f"evaluation task index {index} is out of range")
    return _EVAL_BIT | index


def sample_seed(run_seed: int, step: int, purpose: str = "train", shard: int = 0) -> int:
    """Seed of the sampler for one rollout call (``purpose`` "train" or "eval"); ``shard``: the
    process's rank when several share a batch (rank 0's seed is the one-process seed).

    Below 2**51, so the rollout's per-turn seed ``sample_seed * 1000 + turn`` fits in 63 bits.
    """
    _check_run_seed(run_seed)
    if not 0 <= step < 2**24:
        raise SplitError(f"step {step} is out of range for a sampling seed")
    if not 0 <= shard < 2**6:
        raise SplitError(f"shard {shard} is out of range for a sampling seed: at most 64")
    base = {"train": 0, "eval": 1}[purpose]
    return (base << 50) | (shard << 44) | (run_seed << 24) | step
