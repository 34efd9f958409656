"""A toy environment for smoke and learning tests: say the task's secret word.

Each task is a numbered riddle whose answer is a word fixed by the task number (a random but
fixed key). The student cannot know the answer from the prompt; a failure's feedback reveals
it. So a learner succeeds only by turning feedback into knowledge in its weights, which is
exactly what self-distillation is for, in seconds with a tiny model.

Evaluation split: none, on purpose (``eval_share = 0``). The toy measures whether feedback on a
task reaches the weights, so evaluation asks the same tasks as training.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from envs.base import Knob, Outcome, TextEnv, echo, extract_bracketed

WORDS = ("cat", "dog", "sun", "owl", "fox", "bee", "elk", "ant", "cow", "pig", "hen", "emu")


class SecretWord(TextEnv):
    """Name the secret word of a numbered task; a wrong answer's feedback reveals it."""

    KNOBS = (
        Knob("n_tasks", 4, range(1, 1001), "numbered tasks, each with its own secret word"),
        Knob("n_words", 4, range(2, len(WORDS) + 1), "candidate words (the first of WORDS)"),
        Knob("key", 0, range(0, 2**31), "which word each task's secret is"),
    )
    max_turns = 1
    eval_share = 0.0  # evaluation asks the training tasks (see the module docstring)

    def __init__(self, render_mode: str | None = None, **knobs: Any) -> None:
        super().__init__(render_mode, **knobs)
        mapping = np.random.default_rng(self.key).integers(self.n_words, size=self.n_tasks)
        self.answers = tuple(WORDS[int(i)] for i in mapping)

    def _new_task(self) -> int:
        return int(self.np_random.integers(self.n_tasks))

    def _intro(self) -> str:
        options = ", ".join(WORDS[: self.n_words])
        return f"Task {self._task}. Say the secret word ({options}) in brackets."

    def _play(self, action: str) -> Outcome:
        answer, reason = extract_bracketed(action)
        secret = self.answers[self._task]
        if answer is None or answer.lower() not in WORDS[: self.n_words]:
            reason = reason or f"{answer!r} is not one of the words"
            return Outcome(
                f"Invalid answer {echo(action)}: {reason}. The secret word is {secret}.",
                False,
                done=True,
            )
        if answer.lower() == secret:
            return Outcome("Correct!", True, success=True, progress=1.0, done=True)
        return Outcome(f"Wrong: the secret word is {secret}.", True, done=True)

    def hindsight(self) -> list[str]:
        return [f"The secret word of task {self._task} is {self.answers[self._task]}."]
