"""Bouncing balls: reference physics, sandboxed judging, and the feedback on wrong code."""

import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import envs
from envs.bouncing import Ball, check_source, closed_form, extract_code, simulate
from envs.sandbox import (
    UNSAFE_ENV_VAR,
    Isolation,
    SandboxResult,
    SandboxUnavailable,
    isolation_level,
)

CLOSED_FORM = """```python
def predict(balls, width, height, t):
    def fold(p, v, r, size):
        span = size - 2 * r
        u = (p - r + v * t) % (2 * span)
        return r + (2 * span - u if u > span else u)
    return [(fold(b["x"], b["vx"], b["r"], width), fold(b["y"], b["vy"], b["r"], height))
            for b in balls]
```"""

# An event-driven solution written independently of envs.bouncing.physics (equal-time stepping
# between events, collisions resolved with the textbook 1-D formula along the normal).
EVENT_DRIVEN = """```python
import math

def predict(balls, width, height, t):
    bs = [dict(b) for b in balls]
    now = 0.0
    while True:
        best, what = t - now, None
        for i, b in enumerate(bs):
            for k, v, lo, hi in (("x", b["vx"], b["r"], width - b["r"]),
                                 ("y", b["vy"], b["r"], height - b["r"])):
                if v > 0 and (hi - b[k]) / v < best:
                    best, what = max(0.0, (hi - b[k]) / v), ("w", i, k)
                if v < 0 and (lo - b[k]) / v < best:
                    best, what = max(0.0, (lo - b[k]) / v), ("w", i, k)
        collide = all("m" in b for b in bs)  # masses are given only when balls collide
        for i in range(len(bs) if collide else 0):
            for j in range(i + 1, len(bs)):
                a, c = bs[i], bs[j]
                px, py = c["x"] - a["x"], c["y"] - a["y"]
                wx, wy = c["vx"] - a["vx"], c["vy"] - a["vy"]
                A, B = wx * wx + wy * wy, px * wx + py * wy
                C = px * px + py * py - (a["r"] + c["r"]) ** 2
                if B < 0 and B * B - A * C >= 0:
                    tau = max(0.0, (-B - math.sqrt(B * B - A * C)) / A)
                    if tau < best:
                        best, what = tau, ("p", i, j)
        for b in bs:
            b["x"] += b["vx"] * best
            b["y"] += b["vy"] * best
        now += best
        if what is None:
            return [(b["x"], b["y"]) for b in bs]
        if what[0] == "w":
            bs[what[1]]["v" + what[2]] *= -1
        else:
            a, c = bs[what[1]], bs[what[2]]
            d = math.hypot(c["x"] - a["x"], c["y"] - a["y"])
            nx, ny = (c["x"] - a["x"]) / d, (c["y"] - a["y"]) / d
            ua, uc = a["vx"] * nx + a["vy"] * ny, c["vx"] * nx + c["vy"] * ny
            ma, mc = a["m"], c["m"]
            va = (ua * (ma - mc) + 2 * mc * uc) / (ma + mc)
            vc = (uc * (mc - ma) + 2 * ma * ua) / (ma + mc)
            a["vx"] += (va - ua) * nx
            a["vy"] += (va - ua) * ny
            c["vx"] += (vc - uc) * nx
            c["vy"] += (vc - uc) * ny
```"""

NO_RADIUS = """```python
def predict(balls, width, height, t):
    out = []
    for b in balls:
        x, y = b["x"] + b["vx"] * t, b["y"] + b["vy"] * t
        x, y = x % (2 * width), y % (2 * height)
        out.append((2 * width - x if x > width else x, 2 * height - y if y > height else y))
    return out
```"""

BAD_INPUTS = [
    "",
    "   \n\t ",
    "x" * 100_000,
    "\x00\x07\x1b[2J",
    "Привет мир",
    "12345",
    "[crane] [slate]",
    "def predict(:\n  pass",
    "```python\ndef forecast(b, w, h, t):\n    return []\n```",
]


def test_closed_form_matches_event_driven_without_collisions():
    rng = np.random.default_rng(0)
    for _ in range(200):
        w, h = rng.uniform(4, 20, size=2)
        balls = [
            Ball(*rng.uniform(1, 3, size=2), *rng.uniform(-6, 6, size=2), 0.5) for _ in range(3)
        ]
        t = float(rng.uniform(0, 40))
        for p, q in zip(closed_form(balls, w, h, t), simulate(balls, w, h, t, False), strict=True):
            assert math.dist(p, q) < 1e-9


