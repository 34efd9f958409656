"""Wordle, offline, with word lists shipped as package data (see scripts/build_wordlists.py).

Marks per letter: G = right letter in the right spot, Y = in the word but elsewhere, X = not in
the word (or not as many times as guessed). Repeated letters follow the official rule: greens
are matched first, then yellows left to right while unmatched copies of the letter remain.

Evaluation split: a fixed 20% of the answer words (by a hash of the word, the same at every
``pool_size``) are never secrets in training, so a learner that memorises secrets gains nothing
on evaluation. Held-out words stay allowed as guesses.
"""

from __future__ import annotations

from collections import Counter
from functools import cache
from importlib import resources

from envs.base import Knob
from envs.guessing import INVALID_KNOB, MAX_TURNS_KNOB, GuessingGame, Scored, guesses_knob

LENGTHS = range(4, 7)
MIN_POOL = 10


@cache
def word_list(length: int) -> tuple[str, ...]:
    """Allowed guesses of a length, most frequent first (the answer pool is a prefix)."""
    text = resources.files("envs").joinpath(f"data/words{length}.txt").read_text()
    return tuple(text.split())


@cache
def _word_set(length: int) -> frozenset[str]:
    return frozenset(word_list(length))


REVEAL_PREFIX = "The word was "


def reveal_line(secret: str) -> str:
    """How a lost game names its answer: written as a guess is written (``[crane]``), so the
    answer the player should have given appears verbatim in the feedback."""
    return f"{REVEAL_PREFIX}[{secret}]."


def marks(guess: str, secret: str) -> str:
    """The G/Y/X marks of ``guess`` against ``secret`` (equal lengths)."""
    result = ["X"] * len(guess)
    unmatched: Counter[str] = Counter()
    for i, (g, s) in enumerate(zip(guess, secret, strict=True)):
        if g == s:
            result[i] = "G"
        else:
            unmatched[s] += 1
    for i, g in enumerate(guess):
        if result[i] != "G" and unmatched[g] > 0:
            result[i] = "Y"
            unmatched[g] -= 1
    return "".join(result)


def consistent(word: str, history: list[tuple[str, str]]) -> bool:
    """Whether ``word`` could be the secret given earlier (guess, marks) pairs."""
    return all(marks(g, word) == m for g, m in history)


def violations(word: str, history: list[tuple[str, str]], hard_only: bool = False) -> list[str]:
    """Readable reasons why ``word`` contradicts earlier feedback.

    ``hard_only`` checks just the hard-mode rules (greens kept in place, yellows reused);
    otherwise absent letters, letter counts and yellow positions are checked too.
    """
    reasons: list[str] = []
    counts = Counter(word)
    for n, (g, m) in enumerate(history, start=1):
        present = Counter(c for c, mk in zip(g, m, strict=True) if mk != "X")
        for i, (c, mk) in enumerate(zip(g, m, strict=True)):
            if mk == "G" and word[i] != c:
                reasons.append(f"{c.upper()} must stay at position {i + 1} (green in guess {n})")
            elif mk == "Y" and not hard_only and word[i] == c:
                reasons.append(
                    f"{c.upper()} is not at position {i + 1} (yellow there in guess {n})"
                )
        for c, need in present.items():
            if counts[c] < need:
                reasons.append(f"{c.upper()} is in the word (marked in guess {n}) but was left out")
        if hard_only:
            continue
        for c in sorted({c for c, mk in zip(g, m, strict=True) if mk == "X"}):
            if counts[c] > present[c]:
                if present[c] == 0:
                    reasons.append(f"{c.upper()} is not in the word (X in guess {n})")
                else:
                    reasons.append(
                        f"{c.upper()} appears only {present[c]} time(s) (guess {n}) but was used "
                        f"{counts[c]} times"
                    )
    return list(dict.fromkeys(reasons))


class Wordle(GuessingGame):
    """Guess a hidden English word; feedback marks each letter G, Y or X."""

    KNOBS = (
        Knob("length", 5, LENGTHS, "letters per word"),
        guesses_knob(6),
        Knob(
            "pool_size",
            500,
            lambda knobs: range(MIN_POOL, len(word_list(knobs["length"])) + 1),
            "the answer pool: this many of the most common words",
        ),
        Knob("hard_mode", False, (False, True), "greens must stay in place, yellows be reused"),
        INVALID_KNOB,
        MAX_TURNS_KNOB,
    )

    @property
    def secret(self) -> str:
        return self._task

    def split_key(self, task: str) -> str:
        return task  # the secret word

    def _new_task(self) -> str:
        return word_list(self.length)[int(self.np_random.integers(self.pool_size))]

    def _intro(self) -> str:
        hard = (
            " Hard mode: every green letter must stay in place and every yellow letter must be "
            "used in later guesses."
            if self.hard_mode
            else ""
        )
        return (
            f"Let's play Wordle. Guess the secret {self.length}-letter English word in "
            f"{self.guesses} guesses. After each guess every letter gets a mark: G = right letter "
            "in the right spot, Y = in the word but in another spot, X = not in the word (or not "
            f"that many times).{hard} Answer with one word in square brackets, for example "
            f"[{word_list(self.length)[0]}]."
        )

    def _parse(self, answer: str) -> tuple[str | None, str]:
        word = answer.strip().lower()
        if not word.isascii() or not word.isalpha():
            return None, "a guess must be a single word of letters a-z"
        if len(word) != self.length:
            return None, f"{word!r} has {len(word)} letters; the word has {self.length}"
        if word not in _word_set(self.length):
            return None, f"{word!r} is not in the word list"
        return word, ""

    def _rule_violation(self, guess: str) -> str:
        if not self.hard_mode:
            return ""
        reasons = violations(guess, self._mark_history(), hard_only=True)
        return f"hard mode: {reasons[0]}" if reasons else ""

    def _score(self, guess: str) -> Scored:
        m = marks(guess, self.secret)
        credit = (m.count("G") + 0.5 * m.count("Y")) / self.length
        return Scored(
            guess, f"{' '.join(guess.upper())}\n{' '.join(m)}", credit, guess == self.secret
        )

    def _show(self, guess: str) -> str:
        return guess.upper()

    def _reveal(self) -> str:
        return reveal_line(self.secret)

    def _mark_history(self) -> list[tuple[str, str]]:
        return [(s.guess, marks(s.guess, self.secret)) for s in self.scored]

    def hindsight(self) -> list[str]:
        """Per guess, what it ignored of earlier feedback; invalid answers; the answer."""
        notes: list[str] = []
        history = self._mark_history()
        for n in range(1, len(history)):
            guess = history[n][0]
            reasons = violations(guess, history[:n])
            if reasons:
                notes.append(
                    f"Guess {n + 1} ({guess.upper()}) ignored feedback: "
                    + "; ".join(reasons[:3])
                    + "."
                )
        invalid = [o.feedback.split(". ")[0] for _, o in self.history if not o.valid_action]
        if invalid:
            notes.append(f"{len(invalid)} invalid answer(s), e.g. {invalid[0]}.")
        if history and not any(s.solved for s in self.scored):
            notes.append(reveal_line(self.secret))
        return notes
