"""The layering contract of pyproject.toml ([tool.importlinter]) holds, and it bites.

benchmarks above smallmodel above learners above reflection | envs | leaderboard (independent
of each other), rundir and chat at the bottom; learners.models below the rest of learners; no
import cycles inside a package. ``lint-imports`` checks it; CI runs it through this test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(cwd: Path, path: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` run in ``cwd`` (its pyproject.toml) on the packages found on ``path``;
    a missing tool fails rather than skips: CI must check the contract."""
    assert LINT_IMPORTS.exists(), "lint-imports is missing: pip install -e '.[dev]'"
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo"],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(path)},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_suite_keeps_its_layers():
    out = lint_imports(ROOT, ROOT)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "3 kept, 0 broken" in out.stdout


# A stand-in tree with the suite's package names, empty but for the imports a test adds.
STUB_MODULES = [
    "benchmarks/__init__.py",
    "smallmodel/__init__.py",
    "smallmodel/corpus.py",
    "smallmodel/corpus_xbrl.py",
    "learners/__init__.py",
    *(
        f"learners/{m}.py"
        for m in ("base grpo losses prompts rollout self_distillation sft trajectory".split())
    ),
    "learners/models/__init__.py",
    "reflection/__init__.py",
    "reflection/pipeline.py",
    "reflection/playbook.py",
    "envs/__init__.py",
    "leaderboard/__init__.py",
    "rundir/__init__.py",
    "chat/__init__.py",
]


@pytest.mark.parametrize(
    ("imports", "broken"),
    [
        ({"envs/__init__.py": "import learners\n"}, "Packages import only the layers"),
        ({"reflection/__init__.py": "import envs\n"}, "Packages import only the layers"),
        ({"learners/__init__.py": "import benchmarks\n"}, "Packages import only the layers"),
        ({"learners/models/__init__.py": "import learners.base\n"}, "The model layer"),
        ({"learners/models/__init__.py": "import envs\n"}, "The model layer"),
        (
            {
                "reflection/pipeline.py": "from reflection import playbook\n",
                "reflection/playbook.py": "from reflection import pipeline\n",
            },
            "No import cycles",
        ),
    ],
)
def test_the_contract_refuses(tmp_path, imports, broken):
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    for name in STUB_MODULES:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(imports.get(name, ""))
    out = lint_imports(tmp_path, tmp_path)
    assert out.returncode != 0, out.stdout + out.stderr
    assert f"{broken}" in out.stdout and "BROKEN" in out.stdout, out.stdout + out.stderr
