"""TapeMachine: write a finite-state tape machine that accepts exactly the tapes with a property.

In the spirit of Manufactoria. The agent submits a program in the tape language (``envs.tape.dsl``)
inside a fenced block; it runs on hidden test tapes and the feedback names parse errors by line,
or the failing tapes (shortest first) with expected and actual verdicts and the end of the
execution trace. ``progress`` is the share of tests passed; success is all of them.

Evaluation split: rules, not test sets. A fixed 20% of the rules (family with its pattern,
colour, remainder or threshold, and the alphabet) are never posed in training, so evaluation
asks for machines the learner has not been rewarded for.
"""

from __future__ import annotations

import re
from typing import Any

from envs.base import Knob, Outcome, TextEnv
from envs.tape.dsl import COLOUR_NAMES, Program, Run, parse, run, show_tape
from envs.tape.tasks import FAMILIES, HINTS, TapeTask, make_task, reference_program

FEEDBACK_LIMIT = 2500
SHOWN_FAILURES = 3

_FENCE = re.compile(r"```[^\n`]*\n(.*?)(?:```|\Z)", re.S)

EXAMPLE = """```
# accept tapes whose second symbol is B
state START
  *: goto SECOND      # read any colour
  end: reject         # tape empty
state SECOND
  B: accept
  *: reject
  end: reject
```"""


def extract_program(action: str) -> str:
    """The program inside the last ``` fenced block that has one, else the whole text."""
    blocks = [b for b in _FENCE.findall(action) if b.strip()]
    if blocks:
        for block in reversed(blocks):
            if "state" in block.lower():
                return block
        return blocks[-1]
    return action


