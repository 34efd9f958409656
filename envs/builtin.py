"""Registration of the built-in environments (imported by ``envs``).

Each spec says what a run needs to know: the knob presets, and ``max_new_tokens``, the longest
answer a model may write per turn in tokens (enough for the answer format at the default
preset; the runner's ``--max-new-tokens`` overrides it).
"""

from envs.registry import GYM_NAMESPACE, register

register(
    "wordle",
    "envs.wordle:Wordle",
    presets={
        # calibrated for the suite's own small model (resd-tiny): random play wins ~6%
        "default": {"pool_size": 100},
        "easy": {"length": 4, "pool_size": 200, "guesses": 8},
        "hard": {"pool_size": 2000, "hard_mode": True},
    },
    description="Guess a hidden word; per-letter G/Y/X marks.",
    max_new_tokens=16,  # "[crane]" and a few words around it
    gym_id=f"{GYM_NAMESPACE}/Wordle-v0",
)
register(
    "mastermind",
    "envs.mastermind:Mastermind",
    presets={
        "default": {},
        "easy": {"code_length": 3, "colours": 4, "guesses": 10},
        "hard": {"code_length": 5, "colours": 8, "guesses": 10},
    },
    description="Guess a hidden colour code; exact / colour-only counts.",
    max_new_tokens=16,  # "[1 2 3 4]" and a few words around it
    gym_id=f"{GYM_NAMESPACE}/Mastermind-v0",
)
register(
    "tape",
    "envs.tape:TapeMachine",
    presets={
        "default": {},
        "easy": {"pattern_length": 2, "tests": 8, "max_length": 8, "turns": 5},
        "hard": {"family": "all", "colours": 4, "pattern_length": 4, "tests": 24, "max_length": 12},
    },
    description="Write a finite-state tape machine (Manufactoria-like DSL) for a tape property.",
    max_new_tokens=320,  # a fenced program of a few states
    gym_id=f"{GYM_NAMESPACE}/TapeMachine-v0",
)
register(
    "bouncing",
    "envs.bouncing:BouncingBalls",
    presets={
        "default": {},
        "easy": {"balls": 1, "tests": 6, "max_time": 5, "turns": 5},
        "hard": {"balls": 3, "collisions": True, "tests": 12, "max_time": 10},
    },
    description="Write predict(balls, width, height, t) for balls bouncing in a box (sandboxed).",
    max_new_tokens=400,  # a fenced Python function
    gym_id=f"{GYM_NAMESPACE}/BouncingBalls-v0",
)
register(
    "xbrl",
    "envs.xbrl:XbrlTagging",
    presets={
        "default": {},
        "easy": {
            "labels": 8,
            "numbers": 2,
            "confusers": 0.0,
            "distractors": 0,
            "zipf": 0.5,
            "max_turns": 2,
        },
        "hard": {
            "labels": 100,
            "numbers": 4,
            "confusers": 0.6,
            "distractors": 2,
            "zipf": 1.2,
            "show_labels": False,
        },
    },
    description="Tag each marked number of a filing sentence with its XBRL label (FiNER-like).",
    max_new_tokens=160,  # three [k: Label] entries at the default preset: 132 bytes at most
    gym_id=f"{GYM_NAMESPACE}/XbrlTagging-v0",
)
register(
    "secret",
    "envs.secret:SecretWord",
    presets={"default": {}, "large": {"n_tasks": 32, "n_words": 8}},
    description="Toy: say the task's secret word; a failure's feedback reveals it.",
    max_new_tokens=8,  # "[cat]"
    gym_id=f"{GYM_NAMESPACE}/SecretWord-v0",
)

# "textarena/<GameId>" builds a TextArena single-player game on demand (not listed by envs.list()).
from envs import textarena_adapter as _textarena_adapter  # noqa: E402,F401
