"""An exclusive lock on a run directory, so two runs never write one directory at once.

``fcntl.flock`` on ``RUN_DIR/.lock``: the kernel releases it when its holder exits, however it
exits (``kill -9`` included), so a stale lock never blocks a resume. The file holds the
holder's pid, for the refusal message.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from rundir.errors import RunDirError, write_failure
from rundir.layout import LOCK


class RunLock:
    """Held from construction until ``release``; a second holder is refused in one line."""

    def __init__(self, folder: Path) -> None:
        path = folder / LOCK
        try:
            self.fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as err:
            raise write_failure(path, err) from None
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(self.fd, 32, 0).decode("ascii", "replace").strip() or "?"
            os.close(self.fd)
            raise RunDirError(
                f"{folder} is in use by another run (pid {holder}); wait for it to end or stop it"
            ) from None
        try:
            os.ftruncate(self.fd, 0)
            os.pwrite(self.fd, f"{os.getpid()}\n".encode("ascii"), 0)
        except OSError as err:
            self.release()
            raise write_failure(path, err) from None

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # closing the descriptor releases the flock
            self.fd = -1