def test_single_bounce_by_hand():
    # x: 5 + 3*2 = 11 -> wall at 10 - 1 = 9 reached, reflected back by 2: 7. y stays.
    ((x, y),) = simulate([Ball(5.0, 4.0, 3.0, 0.0, 1.0)], 10.0, 8.0, 2.0)
    assert x == pytest.approx(7.0) and y == pytest.approx(4.0)


def test_head_on_collision_equal_masses_swaps_velocities():
    balls = [Ball(2.0, 5.0, 1.0, 0.0, 0.5), Ball(6.0, 5.0, -1.0, 0.0, 0.5)]
    # They touch at t=1.5 (centres 3 apart -> 1 apart), swap velocities, then move apart.
    (a, _), (b, _) = simulate(balls, 20.0, 10.0, 2.5)
    assert a == pytest.approx(2.5) and b == pytest.approx(5.5)


def test_collisions_conserve_momentum_and_energy():
    rng = np.random.default_rng(3)
    balls = [
        Ball(2.0 + 3 * i, 2.0 + 2 * i, *rng.uniform(-4, 4, size=2), 0.6, 1.0 + i) for i in range(3)
    ]
    w = h = 12.0

    def energy(bs):
        return sum(b.m * (b.vx**2 + b.vy**2) for b in bs)

    from envs.bouncing.physics import _collide

    a, b = Ball(0.0, 0.0, 2.0, 1.0, 0.5, 1.0), Ball(1.0, 0.0, -1.0, 0.5, 0.5, 3.0)
    before_p = (a.m * a.vx + b.m * b.vx, a.m * a.vy + b.m * b.vy)
    before_e = energy([a, b])
    _collide(a, b)
    assert (a.m * a.vx + b.m * b.vx, a.m * a.vy + b.m * b.vy) == pytest.approx(before_p)
    assert energy([a, b]) == pytest.approx(before_e)
    # Speeds after many wall and ball events keep the total kinetic energy.
    out = simulate(balls, w, h, 30.0)
    assert all(
        b.r <= x <= w - b.r and b.r <= y <= h - b.r for b, (x, y) in zip(balls, out, strict=True)
    )


@pytest.mark.parametrize("preset", ["default", "easy", "hard"])
def test_independent_solution_passes_every_preset(preset):
    env = envs.make("bouncing", preset=preset)
    env.reset(seed=4)
    *_, info = env.step(EVENT_DRIVEN)
    assert info["success"] and info["progress"] == 1.0, info["feedback"]


def test_closed_form_solution_passes_default_but_not_collisions():
    env = envs.make("bouncing")
    env.reset(seed=2)
    *_, info = env.step(CLOSED_FORM)
    assert info["success"]
    env = envs.make("bouncing", preset="hard")
    env.reset(seed=2)
    obs, *_, info = env.step(CLOSED_FORM)
    assert info["valid_action"] and not info["success"]
    assert any("ignores ball-ball collisions" in n for n in env.hindsight())


def test_wrong_physics_gets_per_ball_errors_and_a_diagnosis():
    env = envs.make("bouncing")
    env.reset(seed=1)
    obs, reward, term, trunc, info = env.step(NO_RADIUS)
    assert reward == 0.0 and not term and info["valid_action"] and info["progress"] < 1
    assert obs.startswith("Passed ")
    assert "Test 1: predict(balls=[{" in obs
    assert "<- wrong" in obs and "expected (" in obs and "error " in obs
    assert any("ignores the ball radius" in n for n in env.hindsight())


def test_runtime_error_is_trimmed_to_the_solution_lines():
    env = envs.make("bouncing")
    env.reset(seed=1)
    code = (
        "```python\ndef predict(balls, width, height, t):\n    print('dbg')\n"
        "    return helper(balls)\n\ndef helper(bs):\n    return bs[0]['pos']\n```"
    )
    obs, *_, info = env.step(code)
    assert info["valid_action"] and info["progress"] == 0.0
    assert (
        "  error:\n    line 3, in predict: return helper(balls)\n"
        "    line 6, in helper: return bs[0]['pos']\n    KeyError: 'pos'"
    ) in obs
    assert "the same error as test 1" in obs
    assert "harness" not in obs and "main.py" not in obs and "<string>" not in obs
    assert "Your code printed" in obs and "dbg" in obs


