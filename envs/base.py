"""The contract every text environment of the suite follows.

An environment is a ``gymnasium.Env[str, str]``: the observation is text (the task first, then
the feedback on each action) and the action is the model's raw text answer. Three rules make
environments interchangeable for the learners and the runner:

* ``info`` always carries ``feedback`` (the rich text), ``success`` (bool), ``progress``
  (partial credit in [0, 1]), ``valid_action`` (bool) and ``task_id`` (str);
* the task is a pure function of (environment id, knobs, seed) and all randomness comes from
  ``self.np_random``, so envs reset with the same seed pose the same task (a rollout group);
* no action string raises: a malformed answer is feedback with ``valid_action=False``;
* ``reset(seed=..., options={"split": "train" | "eval"})`` draws from a task split: a fixed
  share (``eval_share``) of the task space, chosen by hashing each task's ``split_key``, is
  never posed in training (see ``envs.splits``). Each environment's docstring says what its
  evaluation split holds out.

Game rules end an episode with ``terminated`` (won, or lost by the rules); spending the turn
budget (``max_turns`` actions, invalid ones included) ends it with ``truncated``.

Knobs (difficulty settings) are declared once per environment, as a ``KNOBS`` table of
``Knob`` entries: the table validates the keyword arguments, stores them on the instance and
reports them through ``knobs()`` (which the task id hashes), and its ``doc`` strings are the
knobs' documentation.
"""

from __future__ import annotations

import hashlib
import math
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import gymnasium as gym
from gymnasium import spaces

from envs.splits import DEFAULT_EVAL_SHARE, draw_in_split, split_option

INFO_KEYS = ("feedback", "success", "progress", "valid_action", "task_id")

# Longest action text echoed back in feedback: a 100 kB answer must not become a 100 kB prompt.
ECHO_LIMIT = 60


class KnobError(ValueError):
    """A difficulty knob is unknown or out of its allowed range."""


class EnvUnavailable(RuntimeError):
    """An environment cannot be built in this installation: an optional extra, data, an API
    key or real isolation is missing. The message says which, in one line."""


class AnyText(spaces.Text):
    """A permissive text space: any ``str`` is a member (``max_length`` only bounds sampling).

    Environments must accept every string as an action (garbage is feedback, not an error),
    so membership is not restricted to a charset or a length.
    """

    def __init__(self, max_length: int = 256, charset: str | None = None) -> None:
        kwargs = {"charset": charset} if charset else {}
        super().__init__(max_length=max_length, min_length=0, **kwargs)

    def contains(self, x: Any) -> bool:
        return isinstance(x, str)

    def __repr__(self) -> str:
        return f"AnyText(max_length={self.max_length})"


@dataclass(frozen=True)
class Outcome:
    """What one action did, as decided by an environment's rules."""

    feedback: str
    valid_action: bool
    success: bool = False
    progress: float = 0.0
    done: bool = False  # the rules end the episode (won or lost)


@dataclass(frozen=True)
class Interval:
    """A closed interval of real numbers a knob may take; the value is stored as a float."""

    low: float
    high: float


# What a Knob accepts: integers in a range, reals in an Interval, one of a collection of values,
# or a function of the knobs checked before it that returns one of those.
Allowed = range | Interval | Collection[Any] | Callable[[Mapping[str, Any]], Any]


@dataclass(frozen=True)
class Knob:
    """One difficulty knob: its name, default, allowed values and meaning, written once.

    A ``default`` of ``None`` means "derived from other knobs" (the environment fills it in,
    and its ``doc`` says how); ``None`` is then accepted as a value. ``attribute`` names the
    instance attribute that holds the value when it is not the knob's name (``turns`` is kept
    as ``max_turns``, the base class's turn budget).
    """

    name: str
    default: Any
    allowed: Allowed
    doc: str
    attribute: str = ""

    @property
    def stored_as(self) -> str:
        return self.attribute or self.name

    def check(self, value: Any, earlier: Mapping[str, Any]) -> Any:
        """The value to store, or a one-line ``KnobError``; ``earlier`` holds the knobs checked
        before this one (for an ``allowed`` that depends on them)."""
        if value is None and self.default is None:
            return None
        allowed = self.allowed(earlier) if callable(self.allowed) else self.allowed
        if isinstance(allowed, Interval):
            return check_number(self.name, value, allowed.low, allowed.high)
        check_knob(self.name, value, allowed)
        return value


