"""CONCISE on crafted counters; survivors listed by hand for both policies."""

import random

import pytest

from reflection.concise import concise, is_harmful
from reflection.playbook import Bullet


def b(num, helpful, harmful, created, last_used=None):
    return Bullet(
        f"str-{num:05d}",
        "strategies & insights",
        f"lesson {num}",
        helpful,
        harmful,
        created_step=created,
        last_used=last_used,
    )


# step 10, window 4. Columns: helpful, harmful, created, last_used
BULLETS = [
    b(1, 3, 0, 0, 9),  # helpful, recent
    b(2, 1, 1, 0, 8),  # harmful (D >= H, D > 0)
    b(3, 0, 0, 2),  # never used, old -> unused / stale
    b(4, 0, 0, 8),  # never used, young (2 steps) -> kept by both
    b(5, 2, 0, 0, 3),  # helpful but not used for 7 steps -> stale
    b(6, 0, 2, 1, 9),  # harmful
    b(7, 5, 4, 1, 6),  # helpful (H > D), used 4 steps ago -> stale (>= window)
    b(8, 0, 0, 6),  # never used, exactly window old -> unused / stale
    b(9, 1, 0, 5, 7),  # helpful, used 3 steps ago
]


def ids(bullets):
    return [x.id[-2:] for x in bullets]


def test_harmful_rule():
    assert is_harmful(b(0, 1, 1, 0)) and is_harmful(b(0, 0, 1, 0))
    assert not is_harmful(b(0, 0, 0, 0)) and not is_harmful(b(0, 2, 1, 0))


def test_prioritized_under_cap():
    res = concise(BULLETS, "prioritized", cap=100, step=10, rng=random.Random(0), window=4)
    assert ids(res.survivors) == ["01", "04", "05", "07", "09"]
    assert {x.id[-2:]: why for x, why in res.removed} == {
        "02": "harmful",
        "03": "unused",
        "06": "harmful",
        "08": "unused",
    }


def test_staleness_under_cap():
    res = concise(BULLETS, "staleness", cap=100, step=10, rng=random.Random(0), window=4)
    assert ids(res.survivors) == ["01", "04", "09"]
    assert {x.id[-2:]: why for x, why in res.removed} == {
        "02": "harmful",
        "03": "stale",
        "05": "stale",
        "06": "harmful",
        "07": "stale",
        "08": "stale",
    }


def test_staleness_over_cap_drops_longest_unused():
    res = concise(BULLETS, "staleness", cap=2, step=10, rng=random.Random(0), window=4)
    # after the first pass 01 (touched 9), 04 (8), 09 (7) remain: 09 is the longest unused
    assert ids(res.survivors) == ["01", "04"]
    assert ("str-00009", "over cap (longest unused)") in [(x.id, w) for x, w in res.removed]


def test_prioritized_over_cap_drops_random_helpful_seeded():
    first = concise(BULLETS, "prioritized", cap=3, step=10, rng=random.Random(1), window=4)
    again = concise(BULLETS, "prioritized", cap=3, step=10, rng=random.Random(1), window=4)
    assert ids(first.survivors) == ids(again.survivors)
    assert len(first.survivors) == 3
    assert "04" in ids(first.survivors)  # the young untagged one is not a helpful one
    dropped = [x.id[-2:] for x, w in first.removed if w.startswith("over cap")]
    assert len(dropped) == 2 and set(dropped) <= {"01", "05", "07", "09"}
    seen = {
        tuple(ids(concise(BULLETS, "prioritized", 3, 10, random.Random(s), 4).survivors))
        for s in range(20)
    }
    assert len(seen) > 1  # the choice really is random across seeds


def test_prioritized_cap_always_holds():
    young = [b(i, 0, 0, 10) for i in range(1, 8)]
    res = concise(young, "prioritized", cap=3, step=10, rng=random.Random(0), window=4)
    assert len(res.survivors) == 3


def test_none_policy_and_errors():
    assert concise(BULLETS, "none", 1, 10, random.Random(0)).survivors == BULLETS
    with pytest.raises(ValueError, match="unknown concise policy"):
        concise(BULLETS, "lru", 1, 10, random.Random(0))