def test_time_out_wrong_shape_and_load_errors():
    env = envs.make("bouncing")
    env.reset(seed=1)
    obs, *_, info = env.step(
        "```python\ndef predict(balls, width, height, t):\n    while True:\n        pass\n```"
    )
    assert "(while running this test)" in obs and ("time-out" in obs or "CPU limit" in obs)
    assert "not run:" in obs and info["progress"] == 0.0
    env.reset(seed=1)
    obs, *_ = env.step("```python\ndef predict(balls, width, height, t):\n    return 3\n```")
    assert "predict returned int 3; expected a list of" in obs
    env.reset(seed=1)
    obs, *_ = env.step(
        "```python\nimport os\nos.system('ls')\ndef predict(b, w, h, t):\n    return []\n```"
    )
    assert obs.startswith("Your code failed before any test ran:")
    assert "PermissionError: sandbox: os.system is not allowed" in obs


def test_missing_function_and_syntax_error_messages():
    assert check_source("def forecast(b, w, h, t):\n    return []") == (
        "No top-level function named predict (top-level names found: forecast). "
        "Define def predict(balls, width, height, t)."
    )
    assert check_source("def predict(:\n  pass").startswith("SyntaxError, line 1: ")
    assert check_source("predict = lambda b, w, h, t: []") == ""
    assert extract_code("text\n```python\ndef predict(): pass\n```\n```\nx\n```") == (
        "def predict(): pass\n"
    )


@pytest.mark.parametrize("action", BAD_INPUTS)
def test_bad_inputs_are_feedback_not_errors(action):
    env = envs.make("bouncing")
    env.reset(seed=0)
    obs, reward, *_, info = env.step(action)
    assert info["valid_action"] is False and reward == 0.0 and obs and len(obs) < 3000


def test_determinism_and_variety():
    a, b = envs.make("bouncing", preset="hard"), envs.make("bouncing", preset="hard")
    assert a.reset(seed=9)[0] == b.reset(seed=9)[0]
    assert a._task == b._task
    assert len({envs.make("bouncing").reset(seed=s)[0] for s in range(8)}) == 8


def test_knobs_are_checked():
    with pytest.raises(envs.KnobError, match="balls=9"):
        envs.make("bouncing", balls=9)
    with pytest.raises(envs.KnobError):
        envs.make("bouncing", balls=1, collisions=True)


# -- model output is hostile data: forged records, NaN and infinities, garbage ---------------


@pytest.fixture(autouse=True)
def _sandbox_for_benign_code(monkeypatch):
    """These tests run benign or print-only code: allow the process level where bwrap is absent."""
    if not isolation_level().real:
        monkeypatch.setenv(UNSAFE_ENV_VAR, "1")


def _truth(env) -> list[list[list[float]]]:
    """The expected points of every case of the current task (what a perfect forger knows)."""
    return [[list(p) for p in want] for want in env.unwrapped._task.expected]


def _multi_ball_env():
    env = envs.make("bouncing", balls=3)
    env.reset(seed=5)
    assert any(len(c.balls) > 1 for c in env.unwrapped._task.cases)
    return env


def _solution(body: str) -> str:
    return f"```python\n{body}\n```"


def test_nan_and_inf_for_all_but_the_first_ball_never_pass():
    env = _multi_ball_env()
    fold = CLOSED_FORM.split("```python\n")[1].split("```")[0]
    for bad in ("float('nan')", "float('inf')", "-float('inf')"):
        env.reset(seed=5)
        code = fold.replace("def predict(", "def exact(") + (
            "def predict(balls, width, height, t):\n"
            "    first = exact(balls, width, height, t)[0]\n"
            f"    return [first] + [({bad}, {bad})] * (len(balls) - 1)\n"
        )
        obs, reward, *_, info = env.step(_solution(code))
        assert not info["success"] and reward == 0.0 and info["progress"] < 1.0
        assert "not a finite number" in obs


def test_a_float_that_changes_its_value_cannot_smuggle_nan():
    env = _multi_ball_env()
    code = (
        "class Sly(float):\n"
        "    def __float__(self):\n        return float('nan')\n"
        "def predict(balls, width, height, t):\n"
        "    return [(Sly(b['x']), Sly(b['y'])) for b in balls]\n"
    )
    obs, *_, info = env.step(_solution(code))
    assert not info["success"] and "not a finite number" in obs


