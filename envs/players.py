"""Scripted players with a skill knob, for data generation and baselines.

``scripted_action(env, skill, rng)`` returns the next action text (``[answer]``) for a reset,
unfinished game, using only the game's public state (its past guesses and the marks it gave):

* skill 0: a random valid guess not tried yet (from the answer pool for Wordle);
* skill 1: an expert, always a guess consistent with all feedback so far;
* in between: each turn is the expert's move with probability ``skill``, else a random one.

The expert picks uniformly among the consistent candidates (no look-ahead): good enough to
win nearly always, and it keeps the data varied.

XBRL tagging decides per marked number instead of per turn: each number gets the label its
cue means under the label set's rules (what an expert knows) with probability ``skill``, else
a uniformly random label, so per-number accuracy is ``skill + (1 - skill) / labels``. The
player does not read feedback: its knowledge is its skill.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np

from envs.mastermind import Mastermind, pegs
from envs.wordle import Wordle, consistent, marks, word_list
from envs.xbrl import XbrlTagging, render_answer


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


def _xbrl(env: XbrlTagging, skill: float, rng: np.random.Generator) -> str:
    names = env.label_set.names
    labels = [
        env.label_set.label_of(cue)
        if rng.random() < skill
        else names[int(rng.integers(len(names)))]
        for cue in env.cues
    ]
    return render_answer(labels)


def _per_turn(
    player: Callable[[Any, bool, np.random.Generator], str],
) -> Callable[[Any, float, np.random.Generator], str]:
    """A player that is the expert for a whole turn with probability ``skill``."""

    def play(env: Any, skill: float, rng: np.random.Generator) -> str:
        return player(env, bool(rng.random() < skill), rng)

    return play


PLAYERS: dict[type, Callable[[Any, float, np.random.Generator], str]] = {
    Wordle: _per_turn(_wordle),
    Mastermind: _per_turn(_mastermind),
    XbrlTagging: _xbrl,
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
    return player(game, skill, rng)
