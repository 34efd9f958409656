"""``envs.make("textarena/<GameId>")``: a TextArena single-player game behind our contract.

TextArena (optional extra ``textarena``) seeds the process-wide ``random`` module in ``reset``,
accumulates the whole transcript in its observations, and reports outcomes through its state.
The adapter keeps each game on its own random stream (the global ``random`` and numpy states are
saved and restored around every TextArena call; the game's seed comes from ``self.np_random``),
returns only the new messages as each step's observation, and fills our ``info`` keys. Games
that cannot run here (NLTK data not downloaded, an API key, Python 3.12 syntax, several players)
fail at ``make`` with one line saying what is missing.

Evaluation split: a fixed 20% of the games' seeds (by a hash of the game id and seed) are never
played in training. Games with few distinct boards may still repeat a board across splits.
"""

from __future__ import annotations

import contextlib
import difflib
import io
import random
from collections.abc import Iterator
from typing import Any

import numpy as np
from gymnasium.envs.registration import EnvSpec

from envs.base import EnvUnavailable, Knob, KnobError, Outcome, TextEnv
from envs.registry import register_prefix

PREFIX = "textarena/"
SINGLE_ONLY = "is not a single-player game (only single-player games are adapted)"


def _textarena() -> tuple[Any, dict[str, Any]]:
    """The textarena module and its game registry (importing it draws from global ``random``)."""
    outer = (random.getstate(), np.random.get_state())
    try:
        import textarena
        from textarena.envs.registration import ENV_REGISTRY
    except ImportError as exc:
        raise EnvUnavailable(
            f"textarena is not installed ({exc}); install the extra: pip install -e '.[textarena]'"
        ) from None
    finally:
        random.setstate(outer[0])
        np.random.set_state(outer[1])
    return textarena, ENV_REGISTRY


def _why(game_id: str, exc: BaseException) -> str:
    """One line naming what a failing game needs."""
    text = " ".join(str(exc).split())
    if isinstance(exc, LookupError) and "nltk" in text.lower():
        resource = text.split("Resource ", 1)[-1].split(" not found", 1)[0].strip("'\" ")
        return f"needs NLTK data {resource!r}, which is not downloaded (offline)"
    if isinstance(exc, SyntaxError):
        where = str(exc.filename or "").rpartition("site-packages/")[2]
        return f"its code needs a newer Python (SyntaxError: {exc.msg}, in {where})"
    if "API key" in text or "API_KEY" in text:
        return f"needs an API key ({text[:120]})"
    if isinstance(exc, AssertionError | ValueError) and "player" in text.lower():
        return SINGLE_ONLY
    return f"failed with {type(exc).__name__}: {text[:160]}"


