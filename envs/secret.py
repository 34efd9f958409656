"""A toy environment for smoke and learning tests: say the task's secret word.

Each task is a numbered riddle whose answer is a word fixed by the task number (a random but
fixed key). The student cannot know the answer from the prompt; a failure's feedback reveals
it. So a learner succeeds only by turning feedback into knowledge in its weights, which is
exactly what self-distillation is for, in seconds with a tiny model.

Evaluation split: none, on purpose (``eval_share = 0``). The toy measures whether feedback on a
task reaches the weights, so evaluation asks the same tasks as training.
"""

from __future__ import annotations

import numpy as np

from envs.base import Outcome, TextEnv, check_knob, echo, extract_bracketed

WORDS = ("cat", "dog", "sun", "owl", "fox", "bee", "elk", "ant", "cow", "pig", "hen", "emu")


class SecretWord(TextEnv):
    """Name the secret word of a numbered task; a wrong answer's feedback reveals it."""

    def __init__(
        self, n_tasks: int = 4, n_words: int = 4, key: int = 0, render_mode: str | None = None
    ) -> None:
        super().__init__(render_mode=render_mode)
        check_knob("n_tasks", n_tasks, range(1, 1001))
        check_knob("n_words", n_words, range(2, len(WORDS) + 1))
        check_knob("key", key, range(0, 2**31))
        self.n_tasks, self.n_words, self.key = n_tasks, n_words, key
        self.max_turns = 1
        self.eval_share = 0.0  # evaluation asks the training tasks (see the module docstring)
        mapping = np.random.default_rng(key).integers(n_words, size=n_tasks)
        self.answers = tuple(WORDS[int(i)] for i in mapping)

    def knobs(self) -> dict:
        return {"n_tasks": self.n_tasks, "n_words": self.n_words, "key": self.key}

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
