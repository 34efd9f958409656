"""Runs inside the sandbox: load solution.py, call predict on each case of cases.json.

Writes one record per line to the real stdout, each prefixed with the run's nonce (the first
line of stdin, read before any model code runs): ``{"start": i}`` before case i, so the host
knows which case was running when a time-out hit, then its result. Print calls of the user code
go to stderr. Tracebacks keep only the frames of solution.py. Standard library only.

The nonce only keeps stray writes to the real stdout from passing for records; model code in
this process could dig it out. The host does not rely on it: it validates every record as
hostile data, and a record can only claim what predict could have returned anyway.
"""

import json
import math
import sys
import traceback

NONCE = sys.stdin.readline().strip()
sys.stdin.close()
_out = sys.stdout
sys.stdout = sys.stderr
SOLUTION = "solution.py"


def emit(obj):
    _out.write(NONCE + " " + json.dumps(obj, allow_nan=False) + "\n")
    _out.flush()


def trim(exc):
    """The user's frames (last 4) and the exception line, without harness frames."""
    try:
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == SOLUTION]
        lines = [f"line {f.lineno}, in {f.name}: {(f.line or '').strip()}" for f in frames[-4:]]
        lines.append("".join(traceback.format_exception_only(type(exc), exc)).strip()[:300])
        return "\n".join(lines)
    except BaseException:
        return type(exc).__name__


def read_points(out, n):
    """(points, "") when ``out`` is n (x, y) pairs of finite numbers, else (None, why).

    Each value is converted once and the converted value is checked, so an object whose
    ``__float__`` answers differently the second time cannot slip a NaN through.
    """
    shown = repr(out)
    shown = shown if len(shown) <= 80 else shown[:80] + "..."
    if not isinstance(out, list | tuple):
        return None, f"predict returned {type(out).__name__} {shown}; expected a list of {n} (x, y)"
    items = list(out)
    if len(items) != n:
        return None, f"predict returned {len(items)} items for {n} balls: {shown}"
    points = []
    for i, p in enumerate(items):
        pair = list(p) if isinstance(p, list | tuple) else None
        if pair is None or len(pair) != 2:
            return (
                None,
                f"item {i} is {shown if len(shown) < 40 else repr(p)[:40]}; expected (x, y)",
            )
        values = []
        for v in pair:
            number = None
            if not isinstance(v, bool) and isinstance(v, int | float):
                try:
                    number = float(v)
                except (OverflowError, ValueError, TypeError):
                    number = None
            if number is None or not math.isfinite(number):
                return None, f"item {i} = {repr(p)[:60]} holds {v!r}, not a finite number"
            values.append(number)
        points.append(values)
    return points, ""


def main():
    ns = {"__name__": "solution"}
    try:
        with open(SOLUTION) as f:
            code = compile(f.read(), SOLUTION, "exec")
        exec(code, ns)
    except BaseException as exc:
        emit({"load_error": trim(exc)})
        return
    fn = ns.get("predict")
    if not callable(fn):
        emit({"load_error": "solution.py defines no callable named predict"})
        return
    with open("cases.json") as f:
        cases = json.load(f)
    for i, case in enumerate(cases):
        emit({"start": i})
        balls = [dict(b) for b in case["balls"]]
        try:
            out = fn(balls, case["width"], case["height"], case["t"])
        except BaseException as exc:
            emit({"case": i, "error": trim(exc)})
            continue
        try:
            points, problem = read_points(out, len(balls))
        except BaseException as exc:  # the result's own methods (repr, iter, float) raised
            points, problem = None, f"the value predict returned cannot be read: {trim(exc)}"
        if problem:
            emit({"case": i, "error": problem})
        else:
            emit({"case": i, "points": points})


main()
