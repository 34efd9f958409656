"""The training example record and the conversation helpers every corpus module shares."""

from __future__ import annotations

from dataclasses import dataclass

from learners.trajectory import Conversation, Episode


@dataclass
class Example:
    """A conversation whose assistant messages at ``targets`` (indices) are trained."""

    messages: Conversation
    targets: list[int]
    kind: str
    env: str


def full_conversation(episode: Episode) -> Conversation:
    """The episode's whole student conversation, its last answer included."""
    last = episode.turns[-1]
    return [dict(m) for m in last.messages] + [{"role": "assistant", "content": last.text}]


def assistant_indices(messages: Conversation) -> list[int]:
    return [i for i, m in enumerate(messages) if m["role"] == "assistant"]
