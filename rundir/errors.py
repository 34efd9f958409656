"""The one error a run directory raises: a one-line message that names the file (and line)."""

from __future__ import annotations

import os


class RunDirError(ValueError):
    """A run directory cannot be read, written, locked or resumed; the message is one line."""


def write_failure(path: str | os.PathLike, err: OSError) -> RunDirError:
    """A one-line error for a failed write (disk full, read-only, a file where a folder goes)."""
    return RunDirError(f"cannot write {path}: {err.strerror or err}")


def read_failure(path: str | os.PathLike, err: OSError) -> RunDirError:
    return RunDirError(f"cannot read {path}: {err.strerror or err}")


def first_line(err: BaseException, limit: int = 200) -> str:
    """An exception's message cut to one line (its type when it has none)."""
    text = str(err).strip()
    return text.splitlines()[0][:limit] if text else type(err).__name__
