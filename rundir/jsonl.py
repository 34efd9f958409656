"""Append-only JSONL logs whose every line carries its own checksum.

A line is one JSON object written as ASCII (``ensure_ascii``: any string, lone surrogates
included, is an escape and reads back exactly) whose last field is ``"_crc"``: the CRC-32 of
the line with that field left out, as 8 hex digits::

    {"step":0,"samples":8,"loss":0.25,"_crc":"1c291ca3"}

So a reader checks each line on its own, anywhere in the file: a line cut short, edited by
hand or garbled on disk is reported with its file and line number, never skipped. The one
line that may legitimately be incomplete is the last, with no newline yet: a write in
progress (readers of a live run pass ``live=True`` to ignore it) or a write cut by a crash
(resume truncates it, see ``RunDir.rewind``).
"""

from __future__ import annotations

import json
import os
import re
import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from rundir.errors import RunDirError, read_failure, write_failure

CRC_KEY = "_crc"
_CRC_SUFFIX = re.compile(rb',"_crc":"([0-9a-f]{8})"\}\Z')


def encode_line(record: Mapping[str, Any]) -> bytes:
    """One log line (newline included) for a non-empty record."""
    if not record:
        raise ValueError("a log record needs at least one field")
    if CRC_KEY in record:
        raise ValueError(f"{CRC_KEY!r} is reserved for the line checksum")
    payload = json.dumps(record, ensure_ascii=True, separators=(",", ":"), default=str)
    data = payload.encode("ascii")
    return data[:-1] + b',"_crc":"%08x"}\n' % zlib.crc32(data)


def decode_line(raw: bytes, where: str) -> dict[str, Any]:
    """The record of one line (without its newline); ``where`` ("FILE:LINE") names it in errors."""
    match = _CRC_SUFFIX.search(raw)
    if match is None:
        raise RunDirError(f"{where}: no checksum (a torn or edited line)")
    payload = raw[: match.start()] + b"}"
    if b"%08x" % zlib.crc32(payload) != match.group(1):
        raise RunDirError(f"{where}: checksum mismatch (a torn or edited line)")
    try:
        record = json.loads(payload)
    except (ValueError, RecursionError):
        raise RunDirError(f"{where}: not valid JSON") from None
    if not isinstance(record, dict):
        raise RunDirError(f"{where}: expected a JSON object")
    return record


def iter_log(path: Path, *, live: bool = False) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, record) for each line of a log, in order, each checked. An unfinished
    last line is an error, or with ``live`` (the run may be writing it now) the end of the log."""
    try:
        f = open(path, "rb")  # noqa: SIM115 (closed by the with below; open errors differ)
    except FileNotFoundError:
        raise RunDirError(f"{path}: missing") from None
    except OSError as err:
        raise read_failure(path, err) from None
    with f:
        for number, raw in enumerate(f, start=1):
            if not raw.endswith(b"\n"):
                if live:
                    return
                raise RunDirError(
                    f"{path}:{number}: torn last line (a cut write; resuming the run repairs it)"
                )
            yield number, decode_line(raw[:-1], f"{path}:{number}")


def read_log(path: Path, *, live: bool = False, missing_ok: bool = False) -> list[dict[str, Any]]:
    """All records of a log (see ``iter_log``); a missing log is empty with ``missing_ok``."""
    if missing_ok and not path.exists():
        return []
    return [record for _, record in iter_log(path, live=live)]


def complete_lines(path: Path) -> int:
    """Newline-terminated lines in ``path`` (0 if it does not exist)."""
    try:
        with open(path, "rb") as f:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
    except FileNotFoundError:
        return 0
    except OSError as err:
        raise read_failure(path, err) from None


def truncate_lines(path: Path, keep: int) -> None:
    """Cut ``path`` after its first ``keep`` complete lines (what follows is dropped)."""
    end = 0
    try:
        with open(path, "rb") as f:
            for number, raw in enumerate(f):
                if number == keep or not raw.endswith(b"\n"):
                    break
                end += len(raw)
        if path.stat().st_size != end:
            os.truncate(path, end)
    except FileNotFoundError:
        return
    except OSError as err:
        raise write_failure(path, err) from None


class LogAppender:
    """An open log: each ``append`` writes one whole line with a single unbuffered write.

    A write that fails (disk full, read-only) cuts the file back to where the line started,
    so the log keeps only whole lines, and raises a one-line ``RunDirError``.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as err:
            raise write_failure(path, err) from None

    def append(self, record: Mapping[str, Any]) -> None:
        line = encode_line(record)
        start = os.fstat(self.fd).st_size
        try:
            view = memoryview(line)
            while view:
                view = view[os.write(self.fd, view) :]
        except OSError as err:
            try:
                os.ftruncate(self.fd, start)
            except OSError:
                pass  # the torn tail stays; resume truncates it
            raise write_failure(self.path, err) from None

    def sync(self) -> None:
        try:
            os.fsync(self.fd)
        except OSError as err:
            raise write_failure(self.path, err) from None

    def close(self) -> None:
        os.close(self.fd)