def check_knob(name: str, value: Any, allowed: range | Collection[Any]) -> None:
    """Raise a one-line ``KnobError`` unless ``value`` is in ``allowed`` (a range or a set)."""
    if isinstance(allowed, range):
        ok = isinstance(value, int) and not isinstance(value, bool) and value in allowed
    else:
        ok = any(value == a and type(value) is type(a) for a in allowed)
    if not ok:
        if isinstance(allowed, range):
            shown = f"an integer in [{allowed.start}, {allowed.stop - 1}]"
        else:
            shown = "one of " + ", ".join(repr(a) for a in sorted(allowed, key=str))
        raise KnobError(f"knob {name}={value!r} is out of range: expected {shown}")


def check_number(name: str, value: Any, low: float, high: float) -> float:
    """``value`` as a float, or a one-line ``KnobError`` unless it is a real in [low, high]."""
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if not (number and math.isfinite(value) and low <= value <= high):
        raise KnobError(
            f"knob {name}={value!r} is out of range: expected a number in [{low:g}, {high:g}]"
        )
    return float(value)


def unknown_knobs(owner: str, given: Iterable[str], valid: Iterable[str]) -> KnobError | None:
    """The one-line error for knob names ``owner`` does not have, or ``None`` if all are known."""
    valid = list(valid)
    unknown = sorted(set(given) - set(valid))
    if not unknown:
        return None
    return KnobError(
        f"unknown knob(s) {', '.join(unknown)} for {owner}; valid knobs: " + ", ".join(valid)
    )


def echo(action: str) -> str:
    """A short, single-line rendering of an action for feedback text."""
    flat = " ".join(action.split())
    return repr(flat if len(flat) <= ECHO_LIMIT else flat[:ECHO_LIMIT] + "...")


_BRACKETED = re.compile(r"\[([^\[\]\n]{0,64})\]")


def extract_bracketed(action: str) -> tuple[str | None, str]:
    """Find the single answer written as ``[answer]`` inside free text.

    Returns ``(answer, "")`` or ``(None, reason)``. Several different bracketed answers are
    ambiguous and rejected; the same answer repeated is accepted. With no brackets at all, a
    bare one-token answer is accepted so that terse models are not punished for format alone.
    """
    found = [m.strip() for m in _BRACKETED.findall(action)]
    found = [f for f in found if f]
    distinct = list(dict.fromkeys(found))
    if len(distinct) == 1:
        return distinct[0], ""
    if len(distinct) > 1:
        shown = ", ".join(f"[{d}]" for d in distinct[:4])
        return None, f"several bracketed answers ({shown}); give exactly one"
    stripped = action.strip()
    if stripped and len(stripped) <= 64 and "\n" not in stripped and "[" not in stripped:
        return stripped, ""
    if not stripped:
        return None, "empty answer; write your answer in square brackets"
    return None, "no answer in square brackets found"


