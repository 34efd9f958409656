"""Trajectory records shared by the rollout loop, the learners and the runner's logs."""

from __future__ import annotations

from dataclasses import dataclass, field

from chat import Conversation, strip_thinking


@dataclass
class Turn:
    """One model completion in its own context, and what the environment said about it."""

    # the conversation the completion was sampled from; its assistant messages carry the
    # "token_ids" they were sampled as (chat.Message), which Policy.render keeps verbatim
    messages: Conversation
    completion_ids: list[int]
    logprobs: list[float]  # sampling log-probs of completion_ids (rollout policy)
    text: str
    feedback: str
    reward: float
    valid_action: bool
    finish_reason: str = "stop"


@dataclass
class Episode:
    """A whole episode on one task. Episodes of one group share ``task_id`` and ``seed``."""

    task_id: str
    group_id: int
    seed: int
    task: str  # the first observation (task statement and answer format)
    turns: list[Turn] = field(default_factory=list)
    success: bool = False
    progress: float = 0.0
    reward: float = 0.0
    truncated: bool = False
    hindsight: list[str] = field(default_factory=list)

    def answer(self) -> str:
        """The agent's answers in order, one per line, each without its thinking (what a
        reviewer reads as 'the attempt': the reflector, the teacher's trials)."""
        return "\n".join(f"Turn {n}: {strip_thinking(t.text)}" for n, t in enumerate(self.turns, 1))

    def feedback(self) -> str:
        """The environment's feedback in order, one block per turn."""
        return "\n".join(f"Turn {n}: {t.feedback.strip()}" for n, t in enumerate(self.turns, 1))

    def generated_tokens(self) -> int:
        return sum(len(t.completion_ids) for t in self.turns)


Group = list[Episode]
