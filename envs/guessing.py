"""Shared rules of guess-the-secret games (Wordle, Mastermind).

A game has a secret, a number of guesses, and per-guess marks. This base class owns what the
games have in common: parsing the bracketed answer, the treatment of invalid guesses
(``invalid="retry"`` costs a turn but no guess, ``"penalty"`` also costs a guess, ``"end"``
ends the game), repeated guesses, the guess counter, partial credit (best guess so far), and
revealing the secret when the game is lost. The knobs every such game has (``guesses``,
``invalid``, ``max_turns``) are declared here for the games' ``KNOBS`` tables.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from typing import Any

from envs.base import Knob, Outcome, TextEnv, echo, extract_bracketed

INVALID_POLICIES = ("retry", "penalty", "end")
MAX_TURNS_LIMIT = 200


def guesses_knob(default: int) -> Knob:
    """The number of guesses, with a game's own default."""
    return Knob("guesses", default, range(1, 31), "guesses per game")


INVALID_KNOB = Knob(
    "invalid",
    "retry",
    INVALID_POLICIES,
    "what an invalid answer costs: retry (a turn), penalty (a turn and a guess), end (the game)",
)
MAX_TURNS_KNOB = Knob(
    "max_turns",
    None,
    lambda knobs: range(knobs["guesses"], MAX_TURNS_LIMIT + 1),
    "actions per episode, invalid ones included (default: 2 x guesses)",
)


@dataclass(frozen=True)
class Scored:
    """A valid guess scored against the secret."""

    guess: Any
    text: str  # the marks, rendered for the player
    credit: float  # partial credit of this guess in [0, 1]
    solved: bool


class GuessingGame(TextEnv):
    """Base for games where the player guesses a secret and gets marks back.

    A game's ``KNOBS`` include ``guesses_knob(default)``, ``INVALID_KNOB`` and
    ``MAX_TURNS_KNOB`` (after ``guesses``, which bounds it).
    """

    def __init__(self, render_mode: str | None = None, **knobs: Any) -> None:
        super().__init__(render_mode, **knobs)
        if self.max_turns is None:
            self.max_turns = 2 * self.guesses
        self.scored: list[Scored] = []

    # -- game-specific hooks --------------------------------------------------------------------
    @abstractmethod
    def _parse(self, answer: str) -> tuple[Any, str]:
        """Turn the bracketed answer into a guess, or ``(None, reason)``."""

    @abstractmethod
    def _score(self, guess: Any) -> Scored:
        """Mark a valid guess against the secret."""

    @abstractmethod
    def _show(self, guess: Any) -> str:
        """The guess as the player should see it."""

    def _rule_violation(self, guess: Any) -> str:
        """A reason why a parsed guess breaks a rule of this game (hard mode), or ``""``."""
        return ""

    # -- shared rules ---------------------------------------------------------------------------
    def reset(self, *, seed=None, options=None):
        self.scored = []
        self._spent = 0
        return super().reset(seed=seed, options=options)

    def _play(self, action: str) -> Outcome:
        answer, reason = extract_bracketed(action)
        guess = None
        if answer is not None:
            guess, reason = self._parse(answer)
        if guess is not None and any(s.guess == guess for s in self.scored):
            reason = f"you already guessed {self._show(guess)}"
        if guess is not None and not reason:
            reason = self._rule_violation(guess)
        if reason:
            return self._invalid(action, reason)
        self._spent += 1
        scored = self._score(guess)
        self.scored.append(scored)
        progress = max(s.credit for s in self.scored)
        lines = [f"Guess {self._spent} of {self.guesses}: {self._show(guess)}", scored.text]
        if scored.solved:
            lines.append(f"Solved in {self._spent} guess{'es' if self._spent > 1 else ''}!")
            return Outcome("\n".join(lines), True, success=True, progress=1.0, done=True)
        left = self.guesses - self._spent
        if left == 0:
            lines.append(f"No guesses left. {self._reveal()}")
            return Outcome("\n".join(lines), True, progress=progress, done=True)
        lines.append(f"{left} guess{'es' if left > 1 else ''} left.")
        return Outcome("\n".join(lines), True, progress=progress)

    def _invalid(self, action: str, reason: str) -> Outcome:
        progress = max((s.credit for s in self.scored), default=0.0)
        text = f"Invalid answer {echo(action)}: {reason}."
        if self.invalid == "end":
            return Outcome(
                f"{text} The game ends. {self._reveal()}", False, progress=progress, done=True
            )
        if self.invalid == "penalty":
            self._spent += 1
            left = self.guesses - self._spent
            if left == 0:
                return Outcome(
                    f"{text} It cost a guess and none are left. {self._reveal()}",
                    False,
                    progress=progress,
                    done=True,
                )
            return Outcome(f"{text} It cost a guess: {left} left.", False, progress=progress)
        left = self.guesses - self._spent
        return Outcome(
            f"{text} Try again: {left} guess{'es' if left > 1 else ''} left.",
            False,
            progress=progress,
        )