class TapeMachine(TextEnv):
    """Write a tape machine that accepts exactly the tapes with a stated property."""

    KNOBS = (
        Knob(
            "family",
            "simple",
            ("simple", "all", *FAMILIES),
            "the rule family: simple, all, or one of envs.tape.tasks.FAMILIES",
        ),
        Knob("colours", 2, range(2, 5), "symbols on the tape"),
        Knob("pattern_length", 3, range(1, 7), "length of the pattern a rule looks for"),
        Knob("tests", 16, range(2, 65), "hidden test tapes"),
        Knob("max_length", 10, range(4, 31), "longest test tape"),
        Knob("turns", 3, range(1, 21), "submissions per task", attribute="max_turns"),
        Knob("step_limit", 1000, range(50, 100_001), "steps before a run counts as a loop"),
    )

    def __init__(self, render_mode: str | None = None, **knobs: Any) -> None:
        super().__init__(render_mode, **knobs)
        self._last_runs: list[tuple[str, bool, Run]] = []
        self.task: TapeTask | None = None

    def split_key(self, task: TapeTask) -> str:
        return f"{task.family}|{task.alphabet}|{task.description}"  # the rule, not its tests

    def _new_task(self) -> TapeTask:
        self._last_runs = []
        self.task = make_task(
            self.np_random,
            self.family,
            self.colours,
            self.pattern_length,
            self.tests,
            self.max_length,
        )
        return self.task

    def _intro(self) -> str:
        t = self._task
        colours = ", ".join(f"{c} ({COLOUR_NAMES[c]})" for c in t.alphabet)
        examples = _examples(t.tests)
        return (
            f"Write a tape machine that ACCEPTS exactly the tapes that {t.description}, and "
            f"REJECTS every other tape.\n"
            f"Colours: {colours}. Tapes have 0 to {self.max_length} symbols. "
            f"Examples: {examples}.\n"
            f"Your program is run on {len(t.tests)} hidden test tapes; all must get the right "
            f"verdict. You have {self.max_turns} submission(s); each gets feedback.\n\n"
            "Language: a program is a list of states; the first state is the start.\n"
            "  state NAME\n"
            "    SYM: ACTION, ACTION, ...\n"
            "SYM is a colour letter, * (any colour without its own rule in this state) or end "
            "(the tape is empty); several symbols may share a rule (R B: goto X). Reading a "
            "colour removes it from the front of the tape. ACTIONs: write SYMS (append colours "
            "to the back of the tape; optional), then exactly one of goto NAME, accept, reject. "
            "A state with no rule for what it reads rejects. # starts a comment. A run stops "
            f"after {self.step_limit} steps (reported as a loop).\n"
            f"Worked example:\n{EXAMPLE}\n"
            "Answer with your program inside one ``` fenced block."
        )

    def _play(self, action: str) -> Outcome:
        t = self._task
        source = extract_program(action)
        if not source.strip():
            return Outcome("No program found: write it inside a ``` fenced block.", False)
        program, errors = parse(source, t.alphabet)
        if program is None:
            shown = "\n".join(f"- {e}" for e in errors)
            return Outcome(
                _cap(
                    f"Parse errors in your program (nothing was run; first "
                    f"{len(errors)} shown):\n{shown}"
                ),
                False,
            )
        return self._judge(program)

    def _judge(self, program: Program) -> Outcome:
        t = self._task
        runs = [(tape, want, run(program, tape, self.step_limit)) for tape, want in t.tests]
        self._last_runs = runs
        failed = [r for r in runs if _wrong(r)]
        passed = len(runs) - len(failed)
        progress = passed / len(runs)
        if not failed:
            return Outcome(f"All {len(runs)} tests pass. Task solved.", True, True, 1.0, True)
        lines = [
            f"Program parsed ({len(program.names)} states). Passed {passed} of {len(runs)} "
            f"tests. Failing tapes (shortest first; {min(len(failed), SHOWN_FAILURES)} of "
            f"{len(failed)} shown):"
        ]
        for i, (tape, want, res) in enumerate(failed[:SHOWN_FAILURES], start=1):
            lines.append(
                f"{i}. tape {show_tape(tape, 24)}: expected {_verdict(want)}, got "
                f"{res.verdict} ({res.reason}); trace, last {len(res.trace)} of "
                f"{res.steps} steps:"
            )
            lines.extend(f"     {step}" for step in _squeeze(res.trace))
        return Outcome(_cap("\n".join(lines)), True, False, progress)

    def _reveal(self) -> str:
        return "A correct program:\n" + reference_program(self._task)

    def hindsight(self) -> list[str]:
        """One line per failing tape of the last parsed submission, plus the key idea."""
        if self._task is None:
            return []
        notes = [f"Task: accept exactly the tapes that {self._task.description}."]
        last = self.history[-1][1] if self.history else None
        if last is not None and not last.valid_action:
            reasons = [ln[2:] for ln in last.feedback.splitlines() if ln.startswith("- ")]
            notes.append(
                "The last answer was not a valid program: "
                + ("; ".join(reasons) or last.feedback.splitlines()[0])
            )
        if self._last_runs:
            good = sum(not _wrong(r) for r in self._last_runs)
            notes.append(f"Last program that ran passed {good} of {len(self._last_runs)} tests.")
        for tape, want, res in [r for r in self._last_runs if _wrong(r)][:8]:
            notes.append(
                f"Tape {show_tape(tape, 24)} should be {_verdict(want)}ed but the "
                f"machine gave {res.verdict}: {res.reason}."
            )
        notes.append(f"Key idea: {HINTS[self._task.family]}.")
        return notes


def _squeeze(trace: tuple[str, ...]) -> list[str]:
    """Collapse runs of identical trace lines (typical of loops) into one line with a count."""
    out: list[str] = []
    for step in trace:
        if out and out[-1].split("   (x")[0] == step:
            count = int(out[-1].rpartition("(x")[2].rstrip(")")) if "   (x" in out[-1] else 1
            out[-1] = f"{step}   (x{count + 1})"
        else:
            out.append(step)
    return out


def _wrong(r: tuple[str, bool, Run]) -> bool:
    return r[2].verdict != _verdict(r[1])


def _verdict(accept: bool) -> str:
    return "accept" if accept else "reject"


def _examples(tests: tuple[tuple[str, bool], ...]) -> str:
    picks = [t for t in tests if t[1]][:2] + [t for t in tests if not t[1]][:2]
    return ", ".join(f"{show_tape(tape)} -> {_verdict(ok)}" for tape, ok in picks)


def _cap(text: str) -> str:
    if len(text) <= FEEDBACK_LIMIT:
        return text
    return text[: FEEDBACK_LIMIT - 20].rstrip() + "\n...(feedback cut)"


__all__ = ["TapeMachine", "extract_program"]
