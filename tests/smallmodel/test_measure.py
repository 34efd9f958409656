"""The measuring script runs end to end on a quick build, and its targets read the report."""

from __future__ import annotations

import json

import pytest

from smallmodel.build import main as build_main
from smallmodel.measure import main as measure_main
from smallmodel.measure import targets


@pytest.fixture(scope="module")
def quick_model(tmp_path_factory):
    out = tmp_path_factory.mktemp("quick")
    build_main(["--out", str(out), "--quick"])
    return out


@pytest.mark.parametrize("env", ["wordle", "xbrl"])
def test_measure_runs_on_held_out_tasks(quick_model, env, tmp_path, capsys):
    report_file = tmp_path / "report.json"
    args = ["--model", str(quick_model), "--env", env, "--tasks", "3", "--reflect-tasks", "1"]
    measure_main([*args, "--json", str(report_file)])
    out = capsys.readouterr().out
    assert "held-out tasks (evaluation split)" in out and "swapped reveal followed" in out
    data = json.loads(report_file.read_text())
    assert data["report"]["student"]["n"] == 3
    assert set(data["targets"]) >= {"valid >= 90%", "swap followed >= 80%"}


def report(student: float, teacher: float, swap: float, parsed: float) -> dict:
    row = {"n": 10, "valid": 0.95, "success": student, "per_turn": 0.1}
    return {
        "student": row,
        "teacher_sdpo": {**row, "success": teacher},
        "teacher_resd_solution": {**row, "success": teacher},
        "teacher_swap": {"n": 10, "follows": swap},
        "reflection": {"reflection_parsed": parsed, "curator_parsed": parsed},
    }


def test_targets_hold_only_when_every_ability_is_there():
    assert all(targets(report(0.05, 0.5, 0.9, 0.95)).values())
    checks = targets(report(0.05, 0.1, 0.9, 0.95))  # teacher only 2x the student
    assert not checks["teacher_sdpo success >= 3x student"]
    assert not targets(report(0.2, 0.9, 0.9, 0.95))["student success 1-15%"]
    assert not targets(report(0.05, 0.5, 0.5, 0.95))["swap followed >= 80%"]
    assert not targets(report(0.05, 0.5, 0.9, 0.5))["reflections parsed >= 90%"]
