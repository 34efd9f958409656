"""Mastermind: guess a hidden code of coloured pegs, written as digits 1..colours.

Each guess gets two counts: exact (right colour in the right place) and colour-only (right
colour in the wrong place), computed as in the board game: colour-only is the number of
common colours (with multiplicity) minus the exact matches.

Evaluation split: a fixed 20% of the codes (by a hash of the code) are never secrets in
training.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from envs.base import Knob, KnobError
from envs.guessing import INVALID_KNOB, MAX_TURNS_KNOB, GuessingGame, Scored, guesses_knob

Code = tuple[int, ...]


def pegs(guess: Code, secret: Code) -> tuple[int, int]:
    """(exact, colour-only) counts of ``guess`` against ``secret``."""
    exact = sum(g == s for g, s in zip(guess, secret, strict=True))
    common = sum((Counter(guess) & Counter(secret)).values())
    return exact, common - exact


class Mastermind(GuessingGame):
    """Guess a hidden colour code; feedback gives exact and colour-only counts."""

    KNOBS = (
        Knob("code_length", 4, range(2, 9), "pegs in the code"),
        Knob("colours", 6, range(2, 10), "colours a peg can have (digits 1..colours)"),
        Knob("repeats", True, (False, True), "whether a colour may appear twice in the code"),
        guesses_knob(10),
        INVALID_KNOB,
        MAX_TURNS_KNOB,
    )

    def __init__(self, render_mode: str | None = None, **knobs: Any) -> None:
        super().__init__(render_mode, **knobs)
        if not self.repeats and self.colours < self.code_length:
            raise KnobError(
                f"knob colours={self.colours} is out of range: without repeats it must be at "
                f"least code_length={self.code_length}"
            )

    @property
    def secret(self) -> Code:
        return self._task

    def _new_task(self) -> Code:
        colours = range(1, self.colours + 1)
        picks = self.np_random.choice(colours, size=self.code_length, replace=self.repeats)
        return tuple(int(c) for c in picks)

    def _intro(self) -> str:
        repeats = "may repeat" if self.repeats else "are all different"
        example = " ".join(str(1 + i % self.colours) for i in range(self.code_length))
        return (
            f"Let's play Mastermind. Find the secret code of {self.code_length} pegs, each a "
            f"colour from 1 to {self.colours} (colours {repeats}), in {self.guesses} guesses. "
            "After each guess you learn how many pegs are the right colour in the right place "
            "(exact) and how many more are a right colour in the wrong place (colour-only). "
            f"Answer with the digits in square brackets, for example [{example}]."
        )

    def _parse(self, answer: str) -> tuple[Code | None, str]:
        text = answer.strip()
        if not re.fullmatch(r"[\d\s,]+", text):
            return None, f"a guess is {self.code_length} digits from 1 to {self.colours}"
        digits = re.findall(r"\d", text)
        if len(digits) != self.code_length:
            return None, f"the code has {self.code_length} pegs, got {len(digits)}"
        code = tuple(int(d) for d in digits)
        if any(not 1 <= c <= self.colours for c in code):
            return None, f"colours go from 1 to {self.colours}"
        if not self.repeats and len(set(code)) < len(code):
            return None, "colours may not repeat in this game"
        return code, ""

    def _score(self, guess: Code) -> Scored:
        exact, colour_only = pegs(guess, self.secret)
        text = (
            f"exact={exact} colour_only={colour_only}: {exact} peg(s) have the right colour in "
            f"the right place and {colour_only} more have a right colour in the wrong place; "
            f"{self.code_length - exact - colour_only} peg(s) match nothing."
        )
        credit = (exact + 0.5 * colour_only) / self.code_length
        return Scored(guess, text, credit, exact == self.code_length)

    def _show(self, guess: Code) -> str:
        return " ".join(map(str, guess))

    def _reveal(self) -> str:
        return f"The code was {self._show(self.secret)}."

    def hindsight(self) -> list[str]:
        """Per guess, which earlier feedback it contradicts; the code if the game was lost."""
        notes: list[str] = []
        history = [(s.guess, pegs(s.guess, self.secret)) for s in self.scored]
        for n in range(1, len(history)):
            guess = history[n][0]
            clashes = [
                f"guess {k + 1} ({self._show(g)}) got exact={e} colour_only={c} but would get "
                f"exact={pegs(g, guess)[0]} colour_only={pegs(g, guess)[1]} if the code were "
                f"{self._show(guess)}"
                for k, (g, (e, c)) in enumerate(history[:n])
                if pegs(g, guess) != (e, c)
            ]
            if clashes:
                notes.append(
                    f"Guess {n + 1} could not be the code: " + "; ".join(clashes[:2]) + "."
                )
        if history and not any(s.solved for s in self.scored):
            notes.append(self._reveal())
        return notes
