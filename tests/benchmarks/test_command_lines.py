"""Command lines answer before the model stack loads: --help and a typo in a second or two."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from rundir.hints import command

ROOT = Path(__file__).resolve().parents[2]
HEAVY = {"torch", "transformers"}


def imported(argv: list[str]) -> tuple[subprocess.CompletedProcess, set[str], float]:
    """Run ``python -X importtime -m ...``: the result, the top-level modules it imported, and
    the wall time of a plain run of the same command."""
    t0 = time.perf_counter()
    subprocess.run([sys.executable, *argv], capture_output=True, cwd=ROOT, timeout=120)
    seconds = time.perf_counter() - t0
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", *argv],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    names = {
        line.rsplit("|", 1)[-1].strip()
        for line in proc.stderr.splitlines()
        if line.startswith("import time:")
    }
    return proc, names, seconds


@pytest.mark.parametrize("module", ["benchmarks.run", "benchmarks.compare", "leaderboard"])
def test_help_comes_before_torch(module):
    proc, names, seconds = imported(["-m", module, "--help"])
    assert proc.returncode == 0 and "usage:" in proc.stdout
    assert not names & HEAVY, f"--help imported {names & HEAVY}"
    assert seconds < 2.5, f"--help took {seconds:.1f} s"
    assert command(module) in proc.stdout  # the usage line names this interpreter


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--env", "wordel"], "did you mean 'wordle'"),
        (["--learner", "rsed"], "unknown learner 'rsed'; valid learners: grpo, resd, sd"),
        (["--budget", "many"], "invalid int value"),
        (["--learner", "sd", "--budget", "8"], "use --budget 16 or --batch-tasks 1"),
    ],
)
def test_a_typo_is_refused_before_torch(argv, message, tmp_path):
    out = tmp_path / "run"
    proc, names, _ = imported(["-m", "benchmarks.run", *argv, "--out", str(out)])
    assert proc.returncode != 0 and message in proc.stderr
    assert not out.exists()
    if "--budget" not in argv or "sd" not in argv:  # a budget check resolves the learner's
        assert not names & HEAVY, f"{argv} imported {names & HEAVY}"  # settings (torch)
