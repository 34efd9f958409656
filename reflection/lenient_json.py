"""One lenient JSON extractor for everything a model writes (reflections, curator operations).

Weak models wrap JSON in code fences or prose, leave trailing commas, use single quotes or
Python literals (True/None), forget to quote keys, or stop mid-object when the token budget
runs out. ``extract_json`` recovers as much as the text allows and never raises: it returns
the first JSON object (or array, if asked) it can read, and a status saying how it got it.
Degenerate output (a thousand opening brackets) is bounded too: nesting deeper than
``MAX_DEPTH`` reads as unparseable instead of recursing, and every step is linear in the text.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from chat import strip_thinking

# Outputs longer than this are cut before parsing: the parse stays linear and bounded, and a
# runaway generation is read as a truncated one.
MAX_CHARS = 64_000
# Nesting deeper than this is not a reflection or an operation list but a degenerate output; it
# is refused before it can reach a recursive reader (json's own decoder, the field readers).
MAX_DEPTH = 64
# A broken object is salvaged by cutting it after one of its last complete values (a closing
# quote or bracket before a comma); this many cut points are tried, from the last one back.
MAX_SALVAGE_CUTS = 32
_VALUE_END = re.compile(r"[\"\]}]\s*,")

_FENCE = re.compile(
    r"```[ \t]*(?:json|JSON|js|javascript|python)?[ \t]*\n?(.*?)(?:```|\Z)", re.DOTALL
)
_PY_LITERALS = {"True": "true", "False": "false", "None": "null"}


@dataclass(frozen=True)
class Extracted:
    """The parsed value (``None`` when nothing could be read) and how it was obtained.

    ``status`` is one of ``ok`` (valid JSON as written), ``repaired`` (syntax fixed: quotes,
    commas, literals), ``truncated`` (unclosed structures were closed), ``salvaged`` (the
    text broke off into something unreadable: what came before the break, up to the last
    complete value, was kept), ``empty`` (no text) or ``failed`` (no object found).
    """

    value: Any
    status: str

    @property
    def ok(self) -> bool:
        return self.value is not None


def extract_json(text: Any, want: type = dict, max_chars: int = MAX_CHARS) -> Extracted:
    """Return the first value of type ``want`` (dict or list) readable from ``text``.

    Candidates are tried in order: the contents of code fences, then every ``{`` (or ``[``)
    start position in the remaining text, up to 50 of them. Each candidate is parsed as JSON,
    then repaired (see ``repair``) when that fails; the first start that fails both is then
    salvaged (``salvage``): a weak model that writes four good fields and then garbles the
    fifth keeps the four, instead of giving way to an object nested inside the broken one.
    """
    if not isinstance(text, str) or not text.strip():
        return Extracted(None, "empty")
    text = strip_thinking(text[:max_chars])
    if not text:
        return Extracted(None, "empty")
    opener = "{" if want is dict else "["
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    salvaged_once = False  # one salvage per call keeps hostile text from multiplying its cost
    for cand in candidates:
        starts = [i for i, ch in enumerate(cand) if ch == opener][:50]
        for start in starts:
            got = _parse_from(cand, start, want, may_salvage=not salvaged_once)
            if got is not None:
                return got
            salvaged_once = True
    return Extracted(None, "failed")


def _parse_from(text: str, start: int, want: type, may_salvage: bool) -> Extracted | None:
    decoder = json.JSONDecoder()
    try:
        value, _ = decoder.raw_decode(text, start)
        if isinstance(value, want) and not nested_deeper_than(value, MAX_DEPTH):
            return Extracted(value, "ok")
    except (ValueError, RecursionError):  # json's decoder recurses once per nesting level
        pass
    value, closed = _repaired(text[start:], want)
    if value is not None:
        return Extracted(value, "truncated" if closed else "repaired")
    value = salvage(text[start:], want) if may_salvage else None
    return None if value is None else Extracted(value, "salvaged")


def _repaired(text: str, want: type) -> tuple[Any, bool]:
    """The value ``repair`` makes of ``text`` (None when it is not a ``want``), and whether
    unclosed structures were closed."""
    fixed, closed = repair(text)
    try:
        value, _ = json.JSONDecoder().raw_decode(fixed)
    except (ValueError, RecursionError):
        return None, False
    if not isinstance(value, want) or nested_deeper_than(value, MAX_DEPTH):
        return None, False
    return value, closed


def salvage(text: str, want: type) -> Any:
    """The longest readable head of a value that breaks off into garbage: ``text`` is cut
    after each of its last ``MAX_SALVAGE_CUTS`` complete values (a closing quote or bracket
    followed by a comma), latest first, and the first head that repairs is returned (None
    if none does). Each try is linear in the text, so the whole stays bounded."""
    cuts = [m.start() + 1 for m in _VALUE_END.finditer(text)][-MAX_SALVAGE_CUTS:]
    for cut in reversed(cuts):
        value, _ = _repaired(text[:cut], want)
        if value is not None:
            return value
    return None


def nested_deeper_than(value: Any, limit: int) -> bool:
    """Whether lists and dicts in ``value`` nest more than ``limit`` levels (no recursion)."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if not isinstance(item, dict | list):
            continue
        if depth > limit:
            return True
        children = item.values() if isinstance(item, dict) else item
        pending.extend((child, depth + 1) for child in children)
    return False


def repair(text: str) -> tuple[str, bool]:
    """Rewrite the JSON-like prefix of ``text`` (starting at ``{`` or ``[``) as strict JSON.

    One pass over the characters with a small state machine: single-quoted strings become
    double-quoted, bare keys and bare words get quotes, Python literals become JSON ones,
    trailing commas go, raw newlines inside strings are escaped, and at the end (or where the
    top-level value closes) open strings and containers are closed, with a dangling key or
    colon completed by ``null``. Returns the text and whether anything had to be closed; a
    structure nested deeper than ``MAX_DEPTH`` returns ``("", False)`` (nothing readable).
    """
    out: list[str] = []
    stack: list[str] = []  # open containers, '{' or '['
    state: list[str] = []  # per container: key | colon | value | after (arrays: value | after)
    in_str: str | None = None
    i, n = 0, len(text)

    def value_done() -> None:
        if state:
            state[-1] = "colon" if state[-1] == "key" else "after"

    while i < n:
        ch = text[i]
        if in_str is not None:
            if ch == "\\" and i + 1 < n:
                nxt = text[i + 1]
                if nxt == "'":
                    out.append("'")
                elif nxt in '"\\/bfnrtu':
                    out.append(ch + nxt)
                else:
                    out.append("\\\\" + nxt)
                i += 2
                continue
            if ch == in_str and _ends_string(text, i + 1):
                out.append('"')
                in_str = None
                value_done()
            else:
                out.append(_STR_ESCAPES.get(ch, " ") if ord(ch) < 0x20 or ch == '"' else ch)
            i += 1
            continue
        if ch in "\"'":
            in_str = ch
            out.append('"')
        elif ch in "{[":
            if len(stack) == MAX_DEPTH:
                return "", False
            stack.append(ch)
            state.append("key" if ch == "{" else "value")
            out.append(ch)
        elif ch in "}]":
            if not stack:
                break
            _close(out, stack, state)
            value_done()
            if not stack:
                return "".join(out), False
        elif ch == ",":
            _drop_trailing(out)
            out.append(",")
            if state:
                state[-1] = "key" if stack[-1] == "{" else "value"
        elif ch == ":":
            out.append(":")
            if state:
                state[-1] = "value"
        elif ch.isalpha() or ch == "_":
            j = i
            while j < n and (text[j].isalnum() or text[j] in "_-"):
                j += 1
            word = text[i:j]
            prev = _last_significant(out)
            if word in _PY_LITERALS or word in ("true", "false", "null"):
                out.append(
                    _PY_LITERALS.get(word, word)
                    if not (state and state[-1] == "key")
                    else json.dumps(word)
                )
            elif prev in ("{", "[", ",", ":", ""):
                out.append(json.dumps(word))
            else:
                out.append(word)  # exponent of a number such as 1e5
            value_done()
            i = j
            continue
        else:
            out.append(ch)
            if not ch.isspace() and state and state[-1] == "value":
                state[-1] = "after"
        i += 1
    closed = False
    if in_str is not None:
        out.append('"')
        value_done()
        closed = True
    while stack:
        _close(out, stack, state)
        value_done()
        closed = True
    return "".join(out), closed


_STR_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t", '"': '\\"'}


def _close(out: list[str], stack: list[str], state: list[str]) -> None:
    """Close the innermost container, completing a dangling key or colon with null."""
    _drop_trailing(out)
    st = state.pop()
    if st == "colon":
        out.append(":null")
    elif st == "value" and stack[-1] == "{":
        out.append("null")
    out.append("}" if stack.pop() == "{" else "]")


def _drop_trailing(out: list[str]) -> None:
    """Remove a trailing comma (and whitespace) before a closer or another comma."""
    while out and out[-1].isspace():
        out.pop()
    if out and out[-1] == ",":
        out.pop()


def _last_significant(out: list[str]) -> str:
    for piece in reversed(out):
        if not piece.isspace():
            return piece[-1]
    return ""


def _ends_string(text: str, j: int) -> bool:
    """A quote closes a string only when what follows can follow a string (``,:}]`` or the
    end); otherwise it is an unescaped quote inside the text (``"say "hi" now"``, ``'don't'``)."""
    n = len(text)
    while j < n and text[j] in " \t\r\n":
        j += 1
    return j >= n or text[j] in ",:}]"
