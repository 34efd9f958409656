"""The README's two set-up commands are the ones CI and users run."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    block = re.search(
        r"## Set-up: two commands.*?```bash\n(.*?)```", ROOT.joinpath("README.md").read_text(), re.S
    )
    assert block, "README lacks the set-up block"
    return [line for line in block.group(1).splitlines() if line and not line.startswith("#")]


def test_readme_has_main_job_and_test_commands():
    main_job, tests = readme_commands()
    assert "python -m benchmarks.run --env wordle --learner resd" in main_job
    assert "-m pytest" in tests
    assert main_job.startswith("bash scripts/setup.sh") and tests.startswith(
        "bash scripts/setup.sh"
    )


def test_ci_runs_the_readme_test_command():
    _, tests = readme_commands()
    assert tests in ROOT.joinpath(".ci/run").read_text()


def test_setup_installs_cpu_torch_first():
    setup = ROOT.joinpath("scripts/setup.sh").read_text()
    assert setup.index("torch==2.13.0") < setup.index("-e '.[")


def test_main_job_entry_point_answers_help():
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0 and "--env" in out.stdout and "--learner" in out.stdout
