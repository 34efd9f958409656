"""One chat-message type and one strip_thinking, used by every layer that reads model text."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import chat
from learners.prompts import resd_teacher_task
from learners.trajectory import Episode, Turn

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("chat", "envs", "learners", "reflection", "benchmarks", "leaderboard", "rundir")


def definitions(pattern: str) -> list[str]:
    """Source files of the suite's packages (smallmodel aside) with a line matching pattern."""
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if re.search(pattern, path.read_text(), re.M):
                found.append(str(path.relative_to(ROOT)))
    return found


def test_one_definition_each():
    assert definitions(r"^def strip_thinking\(") == ["chat/thinking.py"]
    assert definitions(r"^Conversation\s*=") == ["chat/messages.py"]


def test_the_message_type_says_a_sampled_turn_carries_its_ids():
    assert chat.Message.__required_keys__ == {"role", "content"}
    assert chat.Message.__optional_keys__ == {"token_ids"}


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("<think>a\nb</think> [x]", "[x]"),  # a closed block
        ("<think>never closed [x]", ""),  # an unclosed block runs to the end
        ("A <THINK>x</THINK> B", "A  B"),  # any case
        ("head</think>tail", "tail"),  # the template opened the block in the prompt
        ("keep <think>open <think> still open", "keep"),
        ("no thinking at all  ", "no thinking at all"),
    ],
)
def test_strip_thinking(text, kept):
    assert chat.strip_thinking(text) == kept


def turn(text: str) -> Turn:
    return Turn([], [1], [0.0], text, "feedback", 0.0, True)


def test_an_attempt_is_stripped_turn_by_turn():
    """A thinking model's turns each end their thinking with a lone </think>: stripping the
    joined attempt would keep only the last turn."""
    episode = Episode(
        "t", 0, 0, "task", turns=[turn("hm</think> [crane]"), turn("so</think> [slate]")]
    )
    assert episode.answer() == "Turn 1: [crane]\nTurn 2: [slate]"
    prompt = resd_teacher_task("task", previous_trial=episode.answer(), feedback="X")
    assert "PREVIOUS TRIAL:\nTurn 1: [crane]\nTurn 2: [slate]\n" in prompt
