"""Scripted players with a skill knob, for data generation and baselines.

``scripted_action(env, skill, rng)`` returns the next action text (``[answer]``) for a reset,
unfinished game, using only the game's public state (its past guesses and the marks it gave):

* skill 0: a random valid guess not tried yet (from the answer pool for Wordle);
* skill 1: an expert, always a guess consistent with all feedback so far;
* in between: each turn is the expert's move with probability ``skill``, else a random one.

The expert picks uniformly among the consistent candidates (no look-ahead): good enough to
win nearly always, and it keeps the data varied.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np

from envs.mastermind import Mastermind, pegs
from envs.wordle import Wordle, consistent, marks, word_list


def _wordle(env: Wordle, expert: bool, rng: np.random.Generator) -> str:
    pool = word_list(env.length)[: env.pool_size]
    tried = {s.guess for s in env.scored}
    history = [(g, marks(g, env.secret)) for g in (s.guess for s in env.scored)]
    options = [w for w in pool if w not in tried]
    if expert:
        options = [w for w in options if consistent(w, history)] or options
    return f"[{options[int(rng.integers(len(options)))]}]"


def _mastermind(env: Mastermind, expert: bool, rng: np.random.Generator) -> str:
    tried = {s.guess for s in env.scored}
    history = [(g, pegs(g, env.secret)) for g in tried]
    colours = range(1, env.colours + 1)
    if expert:
        codes = itertools.product(colours, repeat=env.code_length)
        options = [
            c
            for c in codes
            if (env.repeats or len(set(c)) == len(c))
            and c not in tried
            and all(pegs(g, c) == p for g, p in history)
        ]
        if options:
            return f"[{env._show(options[int(rng.integers(len(options)))])}]"
    while True:  # a random legal code not tried yet (the code space dwarfs the guess budget)
        picks = rng.choice(list(colours), size=env.code_length, replace=env.repeats)
        code = tuple(int(c) for c in picks)
        if code not in tried:
            return f"[{env._show(code)}]"


PLAYERS: dict[type, Callable[[Any, bool, np.random.Generator], str]] = {
    Wordle: _wordle,
    Mastermind: _mastermind,
}


def supports(env: Any) -> bool:
    """Whether a scripted player exists for this environment (wrappers are looked through)."""
    return type(getattr(env, "unwrapped", env)) in PLAYERS


def scripted_action(env: Any, skill: float, rng: np.random.Generator) -> str:
    """The next action of a player of the given skill in [0, 1] (see the module docstring)."""
    if not 0.0 <= skill <= 1.0:
        raise ValueError(f"skill must be in [0, 1], got {skill}")
    game = getattr(env, "unwrapped", env)
    player = PLAYERS.get(type(game))
    if player is None:
        raise ValueError(
            f"no scripted player for {type(game).__name__}; have "
            + ", ".join(t.__name__ for t in PLAYERS)
        )
    expert = bool(rng.random() < skill)
    return player(game, expert, rng)
