"""Procedural tape tasks: a property family, its direct predicate, a reference machine, tests.

Each family has two independent descriptions: ``accepts`` (plain string operations on the whole
tape) and an automaton (``start``/``delta``/``accepting`` over small hashable states) from
which ``reference_program`` writes a program in the tape language. The tests check that the
reference program, run by the interpreter, agrees with the predicate on every generated tape.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass

import numpy as np

from envs.tape.dsl import COLOUR_NAMES

COLOURS = "RBGY"
SIMPLE = ("contains", "starts", "ends", "parity")
FAMILIES = SIMPLE + ("not_contains", "count_mod", "at_least", "alternating", "first_last")
PATTERNED = ("contains", "not_contains", "starts", "ends")

HINTS = {
    "contains": "track how much of the pattern is matched so far; on a mismatch fall back to "
    "the longest prefix of the pattern that still matches (KMP), not always to the start",
    "not_contains": "track how much of the pattern is matched so far (KMP fall-back on a "
    "mismatch); reject as soon as the whole pattern is seen, accept at end otherwise",
    "starts": "compare the first symbols with the pattern one by one; reject at the first "
    "mismatch or if the tape ends early, accept once the whole pattern has been read",
    "ends": "track the longest prefix of the pattern that is a suffix of what was read so far; "
    "accept at end only if that is the whole pattern (a full match can be followed by more)",
    "parity": "two states (even/odd count so far) that flip on the counted colour; decide at end",
    "count_mod": "one state per remainder of the count; the counted colour moves to the next "
    "remainder, other colours stay; decide at end",
    "at_least": "one state per count seen so far up to the threshold; accept once it is reached",
    "alternating": "remember the last colour read; reject when the next one repeats it",
    "first_last": "remember the first colour, then the last colour read; decide at end",
}


@dataclass(frozen=True)
class TapeTask:
    """One task: the property to decide, its parameters, and the hidden test tapes."""

    family: str
    alphabet: str
    pattern: str  # contains / starts / ends / not_contains
    colour: str  # counting families
    modulus: int
    remainder: int
    threshold: int
    tests: tuple[tuple[str, bool], ...]  # (tape, should accept), shortest first

    @property
    def description(self) -> str:
        c = f"{self.colour} ({COLOUR_NAMES.get(self.colour, '')})"
        p = self.pattern
        return {
            "contains": f"contain {p} as consecutive symbols somewhere on the tape",
            "not_contains": f"do NOT contain {p} as consecutive symbols anywhere on the tape",
            "starts": f"start with {p}",
            "ends": f"end with {p}",
            "parity": f"hold an {'even' if self.remainder == 0 else 'odd'} number of {c} symbols",
            "count_mod": f"hold a number of {c} symbols that leaves remainder {self.remainder} "
            f"when divided by {self.modulus}",
            "at_least": f"hold at least {self.threshold} {c} symbols",
            "alternating": "never have two neighbouring symbols of the same colour (the empty "
            "tape and one-symbol tapes count as alternating)",
            "first_last": "are non-empty and whose first and last symbols have the same colour "
            "(a one-symbol tape qualifies)",
        }[self.family]

    def accepts(self, tape: str) -> bool:
        """The property itself, by direct string operations."""
        f, p = self.family, self.pattern
        if f == "contains":
            return p in tape
        if f == "not_contains":
            return p not in tape
        if f == "starts":
            return tape.startswith(p)
        if f == "ends":
            return tape.endswith(p)
        if f in ("parity", "count_mod"):
            return tape.count(self.colour) % self.modulus == self.remainder
        if f == "at_least":
            return tape.count(self.colour) >= self.threshold
        if f == "alternating":
            return all(a != b for a, b in zip(tape, tape[1:], strict=False))
        if f == "first_last":
            return bool(tape) and tape[0] == tape[-1]
        raise ValueError(f"unknown family {f!r}")


# -- the automaton view, used only to write the reference program ------------------------------
def _overlap(pattern: str, seen: str) -> int:
    """Length of the longest prefix of ``pattern`` that is a suffix of ``seen``."""
    for k in range(min(len(pattern), len(seen)), 0, -1):
        if seen.endswith(pattern[:k]):
            return k
    return 0


def _automaton(task: TapeTask) -> tuple[Hashable, Callable, Callable]:
    f, p = task.family, task.pattern
    if f in ("contains", "not_contains"):

        def delta(m, s):
            return m if m == len(p) else _overlap(p, p[:m] + s)

        full = len(p)
        return 0, delta, (lambda m: m == full) if f == "contains" else (lambda m: m != full)
    if f == "starts":

        def delta(m, s):
            if m == "dead" or m == len(p):
                return m
            return m + 1 if p[m] == s else "dead"

        return 0, delta, lambda m: m == len(p)
    if f == "ends":
        return 0, lambda m, s: _overlap(p, p[:m] + s), lambda m: m == len(p)
    if f in ("parity", "count_mod"):
        k = task.modulus
        return 0, lambda m, s: (m + (s == task.colour)) % k, lambda m: m == task.remainder
    if f == "at_least":
        n = task.threshold
        return 0, lambda m, s: min(n, m + (s == task.colour)), lambda m: m >= n
    if f == "alternating":
        return "", lambda m, s: "dead" if m in ("dead", s) else s, lambda m: m != "dead"
    if f == "first_last":
        return (), lambda m, s: (s, s) if m == () else (m[0], s), lambda m: m != () and m[0] == m[1]
    raise ValueError(f"unknown family {f!r}")


def reference_program(task: TapeTask) -> str:
    """A correct program for ``task`` in the tape language (a minimal-ish automaton)."""
    start, delta, accepting = _automaton(task)
    order: list[Hashable] = [start]
    index = {start: 0}
    for m in order:  # breadth-first over reachable automaton states
        for s in task.alphabet:
            n = delta(m, s)
            if n not in index:
                index[n] = len(order)
                order.append(n)
    succ = {m: {delta(m, s) for s in task.alphabet} for m in order}

    def reach(m: Hashable) -> set:
        seen, todo = {m}, [m]
        while todo:
            for n in succ[todo.pop()]:
                if n not in seen:
                    seen.add(n)
                    todo.append(n)
        return seen

    verdict = {}
    for m in order:
        r = reach(m)
        if all(accepting(x) for x in r):
            verdict[m] = "accept"
        elif not any(accepting(x) for x in r):
            verdict[m] = "reject"
    lines = [f"# {task.family}: accept tapes that {task.description}"]
    for m in order:
        if m in verdict and m != start:
            continue  # transitions into it decide directly
        lines.append(f"state Q{index[m]}")
        for s in task.alphabet:
            n = delta(m, s)
            lines.append(f"  {s}: {verdict.get(n) or f'goto Q{index[n]}'}")
        lines.append(f"  end: {'accept' if accepting(m) else 'reject'}")
    return "\n".join(lines) + "\n"


# -- task generation ---------------------------------------------------------------------------
def make_task(
    rng: np.random.Generator,
    family: str,
    colours: int,
    pattern_length: int,
    tests: int,
    max_length: int,
) -> TapeTask:
    """Draw a task of ``family`` (a family name, "simple" or "all") from ``rng``."""
    if family in ("simple", "all"):
        pool = SIMPLE if family == "simple" else FAMILIES
        family = pool[int(rng.integers(len(pool)))]
    alphabet = COLOURS[:colours]
    length = min(pattern_length, max_length)
    pattern = "".join(alphabet[i] for i in rng.integers(colours, size=length))
    if family in ("contains", "not_contains", "ends") and len(set(pattern)) == 1 and length > 1:
        pattern = pattern[:-1] + alphabet[(alphabet.index(pattern[-1]) + 1) % colours]
    colour = alphabet[int(rng.integers(colours))]
    modulus = 2 if family == "parity" else 3
    remainder = int(rng.integers(modulus))
    threshold = max(2, min(pattern_length, max_length - 1))
    draft = TapeTask(family, alphabet, pattern, colour, modulus, remainder, threshold, ())
    return TapeTask(
        family,
        alphabet,
        pattern,
        colour,
        modulus,
        remainder,
        threshold,
        _tests(rng, draft, tests, max_length),
    )


def _tests(
    rng: np.random.Generator, task: TapeTask, n: int, max_length: int
) -> tuple[tuple[str, bool], ...]:
    """Half accepted, half rejected tapes of varied lengths, deduplicated, shortest first."""
    want = {True: n - n // 2, False: n // 2}
    chosen: dict[str, bool] = {}
    a = task.alphabet

    def rand(length: int) -> str:
        return "".join(a[i] for i in rng.integers(len(a), size=length))

    def offer(tape: str) -> None:
        if len(tape) <= max_length and tape not in chosen:
            verdict = task.accepts(tape)
            if want[verdict] > 0:
                want[verdict] -= 1
                chosen[tape] = verdict

    for edge in ("", task.pattern, task.pattern[:-1], a[0], task.colour * task.threshold):
        offer(edge)
    for attempt in range(4000):
        if want[True] == 0 and want[False] == 0:
            break
        length = int(rng.integers(1, max_length + 1))
        tape = rand(length)
        kind = attempt % 3
        if kind >= 1 and task.family in PATTERNED and length >= len(task.pattern):
            at = {"starts": 0, "ends": length - len(task.pattern)}.get(
                task.family, int(rng.integers(length - len(task.pattern) + 1))
            )
            tape = tape[:at] + task.pattern + tape[at + len(task.pattern) :]
        elif kind >= 1 and task.family == "alternating":
            tape = tape[0]
            while len(tape) < length:
                tape += a[(a.index(tape[-1]) + 1 + int(rng.integers(len(a) - 1))) % len(a)]
        elif kind >= 1 and task.family == "first_last":
            tape = tape[:-1] + tape[0]
        if kind == 2 and tape:  # near miss: one symbol changed
            i = int(rng.integers(len(tape)))
            tape = tape[:i] + a[(a.index(tape[i]) + 1) % len(a)] + tape[i + 1 :]
        offer(tape)
    return tuple(sorted(chosen.items(), key=lambda kv: (len(kv[0]), kv[0])))
