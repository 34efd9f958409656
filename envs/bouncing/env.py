"""BouncingBalls: write ``predict(balls, width, height, t)`` that says where balls in a box are.

In the spirit of BouncingSim. The agent's Python runs only through ``envs.sandbox`` on hidden test
cases; the environment's own simulator (``envs.bouncing.physics``) gives the expected positions.
Feedback: per failing test each ball's expected and predicted position and distance error,
tracebacks trimmed to the agent's lines, a missing function, time-outs, wrong return shapes.

The sandbox's output is hostile data: the harness's records carry a per-run nonce, and the host
validates each one (known case, the right number of finite (x, y) pairs, one record per case)
before comparing it with answers that never enter the sandbox. A forged, garbled or NaN-laden
record is feedback for the model, never a pass and never an exception. The environment refuses
to be built without real isolation (``envs.sandbox.require_isolation``).

Evaluation split: a fixed 20% of the tasks (by a hash of the whole task: box, balls, times)
are never posed in training. The physics is the same in both splits, as it should be: the
learner must write a simulator that generalises to new boxes and balls.
"""

from __future__ import annotations

import ast
import json
import math
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from envs.base import Knob, Outcome, TextEnv, check_knob
from envs.bouncing.physics import Ball, closed_form, simulate
from envs.sandbox import Limits, SandboxResult, require_isolation, run_python

TOLERANCE = 0.01
LIMITS = Limits(wall_s=3.0, cpu_s=2, memory_mb=512, output_bytes=64_000)
FEEDBACK_LIMIT = 3000
SHOWN_FAILURES = 3
MAX_SOURCE_CHARS = 30_000
MAX_RECORD_TEXT = 2000  # characters of an error text taken from a record
HARNESS = (Path(__file__).with_name("harness.py")).read_text(encoding="utf-8")

_FENCE = re.compile(r"```[^\n`]*\n(.*?)(?:```|\Z)", re.S)


@dataclass(frozen=True)
class Case:
    width: float
    height: float
    t: float
    balls: tuple[Ball, ...]

    def as_json(self, with_mass: bool) -> dict[str, Any]:
        keys = ("x", "y", "vx", "vy", "r", "m") if with_mass else ("x", "y", "vx", "vy", "r")
        balls = [{k: getattr(b, k) for k in keys} for b in self.balls]
        return {"balls": balls, "width": self.width, "height": self.height, "t": self.t}

    def call(self, with_mass: bool) -> str:
        """The test as a call, e.g. ``predict(balls=[...], width=10.0, height=8.0, t=2.5)``."""
        balls = json.dumps(self.as_json(with_mass)["balls"])
        return f"predict(balls={balls}, width={self.width}, height={self.height}, t={self.t})"


@dataclass(frozen=True)
class BounceTask:
    collisions: bool
    cases: tuple[Case, ...]
    expected: tuple[tuple[tuple[float, float], ...], ...]


def extract_code(action: str) -> str:
    """The last fenced block that defines predict, else the last fenced block, else the text."""
    blocks = [b for b in _FENCE.findall(action) if b.strip()]
    for block in reversed(blocks):
        if "def predict" in block:
            return block
    return blocks[-1] if blocks else action


