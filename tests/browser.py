"""A real headless browser for the HTML tests: Debian's chromium (``apt-get install chromium``).

The tests that use it skip, naming what to install, when no chromium binary is on the PATH.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

BINARIES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
TIMEOUT_S = 90


def chromium() -> str:
    """The browser's path, or a pytest skip that says how to get one."""
    for name in BINARIES:
        found = shutil.which(name)
        if found:
            return found
    pytest.skip(
        "no chromium binary on the PATH (looked for " + ", ".join(BINARIES) + "); "
        "install it with `apt-get install -y chromium` to run the browser tests"
    )


def _run(args: list[str], tmp: Path) -> subprocess.CompletedProcess[str]:
    profile = tmp / "chromium-profile"
    cmd = [
        chromium(),
        "--headless",
        "--disable-gpu",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        *(["--no-sandbox"] if os.geteuid() == 0 else []),  # chromium refuses root otherwise
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)


def dump_dom(page: Path, tmp: Path, fragment: str = "") -> str:
    """The DOM after the page's scripts ran (``--dump-dom``), for ``file://page#fragment``."""
    url = page.resolve().as_uri() + (f"#{fragment}" if fragment else "")
    done = _run(["--dump-dom", url], tmp)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def screenshot(page: Path, out_png: Path, tmp: Path, size: tuple[int, int] = (1100, 1400)) -> Path:
    """A PNG of the rendered page at a window of ``size`` pixels."""
    url = page.resolve().as_uri()
    done = _run([f"--screenshot={out_png}", f"--window-size={size[0]},{size[1]}", url], tmp)
    assert done.returncode == 0 and out_png.is_file(), done.stderr[-2000:]
    return out_png


class _Tables(HTMLParser):
    """The rows (cell texts) and attributes of every table with an id, from a DOM dump."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, dict] = {}
        self._table: str | None = None
        self._cell: list[str] | None = None
        self._in_body = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table" and a.get("id"):
            self._table = a["id"]
            self.tables[self._table] = {"attrs": a, "rows": [], "headers": []}
        elif self._table is None:
            return
        elif tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body:
            self.tables[self._table]["rows"].append([])
        elif tag in ("td", "th"):
            self._cell = []
            if tag == "th":
                self.tables[self._table]["headers"].append(a)

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._table, self._in_body = None, False
        elif tag in ("td", "th") and self._cell is not None and self._table is not None:
            if tag == "td" and self._in_body:
                self.tables[self._table]["rows"][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def tables(dom: str) -> dict[str, dict]:
    """{table id: {"attrs": {...}, "headers": [th attrs], "rows": [[cell text]]}}."""
    parser = _Tables()
    parser.feed(dom)
    return parser.tables
