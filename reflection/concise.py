"""CONCISE: the only path by which bullets leave the playbook in the paper's method.

Definitions used here (RESD names the policies but not every threshold; this is our reading):

* **harmful**: ``harmful >= helpful and harmful > 0`` (as in RESD).
* **used**: a reflection tagged the bullet *helpful* or *harmful* at some step; a *neutral*
  tag (the reflector judged it irrelevant to the attempt) is not a use. ``Bullet.last_used``
  is the last such step, ``None`` if never.
* **unused** (policy ``prioritized``): never used (``helpful == harmful == 0``) and at least
  ``window`` steps old (``step - created_step >= window``). Without the age condition every
  lesson added in a step would be deleted by the concise that closes the same step, before any
  reflection could have tagged it.
* **stale** (policy ``staleness``): not used during the last ``window`` steps, i.e.
  ``step - (last_used if used else created_step) >= window``. Never-used old bullets are stale.
* **helpful**: ``helpful > harmful``.

Policies, applied to the bullets in playbook order:

* ``prioritized``: drop harmful and unused bullets; if more than ``cap`` remain, drop helpful
  ones chosen uniformly at random (seeded ``rng``) until ``cap`` remain; if young untagged
  bullets alone still exceed the cap, drop random ones of those too (the cap always holds).
* ``staleness``: drop harmful and stale bullets; if more than ``cap`` remain, drop the
  longest-unused first (oldest ``last_used``, never-used counted from creation; ties: lower
  helpful - harmful first, then older id).
* ``none``: drop nothing (the ablation without pruning; the cap is not enforced).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from reflection.playbook import Bullet

POLICIES = ("prioritized", "staleness", "none")


@dataclass(frozen=True)
class ConciseResult:
    """Bullets kept (playbook order) and removed, each removed id with its reason."""

    survivors: list[Bullet]
    removed: list[tuple[Bullet, str]]


def is_harmful(b: Bullet) -> bool:
    return b.harmful >= b.helpful and b.harmful > 0


def is_unused(b: Bullet, step: int, window: int) -> bool:
    return b.helpful == 0 and b.harmful == 0 and step - b.created_step >= window


def last_touch(b: Bullet) -> int:
    """The step a bullet was last used, or created if it never was."""
    return b.last_used if b.last_used is not None else b.created_step


def is_stale(b: Bullet, step: int, window: int) -> bool:
    return step - last_touch(b) >= window


def concise(
    bullets: Sequence[Bullet],
    policy: str,
    cap: int,
    step: int,
    rng: random.Random,
    window: int = 4,
) -> ConciseResult:
    """Apply a CONCISE policy; a pure function of its inputs (``rng`` state aside)."""
    if policy not in POLICIES:
        raise ValueError(f"unknown concise policy {policy!r}: expected one of {POLICIES}")
    if cap < 0 or window < 0:
        raise ValueError(f"cap and window must be >= 0, got cap={cap} window={window}")
    if policy == "none":
        return ConciseResult(list(bullets), [])
    removed: list[tuple[Bullet, str]] = []
    kept: list[Bullet] = []
    for b in bullets:
        if is_harmful(b):
            removed.append((b, "harmful"))
        elif policy == "prioritized" and is_unused(b, step, window):
            removed.append((b, "unused"))
        elif policy == "staleness" and is_stale(b, step, window):
            removed.append((b, "stale"))
        else:
            kept.append(b)
    excess = len(kept) - cap
    if excess > 0:
        if policy == "prioritized":
            drop = _random_pick([b for b in kept if b.helpful > b.harmful], excess, rng)
            if len(drop) < excess:
                rest = [b for b in kept if b.id not in drop]
                drop |= _random_pick(rest, excess - len(drop), rng)
            reason = "over cap (random)"
        else:
            order = sorted(kept, key=lambda b: (last_touch(b), b.value, _num(b)))
            drop = {b.id for b in order[:excess]}
            reason = "over cap (longest unused)"
        removed += [(b, reason) for b in kept if b.id in drop]
        kept = [b for b in kept if b.id not in drop]
    return ConciseResult(kept, removed)


def _random_pick(pool: list[Bullet], k: int, rng: random.Random) -> set[str]:
    ids = sorted(b.id for b in pool)  # sorted: the draw depends on the seed, not dict order
    return set(rng.sample(ids, min(k, len(ids))))


def _num(b: Bullet) -> int:
    return int(b.id.rsplit("-", 1)[1])
