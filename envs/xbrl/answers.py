"""The answer format of the XBRL tagging environment: ``[1: Revenues] [2: NetIncomeLoss]``.

One ``[number: Label]`` per marked number, in any order, anywhere in the text (prose around it
is ignored). Parsing is lenient: labels match case-insensitively, ``#``, ``:``, ``=``, ``-``,
``.`` or ``)`` may follow the number, and without any bracketed entry, lines that start with a
number (``1: Revenues``) are read instead. A sentence with one marked number also accepts a
lone label (``[Revenues]``). Anything else is a malformed answer with the reason, never an
exception.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass

_LABEL = r"([A-Za-z][A-Za-z0-9]{0,80})"
_BRACKETED = re.compile(r"\[\s*#?\s*(\d{1,3})\s*[:=.)-]?\s*" + _LABEL + r"\s*\]")
_LINE = re.compile(r"^\s*#?\s*(\d{1,3})\s*[:=.)-]?\s*" + _LABEL + r"\s*[.,;]?\s*$", re.M)
_LONE = re.compile(r"\[\s*" + _LABEL + r"\s*\]")


@dataclass(frozen=True)
class ParsedAnswer:
    """Labels in number order (``None`` when malformed) and the reason it is malformed."""

    labels: tuple[str, ...] | None
    reason: str = ""


def render_answer(labels: Sequence[str]) -> str:
    """The answer that gives ``labels[k - 1]`` to marked number ``k``."""
    return " ".join(f"[{k}: {label}]" for k, label in enumerate(labels, start=1))


def parse_answer(text: str, names: Sequence[str], count: int) -> ParsedAnswer:
    """Read one label per marked number 1..``count`` from ``text``, against the label ``names``."""
    entries = [(int(n), word) for n, word in _BRACKETED.findall(text)]
    if not entries:
        entries = [(int(n), word) for n, word in _LINE.findall(text)]
    if not entries and count == 1:
        lone = list(dict.fromkeys(_LONE.findall(text))) or (
            [text.strip()] if re.fullmatch(_LABEL, text.strip()) else []
        )
        if len(lone) == 1:
            entries = [(1, lone[0])]
    if not entries:
        example = render_answer(names[: min(count, 2)])
        return ParsedAnswer(None, f"no [number: Label] entries found; answer like {example}")
    by_lower = {name.lower(): name for name in names}
    chosen: dict[int, str] = {}
    for number, word in entries:
        if not 1 <= number <= count:
            marked = "#1" if count == 1 else f"#1 to #{count}"
            reason = f"#{number} is not a marked number (this sentence marks {marked})"
            return ParsedAnswer(None, reason)
        label = by_lower.get(word.lower())
        if label is None:
            reason = f"{word!r} (for #{number}) is not a label{_closest(word, names)}"
            return ParsedAnswer(None, reason)
        if chosen.setdefault(number, label) != label:
            return ParsedAnswer(
                None, f"#{number} has two different labels ({chosen[number]}, {label}); give one"
            )
    missing = [k for k in range(1, count + 1) if k not in chosen]
    if missing:
        shown = ", ".join(f"#{k}" for k in missing)
        return ParsedAnswer(
            None, f"{len(chosen)} of {count} marked numbers tagged; no label for {shown}"
        )
    return ParsedAnswer(tuple(chosen[k] for k in range(1, count + 1)))


def _closest(word: str, names: Sequence[str]) -> str:
    by_lower = {name.lower(): name for name in names}
    close = difflib.get_close_matches(word.lower(), list(by_lower), n=1, cutoff=0.75)
    return f" (did you mean {by_lower[close[0]]}?)" if close else ""
