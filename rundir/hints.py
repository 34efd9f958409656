"""How the tools name each other in the hints they print ("resume it with ...", "add it with
..."): with the interpreter that is running, so a hint copied as it is runs the same code
(``.venv/bin/python -m leaderboard``), where a bare ``python`` may lack the suite."""

from __future__ import annotations

import shlex
import sys


def command(module: str) -> str:
    """``python -m module`` as the running interpreter spells it."""
    return f"{shlex.quote(sys.executable)} -m {module}"