def check_source(source: str) -> str:
    """Why ``source`` cannot be run (syntax, no top-level predict), or "" when it can."""
    if not source.strip():
        return "No code found: write your function inside a ```python fenced block."
    if len(source) > MAX_SOURCE_CHARS:
        return f"Code is {len(source)} characters; the limit is {MAX_SOURCE_CHARS}."
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        line = (exc.text or "").strip()
        where = f"line {exc.lineno}: " if exc.lineno else ""
        return f"SyntaxError, {where}{exc.msg}" + (f"\n    {line[:120]}" if line else "")
    except (ValueError, RecursionError, MemoryError) as exc:
        return f"The code cannot be parsed: {type(exc).__name__}: {str(exc)[:200]}"
    names = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.append(node.name)
        elif isinstance(node, ast.Assign):
            names += [t.id for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names += [(a.asname or a.name).split(".")[0] for a in node.names]
    if "predict" not in names:
        found = ", ".join(n for n in names if n) or "none"
        return (
            "No top-level function named predict (top-level names found: "
            f"{found[:200]}). Define def predict(balls, width, height, t)."
        )
    return ""


class BouncingBalls(TextEnv):
    """Predict where balls bouncing in a box are after time t (Python, run in a sandbox)."""

    KNOBS = (
        Knob("balls", 2, range(1, 6), "balls per test case (at most; exactly with collisions)"),
        Knob("collisions", False, (False, True), "whether balls also bounce off each other"),
        Knob("tests", 10, range(1, 33), "hidden test cases"),
        Knob("max_time", 20, range(1, 101), "latest time t a test asks about"),
        Knob("turns", 3, range(1, 21), "submissions per task", attribute="max_turns"),
    )

    def __init__(self, render_mode: str | None = None, **knobs: Any) -> None:
        super().__init__(render_mode, **knobs)
        if self.collisions and self.balls < 2:
            check_knob("balls (with collisions)", self.balls, range(2, 6))
        self.isolation = require_isolation("The bouncing environment")
        self._last: list[tuple[Case, Any, str]] = []  # (case, expected, problem) of failures

    # -- task ------------------------------------------------------------------------------------
    def _new_task(self) -> BounceTask:
        self._last = []
        cases = []
        while len(cases) < self.tests:
            case = self._draw_case()
            if case is not None:
                cases.append(case)
        cases.sort(key=lambda c: (c.t, len(c.balls)))
        expected = tuple(self._expect(c) for c in cases)
        return BounceTask(self.collisions, tuple(cases), expected)

    def _expect(self, case: Case) -> tuple[tuple[float, float], ...]:
        pts = simulate(list(case.balls), case.width, case.height, case.t, self.collisions)
        return tuple((float(x), float(y)) for x, y in pts)

    def _draw_case(self) -> Case | None:
        """One random case, or None when it is degenerate (overlap, or chaotic under 1e-9)."""
        rng = self.np_random
        width = round(float(rng.uniform(6, 20)), 1)
        height = round(float(rng.uniform(6, 20)), 1)
        t = round(float(rng.uniform(0.5, self.max_time)), 2)
        n = int(rng.integers(1, self.balls + 1)) if not self.collisions else self.balls
        balls: list[Ball] = []
        for _ in range(n):
            r = round(float(rng.uniform(0.3, 1.0)), 2)
            x = round(float(rng.uniform(r + 0.01, width - r - 0.01)), 2)
            y = round(float(rng.uniform(r + 0.01, height - r - 0.01)), 2)
            vx, vy = (round(float(v), 2) for v in rng.uniform(-5, 5, size=2))
            m = round(float(rng.uniform(0.5, 3.0)), 2) if self.collisions else 1.0
            if any(math.hypot(x - b.x, y - b.y) <= r + b.r + 0.05 for b in balls):
                return None
            balls.append(Ball(x, y, vx, vy, r, m))
        case = Case(width, height, t, tuple(balls))
        if self.collisions:
            try:
                base = self._expect(case)
                nudged = [Ball(b.x, b.y, b.vx + 1e-9, b.vy - 1e-9, b.r, b.m) for b in balls]
                moved = simulate(nudged, width, height, t, True)
            except RuntimeError:
                return None
            if max(math.dist(p, q) for p, q in zip(base, moved, strict=True)) > TOLERANCE / 100:
                return None  # too sensitive: a correct solution could legitimately differ
        return case

    def _intro(self) -> str:
        task: BounceTask = self._task
        example = task.cases[0]
        answer = ", ".join(f"({x:.3f}, {y:.3f})" for x, y in task.expected[0])
        mass = ', "m"' if self.collisions else ""
        physics = (
            "Balls also collide with each other: two balls whose edges touch bounce off "
            "elastically (exchange momentum along the line joining their centres; masses m). "
            if self.collisions
            else "Balls do not interact with each other (they pass through one another). "
        )
        return (
            "Write a Python function\n"
            "    def predict(balls, width, height, t):\n"
            "that returns where the balls are after t seconds, as a list of (x, y) pairs in the "
            "order of balls.\n"
            f'balls is a list of dicts with keys "x", "y", "vx", "vy", "r"{mass}: centre, '
            "velocity (units per second) and radius. The box is [0, width] x [0, height]. "
            "Balls move in straight lines; a ball bounces elastically off a wall when its EDGE "
            "touches it (its centre stays within [r, width - r] x [r, height - r]); no gravity, "
            f"no friction. {physics}\n"
            f"Example: {example.call(self.collisions)} -> [{answer}].\n"
            f"Your function is run on {len(task.cases)} hidden tests (t up to {self.max_time}); "
            f"each ball must be within {TOLERANCE} of the true position. Standard library only "
            f"(math is available; numpy is not); {LIMITS.wall_s:g} s for all tests together. "
            f"You have {self.max_turns} submission(s); each gets feedback.\n"
            "Answer with your code inside one ```python fenced block."
        )

    # -- judging ---------------------------------------------------------------------------------
    def _play(self, action: str) -> Outcome:
        source = extract_code(action)
        problem = check_source(source)
        if problem:
            return Outcome(problem, False)
        task: BounceTask = self._task
        cases = json.dumps([c.as_json(self.collisions) for c in task.cases])
        nonce = secrets.token_hex(16)
        result = run_python(
            HARNESS,
            {"solution.py": source, "cases.json": cases},
            LIMITS,
            stdin=(nonce + "\n").encode(),
        )
        return self._judge(result, nonce)

    def _judge(self, result: SandboxResult, nonce: str) -> Outcome:
        task: BounceTask = self._task
        sizes = [len(c.balls) for c in task.cases]
        records = read_records(result.stdout, nonce, sizes)
        self._last = []
        if records.load_error is not None:
            text = "Your code failed before any test ran:\n" + _indent(records.load_error)
            return Outcome(_cap(text + _printed(result)), True, False, 0.0)
        failures: list[tuple[int, str]] = []
        passed = 0
        started = records.started
        for i, (case, want) in enumerate(zip(task.cases, task.expected, strict=True)):
            rec = records.results.get(i)
            got = None
            if i in records.conflicts:
                problem = "more than one result was written for this test (records are forged)"
            elif rec is None:
                why = result.problem(LIMITS) or "the program exited early"
                problem = (
                    f"{why} (while running this test)"
                    if i == started
                    else f"not run: {why} during test {started + 1}"
                    if started is not None
                    else f"not run: {why}"
                )
            elif rec.error is not None:
                problem = "error:\n" + _indent(rec.error)
            else:
                got = rec.points
                problem = _compare(want, got)
            if problem:
                failures.append((i, problem))
                self._last.append((case, want, got))
            else:
                passed += 1
        progress = passed / len(task.cases)
        if not failures:
            return Outcome(f"All {passed} tests pass. Task solved.", True, True, 1.0, True)
        lines = [
            f"Passed {passed} of {len(task.cases)} tests (tolerance {TOLERANCE} per ball). "
            f"Failing tests ({min(len(failures), SHOWN_FAILURES)} of {len(failures)} shown):"
        ]
        first_seen: dict[str, int] = {}
        for i, problem in failures[:SHOWN_FAILURES]:
            if problem.startswith("error") and problem in first_seen:
                problem = f"the same error as test {first_seen[problem] + 1}"
            first_seen.setdefault(problem, i)
            lines.append(f"Test {i + 1}: {task.cases[i].call(self.collisions)}\n  {problem}")
        return Outcome(_cap("\n".join(lines) + _printed(result)), True, False, progress)

    def _reveal(self) -> str:
        first = self._task.expected[0]
        return "Expected for the example: " + ", ".join(f"({x:.3f}, {y:.3f})" for x, y in first)

    def hindsight(self) -> list[str]:
        """One line per failing test of the last run, with a guess at the mistake."""
        if self._task is None:
            return []
        notes = []
        last = self.history[-1][1] if self.history else None
        if last is not None and not last.valid_action:
            notes.append("The last answer could not run: " + last.feedback.splitlines()[0])
        for case, want, got in self._last[:6]:
            head = f"t={case.t}, box {case.width}x{case.height}"
            if got is None:
                notes.append(f"Test {head}: raised an error or did not finish.")
                continue
            worst = max(math.dist(p, q) for p, q in zip(want, got, strict=False))
            guess = _diagnose(case, got, self.collisions)
            notes.append(f"Test {head}: off by up to {worst:.3f}; {guess}")
        notes.append(
            "Key idea: per axis the motion is a reflection: with span L = size - 2r, "
            "u = (p - r + v t) mod 2L, position r + (u if u <= L else 2L - u)"
            + (
                "; with collisions, step from event to event (next wall or ball contact)."
                if self.collisions
                else "."
            )
        )
        return notes


Points = tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class CaseResult:
    """One test's validated record: the predicted points, or the error the harness reported."""

    points: Points | None = None
    error: str | None = None


@dataclass
class Records:
    """What the harness reported, validated: nothing in here came unchecked from the sandbox."""

    load_error: str | None = None
    started: int | None = None  # the last case the harness said it was starting
    results: dict[int, CaseResult] = field(default_factory=dict)
    conflicts: set[int] = field(default_factory=set)  # cases with more than one record


def read_records(stdout: str, nonce: str, sizes: list[int]) -> Records:
    """Parse the harness's records (lines ``<nonce> <json>``) as hostile data; never raises.

    ``sizes[i]`` is the number of balls of case i. Lines without the nonce are ignored; a record
    for a known case that is malformed (wrong shape, non-finite or non-numeric values, no text)
    counts as that case's result, an error; a second record for a case marks it conflicting.
    """
    records = Records()
    prefix = nonce + " "
    for line in stdout.splitlines():
        if not nonce or not line.startswith(prefix):
            continue
        try:
            obj = json.loads(line[len(prefix) :])
        except (ValueError, RecursionError, MemoryError):
            continue
        if not isinstance(obj, dict):
            continue
        if "load_error" in obj:
            records.load_error = _record_text(obj["load_error"])
        elif "case" in obj:
            case = obj["case"]
            if type(case) is not int or not 0 <= case < len(sizes):
                continue
            if case in records.results:
                records.conflicts.add(case)
            records.results[case] = _case_result(obj, sizes[case])
        elif "start" in obj:
            start = obj["start"]
            if type(start) is int and 0 <= start < len(sizes):
                records.started = start
    return records


def _case_result(obj: dict[str, Any], balls: int) -> CaseResult:
    if "error" in obj:
        return CaseResult(error=_record_text(obj["error"]))
    points = _finite_points(obj.get("points"), balls)
    if points is None:
        return CaseResult(error=f"malformed result record (not {balls} finite (x, y) pairs)")
    return CaseResult(points=points)


def _finite_points(value: Any, balls: int) -> Points | None:
    """``value`` as ``balls`` pairs of finite floats, or None when it is anything else."""
    if not isinstance(value, list) or len(value) != balls:
        return None
    points = []
    for pair in value:
        if not isinstance(pair, list) or len(pair) != 2:
            return None
        xy = []
        for v in pair:
            if type(v) not in (int, float):
                return None
            try:
                number = float(v)
            except OverflowError:
                return None
            if not math.isfinite(number):
                return None
            xy.append(number)
        points.append((xy[0], xy[1]))
    return tuple(points)


def _record_text(value: Any) -> str:
    text = value if isinstance(value, str) else "malformed error record"
    return text[:MAX_RECORD_TEXT] or "(empty error text)"


def _compare(want: Points, got: Points) -> str:
    """Per-ball errors when any ball is off by more than the tolerance (or cannot be measured)."""
    if len(want) != len(got):
        return f"expected {len(want)} balls, got {len(got)}"
    errors = [math.hypot(wx - gx, wy - gy) for (wx, wy), (gx, gy) in zip(want, got, strict=True)]
    if all(math.isfinite(e) and e <= TOLERANCE for e in errors):
        return ""
    parts = []
    for k, ((wx, wy), (gx, gy), err) in enumerate(zip(want, got, errors, strict=True)):
        mark = "" if math.isfinite(err) and err <= TOLERANCE else "  <- wrong"
        parts.append(
            f"ball {k}: expected ({wx:.3f}, {wy:.3f}), got ({gx:.3f}, {gy:.3f}), "
            f"error {err:.3f}{mark}"
        )
    return "\n  ".join(parts)


def _diagnose(case: Case, got: list, collisions: bool) -> str:
    """Name the simpler model the prediction matches, if any (for hindsight notes)."""
    balls = list(case.balls)
    guesses = [
        (
            "it ignores the ball radius (bounces at the centre, not the edge)",
            closed_form(
                [Ball(b.x, b.y, b.vx, b.vy, 0.0) for b in balls], case.width, case.height, case.t
            ),
        ),
        (
            "it moves in straight lines without bouncing",
            [(b.x + b.vx * case.t, b.y + b.vy * case.t) for b in balls],
        ),
    ]
    if collisions:
        guesses.insert(
            0,
            (
                "it ignores ball-ball collisions",
                closed_form(balls, case.width, case.height, case.t),
            ),
        )
    for reason, pts in guesses:
        if all(math.dist(p, q) <= TOLERANCE for p, q in zip(pts, got, strict=False)):
            return f"the prediction matches a model where {reason}."
    return "the prediction matches none of the usual simplifications."


def _printed(result: SandboxResult) -> str:
    text = result.stderr.strip()
    if not text:
        return ""
    tail = text[-300:]
    return f"\nYour code printed (last {len(tail)} characters of stdout/stderr):\n{tail}"


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())


def _cap(text: str) -> str:
    if len(text) <= FEEDBACK_LIMIT:
        return text
    return text[: FEEDBACK_LIMIT - 20].rstrip() + "\n...(feedback cut)"