class TextArenaEnv(TextEnv):
    """A TextArena single-player game; knobs other than ours (``KNOBS``) go to the game."""

    KNOBS = (Knob("max_turns", 200, range(1, 10_001), "actions per episode, invalid included"),)

    def __init__(self, game_id: str, render_mode: str | None = None, **knobs: Any) -> None:
        ours = {k.name for k in self.KNOBS}
        super().__init__(render_mode, **{k: v for k, v in knobs.items() if k in ours})
        game_kwargs = {k: v for k, v in knobs.items() if k not in ours}
        ta, ENV_REGISTRY = _textarena()
        if game_id not in ENV_REGISTRY:
            close = difflib.get_close_matches(game_id, list(ENV_REGISTRY), n=1)
            hint = f" (did you mean {PREFIX}{close[0]}?)" if close else ""
            raise KnobError(f"unknown TextArena game {game_id!r}{hint}")
        self.game_id = game_id
        self.game_kwargs = game_kwargs
        self._rng_state: tuple[Any, Any] | None = None
        try:
            with self._own_random(), _quiet():
                self._game = ta.make(game_id, **game_kwargs)
                self._game.reset(num_players=1, seed=0)  # probe: data, keys, player count
                single = isinstance(self._game.state, ta.SinglePlayerState)
        except TypeError as exc:
            raise KnobError(f"bad knob for TextArena game {game_id}: {exc}") from None
        except Exception as exc:  # noqa: BLE001 - any failure of a third-party game is reported
            raise EnvUnavailable(f"{PREFIX}{game_id} {_why(game_id, exc)}") from None
        if not single:  # some multi-player games accept num_players=1 without complaint
            raise EnvUnavailable(f"{PREFIX}{game_id} {SINGLE_ONLY}")
        self._base = self._game
        while hasattr(self._base, "env"):
            self._base = self._base.env
        # A Gymnasium spec gives task ids the game's name ("textarena/Mastermind-v0:<hash>").
        self.spec = EnvSpec(
            id=f"{PREFIX}{game_id}", entry_point=make_textarena, kwargs=self.knobs()
        )

    def knobs(self) -> dict[str, Any]:
        return {**super().knobs(), **self.game_kwargs}

    @contextlib.contextmanager
    def _own_random(self) -> Iterator[None]:
        """Run TextArena code on this game's random stream, leaving the global state untouched."""
        outer = (random.getstate(), np.random.get_state())
        if self._rng_state is not None:
            random.setstate(self._rng_state[0])
            np.random.set_state(self._rng_state[1])
        try:
            yield
        finally:
            self._rng_state = (random.getstate(), np.random.get_state())
            random.setstate(outer[0])
            np.random.set_state(outer[1])

    def _new_task(self) -> tuple[str, int]:
        seed = int(self.np_random.integers(2**31 - 1))
        self._rng_state = None
        with self._own_random(), _quiet():
            np.random.seed(seed)
            self._game.reset(num_players=1, seed=seed)
        return (self.game_id, seed)

    def _messages(self) -> tuple[str, bool]:
        """New messages since the last call (our own action's echo left out), and invalid flag."""
        from textarena.core import ObservationType

        _, messages = self._base.get_observation()
        lines, invalid = [], False
        for _sender, text, kind in messages or []:
            if kind == ObservationType.PLAYER_ACTION:
                continue
            if kind == ObservationType.GAME_ADMIN and "invalid" in str(text).lower():
                invalid = True
            lines.append(str(text).strip())
        return "\n".join(line for line in lines if line), invalid

    def _intro(self) -> str:
        text, _ = self._messages()
        return text

    def _play(self, action: str) -> Outcome:
        state = self._base.state
        try:
            with self._own_random(), _quiet():
                done, _ = self._game.step(action)
        except Exception as exc:  # noqa: BLE001 - a game bug on odd input is feedback, not a crash
            return Outcome(
                f"The game could not process this action ({type(exc).__name__}: {str(exc)[:160]}).",
                False,
            )
        text, invalid = self._messages()
        info = (state.game_info or {}).get(0, {})
        invalid = invalid or bool(info.get("invalid_move"))
        reward = float((state.rewards or {}).get(0, 0.0)) if done else 0.0
        if done:
            reason = info.get("reason")
            text = (text + "\n" if text else "") + f"Game over: {reason or 'finished'}"
            return Outcome(text, not invalid, reward >= 1.0, min(max(reward, 0.0), 1.0), True)
        return Outcome(text or "(no message)", not invalid, False, self._progress())

    def _progress(self) -> float:
        fn = getattr(self._base, "_get_percentage_completion", None)
        if fn is None:
            return 0.0
        try:
            with self._own_random():
                return min(max(float(fn()), 0.0), 1.0)
        except Exception:  # noqa: BLE001 - optional hint from the game
            return 0.0


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Swallow third-party chatter (NLTK download attempts print to stderr)."""
    sink = io.StringIO()
    with contextlib.redirect_stderr(sink), contextlib.redirect_stdout(sink):
        yield


def make_textarena(game_id: str, **knobs: Any) -> TextArenaEnv:
    return TextArenaEnv(game_id, **knobs)


register_prefix(
    PREFIX,
    make_textarena,
    description="A TextArena single-player game (optional extra textarena).",
    max_new_tokens=64,  # the games' bracketed moves ("[3 4]", "[up]") with room for a few words
)
