"""The tape-machine language: parser and interpreter (pure Python, no I/O, step-bounded).

A program is a list of states; the first is the start state::

    state NAME
      SYM: ACTION, ACTION, ...

``SYM`` is a colour letter, ``*`` (any colour without a rule of its own) or ``end`` (the tape is
empty); several symbols may share a rule (``R B: goto X``). Reading a colour removes it from the
front of the tape. Actions: ``write SYMS`` appends colours to the back; exactly one of
``goto NAME``, ``accept``, ``reject`` ends the rule. A state with no rule for what it reads
rejects. Keywords, colours and state names are case-insensitive; ``#`` starts a comment.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass

COLOUR_NAMES = {"R": "red", "B": "blue", "G": "green", "Y": "yellow"}
END = "end"
ANY = "*"
MAX_PROGRAM_CHARS = 20_000
MAX_STATES = 200
MAX_ERRORS = 5

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


@dataclass(frozen=True)
class Rule:
    writes: str  # colours appended to the back of the tape
    target: str  # "accept", "reject" or a state key (upper case)
    line: int


@dataclass(frozen=True)
class Program:
    start: str  # state key
    names: dict[str, str]  # state key -> name as written
    rules: dict[str, dict[str, Rule]]  # state key -> symbol ("R", "*", "end") -> rule


@dataclass(frozen=True)
class ParseError:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}" if self.line else self.reason


def parse(text: str, alphabet: str) -> tuple[Program | None, list[ParseError]]:
    """Parse ``text``; return the program or the first few errors (line and reason)."""
    if len(text) > MAX_PROGRAM_CHARS:
        return None, [
            ParseError(0, f"program is {len(text)} characters; the limit is {MAX_PROGRAM_CHARS}")
        ]
    errors: list[ParseError] = []
    names: dict[str, str] = {}
    rules: dict[str, dict[str, Rule]] = {}
    gotos: list[tuple[str, int]] = []
    current: str | None = None
    for no, raw in enumerate(text.splitlines(), start=1):
        if len(errors) >= MAX_ERRORS:
            break
        line = raw.replace("\t", " ").split("#", 1)[0].strip()
        if not line:
            continue
        if not line.isprintable():
            errors.append(ParseError(no, "line contains control characters"))
            continue
        head, colon, body = line.partition(":")
        words = head.split()
        if words and words[0].lower() == "state":
            if len(words) != 2 or body.strip():
                errors.append(ParseError(no, f"expected 'state NAME', got {_show(line)}"))
                continue
            current = _declare(words[1], no, names, rules, errors)
            continue
        if (
            colon
            and not body.strip()
            and len(words) == 1
            and _NAME.match(words[0])
            and (words[0].upper() not in alphabet and words[0].lower() != END)
        ):
            current = _declare(words[0], no, names, rules, errors)  # lenient "NAME:" header
            continue
        if not colon:
            errors.append(
                ParseError(
                    no,
                    f"cannot read {_show(line)}: expected 'state NAME' or "
                    "a rule 'SYM: action' (put only the program inside "
                    "the ``` block)",
                )
            )
            continue
        if current is None:
            errors.append(ParseError(no, "rule before the first 'state NAME' line"))
            continue
        syms = _symbols(head, alphabet, no, errors)
        rule = _rule(body, alphabet, no, errors, gotos)
        if syms is None or rule is None:
            continue
        for sym in syms:
            if sym in rules[current]:
                errors.append(
                    ParseError(no, f"state {names[current]} already has a rule for {sym}")
                )
            else:
                rules[current][sym] = rule
    if len(errors) < MAX_ERRORS:
        for target, no in gotos:
            if target not in names:
                errors.append(
                    ParseError(
                        no,
                        f"goto {target}: no such state (states: "
                        f"{', '.join(names.values()) or 'none'})",
                    )
                )
                if len(errors) >= MAX_ERRORS:
                    break
    if not names and not errors:
        errors.append(ParseError(0, "no states found: a program starts with 'state NAME'"))
    if errors:
        return None, sorted(errors, key=lambda e: e.line)[:MAX_ERRORS]
    return Program(start=next(iter(names)), names=names, rules=rules), []


def _show(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


def _declare(
    name: str,
    no: int,
    names: dict[str, str],
    rules: dict[str, dict[str, Rule]],
    errors: list[ParseError],
) -> str | None:
    if not _NAME.match(name):
        errors.append(ParseError(no, f"bad state name {_show(name)}: use letters, digits, _"))
        return None
    key = name.upper()
    if key in ("ACCEPT", "REJECT", "END", "STATE", "GOTO", "WRITE"):
        errors.append(ParseError(no, f"{name} is a keyword, not a state name"))
        return None
    if key in names:
        errors.append(ParseError(no, f"state {name} is declared twice"))
        return None
    if len(names) >= MAX_STATES:
        errors.append(ParseError(no, f"more than {MAX_STATES} states"))
        return None
    names[key] = name
    rules[key] = {}
    return key


def _symbols(head: str, alphabet: str, no: int, errors: list[ParseError]) -> list[str] | None:
    parts = [p for p in re.split(r"[\s,|]+", head.strip()) if p]
    if not parts:
        errors.append(ParseError(no, "rule without a symbol before ':'"))
        return None
    out = []
    for part in parts:
        if part.lower() == END:
            out.append(END)
        elif part == ANY:
            out.append(ANY)
        elif len(part) == 1 and part.upper() in alphabet:
            out.append(part.upper())
        elif len(part) == 1 and part.upper() in COLOUR_NAMES:
            errors.append(
                ParseError(
                    no,
                    f"colour {part.upper()} is not used in this task "
                    f"(colours: {', '.join(alphabet)})",
                )
            )
            return None
        else:
            errors.append(
                ParseError(
                    no,
                    f"unknown symbol {_show(part)}: use a colour ({', '.join(alphabet)}), * or end",
                )
            )
            return None
    return out


def _rule(
    body: str, alphabet: str, no: int, errors: list[ParseError], gotos: list[tuple[str, int]]
) -> Rule | None:
    actions = [a.strip() for a in re.split(r"[,;]", body) if a.strip()]
    if not actions:
        errors.append(ParseError(no, "rule has no action after ':'"))
        return None
    writes = ""
    target: str | None = None
    for action in actions:
        words = action.split()
        verb = words[0].lower()
        if target is not None:
            errors.append(
                ParseError(
                    no,
                    f"{_show(action)} comes after the rule already ended with goto/accept/reject",
                )
            )
            return None
        if verb == "write":
            syms = "".join(words[1:]).upper()
            bad = [c for c in syms if c not in alphabet]
            if not syms or bad:
                errors.append(
                    ParseError(
                        no, f"write needs colours from {', '.join(alphabet)}, got {_show(action)}"
                    )
                )
                return None
            writes += syms
        elif verb in ("accept", "reject") and len(words) == 1:
            target = verb
        elif verb == "goto" and len(words) == 2:
            target = words[1].upper()
            gotos.append((target, no))
        else:
            errors.append(
                ParseError(
                    no,
                    f"unknown action {_show(action)}: use write SYMS, goto NAME, accept or reject",
                )
            )
            return None
    if target is None:
        errors.append(ParseError(no, "rule must end with goto NAME, accept or reject"))
        return None
    return Rule(writes, target, no)


@dataclass(frozen=True)
class Run:
    """The result of running a program on one tape."""

    verdict: str  # "accept", "reject", "loop" (step limit) or "overflow" (tape too long)
    reason: str
    steps: int
    trace: tuple[str, ...]  # the last few steps, one line each


def show_tape(tape: str, limit: int = 16) -> str:
    if not tape:
        return "(empty)"
    return tape if len(tape) <= limit else f"{tape[:limit]}...(+{len(tape) - limit})"


def run(
    program: Program, tape: str, step_limit: int = 1000, tape_limit: int = 200, trace_len: int = 6
) -> Run:
    """Execute ``program`` on ``tape``; always halts within ``step_limit`` steps."""
    queue = deque(tape)
    state = program.start
    trace: deque[str] = deque(maxlen=trace_len)
    for step in range(1, step_limit + 1):
        name = program.names[state]
        before = show_tape("".join(queue))
        if queue:
            sym = queue.popleft()
            rule = program.rules[state].get(sym) or program.rules[state].get(ANY)
            seen = f"read {sym}"
        else:
            sym = END
            rule = program.rules[state].get(END)
            seen = "end"
        if rule is None:
            trace.append(f"{name} [{before}] {seen} -> no rule: reject")
            return Run("reject", f"state {name} has no rule for {sym}", step, tuple(trace))
        queue.extend(rule.writes)
        act = (f"write {rule.writes}, " if rule.writes else "") + (
            rule.target
            if rule.target in ("accept", "reject")
            else f"goto {program.names[rule.target]}"
        )
        trace.append(f"{name} [{before}] {seen} -> {act}")
        if rule.target in ("accept", "reject"):
            return Run(rule.target, f"rule on line {rule.line}", step, tuple(trace))
        if len(queue) > tape_limit:
            return Run("overflow", f"tape grew past {tape_limit} symbols", step, tuple(trace))
        state = rule.target
    return Run(
        "loop", f"stopped after {step_limit} steps (an infinite loop?)", step_limit, tuple(trace)
    )