class TextEnv(gym.Env[str, str], ABC):
    """Base class: subclasses implement ``_new_task``, ``_intro`` and ``_play``.

    Subclasses declare their knobs in ``KNOBS`` (the constructor's keyword arguments: checked,
    then stored on the instance before the subclass's own ``__init__`` code runs), set the turn
    budget ``max_turns`` (a class attribute, a knob stored as ``max_turns``, or in
    ``__init__``), and may override ``hindsight`` to give notes on a finished episode (used by
    the oracle reflector).
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 1}
    KNOBS: ClassVar[tuple[Knob, ...]] = ()
    max_turns: int = 1
    eval_share: float = DEFAULT_EVAL_SHARE  # share of the task space held out for evaluation

    def __init__(self, render_mode: str | None = None, **knobs: Any) -> None:
        self.observation_space = AnyText(max_length=4096)
        self.action_space = AnyText(max_length=64)
        self.render_mode = render_mode
        self._task: Any = None
        self.split = "train"
        self._task_id = ""
        self._turn = 0
        self._done = True
        self._last_obs = ""
        self.history: list[tuple[str, Outcome]] = []
        self._set_knobs(knobs)

    def _set_knobs(self, given: Mapping[str, Any]) -> None:
        """Check ``given`` against ``KNOBS`` (defaults filling the gaps) and store each value."""
        error = unknown_knobs(type(self).__name__, given, (k.name for k in self.KNOBS))
        if error is not None:
            raise error
        checked: dict[str, Any] = {}
        for knob in self.KNOBS:
            checked[knob.name] = knob.check(given.get(knob.name, knob.default), checked)
            setattr(self, knob.stored_as, checked[knob.name])

    # -- subclass hooks -------------------------------------------------------------------------
    @abstractmethod
    def _new_task(self) -> Any:
        """Draw a task from ``self.np_random``; its ``repr`` identifies it (the task id)."""

    @abstractmethod
    def _intro(self) -> str:
        """The first observation: the task and the answer format."""

    @abstractmethod
    def _play(self, action: str) -> Outcome:
        """Apply one action under the rules (never raises on any string)."""

    def hindsight(self) -> list[str]:
        """Notes on the finished episode a perfect reviewer would write (empty by default)."""
        return []

    def knobs(self) -> dict[str, Any]:
        """The difficulty settings of this instance (part of the task id)."""
        return {k.name: getattr(self, k.stored_as) for k in self.KNOBS}

    def split_key(self, task: Any) -> str:
        """What the evaluation split holds out; by default the whole task (override to hold
        out less varied parts, such as a word or a rule, so evaluation needs generalisation)."""
        return repr(task)

    # -- gymnasium API --------------------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[str, dict[str, Any]]:
        split = split_option(options)
        super().reset(seed=seed)
        self.split = split
        self._task = draw_in_split(self._new_task, self.split_key, split, self.eval_share)
        env_id = self.spec.id if self.spec is not None else type(self).__name__
        key = f"{env_id}|{sorted(self.knobs().items())}|{self._task!r}"
        self._task_id = f"{env_id}:{hashlib.sha1(key.encode()).hexdigest()[:12]}"
        self._turn = 0
        self._done = False
        self.history = []
        self._last_obs = self._intro()
        return self._last_obs, self._info(self._last_obs, False, 0.0, True)

    def step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        if self._task is None:
            raise RuntimeError("call reset() before step()")
        if not isinstance(action, str):
            action = "" if action is None else str(action)
        if self._done:
            outcome = Outcome("The episode is over; call reset() for a new task.", False)
            return (
                outcome.feedback,
                0.0,
                True,
                False,
                self._info(outcome.feedback, False, 0.0, False),
            )
        self._turn += 1
        outcome = self._play(action)
        self.history.append((action, outcome))
        terminated = outcome.done or outcome.success
        truncated = not terminated and self._turn >= self.max_turns
        feedback = outcome.feedback
        if truncated:
            feedback += f"\nTurn budget of {self.max_turns} actions spent. {self._reveal()}"
        self._done = terminated or truncated
        self._last_obs = feedback
        reward = 1.0 if outcome.success else 0.0
        info = self._info(feedback, outcome.success, outcome.progress, outcome.valid_action)
        return feedback, reward, terminated, truncated, info

    def render(self) -> str | None:
        if self.render_mode == "ansi":
            return self._last_obs
        return None

    # -- helpers --------------------------------------------------------------------------------
    def _reveal(self) -> str:
        """Sentence that reveals the answer when an episode is lost (override per game)."""
        return ""

    def _info(self, feedback: str, success: bool, progress: float, valid: bool) -> dict[str, Any]:
        return {
            "feedback": feedback,
            "success": bool(success),
            "progress": float(progress),
            "valid_action": bool(valid),
            "task_id": self._task_id,
            "turn": self._turn,
        }
