"""The one atomic writer: a crash leaves either the old file or the new one, never a mix.

The content goes to a temporary file in the same folder, is flushed and fsynced, then
``os.replace``d over the target, and the folder is fsynced so the rename itself survives a
power cut. A failed write removes its temporary file and raises a one-line ``RunDirError``.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from rundir.errors import write_failure


def write_atomic(path: str | os.PathLike, write: Callable[[BinaryIO], None]) -> None:
    """Replace ``path`` with what ``write`` puts into the binary file it is given (its folder
    is made if missing)."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as err:
        raise write_failure(path, err) from None
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        sync_folder(path.parent)
    except OSError as err:
        Path(tmp).unlink(missing_ok=True)
        raise write_failure(path, err) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(path: str | os.PathLike, data: Any) -> None:
    """Write ``data`` as indented JSON. ASCII only (``ensure_ascii``): any string, a lone
    surrogate from a cut model output included, is stored as an escape and reads back exactly."""
    text = json.dumps(data, indent=2, ensure_ascii=True, default=str) + "\n"
    write_atomic(path, lambda f: f.write(text.encode("ascii")))


def sync_folder(folder: Path) -> None:
    """fsync a folder so that a rename or a new file in it is durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
