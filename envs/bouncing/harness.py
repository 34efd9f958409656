"""Runs inside the sandbox: load solution.py, call predict on each case of cases.json.

Writes one JSON object per line to the real stdout (``{"start": i}`` before case i, then its
result) so the host knows which case was running when a time-out hit. Print calls of the user
code go to stderr. Tracebacks keep only the frames of solution.py. Standard library only.
"""

import json
import math
import sys
import traceback

_out = sys.stdout
sys.stdout = sys.stderr
SOLUTION = "solution.py"


def emit(obj):
    _out.write(json.dumps(obj) + "\n")
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


def shape_error(out, n):
    """Why ``out`` is not a list of n (x, y) pairs of finite numbers, or ""."""
    shown = repr(out)
    shown = shown if len(shown) <= 80 else shown[:80] + "..."
    if not isinstance(out, list | tuple):
        return f"predict returned {type(out).__name__} {shown}; expected a list of {n} (x, y)"
    if len(out) != n:
        return f"predict returned {len(out)} items for {n} balls: {shown}"
    for i, p in enumerate(out):
        if not isinstance(p, list | tuple) or len(p) != 2:
            return f"item {i} is {shown if len(shown) < 40 else repr(p)[:40]}; expected (x, y)"
        for v in p:
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                return f"item {i} = {repr(p)[:60]} holds {v!r}, not a finite number"
    return ""


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
        problem = shape_error(out, len(balls))
        if problem:
            emit({"case": i, "error": problem})
        else:
            emit({"case": i, "points": [[float(x), float(y)] for x, y in out]})


main()