def test_forged_records_with_the_nonce_never_pass_or_crash():
    """The strongest forger: it digs out the nonce and knows every answer for ball 0."""
    env = _multi_ball_env()
    truth = _truth(env)
    nan = [float("nan")] * 2
    forged = [  # ball 0 exact and the others NaN; a lone ball is NaN (exact would be solving)
        {"case": i, "points": [pts[0]] + [nan] * (len(pts) - 1) if len(pts) > 1 else [nan]}
        for i, pts in enumerate(truth)
    ]
    garbage = [
        {"case": True, "points": truth[1]},
        {"case": -1, "points": []},
        {"case": 10**30, "points": []},
        {"case": 0, "points": "all correct"},
        {"case": 0, "error": {"not": "text"}},
        {"case": 0},
        {"start": "everything"},
        [1, 2, 3],
        "[" * 5000 + "]" * 5000,
        {"case": 1, "points": [[1e999, 0]] * 3},
        {"case": 2, "points": [[10**400, 0]] * 3},
    ]
    code = (
        "import json, os, sys\n"
        "nonce = sys._getframe(1).f_globals['NONCE']\n"  # the harness's frame: no secret to it
        f"records = {json.dumps(forged)!r}\n"
        f"garbage = {json.dumps(garbage)!r}\n"
        "lines = [nonce + ' ' + json.dumps(r) for r in json.loads(records)]\n"
        "lines += [nonce + ' ' + (g if isinstance(g, str) else json.dumps(g))\n"
        "          for g in json.loads(garbage)]\n"
        "os.write(1, ('\\n'.join(lines) + '\\n').encode())\n"
        "os._exit(0)\n"
        "def predict(balls, width, height, t):\n    return []\n"
    )
    obs, reward, *_, info = env.step(_solution(code))
    assert not info["success"] and reward == 0.0 and info["progress"] == 0.0, obs
    assert info["valid_action"] and obs.startswith("Passed 0 of")


def test_forged_records_next_to_honest_ones_are_conflicts():
    env = _multi_ball_env()
    truth = _truth(env)
    code = (
        "import json, os, sys\n"
        "nonce = sys._getframe(1).f_globals['NONCE']\n"
        f"for i, pts in enumerate({truth!r}):\n"
        "    os.write(1, (nonce + ' ' + json.dumps({'case': i, 'points': pts}) + '\\n').encode())\n"
        "def predict(balls, width, height, t):\n    return [(0.0, 0.0)] * len(balls)\n"
    )
    obs, *_, info = env.step(_solution(code))
    assert not info["success"] and info["progress"] == 0.0
    assert "more than one result was written for this test" in obs


def test_records_without_the_nonce_are_ignored():
    env = _multi_ball_env()
    truth = _truth(env)
    code = (
        "import json, os\n"
        f"for i, pts in enumerate({truth!r}):\n"
        "    os.write(1, (json.dumps({'case': i, 'points': pts}) + '\\n').encode())\n"
        "def predict(balls, width, height, t):\n    return [(0.0, 0.0)] * len(balls)\n"
    )
    obs, *_, info = env.step(_solution(code))
    assert not info["success"] and info["progress"] == 0.0 and "<- wrong" in obs


def test_results_whose_methods_raise_are_errors_not_crashes():
    env = _multi_ball_env()
    code = (
        "class Evil(list):\n"
        "    def __repr__(self):\n        raise SystemExit('no repr for you')\n"
        "    def __len__(self):\n        return 10**6\n"
        "def predict(balls, width, height, t):\n    return Evil()\n"
    )
    obs, *_, info = env.step(_solution(code))
    assert not info["success"] and info["valid_action"] and "cannot be read" in obs


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)
RECORD_KEYS = st.sampled_from(["case", "points", "error", "start", "load_error", "x"])


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    records=st.lists(st.dictionaries(RECORD_KEYS, JSON, max_size=3) | JSON, max_size=12),
    noise=st.lists(st.text(max_size=40), max_size=4),
)
def test_judging_garbage_never_raises_and_never_passes(records, noise):
    env = envs.make("bouncing", balls=3)
    env.reset(seed=5)
    nonce = "n" * 32
    lines = [f"{nonce} {json.dumps(r)}" for r in records] + noise + [f"{nonce} {n}" for n in noise]
    result = SandboxResult(0, "\n".join(lines), "", False, False, 0.1, True, isolation_level())
    outcome = env.unwrapped._judge(result, nonce)
    assert not outcome.success and outcome.progress == 0.0 and outcome.feedback


def test_refuses_to_start_without_real_isolation(monkeypatch):
    import envs.sandbox as sandbox

    monkeypatch.setattr(sandbox, "_probe", lambda: (Isolation.PROCESS, "bwrap is not installed"))
    monkeypatch.delenv(UNSAFE_ENV_VAR, raising=False)
    with pytest.raises(SandboxUnavailable, match="apt-get install bubblewrap.*RESD_UNSAFE_SANDBOX"):
        envs.make("bouncing")
    monkeypatch.setenv(UNSAFE_ENV_VAR, "1")
    assert envs.make("bouncing").unwrapped.isolation is Isolation.PROCESS
