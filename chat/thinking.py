"""Reasoning models' thinking blocks, removed before an answer is read or shown again."""

from __future__ import annotations

import re

_THINK_OPEN = re.compile(r"<think>", re.IGNORECASE)
_THINK_CLOSE = re.compile(r"</think>", re.IGNORECASE)


def strip_thinking(text: str) -> str:
    """Remove ``<think>...</think>`` blocks; an unclosed ``<think>`` drops the rest of the text,
    and a lone ``</think>`` (template put the opening tag in the prompt) drops what precedes it.

    Used on one answer at a time: the reflector's and the teacher's views of an attempt strip
    each turn on its own (``Episode.answer``). One left-to-right scan with literal searches, so
    the cost stays linear even for an output that repeats ``<think>`` thousands of times."""
    kept: list[str] = []
    pos = 0
    while (opened := _THINK_OPEN.search(text, pos)) is not None:
        closed = _THINK_CLOSE.search(text, opened.end())
        if closed is None:
            break
        kept.append(text[pos : opened.start()])
        pos = closed.end()
    kept.append(text[pos:])
    text = "".join(kept)
    last_close = None
    for last_close in _THINK_CLOSE.finditer(text):  # noqa: B007 (the last match is wanted)
        pass
    if last_close is not None:
        text = text[last_close.end() :]
    opened = _THINK_OPEN.search(text)
    if opened is not None:
        text = text[: opened.start()]
    return text.strip()
